// SPDX-License-Identifier: Apache-2.0
/// @file
/// A fork-based Process, like Python's multiprocessing.Process with the "fork" start method:
/// run any callable (captures and arguments copied into the child) or subclass and override
/// run(). The child never runs the parent's atexit handlers and never flushes stdio data the
/// parent had buffered: it ends with _exit() after running the exit handlers it registered
/// itself with shmbus::atexit() and flushing only what it wrote itself.
///
/// fork() copies only the calling thread. As in Python, start a Process before creating threads
/// when you can; a child forked while another thread holds a lock (malloc's, a stdio stream's)
/// may deadlock on it.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/errors.hpp" // shmbus::exit, UsageError
#include "shmbus/export.hpp"

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmbus {

namespace detail {

class ProcessState;

/// A type-erased target with its bound arguments; move-only callables are fine.
class SHMBUS_EXPORT ProcessTarget {
public:
    virtual ~ProcessTarget() = default;
    virtual void call() = 0;
};

template <class F, class... Args>
class BoundProcessTarget final : public ProcessTarget {
public:
    template <class G, class... A>
    explicit BoundProcessTarget(G&& fn, A&&... args)
        : m_fn(std::forward<G>(fn)), m_args(std::forward<A>(args)...) {}

    void call() override {
        std::apply([this](auto&... args) { std::invoke(m_fn, args...); }, m_args);
    }

private:
    F m_fn;
    std::tuple<Args...> m_args;
};

} // namespace detail

/// What Process::sentinel() and ParentProcess::sentinel() return: a handle shmbus::wait
/// (multi_wait.hpp) accepts, ready once the process has ended. It does not own its file
/// descriptor: it is valid while the Process (or ParentProcess) lives and is not closed.
class SHMBUS_EXPORT ProcessSentinel {
public:
    /// A pidfd, readable once the process has ended: Python's sentinel is a file descriptor
    /// too, so it can also go into poll(2) or an event loop.
    int fd() const { return m_fd; }
    /// How shmbus::wait waits until the process has ended.
    detail::WaitTarget wait_target() const;

private:
    friend class Process;
    friend class ParentProcess;
    explicit ProcessSentinel(int fd) : m_fd(fd) {}
    int m_fd;
};

/// A child process. Not thread-safe as a whole (set_name/set_daemon/start belong to one
/// thread), but join, is_alive, exitcode, terminate and kill may race each other and
/// active_children() safely: the child is reaped exactly once.
class SHMBUS_EXPORT Process {
public:
    /// For subclasses that override run(); a plain Process() runs nothing and exits with 0.
    Process();

    /// Runs target(args...) in the child. The target and the arguments are decay-copied (or
    /// moved) now, as std::thread does: later changes in the parent do not reach the child.
    template <class F, class... Args>
    requires std::invocable<F&, Args&...>
    explicit Process(F&& target, Args&&... args) : Process() {
        m_target =
            std::make_unique<detail::BoundProcessTarget<std::decay_t<F>, std::decay_t<Args>...>>(
                std::forward<F>(target), std::forward<Args>(args)...);
    }

    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// A started child that still runs is waited for, as Python joins non-daemon children at
    /// exit; a daemon child gets SIGTERM, then SIGKILL if it has not ended within
    /// kDaemonGracePeriod, and is reaped. Nothing happens in any process but the one that
    /// started the child.
    virtual ~Process();

    /// How long the destructor lets a daemon child end after SIGTERM before SIGKILL.
    static constexpr std::chrono::milliseconds kDaemonGracePeriod{1000};

    /// Flushes this process's stdio, forks, and runs run() in the child. UsageError when
    /// started twice, when this process did not construct the object, or when called in a
    /// daemon child (Python: "daemonic processes are not allowed to have children").
    /// SystemError when fork fails.
    void start();

    /// Waits until the child has ended and reaps it. UsageError when never started or called
    /// by a process other than the one that started it.
    void join();
    /// Waits at most `timeout`; true when the child has ended (and is reaped). Python's
    /// join(timeout), which tells the outcome through is_alive() instead.
    template <class Rep, class Period>
    [[nodiscard]] bool join_for(std::chrono::duration<Rep, Period> timeout) {
        return join_by(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline`; true when the child has ended (and is reaped).
    template <class C, class D>
    [[nodiscard]] bool join_until(std::chrono::time_point<C, D> deadline) {
        return join_by(detail::Deadline::at(deadline));
    }

    /// True when the child has ended (and is reaped); never blocks. UsageError as join().
    [[nodiscard]] bool try_join() { return join_by(detail::Deadline::immediate()); }

    /// False before start and once the child has ended (which reaps it); true inside the
    /// child for its own Process object.
    bool is_alive();

    /// SIGTERM to the child; nothing once it has been reaped. Sent through a pidfd, so never
    /// to an unrelated process that reuses the pid. UsageError when never started.
    void terminate();
    /// SIGKILL to the child, otherwise as terminate().
    void kill();
    /// SIGINT to the child (Python's interrupt(), 3.14), otherwise as terminate().
    void interrupt();

    /// What shmbus::wait accepts to learn that the child ended (Python's sentinel). UsageError
    /// before start, after close(), or outside the process that started the child;
    /// SystemError when the kernel gave no pidfd (before Linux 5.3).
    ProcessSentinel sentinel() const;

    /// Releases the child's resources (its pidfd) once it has ended, as Python's close():
    /// UsageError while it still runs (join or terminate it first). Afterwards start, join,
    /// is_alive, terminate, kill, interrupt, exitcode, pid and sentinel throw UsageError
    /// (Python's ValueError); name() and daemon() still answer. Closing twice is harmless.
    void close();

    /// nullopt before start and while the child runs; then 0, n for shmbus::exit(n) (or a
    /// returned exit status n), 1 for an uncaught exception, -signum when a signal ended it.
    /// Reaps the child when it has ended (the object is logically unchanged).
    std::optional<int> exitcode() const;

    /// 0 before start.
    pid_t pid() const;
    /// The pid of the process that started the child; nullopt before start.
    std::optional<pid_t> parent_pid() const;

    /// "Process-N" by default, N counting the Process objects made by this process;
    /// a child's own Process objects are "Process-N:M" (Python's scheme).
    const std::string& name() const { return m_name; }
    /// Renames this Process object; a started child keeps the name it was forked with.
    void set_name(std::string name) { m_name = std::move(name); }

    /// A daemon child is killed (SIGKILL) when the thread that started it ends, which is
    /// normally when its parent process ends, however it ends (prctl PR_SET_PDEATHSIG
    /// follows the creating *thread*: start daemons from a thread that outlives them).
    /// Defaults to whether the process that made this object is itself a daemon child, as in
    /// Python (a daemon child still may not start children: see start()).
    bool daemon() const { return m_daemon; }
    /// UsageError after start.
    void set_daemon(bool daemon);

protected:
    /// What the child runs; the default calls the target given to the constructor.
    virtual void run();

private:
    bool join_by(detail::Deadline deadline);
    [[noreturn]] void run_in_child() noexcept;

    std::unique_ptr<detail::ProcessTarget> m_target;
    std::unique_ptr<detail::ProcessState> m_state;
    std::string m_name;
    std::string m_identity; // "N" or "N:M": the Process-N suffix and its children's prefix
    bool m_daemon = false;
};

/// The process that started this one, as parent_process() returns it (Python's
/// parent_process()): its name and pid, whether it is alive, and a join that waits for it to
/// end. Move-only: it owns a pidfd on the parent.
class SHMBUS_EXPORT ParentProcess {
public:
    /// Takes over `other`'s pidfd.
    ParentProcess(ParentProcess&& other) noexcept;
    /// Closes this pidfd and takes over `other`'s.
    ParentProcess& operator=(ParentProcess&& other) noexcept;
    ParentProcess(const ParentProcess&) = delete;
    ParentProcess& operator=(const ParentProcess&) = delete;
    ~ParentProcess();

    /// The parent's name when it started this process ("MainProcess" for the root).
    const std::string& name() const { return m_name; }
    /// The parent's pid.
    pid_t pid() const { return m_pid; }
    /// False once the parent has ended.
    bool is_alive() const;
    /// Blocks until the parent has ended.
    void join() const { (void)join_by(detail::Deadline::never()); }
    /// Waits at most `timeout`; true when the parent has ended.
    template <class Rep, class Period>
    [[nodiscard]] bool join_for(std::chrono::duration<Rep, Period> timeout) const {
        return join_by(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline`; true when the parent has ended.
    template <class C, class D>
    [[nodiscard]] bool join_until(std::chrono::time_point<C, D> deadline) const {
        return join_by(detail::Deadline::at(deadline));
    }
    /// What shmbus::wait accepts to learn that the parent ended; valid while this object lives.
    ProcessSentinel sentinel() const;

private:
    friend SHMBUS_EXPORT std::optional<ParentProcess> parent_process();
    ParentProcess(std::string name, pid_t pid, int pidfd)
        : m_name(std::move(name)), m_pid(pid), m_pidfd(pidfd) {}
    bool join_by(detail::Deadline deadline) const;

    std::string m_name;
    pid_t m_pid;
    int m_pidfd; ///< -1 when the parent had already ended when we looked
};

/// The process that started this one, or nullopt in the main process (Python returns None).
SHMBUS_EXPORT std::optional<ParentProcess> parent_process();

/// A process as current_process() describes it (Python's current_process().name / .pid).
struct ProcessInfo {
    std::string name; ///< "MainProcess" or the Process name
    pid_t pid;        ///< getpid()
};

/// This process: "MainProcess" in the root, the Process name inside a child.
SHMBUS_EXPORT ProcessInfo current_process();

/// Like Python's active_children(): the pids of this process's started, still running
/// children (those not yet joined). Reaps the children that have ended.
SHMBUS_EXPORT std::vector<pid_t> active_children();

/// Registers `handler` to run when this process ends, after the handlers registered after it
/// (Python's atexit.register). In a Process child they run once its target has ended, however
/// it ended (returned, shmbus::exit, an uncaught exception; not a signal), before the child's
/// stdio is flushed, as Python 3.13 runs a forked child's atexit handlers. In a process that
/// is no Process child they run from std::exit (a return from main). A handler belongs to the
/// process that registered it: a forked child starts with none, so the parent's never run
/// twice. Handlers registered with std::atexit in a child do not run, since the child ends
/// with _exit(). A handler that throws is logged, and the others still run.
/// @concurrent any thread.
SHMBUS_EXPORT void atexit(std::function<void()> handler);

/// The number of online CPUs (at least 1), like Python's cpu_count().
SHMBUS_EXPORT unsigned cpu_count();

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
#include "shmbus/process.hpp"

#include "os/exception_type.hpp"
#include "os/fork_safe_registry.hpp"
#include "os/liveness.hpp"
#include "process/exit_handlers.hpp"
#include "process/process_state.hpp"
#include "segment/mapping.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/log.hpp"
#include "shmbus/segment.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <pthread.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>
#include <utility>

namespace shmbus {

namespace {

using detail::Deadline;
using detail::ProcessState;

// This process's place in the Process tree; rewritten only in a child right after fork, while
// it has a single thread.
struct CurrentProcess {
    std::string name = "MainProcess";
    std::string identity; // "" in the root, "1:2" in the child named Process-1:2
    bool daemon = false;
    std::string parent_name; // the starting process's name; "" in the root
    pid_t parent_pid = 0;    // 0 in the root
};

CurrentProcess& current() {
    static CurrentProcess* self = new CurrentProcess; // never destroyed: children read it late
    return *self;
}

// Numbers the Process objects this process makes, from 1; restarts at 1 in each child.
std::atomic<unsigned> g_process_counter{1};

// The started children of this process that are still referenced by a Process object.
using ChildRegistry = detail::ForkSafeRegistry<ProcessState>;

// The children of the parent are not the children of a forked child: it forgets them.
ChildRegistry& children() {
    return ChildRegistry::instance([](ChildRegistry& in_child) { in_child.clear(); });
}

// Pushes out every byte this process has buffered, so that a forked child, which inherits
// the buffers, has nothing of the parent's left to write again.
void flush_stdio() noexcept {
    try {
        std::cout.flush();
        std::cerr.flush();
        std::clog.flush();
    } catch (...) { // a stream with exceptions() set: stdio below is still flushed
    }
    std::fflush(nullptr);
}

// Called inside a catch handler: logs the current exception like Python prints a child's
// traceback header, "Process <name>:" then "<type>: <what>".
void report_uncaught_exception(const std::string& process_name) noexcept {
    try {
        std::string message = detail::current_exception_type();
        try {
            throw;
        } catch (const std::exception& e) {
            message += ": ";
            message += e.what();
        } catch (...) {
            message += " (not derived from std::exception)";
        }
        detail::log(LogLevel::error, "Process " + process_name + ":\n" + message);
    } catch (...) {
        detail::log(LogLevel::error, "Process: uncaught exception");
    }
}

// Python's _check_closed(): most methods of a closed Process raise ValueError.
void require_open(const ProcessState& state) {
    if (state.closed)
        throw UsageError("process object is closed");
}

} // namespace

Process::Process() : m_state(std::make_unique<ProcessState>()) {
    // relaxed is enough: the counter only hands out distinct numbers, it publishes nothing.
    const unsigned number = g_process_counter.fetch_add(1, std::memory_order_relaxed);
    const std::string& parent_identity = current().identity;
    m_identity = parent_identity.empty() ? std::to_string(number)
                                         : parent_identity + ":" + std::to_string(number);
    m_name = "Process-" + m_identity;
    m_daemon = current().daemon; // Python: a daemon's Process objects are daemonic by default
}

Process::~Process() {
    ProcessState& state = *m_state;
    if (!state.started || state.parent != ::getpid() || state.closed)
        return;
    children().remove(&state);
    try {
        if (m_daemon) {
            terminate();
            if (!join_for(kDaemonGracePeriod)) {
                kill();
                join();
            }
        } else {
            join();
        }
    } catch (...) { // a destructor must not throw; the child is gone or lost either way
    }
}

void Process::start() {
    ProcessState& state = *m_state;
    const pid_t self = ::getpid();
    require_open(state);
    if (state.started)
        throw UsageError("cannot start a process twice");
    if (state.creator != self)
        throw UsageError("can only start a process object created by the current process");
    if (current().daemon)
        throw UsageError("daemonic processes are not allowed to have children");
    ChildRegistry& registry = children(); // its fork handlers must exist now
    flush_stdio();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw SystemError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        state.pid = ::getpid();
        state.parent = self;
        state.started = true;
        run_in_child();
    }
    // pidfd_open cannot race with a reap: only this process may wait for the child. On failure
    // join falls back to sleeping in short steps.
    state.pidfd = ProcessState::PidFd(detail::open_pidfd(pid));
    state.pid = pid;
    state.parent = self;
    state.started = true;
    registry.add(&state);
}

void Process::run_in_child() noexcept {
    // Whatever another thread of the parent buffered after flush_stdio() is the parent's to
    // write, not ours.
    __fpurge(stdout);
    __fpurge(stderr);
    int code = 0;
    try {
        CurrentProcess& me = current();
        me.parent_name = std::exchange(me.name, m_name);
        me.parent_pid = m_state->parent;
        me.identity = m_identity;
        me.daemon = m_daemon;
        // relaxed is enough: this process has a single thread here.
        g_process_counter.store(1, std::memory_order_relaxed);
        if (m_daemon) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            // The parent may have died before prctl took effect: then die as it would have
            // made us.
            if (::getppid() != m_state->parent)
                ::raise(SIGKILL);
        }
        run();
    } catch (const SystemExit& e) {
        code = e.code();
        if (e.message())
            std::fprintf(stderr, "%s\n", e.message()->c_str()); // Python: sys.exit("text")
    } catch (...) {
        report_uncaught_exception(m_name);
        code = 1;
    }
    detail::run_exit_handlers();
    flush_stdio();
    detail::detach_all_mappings();
    detail::remove_default_segment_if_created_here();
    // Never exit(): the parent's atexit handlers and static destructors are not ours to run.
    ::_exit(code);
}

void Process::run() {
    if (m_target)
        m_target->call();
}

void Process::join() {
    join_by(Deadline::never());
}

bool Process::join_by(Deadline deadline) {
    ProcessState& state = *m_state;
    require_open(state);
    if (!state.started)
        throw UsageError("can only join a started process");
    if (state.parent != ::getpid())
        throw UsageError("can only join a child process");
    for (;;) {
        if (state.reap_if_ended())
            return true;
        if (deadline.expired())
            return false;
        state.wait_for_exit(deadline);
    }
}

bool Process::is_alive() {
    ProcessState& state = *m_state;
    require_open(state);
    if (!state.started)
        return false;
    if (state.pid == ::getpid())
        return true; // the child asking about itself
    if (state.parent != ::getpid())
        throw UsageError("can only test a child process");
    return !state.reap_if_ended();
}

void Process::terminate() {
    require_open(*m_state);
    if (!m_state->started)
        throw UsageError("cannot terminate a process that was not started");
    m_state->send(SIGTERM);
}

void Process::kill() {
    require_open(*m_state);
    if (!m_state->started)
        throw UsageError("cannot kill a process that was not started");
    m_state->send(SIGKILL);
}

void Process::interrupt() {
    require_open(*m_state);
    if (!m_state->started)
        throw UsageError("cannot interrupt a process that was not started");
    m_state->send(SIGINT);
}

ProcessSentinel Process::sentinel() const {
    const ProcessState& state = *m_state;
    require_open(state);
    if (!state.started)
        throw UsageError("process not started");
    if (state.parent != ::getpid())
        throw UsageError("only the process that started a child has its sentinel");
    if (!state.pidfd)
        throw SystemError("process " + std::to_string(state.pid) +
                          " has no pidfd (pidfd_open failed at start)");
    return ProcessSentinel(state.pidfd.get());
}

void Process::close() {
    ProcessState& state = *m_state;
    if (state.closed)
        return;
    if (state.started && state.parent == ::getpid()) {
        bool ended = true;
        try {
            ended = state.reap_if_ended();
        } catch (const SystemError&) { // reaped elsewhere: it has ended
        }
        if (!ended)
            throw UsageError("cannot close a process while it is still running; join() or "
                             "terminate() it first");
        children().remove(&state);
    }
    state.pidfd = ProcessState::PidFd();
    state.closed = true;
}

std::optional<int> Process::exitcode() const {
    ProcessState& state = *m_state;
    require_open(state);
    if (!state.started)
        return std::nullopt;
    if (state.parent == ::getpid()) {
        try {
            state.reap_if_ended();
        } catch (const SystemError&) { // reaped elsewhere: the code stays unknown
        }
    }
    return state.code();
}

pid_t Process::pid() const {
    require_open(*m_state);
    return m_state->pid;
}

std::optional<pid_t> Process::parent_pid() const {
    if (!m_state->started)
        return std::nullopt;
    return m_state->parent;
}

void Process::set_daemon(bool daemon) {
    if (m_state->started)
        throw UsageError("process has already started");
    m_daemon = daemon;
}

std::optional<ParentProcess> parent_process() {
    const CurrentProcess& me = current();
    if (me.parent_pid == 0)
        return std::nullopt;
    int pidfd = detail::open_pidfd(me.parent_pid);
    // The pid names our parent only while we are still its child: once it ended we were
    // reparented, and the pid may already belong to another process.
    if (pidfd >= 0 && ::getppid() != me.parent_pid) {
        ::close(pidfd);
        pidfd = -1;
    }
    return ParentProcess(me.parent_name, me.parent_pid, pidfd);
}

ProcessInfo current_process() {
    return {current().name, ::getpid()};
}

std::vector<pid_t> active_children() {
    std::vector<pid_t> pids;
    const pid_t self = ::getpid();
    children().for_each([&](ProcessState& state) {
        if (state.parent != self)
            return;
        try {
            if (!state.reap_if_ended())
                pids.push_back(state.pid);
        } catch (const SystemError&) { // reaped elsewhere: not active
        }
    });
    return pids;
}

unsigned cpu_count() {
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<unsigned>(online) : 1U;
}

} // namespace shmbus

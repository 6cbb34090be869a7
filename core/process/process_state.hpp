// SPDX-License-Identifier: Apache-2.0
// The parent-side record of one child Process: its pid, a pidfd, and its exit code once reaped.
#pragma once

#include "shmbus/detail/deadline.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <sys/types.h>
#include <unistd.h>
#include <utility>

namespace shmbus::detail {

/// pidfd_open(2); -1 when the kernel refuses (fd limit, old kernel).
int open_pidfd(pid_t pid) noexcept;

/// The parent-side record of one child. Kept apart from Process so that the child registry
/// (active_children) points at something that never moves.
class ProcessState {
public:
    /// Owns a pidfd: readable once the child has ended, and a signal target that can never
    /// be a later process reusing the pid.
    class PidFd {
    public:
        PidFd() = default;
        explicit PidFd(int fd) noexcept : m_fd(fd) {}
        PidFd(PidFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
        PidFd& operator=(PidFd&& other) noexcept {
            if (this != &other) {
                close();
                m_fd = std::exchange(other.m_fd, -1);
            }
            return *this;
        }
        PidFd(const PidFd&) = delete;
        PidFd& operator=(const PidFd&) = delete;
        ~PidFd() { close(); }

        int get() const noexcept { return m_fd; }
        explicit operator bool() const noexcept { return m_fd >= 0; }

    private:
        void close() noexcept {
            if (m_fd >= 0)
                ::close(m_fd);
            m_fd = -1;
        }
        int m_fd = -1;
    };

    ProcessState() : creator(::getpid()) {}

    /// Reaps the child without blocking; true once it has ended. SystemError (once) when
    /// someone else reaped it (SIGCHLD ignored, a stray waitpid(-1)): its exit code is lost.
    bool reap_if_ended();
    /// Blocks until the child may have ended or the deadline passes (or a signal arrives).
    void wait_for_exit(Deadline deadline) const;
    /// Sends `signal` unless the child has been reaped.
    void send(int signal);
    std::optional<int> code();

    static constexpr std::chrono::milliseconds kFallbackStep{10};

    const pid_t creator; // the process that constructed the Process object
    // Written by start() before the state is shared (registry, other threads' joins).
    pid_t pid = 0;
    pid_t parent = 0; // the process that started the child
    bool started = false;
    /// Process::close() ran: the child is reaped and the pidfd released.
    bool closed = false;
    PidFd pidfd;

private:
    std::mutex mutex;
    bool reaped = false;
    std::optional<int> exit_code;
};

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
#include "process/process_state.hpp"

#include "shmbus/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>

namespace shmbus::detail {
namespace {

// Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its wrappers.
int send_to_pidfd(int pidfd, int signal) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

} // namespace

int open_pidfd(pid_t pid) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool ProcessState::reap_if_ended() {
    std::lock_guard lock(mutex);
    if (reaped)
        return true;
    int status = 0;
    pid_t got = 0;
    do
        got = ::waitpid(pid, &status, WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        return false;
    reaped = true;
    if (got < 0)
        throw SystemError("process " + std::to_string(pid) + " was reaped elsewhere (" +
                          std::strerror(errno) + "); its exit code is lost");
    if (WIFEXITED(status))
        exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        exit_code = -WTERMSIG(status);
    return true;
}

void ProcessState::wait_for_exit(Deadline deadline) const {
    using Clock = Deadline::Clock;
    Clock::duration left = Clock::duration::max();
    if (!deadline.is_never())
        left = std::max(deadline.when() - Clock::now(), Clock::duration::zero());
    if (!pidfd) {
        // Only when pidfd_open failed (fd limit, old kernel): sleep in short steps.
        std::this_thread::sleep_for(std::min<Clock::duration>(left, kFallbackStep));
        return;
    }
    timespec limit{};
    const timespec* limit_ptr = nullptr;
    if (!deadline.is_never()) {
        const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
        limit.tv_sec = static_cast<time_t>(secs.count());
        limit.tv_nsec = static_cast<long>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(left - secs).count());
        limit_ptr = &limit;
    }
    pollfd entry{pidfd.get(), POLLIN, 0};
    ::ppoll(&entry, 1, limit_ptr, nullptr); // EINTR and errors: the caller checks again
}

void ProcessState::send(int signal) {
    std::lock_guard lock(mutex); // a concurrent reap must not free the pid meanwhile
    if (reaped)
        return;
    const int rc = pidfd ? send_to_pidfd(pidfd.get(), signal) : ::kill(pid, signal);
    if (rc != 0 && errno != ESRCH)
        throw SystemError("signal " + std::to_string(signal) + " to process " +
                          std::to_string(pid) + ": " + std::strerror(errno));
}

std::optional<int> ProcessState::code() {
    std::lock_guard lock(mutex);
    return exit_code;
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// What a process holds of another it may wait for by pidfd: a child's ProcessSentinel and the
// ParentProcess of parent_process().
#include "shmbus/errors.hpp"
#include "shmbus/process.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <poll.h>
#include <string>
#include <unistd.h>
#include <utility>

namespace shmbus {

namespace {

using detail::Deadline;

// Whether `pidfd` is readable: the process it refers to has ended.
bool pidfd_ended(int pidfd, Deadline deadline) {
    pollfd entry{pidfd, POLLIN, 0};
    int timeout_ms = 0;
    if (deadline.is_never())
        timeout_ms = -1;
    else if (!deadline.expired())
        timeout_ms = static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(
            std::chrono::ceil<std::chrono::milliseconds>(deadline.when() - Deadline::Clock::now())
                .count(),
            0, INT_MAX));
    const int rc = ::poll(&entry, 1, timeout_ms);
    return rc > 0 && (entry.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

} // namespace

detail::WaitTarget ProcessSentinel::wait_target() const {
    detail::WaitTarget target;
    target.fd = m_fd;
    target.ready = [fd = m_fd] { return pidfd_ended(fd, Deadline::immediate()); };
    return target;
}

ParentProcess::ParentProcess(ParentProcess&& other) noexcept
    : m_name(std::move(other.m_name)), m_pid(other.m_pid),
      m_pidfd(std::exchange(other.m_pidfd, -1)) {}

ParentProcess& ParentProcess::operator=(ParentProcess&& other) noexcept {
    if (this != &other) {
        if (m_pidfd >= 0)
            ::close(m_pidfd);
        m_name = std::move(other.m_name);
        m_pid = other.m_pid;
        m_pidfd = std::exchange(other.m_pidfd, -1);
    }
    return *this;
}

ParentProcess::~ParentProcess() {
    if (m_pidfd >= 0)
        ::close(m_pidfd);
}

bool ParentProcess::is_alive() const {
    return m_pidfd >= 0 && !pidfd_ended(m_pidfd, Deadline::immediate());
}

bool ParentProcess::join_by(Deadline deadline) const {
    if (m_pidfd < 0)
        return true;
    for (;;) { // poll's EINTR: look again until the deadline
        if (pidfd_ended(m_pidfd, deadline))
            return true;
        if (deadline.expired())
            return false;
    }
}

ProcessSentinel ParentProcess::sentinel() const {
    if (m_pidfd < 0)
        throw SystemError("no pidfd on parent process " + std::to_string(m_pid));
    return ProcessSentinel(m_pidfd);
}

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// ReadableFd: any file descriptor in shmbus::wait, waited for as a process sentinel is (poll,
// and the watcher thread when futex objects are mixed in: docs/design/parking.md).
#include "shmbus/errors.hpp"
#include "shmbus/multi_wait.hpp"

#include <fcntl.h>
#include <poll.h>
#include <string>

namespace shmbus {

namespace {

UsageError not_open(int fd) {
    return UsageError("shmbus::wait: file descriptor " + std::to_string(fd) + " is not open");
}

// Whether `fd` is readable now (data, end of file, hang-up or error); UsageError once it is
// closed, rather than a wait that poll would wake at once for ever.
bool readable_now(int fd) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 0) <= 0)
        return false;
    if ((entry.revents & POLLNVAL) != 0)
        throw not_open(fd);
    return (entry.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

} // namespace

ReadableFd::ReadableFd(int fd) : m_fd(fd) {
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0)
        throw not_open(fd);
}

detail::WaitTarget ReadableFd::wait_target() const {
    detail::WaitTarget target;
    target.fd = m_fd;
    target.ready = [fd = m_fd] { return readable_now(fd); };
    return target;
}

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
#include "os/presence.hpp"

#include "shmbus/errors.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmbus::detail {
namespace {

constexpr off_t kPresenceByte = off_t{1} << 60;
constexpr off_t kFirstSlotByte = kPresenceByte + 1;

struct flock lock_request(short type, off_t byte) {
    struct flock request {};
    request.l_type = type;
    request.l_whence = SEEK_SET;
    request.l_start = byte;
    request.l_len = 1;
    return request;
}

// Non-blocking: true when taken, false when another description holds a conflicting lock.
bool try_lock(int fd, short type, off_t byte) {
    struct flock request = lock_request(type, byte);
    if (::fcntl(fd, F_OFD_SETLK, &request) == 0)
        return true;
    if (errno == EAGAIN || errno == EACCES)
        return false;
    throw SystemError(std::string("fcntl(F_OFD_SETLK): ") + std::strerror(errno));
}

void unlock(int fd, off_t byte) noexcept {
    struct flock request = lock_request(F_UNLCK, byte);
    ::fcntl(fd, F_OFD_SETLK, &request);
}

// The type of a lock that another description holds over `byte`, or F_UNLCK.
short held_lock(int fd, off_t byte) {
    struct flock request = lock_request(F_WRLCK, byte);
    if (::fcntl(fd, F_OFD_GETLK, &request) != 0)
        throw SystemError(std::string("fcntl(F_OFD_GETLK): ") + std::strerror(errno));
    return request.l_type;
}

} // namespace

std::string shm_path(std::string_view name) {
    return std::string(kShmDirectory) + "/" + std::string(name);
}

FileHandle::~FileHandle() {
    if (m_fd >= 0)
        ::close(m_fd);
}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = other.release();
    }
    return *this;
}

int FileHandle::release() noexcept {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
}

FileHandle FileHandle::duplicate(int fd) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        throw SystemError(std::string("fcntl(F_DUPFD_CLOEXEC): ") + std::strerror(errno));
    return FileHandle(copy);
}

FileHandle FileHandle::reopen() const {
    // /proc/self/fd/N opens the file itself, even after its name was removed.
    const std::string link = "/proc/self/fd/" + std::to_string(m_fd);
    const int fd = ::open(link.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        throw SystemError("reopen " + link + ": " + std::strerror(errno));
    return FileHandle(fd);
}

void reserve_bytes(int fd, std::uint64_t offset, std::uint64_t size, std::string_view segment) {
    const int error = ::posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(size));
    if (error == ENOSPC || error == EFBIG || error == ENOMEM)
        throw OutOfSpace("segment '" + std::string(segment) + "': cannot reserve " +
                         std::to_string(size) + " bytes in " + std::string(kShmDirectory) + ": " +
                         std::strerror(error));
    if (error != 0 && error != EOPNOTSUPP)
        throw SystemError("segment '" + std::string(segment) +
                          "': posix_fallocate: " + std::strerror(error));
}

bool lock_presence(int fd) {
    return try_lock(fd, F_RDLCK, kPresenceByte);
}

void unlock_presence(int fd) noexcept {
    unlock(fd, kPresenceByte);
}

Presence presence_of(int fd) {
    switch (held_lock(fd, kPresenceByte)) {
    case F_UNLCK:
        return Presence::nobody;
    case F_WRLCK:
        return Presence::being_removed;
    default:
        return Presence::present;
    }
}

bool lock_for_removal(int fd) {
    return try_lock(fd, F_WRLCK, kPresenceByte);
}

bool lock_slot(int fd, std::uint32_t index) {
    return try_lock(fd, F_WRLCK, kFirstSlotByte + index);
}

void unlock_slot(int fd, std::uint32_t index) noexcept {
    unlock(fd, kFirstSlotByte + index);
}

bool slot_held(int fd, std::uint32_t index) {
    return held_lock(fd, kFirstSlotByte + index) != F_UNLCK;
}

bool names_same_file(int fd, std::string_view name) {
    struct stat by_fd {};
    struct stat by_name {};
    return ::fstat(fd, &by_fd) == 0 && ::lstat(shm_path(name).c_str(), &by_name) == 0 &&
           by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev;
}

std::uint64_t this_pid_namespace() {
    struct stat ns {};
    return ::stat("/proc/self/ns/pid", &ns) == 0 ? static_cast<std::uint64_t>(ns.st_ino) : 0;
}

} // namespace shmbus::detail

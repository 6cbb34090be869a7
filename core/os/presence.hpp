// SPDX-License-Identifier: Apache-2.0
// Who uses a segment, told by the kernel rather than by process ids: every process that uses a
// segment holds open-file-description (OFD) locks on its file, and the kernel drops them when
// the process dies, wherever it runs. PIDs are per namespace (a container sees other numbers,
// or none, for the host's processes); file locks on the one tmpfs inode are not.
//
//   presence byte   a shared (read) lock per attached process: the segment is live while any
//                   is held. A remover takes it exclusively (write), which fails while anyone
//                   is present and, once held, makes every later attach fail.
//   slot byte i     an exclusive lock held by the process in attached-process slot i: the slot
//                   is taken while the lock is held, free (or its owner dead) when it is not.
//
// The lock bytes lie far beyond any segment's end (file locks need no data under them).
// The interleavings with a remover are written out in docs/design/crash-recovery.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shmbus::detail {

/// Where POSIX shared-memory objects live on Linux.
inline constexpr std::string_view kShmDirectory = "/dev/shm";

/// "/dev/shm/<name>".
std::string shm_path(std::string_view name);

/// An owned file descriptor (close-on-exec), closed on destruction.
class FileHandle {
public:
    FileHandle() = default;
    explicit FileHandle(int fd) : m_fd(fd) {}
    ~FileHandle();
    FileHandle(FileHandle&& other) noexcept : m_fd(other.release()) {}
    FileHandle& operator=(FileHandle&& other) noexcept;
    FileHandle(const FileHandle&) = delete;
    FileHandle& operator=(const FileHandle&) = delete;

    /// A close-on-exec duplicate of `fd` (sharing its open file description).
    static FileHandle duplicate(int fd);
    /// A new open file description of the same file (read-write), as a forked child needs to
    /// hold locks of its own: the inherited descriptor shares the parent's locks.
    FileHandle reopen() const;

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    int release() noexcept;

private:
    int m_fd = -1;
};

/// Reserves bytes [offset, offset + size) of the file in /dev/shm now, so that running out of
/// memory is an OutOfSpace when an object is made rather than a SIGBUS at the first touch of a
/// sparse page.
void reserve_bytes(int fd, std::uint64_t offset, std::uint64_t size, std::string_view segment);

enum class Presence { nobody, present, being_removed };

/// Takes a shared presence lock; false when a remover holds the segment.
bool lock_presence(int fd);
void unlock_presence(int fd) noexcept;
/// Who holds the presence byte, as seen through `fd` (which holds no lock of its own on it).
Presence presence_of(int fd);
/// Takes the presence byte exclusively: true only when nobody is present. Kept until `fd`'s
/// description is closed, so that nobody can attach to the file any more.
bool lock_for_removal(int fd);

/// Takes slot `index`'s lock; false when a live process holds it.
bool lock_slot(int fd, std::uint32_t index);
void unlock_slot(int fd, std::uint32_t index) noexcept;
/// True when some process holds slot `index`.
bool slot_held(int fd, std::uint32_t index);

/// True when the name still refers to the file open on `fd` (not removed or replaced).
bool names_same_file(int fd, std::string_view name);

/// The inode of this process's PID namespace: tells whose pids a recorded pid is in.
std::uint64_t this_pid_namespace();

} // namespace shmbus::detail

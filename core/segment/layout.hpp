// SPDX-License-Identifier: Apache-2.0
// The segment layout. These structs ARE the specification: the library, the CLI and the
// fuzzers decode a segment only through them and through validate_header().
//
//   offset 0                 SegmentHeader        (4 KiB)
//   kProcessTableOffset      ProcessSlot[128]     attached processes (pid, start time, PID
//                                                 namespace), each slot held by a file lock
//   kDirectoryOffset         DirEntry[4096]       named objects: name, kind, offset, size
//   kHeapOffset              object states        64-byte aligned, bump-allocated
//
// All-zero and random bytes decode as invalid: the magic, layout version, ready mark and the
// fixed table offsets must all match before anything else is read.
#pragma once

#include "os/robust_mutex.hpp"
#include "shmbus/object_kind.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::uint64_t kSegmentMagic = 0x3130'5355'424d'4853ULL; // "SHMBUS01"
// 2: liveness by file locks (os/presence.hpp); slots record the PID namespace.
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::uint32_t kReadyMark = 0x5944'4552U; // "REDY"
inline constexpr std::uint32_t kMaxProcesses = 128;
inline constexpr std::uint32_t kMaxObjects = 4096;
inline constexpr std::size_t kObjectNameMax = 63;

/// Segment and object names share one alphabet: safe in a file name, a shell and JSON.
inline bool is_name_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/// Who holds slot i is decided by the slot's file lock, not by these fields: they say, for
/// display and for dead-owner checks, which process that is, in its own PID namespace.
struct ProcessSlot {
    std::atomic<std::int32_t> pid; ///< 0: never used or detached cleanly
    std::uint32_t reserved;
    std::atomic<std::uint64_t> start_time;
    std::atomic<std::uint64_t> pid_namespace; ///< inode of the holder's /proc/self/ns/pid
    std::uint64_t reserved2;
};

enum class EntryState : std::uint32_t { free = 0, creating = 1, ready = 2 };

struct alignas(kCacheLine) DirEntry {
    std::atomic<EntryState> state;
    ObjectKind kind;
    std::uint64_t offset;
    std::uint64_t size;
    std::uint64_t type_tag;
    std::int32_t creator_pid;
    std::uint32_t reserved;
    char name[kObjectNameMax + 1];
};

struct alignas(kCacheLine) SegmentHeader {
    // Immutable once ready is set.
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t header_size;
    std::uint64_t total_size;
    std::int32_t creator_pid;
    std::uint32_t mode;
    std::uint64_t creator_start_time;
    std::uint32_t max_processes;
    std::uint32_t max_objects;
    std::uint64_t process_table_offset;
    std::uint64_t directory_offset;
    std::uint64_t heap_offset;
    /// kReadyMark once the creator has initialised everything above and below.
    std::atomic<std::uint32_t> ready;

    // Mutable, guarded by directory_lock.
    alignas(kCacheLine) RobustMutex directory_lock;
    std::uint64_t heap_used;
    std::uint64_t anonymous_count;
};

inline constexpr std::uint64_t kHeaderSize = 4096;
inline constexpr std::uint64_t kProcessTableOffset = kHeaderSize;
inline constexpr std::uint64_t kDirectoryOffset =
    kProcessTableOffset + sizeof(ProcessSlot) * kMaxProcesses;
inline constexpr std::uint64_t kHeapOffset = kDirectoryOffset + sizeof(DirEntry) * kMaxObjects;
inline constexpr std::uint64_t kMinSegmentSize = kHeapOffset + 4096;

static_assert(sizeof(SegmentHeader) <= kHeaderSize,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SegmentHeader, magic) == 0,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SegmentHeader, ready) == 72,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SegmentHeader, directory_lock) == 128,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(ProcessSlot) == 32, "ProcessSlot is part of the layout");
static_assert(sizeof(DirEntry) == 128,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kDirectoryOffset % kCacheLine == 0 && kHeapOffset % kCacheLine == 0,
              "the directory and the heap start on cache lines");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<std::int32_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<EntryState>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

/// Why a header cannot be trusted, or nullopt when it can. `file_size` is the size the
/// operating system reports for the object.
std::optional<std::string> validate_header(const SegmentHeader& header, std::uint64_t file_size);

/// Why a directory entry cannot be trusted, or nullopt when it can.
std::optional<std::string> validate_entry(const DirEntry& entry, const SegmentHeader& header);

inline ProcessSlot* process_table(SegmentHeader& header) {
    return reinterpret_cast<ProcessSlot*>(reinterpret_cast<char*>(&header) + kProcessTableOffset);
}
inline DirEntry* directory(SegmentHeader& header) {
    return reinterpret_cast<DirEntry*>(reinterpret_cast<char*>(&header) + kDirectoryOffset);
}

} // namespace shmbus::detail

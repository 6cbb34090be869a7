// SPDX-License-Identifier: Apache-2.0
/// @file
/// A named POSIX shared-memory segment: a fixed, versioned header, a table of attached
/// processes and a directory of named objects, all addressed by offsets so that processes may
/// map it at different addresses. See docs/design/segment-layout.md for the layout.
#pragma once

#include "shmbus/export.hpp"
#include "shmbus/object_kind.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus {

namespace detail {
class Mapping;
struct SegmentAccess;
} // namespace detail

/// One entry of a segment's object directory (Segment::objects(), `shmbus inspect`).
struct ObjectInfo {
    std::string name;         ///< an anonymous object's is made up: its kind, `#`, a number
    ObjectKind kind;          ///< what the object is
    std::uint64_t offset;     ///< where its state starts, in bytes from the segment's start
    std::uint64_t size;       ///< bytes of state reserved for it
    std::int32_t creator_pid; ///< the process that created it

    /// Equal when every field is.
    bool operator==(const ObjectInfo&) const = default;
};

/// Whether anyone still uses a segment. `unknown` when it cannot be decided (the caller may not
/// read the segment, or it is not a valid shmbus segment): such a segment is never replaced or
/// removed by the library or by `shmbus gc`.
enum class Liveness {
    live,    ///< an attached process still runs
    stale,   ///< every process that attached has died: the segment may be removed
    unknown, ///< cannot tell: left alone
};

/// "live", "stale" or "unknown".
SHMBUS_EXPORT std::string_view to_string(Liveness liveness);

/// One entry of a segment's attached-process table (Segment::processes()).
struct AttachedProcess {
    std::int32_t pid; ///< in its own PID namespace
    /// When the process started (clock ticks since boot, field 22 of /proc/PID/stat), so that
    /// a new process that reuses a dead one's pid is not taken for it.
    std::uint64_t start_time;
    bool alive;                        ///< told by the kernel (a file lock), in any namespace
    bool in_this_pid_namespace = true; ///< false: `pid` is another namespace's number
};

/// A handle to a mapped segment. Copies share one mapping, which lives as long as any handle
/// or any object view made from it. Handles stay valid in children after fork().
class SHMBUS_EXPORT Segment {
public:
    /// Size of a segment made by create() or open_or_create() without one: 64 MiB of address
    /// space (sparse: memory is taken per object).
    static constexpr std::size_t kDefaultSize = std::size_t{64} << 20;
    /// File mode of a new segment: owner read and write.
    static constexpr unsigned kDefaultMode = 0600;
    /// Longest segment name.
    static constexpr std::size_t kMaxNameLength = 200;
    /// Largest segment: 16 TiB.
    static constexpr std::size_t kMaxSize = std::size_t{1} << 44;

    /// Creates a new segment; AlreadyExists when the name is taken. `size` is rounded up to a
    /// page and must leave room for the header (OutOfSpace otherwise). The file is sparse:
    /// /dev/shm memory is reserved for the tables now and for each object when it is made
    /// (OutOfSpace then, never a SIGBUS later).
    static Segment create(std::string_view name, std::size_t size = kDefaultSize,
                          unsigned mode = kDefaultMode);
    /// Opens an existing segment, waiting up to `ready_timeout` for its creator to finish
    /// initialising it. NotFound, PermissionDenied, CorruptSegment (foreign file, wrong
    /// version or size, bad offsets, never initialised).
    static Segment open(std::string_view name,
                        std::chrono::milliseconds ready_timeout = std::chrono::seconds(1));
    /// Opens like open() without joining the attached-process table: for tools that inspect
    /// a segment and must not make a stale one look alive.
    static Segment observe(std::string_view name,
                           std::chrono::milliseconds ready_timeout = std::chrono::seconds(1));
    /// Opens the segment, or creates it when it is missing or stale (every process that was
    /// attached to it is dead, in any PID namespace): a segment left by a crash never blocks a
    /// restart. A file of another layout under the name is CorruptSegment, never replaced.
    static Segment open_or_create(std::string_view name, std::size_t size = kDefaultSize,
                                  unsigned mode = kDefaultMode);
    /// Removes the name; mappings already made stay valid. False when there was no such name.
    static bool unlink(std::string_view name);
    /// Removes the name only when nobody uses the segment (liveness stale), atomically with
    /// respect to processes opening it. False when it is in use or not a segment of this
    /// layout (unknown); NotFound, PermissionDenied as for open().
    static bool unlink_if_stale(std::string_view name);
    /// The liveness of a segment by name, without mapping it: unknown when it cannot be opened
    /// or is not a segment of this layout.
    static Liveness liveness_of(std::string_view name);
    /// Throws InvalidName unless `name` matches [A-Za-z0-9._-]{1,200}.
    static void validate_name(std::string_view name);

    /// The segment that anonymous objects (`shmbus::Lock lock;`) live in: created lazily, once
    /// per process tree, inherited by forked children, removed when its creator exits.
    /// Its size is SHMBUS_DEFAULT_SEGMENT_SIZE bytes when that is set, else 256 MiB of address
    /// space: like every segment it is sparse, and takes memory in /dev/shm only for its
    /// tables (~530 KiB) and for each object when it is made. The first default segment of a
    /// process tree removes those of dead trees.
    static Segment default_segment();

    /// The name it was created or opened with.
    const std::string& name() const;
    /// Bytes mapped: the size it was created with, rounded up to a page.
    std::size_t size() const;
    /// Bytes still free for new objects. @concurrent result may be stale.
    std::size_t bytes_free() const;
    /// The object directory. @concurrent any process; result may be stale.
    std::vector<ObjectInfo> objects() const;
    /// The attached-process table, each entry checked for liveness now.
    std::vector<AttachedProcess> processes() const;
    /// live while any attached process runs, in this or any other PID namespace.
    Liveness liveness() const;
    /// True when liveness() is stale: no attached process is alive.
    bool stale() const;

private:
    // The library's object views reach the mapping through detail::SegmentAccess
    // (core/segment/mapping.hpp); programs make handles with create(), open() and the like.
    friend struct detail::SegmentAccess;
    explicit Segment(std::shared_ptr<detail::Mapping> mapping);

    std::shared_ptr<detail::Mapping> m_mapping;
};

} // namespace shmbus

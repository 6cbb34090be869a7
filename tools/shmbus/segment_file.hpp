// SPDX-License-Identifier: Apache-2.0
// What a file in /dev/shm is, found before anything maps it. Any local user can plant files
// there (symlinks, sparse files of any size carrying our magic, headers that never become
// ready), so the tool looks with lstat and an O_NOFOLLOW descriptor, reads only the header with
// pread, and bounds the time it waits for creators to finish.
#pragma once

#include "cli.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>

namespace shmbus::cli {

/// Caps the time one command spends waiting for creators to finish initialising segments:
/// each file waits at most `per_file`, all files together at most `total`; past that a file
/// that is not ready is reported at once.
class ReadyBudget {
public:
    ReadyBudget(std::chrono::milliseconds per_file, std::chrono::milliseconds total);
    /// Until when the next file may wait.
    std::chrono::steady_clock::time_point next_deadline() const;

private:
    std::chrono::milliseconds m_per_file;
    std::chrono::steady_clock::time_point m_end;
};

enum class FileKind {
    gone,       ///< no such file (or removed while we looked)
    foreign,    ///< not ours: no shmbus magic, or not a regular file
    corrupt,    ///< ours (or a symlink in our namespace) but not a valid segment
    unreadable, ///< we may not read it, and its size could be a segment's
    segment,    ///< a valid, ready header whose size matches the file: safe to map
};

/// Probes `summary.path` (summary.name and path set by the caller): fills size, mode, uid and
/// owner from lstat/fstat, and `problem` for corrupt and unreadable files. Never follows a
/// symlink, never maps the file, never throws for what it finds in the file.
FileKind probe_file(SegmentSummary& summary, ReadyBudget& budget);

struct ObservedFile {
    FileKind kind = FileKind::gone;
    /// status and liveness set for every kind but gone and foreign.
    SegmentSummary summary;
    /// Set when kind is segment: mapped only after the probe found a valid header whose size
    /// matches the file.
    std::optional<Segment> segment;
};

/// Probes `directory/name`, then, when it is a valid segment, observes it (Segment::observe,
/// without waiting again) and fills the header facts, processes and liveness. Whatever the
/// file holds or becomes meanwhile, the outcome is a kind, never an exception.
ObservedFile observe_file(std::string_view name, const std::filesystem::path& directory,
                          ReadyBudget& budget);

/// Whether this process may unlink a file owned by `owner_uid` in `directory` (write access
/// to the directory, and the sticky bit's ownership rule).
bool may_unlink(const std::filesystem::path& directory, std::uint32_t owner_uid);

/// "owner root, mode 0600": for permission messages.
std::string ownership(const SegmentSummary& summary);

} // namespace shmbus::cli

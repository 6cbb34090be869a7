// SPDX-License-Identifier: Apache-2.0
// The shmbus command-line tool as a library: each command gathers a data struct (read through
// Segment::observe, so the tool never joins a segment's attached-process table and never makes
// a stale segment look alive), then formats it as text or as JSON. main.cpp only calls run().
#pragma once

#include "os/presence.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <shmbus/segment.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::cli {

inline constexpr int kExitOk = 0;
/// Not found, corrupt or foreign, permission denied, stale where that matters.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
/// Bumped only when a JSON field changes meaning or disappears; new fields may appear.
inline constexpr int kSchemaVersion = 1;
inline constexpr std::string_view kShmDirectory = detail::kShmDirectory;
/// Columns assumed when neither COLUMNS nor the terminal tells.
inline constexpr std::size_t kDefaultWidth = 100;

/// ok: live; stale: every attached process dead; unknown: a valid segment whose liveness
/// cannot be decided; corrupt and unreadable segments' liveness is unknown too.
enum class SegmentStatus { ok, stale, unknown, corrupt, unreadable };
std::string_view to_string(SegmentStatus status);

struct ProcessRow {
    std::int32_t pid = 0;
    std::uint64_t start_time = 0;
    bool alive = false;
    /// /proc/PID/comm; empty when unreadable, dead or in another PID namespace.
    std::string comm;
};

/// A NATS bridge's record found in a segment (decode_bridge.hpp).
struct BridgeRow {
    bool inbound = false;
    bool topic = false;
    /// The queue or topic it bridges.
    std::string name;
    std::string subject;
    std::uint64_t in_flight = 0;
    std::uint64_t forwarded = 0;
    std::uint64_t errors = 0;
    /// The limits the stream had when the bridge last connected (0: none).
    std::uint64_t stream_max_age_ms = 0;
    std::uint64_t stream_max_bytes = 0;
    std::uint64_t stream_max_messages = 0;
    /// Empty when none.
    std::string last_error;
    /// Why the record could not be read (another layout or version); the fields above but the
    /// direction and name are then unknown.
    std::string problem;
};

/// One line of `shmbus ls`, and the header part of `shmbus inspect`.
struct SegmentSummary {
    std::string name;
    std::string path;
    std::uint64_t size = 0;
    unsigned mode = 0;
    std::uint32_t uid = 0;
    std::string owner;
    SegmentStatus status = SegmentStatus::ok;
    /// Segment::liveness(); unknown when the segment could not be read. gc removes only stale.
    Liveness liveness = Liveness::unknown;
    /// Why the segment is corrupt, unreadable or of unknown liveness; empty otherwise.
    std::string problem;
    // The fields below are meaningful only when the segment could be read (ok, stale, unknown).
    std::uint32_t layout_version = 0;
    std::int32_t creator_pid = 0;
    bool creator_alive = false;
    std::uint64_t heap_used = 0;
    std::uint64_t bytes_free = 0;
    std::uint64_t object_count = 0;
    std::vector<ProcessRow> processes;
    std::vector<BridgeRow> bridges;
};

/// One directory entry and a decoded snapshot of its state.
struct ObjectReport {
    std::string name;
    ObjectKind kind = ObjectKind::lock;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::int32_t creator_pid = 0;
    /// False for kinds this tool does not decode (queues, pipes, ...): only kind and size.
    bool decoded = false;
    /// Why the state is not one of this build (validate(), segment/state_ref.hpp); empty when it
    /// is, or when this tool does not check the kind.
    std::string problem;
    /// One human line: "held by 1234 (owner dead)", "value=3 bound=5", "set", ...
    std::string summary;
    /// Kind-specific fields (see README.md, "The shmbus CLI" for the schema); an empty object when
    /// !decoded.
    nlohmann::json state = nlohmann::json::object();
};

struct SegmentReport {
    SegmentSummary segment;
    std::vector<ObjectReport> objects;
};

/// Every shmbus segment in `directory` whose name starts with `prefix`, sorted by name.
/// Foreign files are skipped; ours that fail validation, and symlinks, are listed as corrupt;
/// files we may not read whose size could be a segment's as unreadable. No file can make the
/// listing fail, and the time spent waiting for unready segments is bounded for the whole call.
std::vector<SegmentSummary> list_segments(const std::filesystem::path& directory = kShmDirectory,
                                          std::string_view prefix = "");

/// The header, attached processes and decoded object directory of segment `name`. Throws
/// NotFound, CorruptSegment (foreign or damaged file), PermissionDenied, InvalidName.
SegmentReport inspect_segment(std::string_view name,
                              const std::filesystem::path& directory = kShmDirectory);

/// Snapshots of every object in `segment`.
std::vector<ObjectReport> object_reports(const Segment& segment);

struct GarbageFailure {
    std::string name;
    std::string reason;
};

struct GarbageReport {
    /// Stale segments removed (with dry_run: that this process may remove).
    std::vector<std::string> removed;
    /// Stale segments this process could not (with dry_run: may not) remove.
    std::vector<GarbageFailure> failed;
    /// Segments whose liveness is unknown (corrupt, unreadable, undecidable): never removed.
    std::vector<SegmentSummary> kept;
};

/// Segments whose liveness is stale (every attached process dead) and whose names start with
/// `prefix`, removed unless `dry_run`, each re-checked just before its unlink.
GarbageReport collect_garbage(bool dry_run, std::string_view prefix = "",
                              const std::filesystem::path& directory = kShmDirectory);

/// Removes segment `name`. NotFound when missing; InvalidName. Unless `force`: CorruptSegment
/// when the file is not a shmbus segment (so a typo never deletes another program's shared
/// memory), a symlink, or a segment whose liveness is unknown; PermissionDenied when it may not
/// be read; UsageError naming the live pids when processes are attached. PermissionDenied when
/// the unlink itself is refused.
void remove_segment(std::string_view name, bool force,
                    const std::filesystem::path& directory = kShmDirectory);

nlohmann::json to_json(const SegmentSummary& summary);
nlohmann::json to_json(const ObjectReport& object);
nlohmann::json ls_json(const std::vector<SegmentSummary>& segments);
nlohmann::json inspect_json(const SegmentReport& report);
nlohmann::json watch_json(const SegmentReport& report, std::uint64_t refresh,
                          std::int64_t unix_time_ms);

/// `rm`'s document: the segment removed, or (with `failure`) why it was not.
nlohmann::json rm_json(const std::string& name, std::optional<std::string> failure = {});
/// `gc`'s document: removed (with dry_run: would remove), kept and failed segments.
nlohmann::json gc_json(const GarbageReport& report, bool dry_run);

/// Long process lists are cut to fit the table in `width` columns and end in "+N more" (at least
/// one process is shown); the other columns, the status with its reason, are never cut.
std::string format_ls(const std::vector<SegmentSummary>& segments,
                      std::size_t width = kDefaultWidth);
std::string format_inspect(const SegmentReport& report);
/// The heading's process list is cut to `width` as in format_ls.
std::string format_watch(const SegmentReport& report, std::uint64_t refresh,
                         std::int64_t unix_time_ms, std::size_t width = kDefaultWidth);

/// "512B", "2.5KiB", "16MiB": three significant figures at most.
std::string human_size(std::uint64_t bytes);
/// Columns as wide as their widest cell, left-aligned, two spaces apart; one line per row.
std::string table(const std::vector<std::vector<std::string>>& rows);

/// --help: option names take kHelpColumn columns, descriptions the rest of kHelpWidth.
inline constexpr std::size_t kHelpWidth = 80;
inline constexpr std::size_t kHelpColumn = 26;

/// `text` with spaces turned into line breaks so that no line exceeds `width` (a longer word
/// keeps a line of its own): CLI11 indents each line of a description under the first.
std::string wrap_help(std::string_view text, std::size_t width = kHelpWidth - kHelpColumn);

/// The output's width: COLUMNS when set to a positive number, else the terminal's (TIOCGWINSZ)
/// when stdout is one, else kDefaultWidth.
std::size_t terminal_width();

/// The segment name in a command-line argument: `/dev/shm/NAME` and `/NAME` (shm_open's
/// spelling) name segment NAME; anything else is returned as given, for validation.
std::string segment_name_argument(std::string_view argument);

/// The whole command line: parses argv with CLI11, runs the command, writes to out/err and
/// returns the exit code (kExitOk, kExitFailure, kExitUsage). Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

} // namespace shmbus::cli

// The shmbus command-line tool as a library: each command gathers a data struct (read through
// Segment::observe, so the tool never joins a segment's attached-process table and never makes
// a stale segment look alive), then formats it as text or as JSON. main.cpp only calls run().
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
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
inline constexpr const char* kShmDirectory = "/dev/shm";

enum class SegmentStatus { ok, stale, corrupt, unreadable };
std::string_view to_string(SegmentStatus status);

struct ProcessRow {
    std::int32_t pid = 0;
    std::uint64_t start_time = 0;
    bool alive = false;
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
    /// Why the segment is corrupt or unreadable; empty otherwise.
    std::string problem;
    // The fields below are meaningful only when status is ok or stale.
    std::uint32_t layout_version = 0;
    std::int32_t creator_pid = 0;
    bool creator_alive = false;
    std::uint64_t heap_used = 0;
    std::uint64_t bytes_free = 0;
    std::uint64_t object_count = 0;
    std::vector<ProcessRow> processes;
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

/// True when the file starts with the shmbus segment magic (foreign files are never ours).
bool has_segment_magic(const std::filesystem::path& file);

/// Every shmbus segment in `directory`, sorted by name. Foreign files are skipped; ours that
/// fail validation are listed as corrupt, ours we may not open as unreadable.
std::vector<SegmentSummary> list_segments(const std::filesystem::path& directory = kShmDirectory);

/// The header, attached processes and decoded object directory of segment `name`. Throws
/// NotFound, CorruptSegment (foreign or damaged file), PermissionDenied, InvalidName.
SegmentReport inspect_segment(std::string_view name,
                              const std::filesystem::path& directory = kShmDirectory);

/// Snapshots of every object in `segment`.
std::vector<ObjectReport> object_reports(const Segment& segment);

/// Stale segments (every attached process dead) whose names start with `prefix`, removed
/// unless `dry_run`. Returns the names removed (or that would be).
std::vector<std::string> collect_garbage(bool dry_run, std::string_view prefix = "",
                                         const std::filesystem::path& directory = kShmDirectory);

/// Removes segment `name`. NotFound when missing; CorruptSegment when the file is not a shmbus
/// segment and !force (so a typo never deletes another program's shared memory).
void remove_segment(std::string_view name, bool force,
                    const std::filesystem::path& directory = kShmDirectory);

nlohmann::json to_json(const SegmentSummary& summary);
nlohmann::json to_json(const ObjectReport& object);
nlohmann::json ls_json(const std::vector<SegmentSummary>& segments);
nlohmann::json inspect_json(const SegmentReport& report);
nlohmann::json watch_json(const SegmentReport& report, std::uint64_t refresh,
                          std::int64_t unix_time_ms);

std::string format_ls(const std::vector<SegmentSummary>& segments);
std::string format_inspect(const SegmentReport& report);
std::string format_watch(const SegmentReport& report, std::uint64_t refresh,
                         std::int64_t unix_time_ms);

/// The whole command line: parses argv with CLI11, runs the command, writes to out/err and
/// returns the exit code (kExitOk, kExitFailure, kExitUsage). Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

} // namespace shmbus::cli

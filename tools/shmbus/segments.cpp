// SPDX-License-Identifier: Apache-2.0
// `ls`, `gc` and `rm`. Every file goes through observe_file (segment_file.hpp), so a planted
// symlink, a huge sparse file or a header that never becomes ready is reported, never followed,
// mapped or waited on without bound. Liveness comes from Segment::liveness() alone.
#include "cli.hpp"
#include "segment_file.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>

namespace shmbus::cli {
namespace {

namespace fs = std::filesystem;

// Waiting for a creator to finish is worth a little time per segment, but no file, nor any
// number of them, may hold a listing up for long.
constexpr std::chrono::milliseconds kReadyWaitPerFile{20};
constexpr std::chrono::milliseconds kReadyWaitTotal{250};
// One named segment (rm) may wait as long as inspect does.
constexpr std::chrono::milliseconds kReadyTimeout{200};

bool valid_name(std::string_view name) {
    try {
        Segment::validate_name(name);
        return true;
    } catch (const InvalidName&) { // shmbus never creates such a name
        return false;
    }
}

// Names in `directory` that shmbus could have created and that start with `prefix`, sorted.
std::vector<std::string> candidate_names(const fs::path& directory, std::string_view prefix) {
    std::vector<std::string> names;
    std::error_code error;
    for (fs::directory_iterator it(directory, error), end; !error && it != end;
         it.increment(error)) {
        std::string name = it->path().filename().string();
        if (name.starts_with(prefix) && valid_name(name))
            names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string denied(const SegmentSummary& summary) {
    return "permission denied (" + ownership(summary) + ")";
}

void plan_removal(GarbageReport& report, const SegmentSummary& summary, const fs::path& directory) {
    if (may_unlink(directory, summary.uid))
        report.removed.push_back(summary.name);
    else
        report.failed.push_back({summary.name, denied(summary)});
}

void remove_stale(GarbageReport& report, const std::string& name, const fs::path& directory) {
    // Check again just before unlinking: a process may have attached since the listing.
    ReadyBudget budget(kReadyWaitPerFile, kReadyWaitPerFile);
    const ObservedFile file = observe_file(name, directory, budget);
    if (file.summary.liveness != Liveness::stale)
        return;
    try {
        // Atomic with respect to attaching processes: false when one attached meanwhile.
        if (Segment::unlink_if_stale(name))
            report.removed.push_back(name);
    } catch (const PermissionDenied&) {
        report.failed.push_back({name, denied(file.summary)});
    } catch (const Error& e) {
        report.failed.push_back({name, e.what()});
    }
}

std::string live_pids(const SegmentSummary& summary) {
    std::string pids;
    const bool any_alive = std::any_of(summary.processes.begin(), summary.processes.end(),
                                       [](const ProcessRow& process) { return process.alive; });
    // Liveness may know of processes this PID namespace cannot see: then name every pid.
    for (const ProcessRow& process : summary.processes)
        if (process.alive || !any_alive)
            pids += (pids.empty() ? "" : ", ") + std::to_string(process.pid);
    return pids.empty() ? "(not visible here)" : pids;
}

// rm without --force removes only a segment known to be stale; everything else says why not.
void refuse_unless_stale(const ObservedFile& file, const std::string& where,
                         const fs::path& directory) {
    const std::string force = "; use --force to remove it anyway";
    switch (file.kind) {
    case FileKind::foreign:
        throw CorruptSegment(where + "not a shmbus segment (bad magic or not a regular file)" +
                             force);
    case FileKind::unreadable:
        throw PermissionDenied(where + denied(file.summary) +
                               (may_unlink(directory, file.summary.uid) ? force : ""));
    case FileKind::corrupt:
        throw CorruptSegment(where + file.summary.problem + ", so its liveness is unknown" + force);
    default:
        break;
    }
    if (file.summary.liveness == Liveness::live)
        throw UsageError(where + "in use by live process(es) " + live_pids(file.summary) + force);
    if (file.summary.liveness == Liveness::unknown)
        throw CorruptSegment(where + file.summary.problem + force);
}

} // namespace

std::vector<SegmentSummary> list_segments(const fs::path& directory, std::string_view prefix) {
    ReadyBudget budget(kReadyWaitPerFile, kReadyWaitTotal);
    std::vector<SegmentSummary> result;
    for (const std::string& name : candidate_names(directory, prefix)) {
        ObservedFile file = observe_file(name, directory, budget);
        if (file.kind != FileKind::gone && file.kind != FileKind::foreign)
            result.push_back(std::move(file.summary));
    }
    return result;
}

GarbageReport collect_garbage(bool dry_run, std::string_view prefix, const fs::path& directory) {
    GarbageReport report;
    for (SegmentSummary& summary : list_segments(directory, prefix)) {
        if (summary.liveness == Liveness::unknown)
            report.kept.push_back(std::move(summary));
        else if (summary.liveness == Liveness::stale && dry_run)
            plan_removal(report, summary, directory);
        else if (summary.liveness == Liveness::stale)
            remove_stale(report, summary.name, directory);
    }
    return report;
}

void remove_segment(std::string_view name, bool force, const fs::path& directory) {
    Segment::validate_name(name);
    const std::string where = "segment '" + std::string(name) + "': ";
    ReadyBudget budget(kReadyTimeout, kReadyTimeout);
    const ObservedFile file = observe_file(name, directory, budget);
    if (file.kind == FileKind::gone)
        throw NotFound(where + "no such segment");
    if (!force)
        refuse_unless_stale(file, where, directory);
    try {
        if (!force && !Segment::unlink_if_stale(name))
            throw Error(where + "a process attached to it meanwhile; not removed");
        if (force && !Segment::unlink(name))
            throw NotFound(where + "no such segment");
    } catch (const PermissionDenied&) {
        throw PermissionDenied(where + denied(file.summary));
    }
}

} // namespace shmbus::cli

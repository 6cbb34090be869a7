// SPDX-License-Identifier: Apache-2.0
// Formatting: the data structs of cli.hpp as plain-terminal text or as JSON (schema in
// README.md, "The shmbus CLI"). Nothing here touches shared memory.
#include "cli.hpp"
#include "decode_bridge.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace shmbus::cli {
namespace {

using nlohmann::json;

// A process list cut to fit the width still gets this many columns ("1234 python3 +9 more").
constexpr std::size_t kMinimumProcessWidth = 16;

// Whether the header facts were read: the segment was mapped, whatever its liveness.
bool readable(const SegmentSummary& summary) {
    return summary.status != SegmentStatus::corrupt && summary.status != SegmentStatus::unreadable;
}

std::string octal_mode(unsigned mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode);
    return text;
}

// "1234 python3", "1234 ?" (name unknown), "1234(dead)".
std::string process_entry(const ProcessRow& process) {
    if (!process.alive)
        return std::to_string(process.pid) + "(dead)";
    return std::to_string(process.pid) + " " + (process.comm.empty() ? "?" : process.comm);
}

std::string process_list(const std::vector<ProcessRow>& processes) {
    if (processes.empty())
        return "-";
    std::string text;
    for (const ProcessRow& process : processes)
        text += (text.empty() ? "" : ", ") + process_entry(process);
    return text;
}

std::string more(std::size_t hidden) {
    return hidden == 0 ? "" : " +" + std::to_string(hidden) + " more";
}

// As many processes as fit in `budget` characters, then "+N more"; when not even the first fits
// whole, its pid alone (kMinimumProcessWidth leaves room for "1234567 +99 more").
std::string fitted_process_list(const std::vector<ProcessRow>& processes, std::size_t budget) {
    if (processes.empty())
        return "-";
    std::string text;
    for (std::size_t shown = 0; shown < processes.size(); ++shown) {
        std::string longer = (text.empty() ? "" : text + ", ") + process_entry(processes[shown]);
        if (longer.size() + more(processes.size() - shown - 1).size() > budget) {
            if (text.empty())
                return std::to_string(processes.front().pid) + more(processes.size() - 1);
            return text + more(processes.size() - shown);
        }
        text = std::move(longer);
    }
    return text;
}

std::string timestamp(std::int64_t unix_time_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_time_ms / 1000);
    std::tm local{};
    ::localtime_r(&seconds, &local);
    std::ostringstream text;
    text << std::put_time(&local, "%Y-%m-%d %H:%M:%S");
    return text.str();
}

// The width of each column: that of its widest cell.
std::vector<std::size_t> column_widths(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths.resize(std::max(widths.size(), row.size()));
            widths[i] = std::max(widths[i], row[i].size());
        }
    return widths;
}

std::string objects_table(const std::vector<ObjectReport>& objects) {
    if (objects.empty())
        return "  (no objects)\n";
    std::vector<std::vector<std::string>> rows{{"  NAME", "KIND", "SIZE", "STATE"}};
    for (const ObjectReport& object : objects)
        rows.push_back({"  " + (object.name.empty() ? std::string("(anonymous)") : object.name),
                        std::string(to_string(object.kind)), std::to_string(object.size),
                        object.summary});
    return table(rows);
}

} // namespace

std::string human_size(std::uint64_t bytes) {
    constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    std::ostringstream text;
    text << std::setprecision(value < 10 && unit > 0 ? 2 : 3) << value << kUnits[unit];
    return text.str();
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
    const std::vector<std::size_t> widths = column_widths(rows);
    std::string text;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i)
            line += i + 1 == row.size() ? row[i]
                                        : row[i] + std::string(widths[i] - row[i].size() + 2, ' ');
        text += line + "\n";
    }
    return text;
}

json to_json(const SegmentSummary& summary) {
    json result = {{"name", summary.name},
                   {"path", summary.path},
                   {"size", summary.size},
                   {"mode", octal_mode(summary.mode)},
                   {"uid", summary.uid},
                   {"owner", summary.owner},
                   {"status", std::string(to_string(summary.status))},
                   {"liveness", std::string(to_string(summary.liveness))},
                   {"stale", summary.liveness == Liveness::stale},
                   {"problem", summary.problem.empty() ? json(nullptr) : json(summary.problem)}};
    const bool valid = readable(summary);
    json processes = json::array();
    for (const ProcessRow& process : summary.processes)
        processes.push_back({{"pid", process.pid},
                             {"start_time", process.start_time},
                             {"alive", process.alive},
                             {"comm", process.comm}});
    result["layout_version"] = valid ? json(summary.layout_version) : json(nullptr);
    result["creator_pid"] = valid ? json(summary.creator_pid) : json(nullptr);
    result["creator_alive"] = valid ? json(summary.creator_alive) : json(nullptr);
    result["heap_used"] = valid ? json(summary.heap_used) : json(nullptr);
    result["bytes_free"] = valid ? json(summary.bytes_free) : json(nullptr);
    result["object_count"] = valid ? json(summary.object_count) : json(nullptr);
    result["processes"] = processes;
    json bridges = json::array();
    for (const BridgeRow& bridge : summary.bridges)
        bridges.push_back(to_json(bridge));
    result["bridges"] = bridges;
    return result;
}

json to_json(const ObjectReport& object) {
    return {{"name", object.name},
            {"kind", std::string(to_string(object.kind))},
            {"offset", object.offset},
            {"size", object.size},
            {"creator_pid", object.creator_pid},
            {"decoded", object.decoded},
            {"problem", object.problem.empty() ? json(nullptr) : json(object.problem)},
            {"summary", object.summary},
            {"state", object.state}};
}

json ls_json(const std::vector<SegmentSummary>& segments) {
    json list = json::array();
    for (const SegmentSummary& summary : segments)
        list.push_back(to_json(summary));
    return {{"schema", "shmbus.ls"}, {"version", kSchemaVersion}, {"segments", list}};
}

json inspect_json(const SegmentReport& report) {
    json objects = json::array();
    for (const ObjectReport& object : report.objects)
        objects.push_back(to_json(object));
    return {{"schema", "shmbus.inspect"},
            {"version", kSchemaVersion},
            {"segment", to_json(report.segment)},
            {"objects", objects}};
}

json watch_json(const SegmentReport& report, std::uint64_t refresh, std::int64_t unix_time_ms) {
    json document = inspect_json(report);
    document["schema"] = "shmbus.watch";
    document["refresh"] = refresh;
    document["time_ms"] = unix_time_ms;
    return document;
}

json rm_json(const std::string& name, std::optional<std::string> failure) {
    json failed = json::array();
    if (failure)
        failed.push_back({{"name", name}, {"reason", *failure}});
    return {{"schema", "shmbus.rm"},
            {"version", kSchemaVersion},
            {"removed", failure ? json::array() : json::array({name})},
            {"failed", failed}};
}

json gc_json(const GarbageReport& report, bool dry_run) {
    json kept = json::array();
    for (const SegmentSummary& summary : report.kept)
        kept.push_back(
            {{"name", summary.name},
             {"status", std::string(to_string(summary.status))},
             {"reason", summary.problem.empty() ? json(nullptr) : json(summary.problem)}});
    json failed = json::array();
    for (const GarbageFailure& failure : report.failed)
        failed.push_back({{"name", failure.name}, {"reason", failure.reason}});
    return {{"schema", "shmbus.gc"}, {"version", kSchemaVersion},
            {"dry_run", dry_run},    {"removed", report.removed},
            {"kept", kept},          {"failed", failed}};
}

std::string format_ls(const std::vector<SegmentSummary>& segments, std::size_t width) {
    if (segments.empty())
        return "no shmbus segments\n";
    constexpr std::size_t kProcessColumn = 6;
    std::vector<std::vector<std::string>> rows{
        {"NAME", "SIZE", "MODE", "OWNER", "CREATOR", "OBJECTS", "PROCESSES", "STATUS"}};
    for (const SegmentSummary& s : segments) {
        const bool valid = readable(s);
        std::string status =
            s.status == SegmentStatus::stale ? "STALE" : std::string(to_string(s.status));
        if (!s.problem.empty())
            status += ": " + s.problem;
        // The process list is filled in below, once the other columns' widths are known.
        rows.push_back(
            {s.name, human_size(s.size), octal_mode(s.mode), s.owner,
             valid ? std::to_string(s.creator_pid) + (s.creator_alive ? "" : "(dead)") : "-",
             valid ? std::to_string(s.object_count) : "-", "-", status});
    }
    std::vector<std::size_t> widths = column_widths(rows);
    widths[kProcessColumn] = 0;
    std::size_t others = 2 * (widths.size() - 1);
    for (std::size_t column_width : widths)
        others += column_width;
    const std::size_t budget =
        std::max(kMinimumProcessWidth, width > others ? width - others : std::size_t{0});
    for (std::size_t i = 0; i < segments.size(); ++i)
        if (readable(segments[i]))
            rows[i + 1][kProcessColumn] = fitted_process_list(segments[i].processes, budget);
    std::string text = table(rows);
    for (const SegmentSummary& s : segments)
        for (const BridgeRow& bridge : s.bridges)
            text += "  " + s.name + " bridge " + bridge_line(bridge) + "\n";
    return text;
}

std::string format_inspect(const SegmentReport& report) {
    const SegmentSummary& s = report.segment;
    std::ostringstream text;
    text << "segment " << s.name << (s.status == SegmentStatus::stale ? "  STALE" : "") << "\n"
         << "  path        " << s.path << "\n"
         << "  size        " << s.size << " (" << human_size(s.size) << "), "
         << human_size(s.bytes_free) << " free for objects\n"
         << "  mode        " << octal_mode(s.mode) << ", owner " << s.owner << "\n"
         << "  layout      version " << s.layout_version << "\n"
         << "  creator     pid " << s.creator_pid << (s.creator_alive ? " (alive)" : " (dead)")
         << "\n"
         << "  processes   " << process_list(s.processes) << "\n";
    if (s.status == SegmentStatus::stale)
        text << "  STALE: no attached process is alive; `shmbus gc` removes it\n";
    if (s.status == SegmentStatus::unknown)
        text << "  liveness    unknown (" << s.problem << "); `shmbus gc` keeps it\n";
    if (!s.bridges.empty())
        text << "bridges (" << s.bridges.size() << ")\n";
    for (const BridgeRow& bridge : s.bridges)
        text << "  " << bridge_line(bridge) << "\n";
    text << "objects (" << report.objects.size() << ")\n" << objects_table(report.objects);
    return text.str();
}

std::string format_watch(const SegmentReport& report, std::uint64_t refresh,
                         std::int64_t unix_time_ms, std::size_t width) {
    const SegmentSummary& s = report.segment;
    const std::string heading = "shmbus watch " + s.name + "  " + timestamp(unix_time_ms) +
                                "  refresh " + std::to_string(refresh) + "  processes ";
    const std::string stale = s.status == SegmentStatus::stale ? "  STALE" : "";
    const std::size_t used = heading.size() + stale.size();
    const std::size_t budget =
        std::max(kMinimumProcessWidth, width > used ? width - used : std::size_t{0});
    return heading + fitted_process_list(s.processes, budget) + stale + "\n" +
           objects_table(report.objects);
}

} // namespace shmbus::cli

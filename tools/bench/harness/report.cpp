// SPDX-License-Identifier: Apache-2.0
// Text tables and JSON for a Report.
#include "suite.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace shmbus::bench {
namespace {

using Figure = std::uint64_t LatencySummary::*;

struct NamedFigure {
    const char* name;
    Figure figure;
};
constexpr NamedFigure kFigures[] = {{"p50", &LatencySummary::p50},
                                    {"p90", &LatencySummary::p90},
                                    {"p99", &LatencySummary::p99},
                                    {"p999", &LatencySummary::p999},
                                    {"max", &LatencySummary::max}};

std::string printf_string(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

std::string format_ns(std::uint64_t ns) {
    const auto v = static_cast<double>(ns);
    if (ns < 1000)
        return std::to_string(ns) + " ns";
    if (ns < 10'000)
        return printf_string("%.2f us", v / 1e3);
    if (ns < 1'000'000)
        return printf_string("%.1f us", v / 1e3);
    return printf_string("%.2f ms", v / 1e6);
}

std::string format_rate(double per_s) {
    if (per_s >= 1e9)
        return printf_string("%.2f G", per_s / 1e9);
    if (per_s >= 1e6)
        return printf_string("%.2f M", per_s / 1e6);
    if (per_s >= 1e3)
        return printf_string("%.1f k", per_s / 1e3);
    return printf_string("%.0f", per_s);
}

std::string format_ratio(std::optional<double> ratio) {
    if (!ratio)
        return "-";
    if (*ratio >= 100)
        return printf_string("%.0fx", *ratio);
    if (*ratio >= 0.1)
        return printf_string("%.2fx", *ratio);
    return printf_string("%.4fx", *ratio);
}

std::string size_name(std::size_t size) {
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

/// Left-aligned first column, right-aligned others, two spaces apart.
class Table {
public:
    explicit Table(std::vector<std::string> header) { m_rows.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string str() const {
        std::vector<std::size_t> width(m_rows.front().size(), 0);
        for (const auto& row : m_rows)
            for (std::size_t i = 0; i < row.size(); ++i)
                width[i] = std::max(width[i], row[i].size());
        std::ostringstream out;
        for (const auto& row : m_rows) {
            for (std::size_t i = 0; i < row.size(); ++i) {
                const std::string pad(width[i] - row[i].size(), ' ');
                out << (i == 0 ? row[i] + pad : "  " + pad + row[i]);
            }
            out << "\n";
        }
        return out.str();
    }

private:
    std::vector<std::vector<std::string>> m_rows;
};

std::string label_of(const Report& report, const std::string& key) {
    for (const MechanismInfo& mechanism : report.mechanisms)
        if (mechanism.key == key)
            return mechanism.label;
    return key;
}

std::string latency_table(const Report& report, std::size_t size) {
    Table table({"round trip, " + size_name(size), "p50", "p90", "p99", "p99.9", "max", "p50/floor",
                 "p50/pipe", "p99/floor", "p99/pipe"});
    for (const MechanismInfo& mechanism : report.mechanisms) {
        const Row* row = report.find(mechanism.key, Metric::latency, size);
        if (row == nullptr)
            continue;
        if (!row->latency) {
            table.add({mechanism.label, "n/a", "", "", "", "", "", "", "", ""});
            continue;
        }
        const LatencySummary& l = *row->latency;
        table.add({mechanism.label, format_ns(l.p50), format_ns(l.p90), format_ns(l.p99),
                   format_ns(l.p999), format_ns(l.max),
                   format_ratio(latency_ratio(report, *row, kFloorKey, &LatencySummary::p50)),
                   format_ratio(latency_ratio(report, *row, kPipeKey, &LatencySummary::p50)),
                   format_ratio(latency_ratio(report, *row, kFloorKey, &LatencySummary::p99)),
                   format_ratio(latency_ratio(report, *row, kPipeKey, &LatencySummary::p99))});
    }
    return table.str();
}

std::string throughput_table(const Report& report, std::size_t size) {
    Table table({"one way, " + size_name(size), "msg/s", "MB/s", "/floor", "/pipe"});
    for (const MechanismInfo& mechanism : report.mechanisms) {
        const Row* row = report.find(mechanism.key, Metric::throughput, size);
        if (row == nullptr)
            continue;
        if (!row->throughput) {
            table.add({mechanism.label, "n/a", "", "", ""});
            continue;
        }
        const double rate = row->throughput->messages_per_s();
        table.add({mechanism.label, format_rate(rate),
                   printf_string("%.1f", rate * static_cast<double>(size) / 1e6),
                   format_ratio(throughput_ratio(report, *row, kFloorKey)),
                   format_ratio(throughput_ratio(report, *row, kPipeKey))});
    }
    return table.str();
}

nlohmann::json ratios_json(const Report& report, const Row& row, std::string_view baseline) {
    nlohmann::json out = nlohmann::json::object();
    if (row.latency) {
        for (const NamedFigure& f : kFigures)
            if (const auto ratio = latency_ratio(report, row, baseline, f.figure))
                out[f.name] = *ratio;
    } else if (const auto ratio = throughput_ratio(report, row, baseline)) {
        out["messages_per_s"] = *ratio;
    }
    return out;
}

nlohmann::json row_json(const Report& report, const Row& row) {
    nlohmann::json out = {{"mechanism", row.mechanism},
                          {"size", row.size},
                          {"available", row.latency.has_value() || row.throughput.has_value()}};
    if (!row.note.empty())
        out["note"] = row.note;
    if (row.latency) {
        const LatencySummary& l = *row.latency;
        out.update({{"count", l.count},
                    {"p50_ns", l.p50},
                    {"p90_ns", l.p90},
                    {"p99_ns", l.p99},
                    {"p999_ns", l.p999},
                    {"max_ns", l.max}});
    }
    if (row.throughput) {
        const double rate = row.throughput->messages_per_s();
        out.update({{"messages", row.throughput->messages},
                    {"seconds", row.throughput->seconds},
                    {"messages_per_s", rate},
                    {"bytes_per_s", rate * static_cast<double>(row.size)}});
    }
    if (row.latency || row.throughput) {
        out["ratio_to_floor"] = ratios_json(report, row, kFloorKey);
        out["ratio_to_pipe"] = ratios_json(report, row, kPipeKey);
    }
    return out;
}

} // namespace

nlohmann::json to_json(const Report& report) {
    nlohmann::json mechanisms = nlohmann::json::array();
    for (const MechanismInfo& m : report.mechanisms)
        mechanisms.push_back({{"key", m.key}, {"label", m.label}});
    nlohmann::json latency = nlohmann::json::array();
    nlohmann::json throughput = nlohmann::json::array();
    for (const Row& row : report.rows)
        (row.metric == Metric::latency ? latency : throughput).push_back(row_json(report, row));
    return {{"schema", "shmbus.bench"},
            {"version", kSchemaVersion},
            {"mode", report.mode},
            {"cpu_model", report.cpu_model},
            {"cpus", report.cpus},
            {"pinned", report.pinned},
            {"load_average", {{"before", report.load_before}, {"after", report.load_after}}},
            {"sizes", report.sizes},
            {"mechanisms", mechanisms},
            {"latency", latency},
            {"throughput", throughput},
            {"notes", report.notes}};
}

std::string format_report(const Report& report) {
    std::ostringstream out;
    out << "shmbus bench (" << report.mode << "): " << report.cpu_model << ", " << report.cpus
        << " CPUs, "
        << (report.pinned ? "the two processes pinned to two CPUs" : "processes not pinned")
        << "\nload average before: " << report.load_before << "\n"
        << "load average after:  " << report.load_after << "\n"
        << "Absolute figures vary by machine and load; the ratios within one run are the "
           "claim.\nx/floor and x/pipe divide a figure by the same figure of the raw "
           "cache-line floor and of pipe(2).\n";
    for (std::size_t size : report.sizes)
        out << "\n" << latency_table(report, size);
    for (std::size_t size : report.sizes)
        out << "\n" << throughput_table(report, size);
    bool heading = false;
    for (const Row& row : report.rows)
        if (!row.note.empty()) {
            out << (heading ? "" : "\nnotes:\n") << "  " << label_of(report, row.mechanism) << ", "
                << size_name(row.size) << ", "
                << (row.metric == Metric::latency ? "latency" : "throughput") << ": " << row.note
                << "\n";
            heading = true;
        }
    for (const std::string& note : report.notes)
        out << (std::exchange(heading, true) ? "" : "\nnotes:\n") << "  " << note << "\n";
    return out.str();
}

} // namespace shmbus::bench

// SPDX-License-Identifier: Apache-2.0
// The whole side-by-side run behind `shmbus bench`: every mechanism at every size, latency and
// throughput, plus the memcpy ceiling and (optionally) Python's multiprocessing, gathered into
// one Report that prints as tables, JSON or an SVG plot. Figures from one Report compare; the
// ratios to the floor and to pipe(2) are the claim, the absolute figures vary by machine.
#pragma once

#include "histogram.hpp"
#include "measure.hpp"

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace shmbus::bench {

inline constexpr int kSchemaVersion = 1;
/// The keys of the two baselines every figure is divided by.
inline constexpr const char* kFloorKey = "floor";
inline constexpr const char* kPipeKey = "pipe2";

struct SuiteOptions {
    bool quick = false;
    /// Pin the two processes to two CPUs (when the process may use two or more).
    bool pin = true;
    /// As root, raise /proc/sys/fs/mqueue/msgsize_max for the run so POSIX mq carries 64 KiB.
    bool raise_mq_limit = false;
    std::vector<std::size_t> sizes = {8, 64, 1024, 65536};
    /// Only mechanisms whose key contains this (the baselines always run); empty: all.
    std::string only;
    /// tools/bench/python_mp.py to add Python's multiprocessing rows; empty: none.
    std::string python_script;
    /// Called before each measurement with a short description.
    std::function<void(const std::string&)> progress;
};

enum class Metric { latency, throughput };

struct MechanismInfo {
    std::string key;
    std::string label;
};

struct Row {
    std::string mechanism;
    Metric metric = Metric::latency;
    std::size_t size = 0;
    std::optional<LatencySummary> latency;
    std::optional<Throughput> throughput;
    /// Why the figure is missing (n/a on this host, or the failure).
    std::string note;
    /// True when the measurement failed (as opposed to n/a by design).
    bool failed = false;
};

struct Report {
    std::string mode; ///< "quick" or "full"
    std::string cpu_model;
    int cpus = 0;
    bool pinned = false;
    std::string load_before; ///< /proc/loadavg when the run started
    std::string load_after;
    std::vector<std::size_t> sizes;
    std::vector<MechanismInfo> mechanisms;
    std::vector<Row> rows;
    std::vector<std::string> notes;

    const Row* find(std::string_view mechanism, Metric metric, std::size_t size) const;
    bool any_failed() const;
};

Report run_suite(const SuiteOptions& options);

/// Adds the rows that `python3 script --json` prints (python_mp.py's schema) to `report`.
void add_python_rows(Report& report, const std::string& script, bool quick,
                     const std::vector<std::size_t>& sizes);

/// figure / the baseline's same figure; nullopt when either is missing.
std::optional<double> latency_ratio(const Report& report, const Row& row, std::string_view baseline,
                                    std::uint64_t LatencySummary::*figure);
std::optional<double> throughput_ratio(const Report& report, const Row& row,
                                       std::string_view baseline);

nlohmann::json to_json(const Report& report);
std::string format_report(const Report& report);
/// Latency percentiles (p50 to p99.9, and max) per mechanism, one panel per size, log scale.
std::string render_svg(const Report& report);

} // namespace shmbus::bench

// SPDX-License-Identifier: Apache-2.0
#include "suite.hpp"

#include "pool_probe.hpp"
#include "processes.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kLarge = std::size_t{64} << 10;

struct Budget {
    std::uint64_t round_trips, warmup, messages;
    /// Per measurement: it stops early once this has passed (after kMinimumSamples).
    std::chrono::nanoseconds time;
};

/// --quick: at most 0.15 s per measurement, so the ~90 of them stay under 30 s even on a
/// loaded 2-core VM; the full run allows 2 s each.
Budget budget_for(std::size_t size, bool quick) {
    const bool large = size >= kLarge;
    if (quick)
        return large ? Budget{300, 30, 2000, 150ms} : Budget{2000, 200, 50000, 150ms};
    return large ? Budget{10000, 500, 50000, 2s} : Budget{100000, 2000, 2000000, 2s};
}

std::string first_line_of(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) {
            const std::size_t colon = line.find(':');
            return colon == std::string::npos ? line
                                              : line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return "unknown";
}

std::string size_name(std::size_t size) {
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

/// Runs one measurement into a row: n/a with the reason when unsupported, failed otherwise.
template <class Measure>
Row measure_row(const std::string& key, Metric metric, std::size_t size, Measure measure) {
    Row row{key, metric, size, {}, {}, {}, false};
    try {
        measure(row);
    } catch (const Unsupported& e) {
        row.note = e.what();
    } catch (const std::exception& e) {
        row.note = std::string("failed: ") + e.what();
        row.failed = true;
    }
    return row;
}

bool selected(const SuiteOptions& options, const std::string& key) {
    return options.only.empty() || key == kFloorKey || key == kPipeKey ||
           key.find(options.only) != std::string::npos;
}

void run_channels(const SuiteOptions& options, Report& report) {
    for (const Mechanism& mechanism : channel_mechanisms()) {
        if (!selected(options, mechanism.key))
            continue;
        report.mechanisms.push_back({mechanism.key, mechanism.label});
        for (std::size_t size : options.sizes) {
            const Budget budget = budget_for(size, options.quick);
            if (options.progress)
                options.progress(mechanism.label + ", " + size_name(size));
            report.rows.push_back(measure_row(mechanism.key, Metric::latency, size, [&](Row& row) {
                const auto channel = mechanism.open(size);
                row.latency = measure_latency(
                    *channel, {size, budget.round_trips, budget.warmup, options.pin, budget.time});
            }));
            report.rows.push_back(
                measure_row(mechanism.key, Metric::throughput, size, [&](Row& row) {
                    const auto channel = mechanism.open(size);
                    row.throughput = measure_throughput(
                        *channel, {size, budget.messages, options.pin, budget.time});
                }));
        }
    }
}

void run_memcpy(const SuiteOptions& options, Report& report) {
    report.mechanisms.push_back({"memcpy", "memcpy in cache (ceiling)"});
    for (std::size_t size : options.sizes) {
        if (options.progress)
            options.progress("memcpy, " + size_name(size));
        report.rows.push_back(measure_row("memcpy", Metric::throughput, size, [&](Row& row) {
            // Two 256 KiB buffers stay in L2: the copy a ring transport does into warm memory.
            const std::size_t span = std::max<std::size_t>(size, 256 << 10);
            row.throughput = measure_memcpy(size, span, budget_for(size, options.quick).time / 4);
        }));
    }
}

std::string join_sizes(const std::vector<std::size_t>& sizes) {
    std::string out;
    for (std::size_t size : sizes)
        out += (out.empty() ? "" : ",") + std::to_string(size);
    return out;
}

std::string run_command(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe)
        throw std::runtime_error("cannot run: " + command);
    std::string out;
    std::array<char, 4096> chunk;
    std::size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe.get())) > 0)
        out.append(chunk.data(), n);
    if (pclose(pipe.release()) != 0)
        throw std::runtime_error("failed: " + command);
    return out;
}

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

} // namespace

const Row* Report::find(std::string_view mechanism, Metric metric, std::size_t size) const {
    for (const Row& row : rows)
        if (row.mechanism == mechanism && row.metric == metric && row.size == size)
            return &row;
    return nullptr;
}

bool Report::any_failed() const {
    return std::any_of(rows.begin(), rows.end(), [](const Row& row) { return row.failed; });
}

void add_python_rows(Report& report, const std::string& script, bool quick,
                     const std::vector<std::size_t>& sizes) {
    const std::string command = "python3 " + shell_quote(script) + " --json --sizes " +
                                join_sizes(sizes) + (quick ? " --quick" : "");
    const nlohmann::json doc = nlohmann::json::parse(run_command(command));
    for (const auto& mechanism : doc.at("mechanisms"))
        report.mechanisms.push_back({mechanism.at("key"), mechanism.at("label")});
    for (const auto& item : doc.at("rows")) {
        Row row{item.at("mechanism"),
                item.at("metric") == "latency" ? Metric::latency : Metric::throughput,
                item.at("size"),
                {},
                {},
                {},
                false};
        if (row.metric == Metric::latency)
            row.latency = LatencySummary{item.at("p50_ns"),  item.at("p90_ns"), item.at("p99_ns"),
                                         item.at("p999_ns"), item.at("max_ns"), item.at("count")};
        else
            row.throughput = Throughput{item.at("messages"), item.at("seconds")};
        report.rows.push_back(std::move(row));
    }
    report.notes.push_back("Python rows: " + command + " (" + doc.value("python", "") + ")");
}

Report run_suite(const SuiteOptions& options) {
    Report report;
    report.mode = options.quick ? "quick" : "full";
    report.cpu_model = cpu_model();
    report.cpus = usable_cpus();
    report.pinned = options.pin && report.cpus >= 2;
    report.load_before = first_line_of("/proc/loadavg");
    report.sizes = options.sizes;

    std::optional<MqSizeLimit> mq_limit;
    const std::size_t largest = *std::max_element(options.sizes.begin(), options.sizes.end());
    if (options.raise_mq_limit) {
        mq_limit.emplace(largest);
        report.notes.push_back(mq_limit->raised()
                                   ? "POSIX mq: msgsize_max raised to " + std::to_string(largest) +
                                         " for this run (as root), restored afterwards"
                                   : "POSIX mq: " + mq_limit->problem());
    } else if (mq_msgsize_max() < largest) {
        report.notes.push_back("POSIX mq: /proc/sys/fs/mqueue/msgsize_max is " +
                               std::to_string(mq_msgsize_max()) +
                               " B, so larger messages are n/a (--raise-mq-limit as root)");
    }
    run_channels(options, report);
    mq_limit.reset();
    run_memcpy(options, report);
    const bool has_pool_size = std::find(options.sizes.begin(), options.sizes.end(),
                                         sizeof(std::int64_t)) != options.sizes.end();
    if (has_pool_size && selected(options, "shmbus.pool"))
        run_pool(options, report);
    if (!options.python_script.empty()) {
        if (options.progress)
            options.progress("Python multiprocessing");
        try {
            add_python_rows(report, options.python_script, options.quick, options.sizes);
        } catch (const std::exception& e) {
            report.notes.push_back(std::string("Python rows missing: ") + e.what());
        }
    }
    report.load_after = first_line_of("/proc/loadavg");
    return report;
}

std::optional<double> latency_ratio(const Report& report, const Row& row, std::string_view baseline,
                                    std::uint64_t LatencySummary::*figure) {
    const Row* base = report.find(baseline, Metric::latency, row.size);
    if (!row.latency || base == nullptr || !base->latency || (*base->latency).*figure == 0)
        return std::nullopt;
    return static_cast<double>((*row.latency).*figure) /
           static_cast<double>((*base->latency).*figure);
}

std::optional<double> throughput_ratio(const Report& report, const Row& row,
                                       std::string_view baseline) {
    const Row* base = report.find(baseline, Metric::throughput, row.size);
    if (!row.throughput || base == nullptr || !base->throughput)
        return std::nullopt;
    return row.throughput->messages_per_s() / base->throughput->messages_per_s();
}

} // namespace shmbus::bench

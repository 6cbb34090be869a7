// SPDX-License-Identifier: Apache-2.0
#include "suite.hpp"

#include "nats_rows.hpp"
#include "pool_probe.hpp"
#include "processes.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string>

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kLarge = std::size_t{64} << 10;
/// A throughput round ends by time, never by count.
constexpr std::uint64_t kUnbounded = std::uint64_t{1} << 50;

/// One round of one row. Latency: at most `round_trips` after `warmup_trips`, stopping once
/// `latency_time` per channel has passed; throughput: `throughput_time` after
/// `warmup_messages`.
struct Budget {
    std::uint64_t round_trips, warmup_trips;
    std::chrono::nanoseconds latency_time;
    std::uint64_t warmup_messages;
    std::chrono::nanoseconds throughput_time;
};

/// Throughput rounds run 100 ms (--quick) or 250 ms; latency rounds are shorter, as their
/// samples are many more.
Budget budget_for(std::size_t size, bool quick) {
    const bool large = size >= kLarge;
    if (quick)
        return {20000, large ? 20u : 200u, 25ms, large ? 20u : 1000u, 100ms};
    return {100000, large ? 100u : 1000u, 150ms, large ? 100u : 10000u, 250ms};
}

int rounds_for(const SuiteOptions& options) {
    return options.rounds > 0 ? options.rounds : options.quick ? 3 : 5;
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

bool selected(const SuiteOptions& options, const std::string& key) {
    return options.only.empty() || key == kPipeKey || key.find(options.only) != std::string::npos;
}

void progress(const SuiteOptions& options, const std::string& step) {
    if (options.progress)
        options.progress(step);
}

Measurement latency_round(const Mechanism& mechanism, std::size_t size, const Budget& budget,
                          bool pin) {
    const auto channel = mechanism.open(size);
    return {measure_latency(*channel, {size, budget.round_trips, budget.warmup_trips, pin,
                                       budget.latency_time}),
            {}};
}

Measurement throughput_round(const Mechanism& mechanism, std::size_t size, const Budget& budget,
                             bool pin) {
    const auto channel = mechanism.open(size);
    return {{},
            measure_throughput(
                *channel, {size, kUnbounded, pin, budget.throughput_time, budget.warmup_messages})};
}

/// Whether a row's round trips are also paired with pipe(2)'s: the blocking ones, which issue
/// 13 holds to pipe(2)'s round trip.
bool paired_with_pipe(const Mechanism& mechanism) {
    return mechanism.key.ends_with(".block");
}

/// One latency round of a channel row: the floor, the ring (and, for a blocking row, pipe(2))
/// and the row's channel measured together, their round trips interleaved between the same two
/// processes.
RoundResult interleaved_latency_round(const Mechanism& mechanism, std::size_t size,
                                      const Budget& budget, bool pin) {
    std::vector<const char*> keys{kFloorKey, kRingKey};
    if (paired_with_pipe(mechanism))
        keys.push_back(kPipeKey);
    std::vector<std::unique_ptr<Channel>> opened;
    for (const char* key : keys)
        opened.push_back(find_mechanism(key).open(size));
    opened.push_back(mechanism.open(size));
    std::vector<Channel*> channels;
    for (const auto& channel : opened)
        channels.push_back(channel.get());
    const std::uint64_t chunk = size >= kLarge / 4 ? 64U : 512U;
    const std::vector<LatencySummary> summaries = measure_latency_interleaved(
        channels, {size, budget.round_trips, budget.warmup_trips, pin,
                   static_cast<int>(channels.size()) * budget.latency_time, chunk});
    RoundResult result{{summaries.back(), {}}, {}};
    for (std::size_t i = 0; i < keys.size(); ++i)
        result.paired.emplace_back(keys[i], Measurement{summaries[i], {}});
    return result;
}

/// The floor (latency only) and the ring, measured on their own before the row in each round.
std::vector<Baseline> paired_baselines(Metric metric, std::size_t size, const Budget& budget,
                                       bool pin) {
    std::vector<Baseline> baselines;
    for (const char* key : {kFloorKey, kRingKey}) {
        const Mechanism mechanism = find_mechanism(key);
        if (metric == Metric::latency)
            baselines.push_back({key, [=] { return latency_round(mechanism, size, budget, pin); }});
        else if (mechanism.streams)
            baselines.push_back(
                {key, [=] { return throughput_round(mechanism, size, budget, pin); }});
    }
    return baselines;
}

void run_channels(const SuiteOptions& options, Report& report) {
    const int rounds = rounds_for(options);
    int repeated = 0;
    for (const Mechanism& mechanism : channel_mechanisms()) {
        if (mechanism.key == kFloorKey || mechanism.key == kRingKey ||
            !selected(options, mechanism.key))
            continue;
        report.mechanisms.push_back({mechanism.key, mechanism.label});
        for (std::size_t size : options.sizes) {
            const Budget budget = budget_for(size, options.quick);
            progress(options, mechanism.label + ", " + size_name(size));
            report.rows.push_back(measure_rounds(
                mechanism.key, Metric::latency, size, rounds,
                until_floor_holds(
                    [&] { return interleaved_latency_round(mechanism, size, budget, options.pin); },
                    kFloorKey, repeated)));
            report.rows.push_back(measure_rounds(
                mechanism.key, Metric::throughput, size, rounds,
                after_baselines(
                    [&] { return throughput_round(mechanism, size, budget, options.pin); },
                    paired_baselines(Metric::throughput, size, budget, options.pin))));
        }
    }
    if (repeated != 0)
        report.notes.push_back(std::to_string(repeated) +
                               " round-trip round(s) measured again: a p50 below the floor's in "
                               "the same round means the VM's placement changed within it");
}

/// The floor's and the ring's own rows, pooled from their pairs with every other row, first
/// in the tables.
void add_baseline_rows(const SuiteOptions& options, Report& report) {
    std::vector<Row> pooled;
    std::vector<MechanismInfo> infos;
    for (const char* key : {kFloorKey, kRingKey}) {
        const Mechanism mechanism = find_mechanism(key);
        infos.push_back({mechanism.key, mechanism.label});
        for (std::size_t size : options.sizes) {
            pooled.push_back(pooled_baseline(report.rows, key, Metric::latency, size));
            if (mechanism.streams)
                pooled.push_back(pooled_baseline(report.rows, key, Metric::throughput, size));
        }
    }
    report.mechanisms.insert(report.mechanisms.begin(), infos.begin(), infos.end());
    report.rows.insert(report.rows.begin(), pooled.begin(), pooled.end());
}

Measurement memcpy_round(const CopyBuffers& buffers, std::size_t block,
                         std::chrono::nanoseconds budget) {
    return {{}, measure_memcpy(buffers, block, budget)};
}

void run_memcpy(const SuiteOptions& options, Report& report) {
    report.mechanisms.push_back({kMemcpyCacheKey, "memcpy in cache (ceiling)"});
    report.mechanisms.push_back({kMemcpyDramKey, "memcpy in DRAM"});
    const int rounds = rounds_for(options);
    progress(options, "memcpy: filling the DRAM buffers");
    const CopyBuffers dram(report.dram_bytes);
    for (std::size_t size : options.sizes) {
        const auto budget = budget_for(size, options.quick).throughput_time;
        progress(options, "memcpy, " + size_name(size));
        // Two 256 KiB buffers stay in L2: the copy a ring transport does into warm memory.
        const CopyBuffers cache(std::max<std::size_t>(4 * size, 256 << 10));
        memcpy_round(cache, size, budget / 4); // warm-up
        report.rows.push_back(
            measure_rounds(kMemcpyCacheKey, Metric::throughput, size, rounds,
                           after_baselines([&] { return memcpy_round(cache, size, budget); }, {})));
        report.rows.push_back(
            measure_rounds(kMemcpyDramKey, Metric::throughput, size, rounds,
                           after_baselines([&] { return memcpy_round(dram, size, budget); }, {})));
    }
    report.notes.push_back("memcpy rows: two 256 KiB buffers (4 blocks for 64 KiB) in cache; two " +
                           std::to_string(report.dram_bytes >> 20) +
                           " MiB buffers for DRAM (last-level cache " +
                           std::to_string(report.llc_bytes >> 20) +
                           " MiB); page-aligned, destination half a page off the source");
}

// ---- Python's multiprocessing, through tools/bench/python_mp.py -----------------------------

std::string python_command(const SuiteOptions& options, const std::string& script) {
    return shell_quote(options.python_interpreter) + " " + shell_quote(script) + " --json" +
           (options.quick ? " --quick" : "") + (options.pin ? "" : " --no-pin");
}

std::string python_command(const SuiteOptions& options) {
    return python_command(options, options.python_script);
}

/// python_shmbus.py with the built module on PYTHONPATH and the C++ peer.
std::string shmbus_python_command(const SuiteOptions& options) {
    return "PYTHONPATH=" + shell_quote(options.python_module_dir) + " " +
           python_command(options, options.python_shmbus_script) +
           (options.python_peer.empty() ? "" : " --peer " + shell_quote(options.python_peer));
}

nlohmann::json run_python_script(const std::string& command, const std::string& arguments) {
    return nlohmann::json::parse(run_command(command + " " + arguments));
}

nlohmann::json run_python_script(const SuiteOptions& options, const std::string& arguments) {
    return run_python_script(python_command(options), arguments);
}

std::string seconds_text(std::chrono::nanoseconds time) {
    return std::to_string(std::chrono::duration<double>(time).count());
}

/// One round of one Python row: the script `command` runs measures one mechanism, size and
/// metric.
Measurement python_round(const std::string& command, const std::string& key, Metric metric,
                         std::size_t size, const Budget& budget) {
    const bool latency = metric == Metric::latency;
    const nlohmann::json doc = run_python_script(
        command, "--only " + shell_quote(key) + " --metric " +
                     (latency ? "latency" : "throughput") + " --sizes " + std::to_string(size) +
                     " --seconds " +
                     seconds_text(latency ? budget.latency_time : budget.throughput_time));
    return measurement_from_json(doc.at("rows").at(0));
}

/// Every mechanism that `command --list` names, at every size and metric, in rounds of
/// `command` after the baselines `baselines_of(metric, size, budget)` of the same round. The
/// listing (empty, with a note starting with `what`, when the script cannot run).
nlohmann::json measure_listed(
    const SuiteOptions& options, Report& report, const std::string& command,
    const std::string& what,
    const std::function<std::vector<Baseline>(Metric, std::size_t, const Budget&)>& baselines_of) {
    nlohmann::json listing;
    try {
        listing = run_python_script(command, "--list");
    } catch (const std::exception& e) {
        report.notes.push_back(what + " rows missing: " + e.what());
        return {};
    }
    const int rounds = rounds_for(options);
    for (const auto& mechanism : listing.at("mechanisms")) {
        const std::string key = mechanism.at("key");
        report.mechanisms.push_back({key, mechanism.at("label")});
        for (std::size_t size : options.sizes) {
            const Budget budget = budget_for(size, options.quick);
            progress(options, std::string(mechanism.at("label")) + ", " + size_name(size));
            for (Metric metric : {Metric::latency, Metric::throughput})
                report.rows.push_back(measure_rounds(
                    key, metric, size, rounds,
                    after_baselines(
                        [&] { return python_round(command, key, metric, size, budget); },
                        baselines_of(metric, size, budget))));
        }
    }
    return listing;
}

/// Python's Queue and Pipe rows, each round paired with the floor and the ring like any other.
void run_python(const SuiteOptions& options, Report& report) {
    const nlohmann::json listing =
        measure_listed(options, report, python_command(options), "Python",
                       [&](Metric metric, std::size_t size, const Budget& budget) {
                           return paired_baselines(metric, size, budget, options.pin);
                       });
    if (!listing.is_null())
        report.notes.push_back("Python rows: " + python_command(options) + " (" +
                               std::string(listing.value("python", "")) +
                               "), started once per round");
}

/// shmbus used from Python (python_shmbus.py), each round paired with a round of mp.Queue at
/// the same size and metric: the speedup over Python's own queue divides figures of one round.
void run_python_shmbus(const SuiteOptions& options, Report& report) {
    if (options.python_shmbus_script.empty() || options.python_module_dir.empty()) {
        report.notes.push_back("shmbus from Python: the module was not built, no rows");
        return;
    }
    const std::string command = shmbus_python_command(options);
    const nlohmann::json listing =
        measure_listed(options, report, command, "shmbus from Python",
                       [&](Metric metric, std::size_t size, const Budget& budget) {
                           return std::vector<Baseline>{
                               {kPythonQueueKey, [&options, metric, size, budget] {
                                    return python_round(python_command(options), kPythonQueueKey,
                                                        metric, size, budget);
                                }}};
                       });
    if (!listing.is_null())
        report.notes.push_back("shmbus from Python rows: " + command +
                               ", started once per round after a round of " + kPythonQueueKey);
}

/// Python's Pool.map of the tasks shmbus's Pool row maps, one item per round.
void run_python_pool(const SuiteOptions& options, Report& report) {
    const std::uint64_t tasks = pool_map_tasks(options.quick);
    progress(options, "Python Pool.map");
    Row row{kPythonPoolKey, Metric::throughput, sizeof(std::int64_t), {}, {}, {}, false};
    try {
        const nlohmann::json doc =
            run_python_script(options, "--pool-map " + std::to_string(tasks) + " --rounds " +
                                           std::to_string(rounds_for(options)));
        for (const auto& item : doc.at("rows"))
            row.rounds.push_back(measurement_from_json(item));
    } catch (const std::exception& e) {
        row.note = std::string("failed: ") + e.what();
        row.failed = true;
    }
    report.mechanisms.push_back({kPythonPoolKey, "Python multiprocessing.Pool.map, trivial tasks"});
    report.rows.push_back(std::move(row));
}

} // namespace

const Row* Report::find(std::string_view mechanism, Metric metric, std::size_t size) const {
    for (const Row& row : rows)
        if (row.mechanism == mechanism && row.metric == metric && row.size == size)
            return &row;
    return nullptr;
}

const TopicRow* Report::find_topic(std::string_view mechanism, std::size_t size,
                                   int subscribers) const {
    for (const TopicRow& row : topic)
        if (row.mechanism() == mechanism && row.size() == size && row.subscribers == subscribers)
            return &row;
    return nullptr;
}

bool Report::any_failed() const {
    return std::any_of(rows.begin(), rows.end(), [](const Row& row) { return row.failed; }) ||
           std::any_of(topic.begin(), topic.end(), [](const TopicRow& row) {
               return row.latency.failed || row.throughput.failed;
           });
}

std::size_t dram_buffer_bytes() {
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    return std::clamp<std::size_t>(4 * last_level_cache_bytes(), 256 * kMiB, 1024 * kMiB);
}

Report run_suite(const SuiteOptions& options) {
    Report report;
    report.mode = options.quick ? "quick" : "full";
    report.cpu_model = cpu_model();
    report.cpus = usable_cpus();
    report.pinned = options.pin && report.cpus >= 2;
    report.rounds = rounds_for(options);
    report.llc_bytes = last_level_cache_bytes();
    report.dram_bytes = options.dram_bytes > 0 ? options.dram_bytes : dram_buffer_bytes();
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
    if (!options.python_script.empty()) {
        run_python(options, report);
        run_python_shmbus(options, report);
    }
    add_baseline_rows(options, report);
    run_memcpy(options, report);
    const bool has_pool_size = std::find(options.sizes.begin(), options.sizes.end(),
                                         sizeof(std::int64_t)) != options.sizes.end();
    if (has_pool_size && selected(options, "shmbus.pool"))
        run_pool(options, report);
    if (has_pool_size && !options.python_script.empty())
        run_python_pool(options, report);
    if (options.nats && has_pool_size)
        run_nats(options, report);
    else if (options.nats)
        report.notes.push_back("NATS rows: measured at 8 B, which --sizes leaves out");
    if (!options.topic_sizes.empty() && selected(options, kTopicCopyKey))
        run_topics(options, report);
    report.load_after = first_line_of("/proc/loadavg");
    return report;
}

} // namespace shmbus::bench

// SPDX-License-Identifier: Apache-2.0
// The whole side-by-side run behind `shmbus bench`: every mechanism at every size, latency and
// throughput, plus the memcpy ceiling and (optionally) Python's multiprocessing, gathered into
// one Report that prints as tables, JSON or an SVG plot. Every row is measured in several short
// rounds, each with the floor and the reference ring (the paired baselines: interleaved with the
// row's round trips, or measured right before its throughput), so that each ratio to them
// divides figures of one round: on a VM whose speed shifts every few seconds, figures taken
// seconds apart do not compare. Absolute figures vary by machine; the ratios
// within one run are the claim.
#pragma once

#include "histogram.hpp"
#include "measure.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace shmbus::bench {

inline constexpr int kSchemaVersion = 3;
/// The memcpy rows: blocks copied within the caches, and across buffers far beyond them.
inline constexpr const char* kMemcpyCacheKey = "memcpy.cache";
inline constexpr const char* kMemcpyDramKey = "memcpy.dram";

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
    /// The interpreter of both Python scripts: the one the shmbus module was built for.
    std::string python_interpreter = "python3";
    /// tools/bench/python_shmbus.py, for the rows of shmbus used from Python (each round paired
    /// with one of mp.Queue), the directory of the built shmbus module (its PYTHONPATH) and the
    /// C++ peer of the Python<->C++ rows (python/tests/peer.cpp). Rows only with python_script,
    /// this script and the module; the Python<->C++ rows only with the peer too.
    std::string python_shmbus_script;
    std::string python_module_dir;
    std::string python_peer;
    /// Rounds per row; 0: 3 with quick, 5 otherwise.
    int rounds = 0;
    /// Bytes of each of the two DRAM memcpy buffers; 0: dram_buffer_bytes().
    std::size_t dram_bytes = 0;
    /// The topic table (one publisher to N subscribers): its message sizes and subscriber
    /// counts; it runs when "shmbus.topic" is selected and topic_sizes is not empty.
    std::vector<std::size_t> topic_sizes = {64, 65536, 1 << 20};
    std::vector<int> topic_subscribers = {1, 2, 4};
    /// bench_topic_bench, run as a child for iceoryx's rows (it links iceoryx when built with
    /// it; the CLI never does). False `iceoryx`: no iceoryx rows.
    std::string iceoryx_program;
    bool iceoryx = true;
    /// The NATS rows (nats_rows.hpp): shmbus-nats-bench and nats-server (empty: beside this
    /// program, then the usual places and PATH).
    bool nats = false;
    std::string nats_program;
    std::string nats_server;
    /// Called before each measurement with a short description.
    std::function<void(const std::string&)> progress;
};

/// 4x the last-level cache, at least 256 MiB and at most 1 GiB (per buffer; the row copies
/// between two of them).
std::size_t dram_buffer_bytes();

enum class Metric { latency, throughput };

struct MechanismInfo {
    std::string key;
    std::string label;
};

/// One measurement of a row: a latency summary (latency rows) or a throughput.
struct Measurement {
    std::optional<LatencySummary> latency;
    std::optional<Throughput> throughput;
};

/// What a row reports of each measurement: a latency percentile (ns) or the message rate.
enum class Figure { p50, p90, p99, p999, max, rate };
double figure_of(const Measurement& measurement, Figure figure);

/// The smallest, the median and the largest of a figure over rounds.
struct Spread {
    double min = 0, median = 0, max = 0;
};
/// nullopt when there is no value.
std::optional<Spread> spread_of(const std::vector<double>& values);

struct Row {
    std::string mechanism;
    Metric metric = Metric::latency;
    std::size_t size = 0;
    /// This row's measurement in each round, in order.
    std::vector<Measurement> rounds;
    /// The paired baselines (floor, ring) measured with this row in the same rounds:
    /// paired.at(key)[i] ran in round i, beside rounds[i].
    std::map<std::string, std::vector<Measurement>, std::less<>> paired;
    /// Why the figure is missing (n/a on this host, or the failure).
    std::string note;
    /// True when the measurement failed (as opposed to n/a by design).
    bool failed = false;

    bool available() const { return !rounds.empty(); }
    /// The figure over this row's rounds.
    std::optional<Spread> spread(Figure figure) const;
    /// Each percentile's median over the rounds, the counts summed (latency rows).
    std::optional<LatencySummary> latency() const;
    /// The median message rate over the rounds (throughput rows).
    std::optional<double> messages_per_s() const;
};

/// The keys of the topic table's rows: the plain ring and a Queue with one consumer (the
/// baselines, measured in each round), a Topic copying or lending, and iceoryx.
inline constexpr const char* kTopicQueueKey = "shmbus.queue";
inline constexpr const char* kTopicCopyKey = "shmbus.topic.copy";
inline constexpr const char* kTopicLoanKey = "shmbus.topic.loan";
inline constexpr const char* kIceoryxKey = "iceoryx";

/// One line of the topic table: a mechanism at one size with one publisher and `subscribers`
/// subscribers, its round trips and its one-way rate. The Topic and iceoryx rows are paired with
/// the ring and the Queue (kRingKey, kTopicQueueKey) of the same rounds, the Topic rows also
/// with iceoryx's (kIceoryxKey) where it ran.
struct TopicRow {
    int subscribers = 1;
    /// How the readers wait: spin, block, polling (iceoryx), waitset (iceoryx).
    std::string wait;
    Row latency;
    Row throughput;
    const std::string& mechanism() const { return latency.mechanism; }
    std::size_t size() const { return latency.size; }
};

struct Report {
    std::string mode; ///< "quick" or "full"
    std::string cpu_model;
    int cpus = 0;
    bool pinned = false;
    int rounds = 0;
    std::size_t llc_bytes = 0;  ///< the last-level cache, as the kernel reports it
    std::size_t dram_bytes = 0; ///< each DRAM memcpy buffer
    std::string load_before;    ///< /proc/loadavg when the run started
    std::string load_after;
    std::vector<std::size_t> sizes;
    std::vector<MechanismInfo> mechanisms;
    std::vector<Row> rows;
    std::vector<std::size_t> topic_sizes;
    std::vector<int> topic_subscribers;
    std::vector<MechanismInfo> topic_mechanisms;
    std::vector<TopicRow> topic;
    std::vector<std::string> notes;

    const Row* find(std::string_view mechanism, Metric metric, std::size_t size) const;
    const TopicRow* find_topic(std::string_view mechanism, std::size_t size, int subscribers) const;
    bool any_failed() const;
};

Report run_suite(const SuiteOptions& options);

/// The topic table: per size, in each round the ring and the Queue, then every Topic row, then
/// iceoryx's rows from options.iceoryx_program (or a note saying why there are none).
void run_topics(const SuiteOptions& options, Report& report);

/// One round of a row: its own measurement and the paired baselines' of the same round.
struct RoundResult {
    Measurement own;
    std::vector<std::pair<std::string, Measurement>> paired;
};

/// A row measured in `rounds` rounds; n/a when a round throws Unsupported, failed when it
/// throws anything else (the row then keeps no figure).
Row measure_rounds(const std::string& key, Metric metric, std::size_t size, int rounds,
                   const std::function<RoundResult()>& round);

/// A baseline measured on its own, right before the row in each round (for rows that cannot
/// share their pair of processes with the baselines: throughput, Python).
struct Baseline {
    std::string key;
    std::function<Measurement()> measure;
};
/// A round that measures each baseline, then `measure`.
std::function<RoundResult()> after_baselines(std::function<Measurement()> measure,
                                             std::vector<Baseline> baselines);

/// `round`, measured again (up to 3 times in all) while its own or a paired round trip's p50
/// lies below the paired baseline `floor_key`'s by more than the histogram's resolution: no
/// channel beats one cache line each way, so such a round measured the VM's placement changing
/// within it (a p50 of round trips that straddle the change falls in either mode). Each repeat
/// adds one to `repeated`.
std::function<RoundResult()> until_floor_holds(std::function<RoundResult()> round,
                                               std::string floor_key, int& repeated);

/// The baseline `key`'s row at (metric, size), pooled from every row's paired measurements
/// of it (with the other baselines measured in the same rounds as its own pairs).
Row pooled_baseline(const std::vector<Row>& rows, const std::string& key, Metric metric,
                    std::size_t size);

/// The row's figure divided by the baseline's: with the baseline paired, the ratio of each
/// round's figures (median and spread over the rounds); otherwise the ratio of the two rows'
/// medians (min = median = max). nullopt when either is missing.
std::optional<Spread> ratio_to(const Report& report, const Row& row, std::string_view baseline,
                               Figure figure);

/// The key of Python's mp.Queue row, the baseline each round of shmbus-from-Python is paired with.
inline constexpr const char* kPythonQueueKey = "python.mp_queue";
/// "shmbus from Python against mp.Queue": each such row's p50 round trip and rate over
/// mp.Queue's of the same rounds, as "x times faster" lines (empty without such rows).
std::string python_speedups(const Report& report);

/// Python's rows from python_mp.py's JSON (its schema): one Measurement per row item.
Measurement measurement_from_json(const nlohmann::json& item);

nlohmann::json to_json(const Report& report);
std::string format_report(const Report& report);
/// Latency percentiles (p50 to p99.9, and max) per mechanism, one panel per size, log scale.
std::string render_svg(const Report& report);

} // namespace shmbus::bench

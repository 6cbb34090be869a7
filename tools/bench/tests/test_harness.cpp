// SPDX-License-Identifier: Apache-2.0
// The bench harness's own correctness: the histogram against a sorted-sample model, and every
// mechanism's adapter carrying stamped messages both ways across a real fork (the measurements
// check each stamp and throw on a lost or reordered message). No speed is asserted.
#include "channels.hpp"
#include "histogram.hpp"
#include "measure.hpp"
#include "processes.hpp"
#include "suite.hpp"
#include "topics.hpp"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace shmbus::bench {
namespace {

/// Nearest rank: the smallest sample with at least q of the samples at or below it.
std::uint64_t model_percentile(std::vector<std::uint64_t> samples, double q) {
    std::sort(samples.begin(), samples.end());
    const auto rank = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size()))));
    return samples[rank - 1];
}

TEST(Histogram, BucketsAreContiguousAndInvertible) {
    for (std::uint64_t value :
         {0ull, 1ull, 63ull, 64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull, ~0ull}) {
        const std::size_t bucket = Histogram::bucket_of(value);
        EXPECT_GE(Histogram::highest_in(bucket), value);
        if (bucket > 0) {
            EXPECT_LT(Histogram::highest_in(bucket - 1), value);
        }
    }
}

RC_GTEST_PROP(Histogram, PercentilesWithinResolutionOfTheModel,
              (const std::vector<std::uint32_t>& raw)) {
    RC_PRE(!raw.empty());
    Histogram histogram;
    std::vector<std::uint64_t> samples;
    for (std::uint32_t value : raw) {
        samples.push_back(value);
        histogram.record(value);
    }
    RC_ASSERT(histogram.count() == samples.size());
    RC_ASSERT(histogram.max() == *std::max_element(samples.begin(), samples.end()));
    for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        const std::uint64_t exact = model_percentile(samples, q);
        const std::uint64_t got = histogram.percentile(q);
        // Never below the true sample, above it by at most one sub-bucket (1/32).
        RC_ASSERT(got >= exact);
        RC_ASSERT(got - exact <= exact / Histogram::kSubBuckets);
    }
}

TEST(Histogram, EmptyReportsZero) {
    const Histogram histogram;
    EXPECT_EQ(histogram.percentile(0.5), 0u);
    EXPECT_EQ(summarize(histogram).count, 0u);
}

class EveryMechanism : public ::testing::TestWithParam<std::size_t> {};

TEST_P(EveryMechanism, CarriesStampedMessagesBothWaysAndOneWay) {
    const std::size_t size = GetParam();
    for (const Mechanism& mechanism : channel_mechanisms()) {
        SCOPED_TRACE(mechanism.label);
        try {
            // A budget far beyond the need: the count must not depend on the machine's speed
            // (a sanitizer build moves 64 KiB messages 10-50x slower).
            constexpr auto kBudget = std::chrono::seconds(120);
            const LatencySummary latency =
                measure_latency(*mechanism.open(size), {size, 300, 10, true, kBudget});
            EXPECT_EQ(latency.count, 300u);
            EXPECT_LE(latency.p50, latency.p99);
            EXPECT_LE(latency.p99, latency.max);
            if (!mechanism.streams)
                continue;
            const Throughput throughput =
                measure_throughput(*mechanism.open(size), {size, 2000, true, kBudget, 100});
            EXPECT_EQ(throughput.messages, 2000u);
        } catch (const Unsupported& e) {
            // Only POSIX mq may lack a size, and only beyond the host's msgsize_max.
            EXPECT_EQ(mechanism.key, "posix_mq") << e.what();
            EXPECT_GT(size, mq_msgsize_max());
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Sizes, EveryMechanism, ::testing::Values(8, 64, 1024, 65536));

TEST(Measure, ThroughputStoppedByItsBudgetDrainsEverySentMessage) {
    for (const Mechanism& mechanism : channel_mechanisms()) {
        SCOPED_TRACE(mechanism.label);
        if (!mechanism.streams)
            continue;
        const Throughput throughput = measure_throughput(
            *mechanism.open(64), {64, 10'000'000, true, std::chrono::nanoseconds(0)});
        EXPECT_GE(throughput.messages, kMinimumSamples);
        EXPECT_LT(throughput.messages, 10'000'000u);
    }
}

TEST(Measure, InterleavedLatencyMeasuresEveryChannelThroughOnePeer) {
    std::vector<std::unique_ptr<Channel>> owned;
    std::vector<Channel*> channels;
    for (const char* key : {kFloorKey, kRingKey, kPipeKey}) {
        owned.push_back(find_mechanism(key).open(64));
        channels.push_back(owned.back().get());
    }
    const std::vector<LatencySummary> summaries = measure_latency_interleaved(
        channels, {64, 1000, 100, true, std::chrono::seconds(120), 128});
    // 1000 rounded up to 8 whole chunks of 128 round trips, less 16 settling ones per chunk.
    ASSERT_EQ(summaries.size(), 3u);
    for (const LatencySummary& summary : summaries)
        EXPECT_EQ(summary.count, 1024u - 8 * 16);
}

TEST(Measure, LatencyStoppedByItsBudgetStopsThePeerToo) {
    const Mechanism floor = find_mechanism(kFloorKey);
    const LatencySummary latency =
        measure_latency(*floor.open(8), {8, 100'000'000, 0, true, std::chrono::nanoseconds(0)});
    EXPECT_GE(latency.count, kMinimumSamples);
    EXPECT_LT(latency.count, 100'000'000u);
}

Measurement latency_of(std::uint64_t p50) {
    return {LatencySummary{p50, p50, 2 * p50, 2 * p50, 3 * p50, 1}, {}};
}

Measurement rate_of(std::uint64_t messages_per_s) {
    return {{}, Throughput{messages_per_s, 1.0}};
}

TEST(Rounds, SpreadIsTheMinimumMedianAndMaximum) {
    EXPECT_FALSE(spread_of({}).has_value());
    const Spread odd = *spread_of({5, 1, 3});
    EXPECT_EQ(odd.min, 1);
    EXPECT_EQ(odd.median, 3);
    EXPECT_EQ(odd.max, 5);
    EXPECT_EQ(spread_of({4, 1, 3, 2})->median, 2.5);
}

TEST(Rounds, PairedRatiosDivideFiguresOfTheSameRound) {
    // The floor doubles between rounds (a VM changing speed) and the row with it: every
    // same-round ratio is 2, while the medians alone would give 200/150.
    int round = 0;
    int floor_round = 0;
    const Row row = measure_rounds(
        "x", Metric::latency, 64, 3,
        after_baselines([&] { return latency_of(200u << round++); },
                        {{kFloorKey, [&] { return latency_of(100u << floor_round++); }}}));
    ASSERT_EQ(row.rounds.size(), 3u);
    ASSERT_EQ(row.paired.at(kFloorKey).size(), 3u);
    Report report;
    report.rows = {row};
    const Spread ratio = *ratio_to(report, row, kFloorKey, Figure::p50);
    EXPECT_DOUBLE_EQ(ratio.min, 2.0);
    EXPECT_DOUBLE_EQ(ratio.median, 2.0);
    EXPECT_DOUBLE_EQ(ratio.max, 2.0);
    EXPECT_EQ(row.latency()->p50, 400u);
    EXPECT_EQ(row.latency()->count, 3u);
}

TEST(Rounds, UnsupportedLeavesARowWithoutFiguresAndAReason) {
    const Row row =
        measure_rounds("x", Metric::latency, 64, 3,
                       after_baselines([]() -> Measurement { throw Unsupported("too large"); },
                                       {{kFloorKey, [] { return latency_of(100); }}}));
    EXPECT_FALSE(row.available());
    EXPECT_TRUE(row.paired.empty());
    EXPECT_FALSE(row.failed);
    EXPECT_EQ(row.note, "too large");
}

/// A round whose paired floor and ring have these p50s, and the row this one.
RoundResult round_of(std::uint64_t floor, std::uint64_t ring, std::uint64_t own) {
    return {latency_of(own), {{kFloorKey, latency_of(floor)}, {kRingKey, latency_of(ring)}}};
}

TEST(Rounds, ARoundWithAP50BelowTheFloorsIsMeasuredAgainUpToThreeTimes) {
    // The ring at 131 ns against a floor of 463 ns: the placement changed within the round.
    std::vector<RoundResult> results{round_of(463, 131, 300), round_of(100, 150, 300)};
    std::size_t calls = 0;
    int repeated = 0;
    const auto measured =
        until_floor_holds([&] { return results.at(calls++); }, kFloorKey, repeated)();
    EXPECT_EQ(calls, 2u);
    EXPECT_EQ(repeated, 1);
    EXPECT_EQ(measured.paired.front().second.latency->p50, 100u);

    // Within the histogram's resolution (1/32) of the floor is the floor's own exchange: kept.
    calls = 0;
    results = {round_of(100, 97, 300)};
    (void)until_floor_holds([&] { return results.at(calls++); }, kFloorKey, repeated)();
    EXPECT_EQ(calls, 1u);

    // A row that keeps beating the floor is measured three times in all, and the last is kept.
    calls = 0;
    repeated = 0;
    results = {round_of(400, 200, 90), round_of(400, 200, 91), round_of(400, 200, 92)};
    const auto last = until_floor_holds([&] { return results.at(calls++); }, kFloorKey, repeated)();
    EXPECT_EQ(calls, 3u);
    EXPECT_EQ(repeated, 2);
    EXPECT_EQ(last.own.latency->p50, 92u);
}

TEST(Rounds, BaselinesArePooledFromEveryRowWithTheirOwnPairs) {
    Row a{"a", Metric::latency, 64, {latency_of(300)}, {}, {}, false};
    a.paired[kFloorKey] = {latency_of(100)};
    a.paired[kRingKey] = {latency_of(200)};
    Row b{"b", Metric::latency, 64, {latency_of(900)}, {}, {}, false};
    b.paired[kFloorKey] = {latency_of(300)};
    b.paired[kRingKey] = {latency_of(300)};
    const Row ring = pooled_baseline({a, b}, kRingKey, Metric::latency, 64);
    ASSERT_EQ(ring.rounds.size(), 2u);
    Report report;
    report.rows = {ring};
    // Round ratios 2 and 1: their median.
    EXPECT_DOUBLE_EQ(ratio_to(report, ring, kFloorKey, Figure::p50)->median, 1.5);
}

TEST(Report, JsonCarriesMediansSpreadsRoundsAndRatios) {
    Report report;
    report.sizes = {64};
    report.rounds = 2;
    report.mechanisms = {
        {kFloorKey, "floor"}, {kPipeKey, "pipe"}, {"x", "x"}, {kMemcpyDramKey, "dram"}};
    report.rows.push_back(
        {kPipeKey, Metric::latency, 64, {latency_of(10000), latency_of(10000)}, {}, {}, false});
    Row x{"x", Metric::latency, 64, {latency_of(200), latency_of(300)}, {}, {}, false};
    x.paired[kFloorKey] = {latency_of(100), latency_of(100)};
    report.rows.push_back(x);
    report.rows.push_back(pooled_baseline(report.rows, kFloorKey, Metric::latency, 64));
    report.rows.push_back({"x", Metric::throughput, 64, {rate_of(1000)}, {}, {}, false});
    report.rows.push_back({kMemcpyDramKey, Metric::throughput, 64, {rate_of(4000)}, {}, {}, false});

    const nlohmann::json doc = to_json(report);
    EXPECT_EQ(doc["schema"], "shmbus.bench");
    EXPECT_EQ(doc["version"], 3);
    const nlohmann::json& row = doc["latency"][1];
    EXPECT_EQ(row["mechanism"], "x");
    EXPECT_EQ(row["rounds"], 2);
    EXPECT_EQ(row["p50_ns"], 250);
    EXPECT_EQ(row["spread"]["p50_ns"]["min"], 200);
    EXPECT_EQ(row["per_round"][1]["floor_p50_ns"], 100);
    EXPECT_DOUBLE_EQ(row["ratio_to_floor"]["p50"].get<double>(), 2.5);
    EXPECT_TRUE(row["ratio_to_floor"]["paired"].get<bool>());
    EXPECT_DOUBLE_EQ(row["ratio_to_floor"]["spread"]["max"].get<double>(), 3.0);
    EXPECT_FALSE(row["ratio_to_pipe"]["paired"].get<bool>());
    EXPECT_DOUBLE_EQ(row["ratio_to_pipe"]["p50"].get<double>(), 0.025);
    EXPECT_DOUBLE_EQ(doc["throughput"][0]["ratio_to_memcpy_dram"]["messages_per_s"].get<double>(),
                     0.25);
    EXPECT_NE(format_report(report).find("2.50x"), std::string::npos);
    EXPECT_NE(render_svg(report).find("</svg>"), std::string::npos);
}

TEST(Report, ShmbusFromPythonIsComparedWithMpQueueOfTheSameRounds) {
    Report report;
    report.sizes = {64};
    report.rounds = 3;
    report.mechanisms = {{kPythonQueueKey, "Python mp.Queue"},
                         {"python.shmbus_queue_cpp", "shmbus.Queue py-C++"}};
    Row latency{"python.shmbus_queue_cpp",
                Metric::latency,
                64,
                {latency_of(2000), latency_of(4000), latency_of(5000)},
                {},
                {},
                false};
    latency.paired[kPythonQueueKey] = {latency_of(100000), latency_of(100000), latency_of(110000)};
    Row rate{"python.shmbus_queue_cpp", Metric::throughput, 64, {rate_of(3000)}, {}, {}, false};
    rate.paired[kPythonQueueKey] = {rate_of(1000)};
    report.rows = {latency, rate};
    // Each round's mp.Queue p50 over the row's: 50x, 25x and 22x.
    EXPECT_NE(python_speedups(report).find("25.0x (22.0x-50.0x)"), std::string::npos);
    EXPECT_NE(format_report(report).find("msg/s: 3.0x (3.0x-3.0x)"), std::string::npos);
    const nlohmann::json doc = to_json(report);
    EXPECT_TRUE(doc["latency"][0]["ratio_to_mp_queue"]["paired"].get<bool>());
    EXPECT_DOUBLE_EQ(doc["latency"][0]["ratio_to_mp_queue"]["p50"].get<double>(), 0.04);
    report.mechanisms = {{kPythonQueueKey, "Python mp.Queue"}};
    EXPECT_EQ(python_speedups(report), "") << "no shmbus-from-Python rows, no lines";
}

/// Every kind of fan-out across real forks: each subscriber checks every message's number, and
/// the round trips count exactly what was asked (a budget far beyond the need).
class EveryFanout : public ::testing::TestWithParam<std::tuple<FanoutKind, int, std::size_t>> {};

TEST_P(EveryFanout, DeliversEveryNumberedMessageToEverySubscriber) {
    const auto [kind, subscribers, size] = GetParam();
    const LatencySummary latency =
        measure_fanout_latency({kind, size, subscribers, true, 200, 10, std::chrono::seconds(120)});
    EXPECT_EQ(latency.count, 200u);
    EXPECT_LE(latency.p50, latency.p99);
    const Throughput throughput = measure_fanout_throughput(
        {kind, size, subscribers, true, 0, 10, std::chrono::milliseconds(5)});
    EXPECT_GT(throughput.messages, 0u);
    EXPECT_GT(throughput.seconds, 0.0);
}

std::string fanout_test_name(const ::testing::TestParamInfo<EveryFanout::ParamType>& info) {
    const auto [kind, subscribers, size] = info.param;
    constexpr const char* kNames[] = {"topic_copy", "topic_loan", "queue"};
    return std::string(kNames[static_cast<int>(kind)]) + "_" + std::to_string(subscribers) +
           "_subscribers_" + std::to_string(size) + "_B";
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, EveryFanout,
    ::testing::Values(std::tuple{FanoutKind::queue, 1, std::size_t{64}},
                      std::tuple{FanoutKind::topic_copy, 1, std::size_t{64}},
                      std::tuple{FanoutKind::topic_loan, 2, std::size_t{64}},
                      std::tuple{FanoutKind::topic_copy, 2, std::size_t{1} << 20},
                      std::tuple{FanoutKind::topic_loan, 1, std::size_t{1} << 20}),
    fanout_test_name);

TEST(Measure, FanoutWaitsSpinOnlyWhileEveryProcessHasACpu) {
    EXPECT_EQ(fanout_wait_policy(usable_cpus()), WaitPolicy::block);
    if (usable_cpus() >= 2) {
        EXPECT_EQ(fanout_wait_policy(1), WaitPolicy::spin);
    }
}

TopicRow topic_row(const char* key, int subscribers, std::uint64_t p50) {
    return {subscribers, "spin",
            Row{key, Metric::latency, 64, {latency_of(p50), latency_of(p50)}, {}, {}, false},
            Row{key, Metric::throughput, 64, {rate_of(1000), rate_of(1000)}, {}, {}, false}};
}

TEST(Report, TopicTablePairsItsRowsWithTheQueueTheRingAndIceoryx) {
    Report report;
    report.rounds = 2;
    report.topic_sizes = {64};
    report.topic_subscribers = {1};
    report.topic_mechanisms = {{kTopicCopyKey, "topic copy"}, {kIceoryxKey, "iceoryx"}};
    TopicRow topic = topic_row(kTopicCopyKey, 1, 300);
    topic.latency.paired[kTopicQueueKey] = {latency_of(200), latency_of(300)};
    topic.latency.paired[kIceoryxKey] = {latency_of(3000), latency_of(3000)};
    topic.throughput.paired[kRingKey] = {rate_of(4000), rate_of(4000)};
    topic.throughput.paired[kIceoryxKey] = {rate_of(5000), rate_of(5000)};
    report.topic = {topic, topic_row(kIceoryxKey, 1, 3000)};

    const nlohmann::json doc = to_json(report);
    const nlohmann::json& row = doc["topic"]["rows"][0];
    EXPECT_EQ(row["mechanism"], kTopicCopyKey);
    EXPECT_EQ(row["subscribers"], 1);
    EXPECT_EQ(row["latency"]["p50_ns"], 300);
    // Round ratios 1.5 and 1: their median.
    EXPECT_DOUBLE_EQ(row["latency"]["ratio_to_queue"]["p50"].get<double>(), 1.25);
    EXPECT_TRUE(row["latency"]["ratio_to_queue"]["paired"].get<bool>());
    EXPECT_FALSE(row["latency"].contains("ratio_to_ring"));
    EXPECT_DOUBLE_EQ(row["latency"]["ratio_to_iceoryx"]["p50"].get<double>(), 0.1);
    EXPECT_TRUE(row["latency"]["ratio_to_iceoryx"]["paired"].get<bool>());
    EXPECT_DOUBLE_EQ(row["throughput"]["ratio_to_ring"]["messages_per_s"].get<double>(), 0.25);
    EXPECT_DOUBLE_EQ(row["throughput"]["ratio_to_iceoryx"]["messages_per_s"].get<double>(), 0.2);
    EXPECT_FALSE(doc["topic"]["rows"][1]["latency"].contains("ratio_to_iceoryx"));
    const std::string text = format_report(report);
    EXPECT_NE(text.find("topic, 64 B"), std::string::npos);
    EXPECT_NE(text.find("1.25x"), std::string::npos);
    EXPECT_NE(text.find("0.10x"), std::string::npos);
    EXPECT_NE(text.find("0.20x"), std::string::npos);
}

TEST(Measure, MemcpyBuffersAreAlignedAndHalfAPageApart) {
    const CopyBuffers buffers(10000);
    const auto source = reinterpret_cast<std::uintptr_t>(buffers.source());
    const auto destination = reinterpret_cast<std::uintptr_t>(buffers.destination());
    EXPECT_EQ(source % 64, 0u);
    EXPECT_EQ((destination - source) % 4096, 2048u);
    EXPECT_GE(destination - source, buffers.span());
    EXPECT_GT(measure_memcpy(buffers, 4096, std::chrono::milliseconds(1)).messages, 0u);
}

} // namespace
} // namespace shmbus::bench

TEST(Processes, LineChildAnswersLineByLineAndReportsAnEndedChild) {
    shmbus::bench::LineChild echo("while read line; do echo \"got $line\"; done");
    echo.write_line("64 1");
    EXPECT_EQ(echo.read_line(), "got 64 1");
    echo.write_line("65536 2");
    EXPECT_EQ(echo.read_line(), "got 65536 2");

    shmbus::bench::LineChild gone("exit 0");
    EXPECT_THROW((void)gone.read_line(), std::runtime_error); // its output ended
    // Writing to a child that stopped reading throws instead of killing us with SIGPIPE; the
    // pipe's buffer may take the first lines, so write until it refuses.
    EXPECT_THROW(
        {
            for (int line = 0; line < 100000; ++line)
                gone.write_line("64 1");
        },
        std::system_error);
}

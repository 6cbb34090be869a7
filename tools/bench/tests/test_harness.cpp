// SPDX-License-Identifier: Apache-2.0
// The bench harness's own correctness: the histogram against a sorted-sample model, and every
// mechanism's adapter carrying stamped messages both ways across a real fork (the measurements
// check each stamp and throw on a lost or reordered message). No speed is asserted.
#include "channels.hpp"
#include "histogram.hpp"
#include "measure.hpp"
#include "suite.hpp"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
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
            const Throughput throughput =
                measure_throughput(*mechanism.open(size), {size, 2000, true, kBudget});
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
        const Throughput throughput = measure_throughput(
            *mechanism.open(64), {64, 10'000'000, true, std::chrono::nanoseconds(0)});
        EXPECT_GE(throughput.messages, kMinimumSamples);
        EXPECT_LT(throughput.messages, 10'000'000u);
    }
}

TEST(Measure, LatencyStoppedByItsBudgetStopsThePeerToo) {
    const Mechanism floor = channel_mechanisms().front();
    const LatencySummary latency =
        measure_latency(*floor.open(8), {8, 100'000'000, 0, true, std::chrono::nanoseconds(0)});
    EXPECT_GE(latency.count, kMinimumSamples);
    EXPECT_LT(latency.count, 100'000'000u);
}

TEST(Report, RatiosDivideByTheBaselineOfTheSameSize) {
    Report report;
    report.sizes = {64};
    report.mechanisms = {{"floor", "floor"}, {"pipe2", "pipe"}, {"x", "x"}};
    report.rows.push_back(
        {"floor", Metric::latency, 64, LatencySummary{100, 100, 200, 200, 300, 1}, {}, {}, false});
    report.rows.push_back({"pipe2",
                           Metric::latency,
                           64,
                           LatencySummary{10000, 10000, 20000, 20000, 30000, 1},
                           {},
                           {},
                           false});
    report.rows.push_back(
        {"x", Metric::latency, 64, LatencySummary{200, 200, 400, 400, 600, 1}, {}, {}, false});
    const Row& row = report.rows.back();
    EXPECT_DOUBLE_EQ(*latency_ratio(report, row, kFloorKey, &LatencySummary::p50), 2.0);
    EXPECT_DOUBLE_EQ(*latency_ratio(report, row, kPipeKey, &LatencySummary::p99), 0.02);
    const nlohmann::json doc = to_json(report);
    EXPECT_EQ(doc["schema"], "shmbus.bench");
    EXPECT_DOUBLE_EQ(doc["latency"][2]["ratio_to_floor"]["p50"].get<double>(), 2.0);
    EXPECT_NE(format_report(report).find("2.00x"), std::string::npos);
    EXPECT_NE(render_svg(report).find("</svg>"), std::string::npos);
}

} // namespace
} // namespace shmbus::bench

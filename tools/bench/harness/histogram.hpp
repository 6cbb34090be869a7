// SPDX-License-Identifier: Apache-2.0
// A log-linear latency histogram in the style of HdrHistogram: values below 64 ns are exact,
// above that every power of two is split into 32 buckets, so a percentile is exact to within
// 1/32 (3.1%) of its value at any scale, in a fixed 16 KiB with no allocation per sample.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace shmbus::bench {

class Histogram {
public:
    void record(std::uint64_t value_ns);
    /// The highest value equivalent to the q-quantile (q in [0, 1]): a sample at most that large
    /// lies at or above rank q, clamped to the largest sample. 0 when empty.
    std::uint64_t percentile(double q) const;
    std::uint64_t max() const { return m_max; }
    std::uint64_t min() const { return m_count == 0 ? 0 : m_min; }
    std::uint64_t count() const { return m_count; }

    static constexpr int kSubBucketBits = 5;
    static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
    /// Bucket of a value, and the largest value that falls in a bucket (its inverse).
    static std::size_t bucket_of(std::uint64_t value);
    static std::uint64_t highest_in(std::size_t bucket);

private:
    static constexpr std::size_t kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;
    std::array<std::uint64_t, kBuckets> m_counts{};
    std::uint64_t m_count = 0;
    std::uint64_t m_min = ~std::uint64_t{0};
    std::uint64_t m_max = 0;
};

/// The figures every latency row reports.
struct LatencySummary {
    std::uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, count = 0;
};
LatencySummary summarize(const Histogram& histogram);

} // namespace shmbus::bench

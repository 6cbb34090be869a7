// SPDX-License-Identifier: Apache-2.0
#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace shmbus::bench {

std::size_t Histogram::bucket_of(std::uint64_t value) {
    if (value < 2 * kSubBuckets)
        return static_cast<std::size_t>(value);
    const int top_bit = std::bit_width(value) - 1; // >= kSubBucketBits + 1
    const int shift = top_bit - kSubBucketBits;
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift + 1) * kSubBuckets +
                                    ((value >> shift) - kSubBuckets));
}

std::uint64_t Histogram::highest_in(std::size_t bucket) {
    if (bucket < 2 * kSubBuckets)
        return bucket;
    const std::size_t shift = bucket / kSubBuckets - 1;
    const std::uint64_t sub = bucket % kSubBuckets + kSubBuckets;
    return ((sub + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value_ns) {
    ++m_counts[bucket_of(value_ns)];
    ++m_count;
    m_min = std::min(m_min, value_ns);
    m_max = std::max(m_max, value_ns);
}

std::uint64_t Histogram::percentile(double q) const {
    if (m_count == 0)
        return 0;
    const double wanted = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(m_count));
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (std::size_t bucket = 0; bucket < kBuckets; ++bucket) {
        seen += m_counts[bucket];
        if (seen >= rank)
            return std::clamp(highest_in(bucket), m_min, m_max);
    }
    return m_max;
}

LatencySummary summarize(const Histogram& h) {
    return {
        h.percentile(0.50), h.percentile(0.90), h.percentile(0.99), h.percentile(0.999), h.max(),
        h.count()};
}

} // namespace shmbus::bench

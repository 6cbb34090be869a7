// SPDX-License-Identifier: Apache-2.0
// What a ring tells its callers and tools between operations: how full it is and how much
// recovery it has done. Every figure may be stale by the time it is read.
#include "ring/mpmc_ring.hpp"

#include <cstdint>

namespace shmbus::detail {

std::uint64_t MpmcRing::size_guess() const {
    // relaxed is enough: the result may be stale by definition.
    const std::uint64_t got = m_header->get_count.load(std::memory_order_relaxed);
    const std::uint64_t put = m_header->put_count.load(std::memory_order_relaxed);
    return put > got ? put - got : 0;
}

std::uint64_t MpmcRing::slots_used_guess() const {
    // relaxed is enough: the result may be stale by definition.
    const std::uint64_t head = m_header->head.load(std::memory_order_relaxed);
    const std::uint64_t tail = m_header->tail.load(std::memory_order_relaxed);
    return tail > head ? tail - head : 0;
}

RecoveryReport MpmcRing::recovered_total() const {
    // relaxed is enough (both): the result may be stale by definition.
    return {m_header->lost_count.load(std::memory_order_relaxed),
            m_header->padded_count.load(std::memory_order_relaxed)};
}

} // namespace shmbus::detail

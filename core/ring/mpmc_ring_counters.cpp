// SPDX-License-Identifier: Apache-2.0
// What a ring tells its callers and tools between operations: how full it is and how much
// recovery it has done. Every figure may be stale by the time it is read.
#include "ring/mpmc_ring.hpp"

#include <cstddef>
#include <cstdint>

namespace shmbus::detail {

std::uint64_t MpmcRing::size_guess() const {
    const MessageCounts counts = message_counts(*m_header);
    return counts.put > counts.got ? counts.put - counts.got : 0;
}

bool MpmcRing::get_ready() const {
    // SYNC seq_cst: after a multi-waiter's registration, like getter_may_sleep's loads.
    const std::uint64_t head = m_header->head.load(std::memory_order_seq_cst);
    // SYNC acquire: pairs with the release in publish(): the frame at head is complete. A
    // sequence past head + 1 means head moved on meanwhile: not ready, the caller looks again.
    if (slot(head).seq.load(std::memory_order_acquire) == head + 1)
        return true;
    return closed_and_drained(head);
}

bool MpmcRing::getter_may_sleep() const {
    // SYNC seq_cst (both): after the getter's registration; case analysis in wait/notify.hpp.
    const std::uint64_t tail = m_header->tail.load(std::memory_order_seq_cst);
    return m_header->head.load(std::memory_order_seq_cst) == tail;
}

bool MpmcRing::putter_may_sleep(std::size_t frame_size) const {
    // SYNC seq_cst (both): after the putter's registration; case analysis in wait/notify.hpp.
    // tail first: a head read later is only larger, which errs towards not sleeping.
    const std::uint64_t tail = m_header->tail.load(std::memory_order_seq_cst);
    const std::uint64_t head = m_header->head.load(std::memory_order_seq_cst);
    // The last slot the put needs holds position tail + slots - 1 - N's frame: unclaimed while
    // head has not passed it.
    return head + slot_count() <= tail + slots_for(frame_size) - 1;
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

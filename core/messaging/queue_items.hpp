// SPDX-License-Identifier: Apache-2.0
// What QueueCore's puts, gets, loans and borrows share (queue_core.cpp, queue_loans.cpp): the
// maxsize tokens, the task count of a JoinableQueue, and the wait for room or for a message.
#pragma once

#include "messaging/queue_state.hpp"
#include "ring/mpmc_ring.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/errors.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

// How often a blocked put or get looks for dead peers whose claim blocks it. Rare enough to
// cost nothing (one scan of the lease table, /proc only for suspicious leases), often enough
// that a SIGKILLed peer stalls the others for a few tens of milliseconds at most.
inline constexpr auto kProbePeriod = std::chrono::milliseconds(50);

inline bool take_item(QueueState& state) {
    // relaxed is enough: free_items only counts; the ring orders the data.
    std::int64_t free = state.free_items.load(std::memory_order_relaxed);
    while (free > 0)
        // relaxed is enough (success and failure): a count only.
        if (state.free_items.compare_exchange_weak(free, free - 1, std::memory_order_relaxed))
            return true;
    return false;
}

inline void return_items(QueueState& state, std::int64_t count) {
    if (state.maxsize != 0 && count != 0)
        // SYNC seq_cst: a claim for wake_after_claim, read by a putter's may_sleep (case
        // analysis in wait/notify.hpp).
        state.free_items.fetch_add(count, std::memory_order_seq_cst);
}

inline void finish_task(QueueState& state) {
    // SYNC seq_cst: the last finish pairs with join's acquire load of unfinished.
    if (state.unfinished.fetch_sub(1, std::memory_order_seq_cst) == 1)
        notify_all(state.done);
}

// Marks one task done unless none is outstanding (false); wakes the joiners on the last one.
inline bool finish_outstanding_task(QueueState& state) {
    // relaxed is enough: the CAS below validates it.
    std::uint64_t unfinished = state.unfinished.load(std::memory_order_relaxed);
    do {
        if (unfinished == 0)
            return false;
        // SYNC seq_cst: the last one pairs with join's acquire load; relaxed on failure.
    } while (!state.unfinished.compare_exchange_weak(
        unfinished, unfinished - 1, std::memory_order_seq_cst, std::memory_order_relaxed));
    if (unfinished == 1)
        notify_all(state.done);
    return true;
}

[[noreturn, gnu::cold, gnu::noinline]] inline void throw_too_large(const QueueState& state,
                                                                   std::size_t size) {
    throw MessageTooLarge("a message of " + std::to_string(size) +
                          " bytes exceeds this queue's max_message_size of " +
                          std::to_string(state.max_message_size));
}

inline void check_message_size(const QueueState& state, std::size_t size) {
    if (size > state.max_message_size) [[unlikely]]
        throw_too_large(state, size);
}

inline QueueStatus to_status(RingStatus status) {
    switch (status) {
    case RingStatus::ok:
        return QueueStatus::ok;
    case RingStatus::full:
        return QueueStatus::full;
    case RingStatus::empty:
        return QueueStatus::empty;
    case RingStatus::closed:
        break;
    }
    return QueueStatus::closed;
}

// A put waits for a maxsize token or ring space (frame_size bytes), a get for a message. The
// wakers are fence-free (wake_after_claim), so a registered waiter sleeps only when the claim
// that will free what it waits for has not been made yet (wait/notify.hpp); while the other
// side may be biased, it passes heavy_barrier() first.
template <class Try>
bool QueueCore::wait_until(std::optional<std::size_t> frame_size, Try try_once, Deadline deadline) {
    QueueState& state = *m_state;
    const MpmcRing& ring = *m_ring;
    // Plain values, not the optional: g++ 12 at -O1 under TSan calls *frame_size in the lambda
    // "maybe uninitialized".
    const bool putting = frame_size.has_value();
    const std::size_t put_size = frame_size.value_or(0);
    const auto may_sleep = [&] {
        if (!putting)
            return ring.getter_may_sleep();
        // SYNC seq_cst: after the putter's registration; case analysis in wait/notify.hpp.
        if (state.maxsize != 0 && state.free_items.load(std::memory_order_seq_cst) <= 0)
            return true;
        return ring.putter_may_sleep(put_size);
    };
    return park_at(putting ? state.space : state.items, try_once, deadline, m_wait,
                   probe_every(kProbePeriod,
                               [this] {
                                   recover_dead();
                                   return false;
                               }),
                   claiming_wakers(may_sleep, [&] {
                       return putting ? ring.putter_needs_barrier() : ring.getter_needs_barrier();
                   }));
}

} // namespace shmbus::detail

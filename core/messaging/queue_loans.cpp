// SPDX-License-Identifier: Apache-2.0
// QueueCore's loans and borrows (zero copy): the ring keeps the claim between the calls
// (ring/mpmc_ring.hpp, "Loans"); the queue adds its maxsize tokens, task count and wake-ups as
// a put or get does.
#include "messaging/queue_items.hpp"

namespace shmbus::detail {

QueueStatus QueueCore::try_loan(std::size_t size, RingClaim& claim) {
    QueueState& state = *m_state;
    check_message_size(state, size);
    if (m_ring->closed())
        return QueueStatus::closed;
    if (state.maxsize != 0 && !take_item(state))
        return QueueStatus::full;
    const RingStatus status = m_ring->try_loan(size, claim);
    if (status != RingStatus::ok) {
        return_items(state, 1);
        if (state.maxsize != 0)
            notify_all(state.space);
    }
    return to_status(status);
}

bool QueueCore::loan(std::size_t size, RingClaim& claim, Deadline deadline) {
    QueueStatus status = QueueStatus::full;
    const auto try_once = [&] {
        status = try_loan(size, claim);
        return status != QueueStatus::full;
    };
    if (!wait_until(size, try_once, deadline))
        return false;
    if (status == QueueStatus::closed)
        throw Closed("loan on a closed queue");
    return true;
}

void QueueCore::put_loan(RingClaim& claim, std::size_t size) {
    QueueState& state = *m_state;
    if (state.joinable != 0)
        // relaxed is enough: the ring's publish (release) orders it before any get of the item.
        state.unfinished.fetch_add(1, std::memory_order_relaxed);
    m_ring->publish_loan(claim, size);
    wake_after_claim(state.items);
}

void QueueCore::drop_loan(RingClaim& claim) {
    QueueState& state = *m_state;
    m_ring->return_loan(claim);
    return_items(state, 1);
    // Getters napping behind the claim skip the padding by themselves (wait/notify.hpp).
    if (state.maxsize != 0)
        notify_all(state.space);
}

QueueStatus QueueCore::try_borrow(RingClaim& claim) {
    return to_status(m_ring->try_borrow(claim));
}

bool QueueCore::borrow(RingClaim& claim, Deadline deadline) {
    QueueStatus status = QueueStatus::empty;
    const auto try_once = [&] {
        status = try_borrow(claim);
        return status != QueueStatus::empty;
    };
    if (!wait_until(std::nullopt, try_once, deadline))
        return false;
    if (status == QueueStatus::closed)
        throw Closed("borrow on a closed and drained queue");
    return true;
}

void QueueCore::release(RingClaim& claim) {
    QueueState& state = *m_state;
    m_ring->release_borrow(claim);
    return_items(state, 1);
    wake_after_claim(state.space);
}

} // namespace shmbus::detail

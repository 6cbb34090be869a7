// SPDX-License-Identifier: Apache-2.0
// MpmcRing's reclaim walk (see "Reclaim" at the top of ring/mpmc_ring.hpp): a put that needs
// slots past reclaim steps it over the previous lap's released frames, one first slot each.
#include "ring/mpmc_ring.hpp"

#include <cstdint>

namespace shmbus::detail {

// Moves reclaim over the previous lap's frames that consumers have released until it reaches
// `end`: reached, or in_use when a frame before `end` is still in use (full); unreadable and
// beyond are forged controls. `pos` is the caller's snapshot of tail. Each step reads one
// frame's first slot: a frame's other slots are never read or written by the ring's protocol
// (see "Reclaim" at the top of ring/mpmc_ring.hpp).
MpmcRing::Walk MpmcRing::room_until(std::uint64_t pos, std::uint64_t end) {
    // SYNC acquire: pairs with the CAS below in another producer's walk: the frames it walked
    // over were released, so their consumers' reads happen before our writes.
    std::uint64_t from = m_header->reclaim.load(std::memory_order_acquire);
    for (;;) {
        std::uint64_t to = from;
        const Walk walk = walk_released(to, end);
        if (walk != Walk::reached) {
            // A walk that started before another producer moved reclaim may have read slots
            // this lap reuses: only a walk from an unmoved reclaim is believed.
            // SYNC acquire: as the load above.
            const std::uint64_t now = m_header->reclaim.load(std::memory_order_acquire);
            if (now != from) {
                from = now;
                continue;
            }
            return walk;
        }
        if (lap_diff(to, pos + slot_count()) > 0 &&
            // relaxed is enough: a check for forged controls on a rare path; a tail that moved
            // on since `pos` only makes the bound larger.
            lap_diff(to, m_header->tail.load(std::memory_order_relaxed) + slot_count()) > 0)
            return Walk::beyond;
        if (to == from)
            return Walk::reached;
        // SYNC acq_rel: release pairs with the acquire loads of reclaim (the frames walked over
        // were released); on failure, acquire as the load above.
        if (m_header->reclaim.compare_exchange_weak(from, to, std::memory_order_acq_rel,
                                                    std::memory_order_acquire))
            return Walk::reached;
    }
}

// Steps `at` from frame to released frame of the previous lap until it reaches `end`. A walk
// never needs more steps than the ring has slots (end is at most a lap past reclaim, and each
// frame is a slot at least); more means forged controls.
MpmcRing::Walk MpmcRing::walk_released(std::uint64_t& at, std::uint64_t end) const {
    for (std::uint64_t steps = 0; lap_diff(at, end) < 0; ++steps) {
        if (steps == slot_count())
            return Walk::unreadable;
        const RingControl& control = slot(at);
        // SYNC acquire: pairs with the release in release_frame(): the consumer is done.
        const std::int64_t diff = lap_diff(control.seq.load(std::memory_order_acquire), at);
        if (diff < 0)
            return Walk::in_use;
        // relaxed is enough: published with the frame, and left alone until a producer claims
        // this slot again, which needs reclaim past it.
        const std::uint64_t slots =
            diff == 0 ? frame_slots(control.meta.load(std::memory_order_relaxed)) : 0;
        if (slots == 0)
            return Walk::unreadable;
        at += slots;
    }
    return Walk::reached;
}

} // namespace shmbus::detail

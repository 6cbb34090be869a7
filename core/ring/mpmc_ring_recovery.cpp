// SPDX-License-Identifier: Apache-2.0
// MpmcRing's recovery from dead threads (see "Dead peers" at the top of ring/mpmc_ring.hpp):
// a dead producer's claim becomes padding, a dead consumer's claim is released; tagged claims
// are published (a put written whole) or left to the dead thread's successor (a get).
#include "ring/mpmc_ring.hpp"
#include "shmbus/errors.hpp"

#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

namespace shmbus::detail {

// ---- recovery -----------------------------------------------------------------------------

bool MpmcRing::lock_recovery(OwnerId me) {
    OwnerId holder = kNoOwner;
    // SYNC acquire: pairs with the release that unlocks; relaxed on failure, we inspect holder.
    if (m_header->recovery_owner.compare_exchange_strong(holder, me, std::memory_order_acquire,
                                                         std::memory_order_relaxed))
        return true;
    if (holder == me || owner_alive(holder))
        return false;
    // A recoverer that died holding the lock: take it over (same orders as above).
    return m_header->recovery_owner.compare_exchange_strong(holder, me, std::memory_order_acquire,
                                                            std::memory_order_relaxed);
}

// A position a dead producer claimed and never published: tail moved past it, its first slot
// still reads an earlier lap (the slot's last frame start, or its initial value).
bool MpmcRing::put_stuck(std::uint64_t pos) const {
    // SYNC acquire: pairs with the claiming CAS: the claimer's lease record is visible.
    return m_header->tail.load(std::memory_order_acquire) > pos &&
           // SYNC acquire: pairs with the release in publish().
           lap_diff(slot(pos).seq.load(std::memory_order_acquire), pos) <= 0;
}

// A frame a consumer claimed and never released: head moved past it, its first slot still
// reads "published".
bool MpmcRing::get_stuck(std::uint64_t pos) const {
    // SYNC acquire: pairs with the claiming CAS: the claimer's lease record is visible.
    return m_header->head.load(std::memory_order_acquire) > pos &&
           // SYNC acquire: pairs with the release in release_frame.
           slot(pos).seq.load(std::memory_order_acquire) == pos + 1;
}

bool MpmcRing::live_claim_at(std::uint64_t pos,
                             std::atomic<std::uint64_t> RingLease::*field) const {
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        const RingLease& lease = m_leases[i];
        // SYNC acquire: pairs with the release stores of positions: a claimer seen past pos
        // has published or released it.
        if ((lease.*field).load(std::memory_order_acquire) == pos &&
            // SYNC acquire: pairs with the hand-overs in claim_free_lease / free_dead_leases.
            owner_alive(lease.owner.load(std::memory_order_acquire)))
            return true;
    }
    return false;
}

// Two dead producers may have recorded the same position, one of them having died before its
// CAS; if their slot counts differ we cannot tell which claim is real and leave it alone.
bool MpmcRing::dead_puts_agree(std::uint64_t pos, std::uint32_t slots) const {
    for (std::uint32_t i = 0; i < kRingLeases; ++i)
        // SYNC acquire: pairs with the release of put_pos in claim (put_slots rides along).
        if (m_leases[i].put_pos.load(std::memory_order_acquire) == pos &&
            // relaxed is enough: ordered by the acquire of put_pos above.
            m_leases[i].put_slots.load(std::memory_order_relaxed) != slots)
            return false;
    return slots != 0 && slots <= slot_count();
}

// Order matters (see get_stuck / live_claim_at): the index is acquired first, so the real
// claimer's record is visible; no live lease shows the position; the slot is checked again last.
void MpmcRing::recover_lease(RingLease& lease, RecoveryReport& report) {
    // SYNC acquire: pairs with the release of get_pos in try_get.
    const std::uint64_t got = lease.get_pos.load(std::memory_order_acquire);
    if (got != kNoPosition && get_stuck(got) && !live_claim_at(got, &RingLease::get_pos) &&
        get_stuck(got) &&
        // relaxed is enough: the acquire of get_pos published the tag with the claim.
        (lease.tag.load(std::memory_order_relaxed) & kTaggedGet) == 0) {
        // relaxed is enough: the acquire in get_stuck published the frame header.
        const std::uint64_t meta = slot(got).meta.load(std::memory_order_relaxed);
        const std::uint64_t slots = frame_slots(meta);
        if (slots != 0) {
            if ((static_cast<std::uint32_t>(meta) & kPaddingFlag) == 0)
                ++report.messages_lost;
            release_frame(got);
            // SYNC release: pairs with the acquires in recover_dead.
            lease.get_pos.store(kNoPosition, std::memory_order_release);
        }
    }
    // SYNC acquire: pairs with the release of put_pos in claim.
    const std::uint64_t put = lease.put_pos.load(std::memory_order_acquire);
    // relaxed is enough: ordered by the acquire of put_pos above.
    const std::uint32_t slots = lease.put_slots.load(std::memory_order_relaxed);
    if (put != kNoPosition && put_stuck(put) && !live_claim_at(put, &RingLease::put_pos) &&
        dead_puts_agree(put, slots))
        recover_put(lease, put, slots, report);
}

// A dead producer's claim becomes padding. A loan's claim is two parts, the padding up to the
// ring's end and the frame (publish_loan publishes the frame first, so the claim's first slot
// is always published last): each part still unpublished is padded on its own, checked again
// last as in recover_lease.
void MpmcRing::recover_put(RingLease& lease, std::uint64_t put, std::uint32_t slots,
                           RecoveryReport& report) {
    // relaxed is enough: ordered by the acquire of put_pos in recover_lease.
    const std::uint32_t pad = lease.put_pad.load(std::memory_order_relaxed);
    if (pad >= slots)
        return; // a torn record: no claim has padding only
    // relaxed is enough: ordered by the acquire of put_pos in recover_lease.
    const std::uint64_t tag = lease.tag.load(std::memory_order_relaxed);
    // SYNC acquire: pairs with the release in try_put: the tagged frame was written whole.
    if ((tag & kTaggedPut) != 0 && lease.committed.load(std::memory_order_acquire) == tag) {
        publish(put); // a tagged put has no padding: its frame starts at put
        ++report.claims_published;
        // SYNC release: pairs with the acquires in recover_dead.
        lease.put_pos.store(kNoPosition, std::memory_order_release);
        return;
    }
    bool padded = false;
    for (const auto& [at, count] : {std::pair<std::uint64_t, std::uint64_t>{put + pad, slots - pad},
                                    std::pair<std::uint64_t, std::uint64_t>{put, pad}}) {
        if (count == 0 || !put_stuck(at))
            continue;
        // relaxed is enough: publish() releases it.
        slot(at).meta.store(kPaddingFlag | static_cast<std::uint32_t>(count),
                            std::memory_order_relaxed);
        publish(at);
        padded = true;
    }
    if (!padded)
        return;
    ++report.claims_padded;
    // relaxed is enough: put_pos (release, below) publishes it.
    lease.put_pad.store(0, std::memory_order_relaxed);
    // SYNC release: pairs with the acquires in recover_dead.
    lease.put_pos.store(kNoPosition, std::memory_order_release);
}

// The lease of a thread other than `me` whose last tagged claim was `tag` (operation bits
// included), or nullptr.
RingLease* MpmcRing::dead_lease_tagged(std::uint64_t tag, OwnerId me) const {
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        RingLease& lease = m_leases[i];
        // SYNC acquire (both): pair with the hand-overs of leases, and with the claim's release
        // of put_pos or get_pos, which publishes the tag.
        if (lease.owner.load(std::memory_order_acquire) != me &&
            lease.tag.load(std::memory_order_acquire) == tag)
            return &lease;
    }
    return nullptr;
}

bool MpmcRing::put_committed(std::uint64_t tag) {
    const std::uint64_t tagged = lease_tag(kTaggedPut, tag);
    if (tagged == 0)
        return false;
    const RingLease* lease = dead_lease_tagged(tagged, this_thread_owner());
    // SYNC acquire: pairs with the release in try_put.
    return lease != nullptr && lease->committed.load(std::memory_order_acquire) == tagged;
}

// Waits while another live thread recovers: it holds the lock for one pass over the leases.
bool MpmcRing::lock_recovery_waiting(OwnerId me) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!lock_recovery(me)) {
        if (std::chrono::steady_clock::now() >= give_up)
            return false;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return true;
}

bool MpmcRing::adopt_taken(std::uint64_t tag, FrameSink sink) {
    const OwnerId me = this_thread_owner();
    if (!lock_recovery_waiting(me))
        throw OutOfSpace("ring: the recovery lock stayed held for 10 s (a stopped process?)");
    struct Unlock {
        MpmcRing& ring;
        ~Unlock() { ring.unlock_recovery(); }
    } unlock{*this};
    const std::uint64_t tagged = lease_tag(kTaggedGet, tag);
    RingLease* lease = tagged == 0 ? nullptr : dead_lease_tagged(tagged, me);
    if (lease == nullptr)
        return false;
    // SYNC acquire: pairs with the release of get_pos in claim_frame.
    const std::uint64_t got = lease->get_pos.load(std::memory_order_acquire);
    if (got == kNoPosition || !get_stuck(got) ||
        // SYNC acquire: pairs with the hand-overs of leases.
        owner_alive(lease->owner.load(std::memory_order_acquire)))
        return false;
    // relaxed is enough: the acquire in get_stuck published the frame header.
    const std::uint64_t meta = slot(got).meta.load(std::memory_order_relaxed);
    if (frame_slots(meta) == 0)
        return false;
    take_frame(*lease, got, meta, sink);
    return (static_cast<std::uint32_t>(meta) & kPaddingFlag) == 0;
}

void MpmcRing::unlock_recovery() {
    // SYNC release: pairs with the acquire in lock_recovery: our repairs are visible to the next.
    m_header->recovery_owner.store(kNoOwner, std::memory_order_release);
}

RecoveryReport MpmcRing::recover_dead() {
    const OwnerId me = this_thread_owner();
    if (!lock_recovery(me))
        return {};
    const RecoveryReport report = recover_dead_locked(me);
    unlock_recovery();
    return report;
}

RecoveryReport MpmcRing::recover_dead_locked(OwnerId me) {
    RecoveryReport report;
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        RingLease& lease = m_leases[i];
        // SYNC acquire: pairs with the hand-overs in claim_free_lease / free_dead_leases.
        const OwnerId owner = lease.owner.load(std::memory_order_acquire);
        if (owner == kNoOwner || owner == me)
            continue;
        // SYNC acquire (both): pair with the release stores of positions.
        const std::uint64_t got = lease.get_pos.load(std::memory_order_acquire);
        const std::uint64_t put = lease.put_pos.load(std::memory_order_acquire);
        const bool blocking =
            (got != kNoPosition && get_stuck(got)) || (put != kNoPosition && put_stuck(put));
        if (blocking && !owner_alive(owner))
            recover_lease(lease, report);
    }
    if (report.messages_lost + report.claims_padded + report.claims_published != 0) {
        // relaxed is enough (both): running totals for display, ordered by nothing.
        m_header->lost_count.fetch_add(report.messages_lost, std::memory_order_relaxed);
        m_header->padded_count.fetch_add(report.claims_padded, std::memory_order_relaxed);
    }
    return report;
}

} // namespace shmbus::detail

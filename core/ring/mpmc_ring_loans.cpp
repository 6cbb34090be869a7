// SPDX-License-Identifier: Apache-2.0
// MpmcRing's loans and borrows (zero copy, see "Loans" at the top of ring/mpmc_ring.hpp): a
// writer claims contiguous slots and fills them in place before it publishes; a reader claims a
// frame and reads it in place before it releases. Each keeps its claim in its lease meanwhile,
// so recovery undoes the claim of a thread that dies holding it.
#include "ring/mpmc_ring.hpp"
#include "shmbus/errors.hpp"

#include <string>

namespace shmbus::detail {
namespace {

std::byte* data_at(unsigned char* data, std::uint64_t slot) {
    return reinterpret_cast<std::byte*>(data + slot * kSlotBytes);
}

} // namespace

RingStatus MpmcRing::try_loan(std::size_t size, RingClaim& loan) {
    const std::uint64_t slots = slots_for(size);
    // Padding up to the ring's end is shorter than the frame, so a frame of half the ring
    // always fits once the ring drains.
    if (size > kMaxFrameSize || 2 * slots > slot_count())
        throw MessageTooLarge("a loan of " + std::to_string(size) +
                              " bytes needs a ring of at least twice as many; this one has " +
                              std::to_string(slot_count()) + " slots of 64 bytes");
    // relaxed is enough: a fast refusal only; the seq_cst re-check after the claim decides.
    if (m_header->closed.load(std::memory_order_relaxed) != 0)
        return RingStatus::closed;
    const LeaseUse use = my_lease(this_thread_owner());
    RingLease& lease = *use;
    // relaxed is enough: only this thread writes its lease's positions.
    if (lease.put_pos.load(std::memory_order_relaxed) != kNoPosition)
        throw UsageError("this thread holds a loan on this queue already: put or drop it first");
    record_tag(lease, 0);
    std::uint64_t first = 0;
    std::uint64_t pad = 0;
    if (!claim(lease, slots, first, &pad))
        return RingStatus::full;
    loan = RingClaim{&lease,      use.shared(),
                     first + pad, slots,
                     pad,         {data_at(m_data, (first + pad) & m_mask), slots * kSlotBytes},
                     {}};
    if (closed_after_claim()) {
        loan.shared_lease = false; // `use` gives a shared lease back when this returns
        return_loan(loan);
        return RingStatus::closed;
    }
    return RingStatus::ok;
}

// The frame first, then the padding before it: consumers stop at the padding's first slot, so
// neither is seen before both are written; recovery pads what is left of a dead writer's claim.
void MpmcRing::publish_loan(RingClaim& claim, std::size_t size) {
    RingLease& lease = *claim.lease;
    // A message shorter than its loan leaves the slots it does not use as padding behind it,
    // published first: no consumer reaches them before the frame, and a recovery that pads the
    // whole claim releases them with it.
    const std::uint64_t used = slots_for(size);
    if (used < claim.slots) {
        // relaxed is enough: publish() releases it.
        slot(claim.pos + used)
            .meta.store(kPaddingFlag | static_cast<std::uint32_t>(claim.slots - used),
                        std::memory_order_relaxed);
        publish(claim.pos + used);
    }
    // relaxed is enough (both): publish() releases them.
    slot(claim.pos).meta.store(frame_meta(static_cast<std::uint32_t>(size), this_thread_owner()),
                               std::memory_order_relaxed);
    count_message(lease.puts);
    publish(claim.pos);
    if (claim.pad != 0) {
        const std::uint64_t first = claim.pos - claim.pad;
        // relaxed is enough: publish() releases it.
        slot(first).meta.store(kPaddingFlag | static_cast<std::uint32_t>(claim.pad),
                               std::memory_order_relaxed);
        publish(first);
    }
    end_claim(claim, &RingLease::put_pos);
}

void MpmcRing::return_loan(RingClaim& claim) {
    const std::uint64_t first = claim.pos - claim.pad;
    // relaxed is enough: publish() releases it.
    slot(first).meta.store(kPaddingFlag | static_cast<std::uint32_t>(claim.pad + claim.slots),
                           std::memory_order_relaxed);
    publish(first);
    end_claim(claim, &RingLease::put_pos);
}

RingStatus MpmcRing::try_borrow(RingClaim& claim) {
    const LeaseUse use = my_lease(this_thread_owner());
    RingLease& lease = *use;
    // relaxed is enough: only this thread writes its lease's positions.
    if (lease.get_pos.load(std::memory_order_relaxed) != kNoPosition)
        throw UsageError("this thread holds a borrowed message of this queue already: release "
                         "it first");
    record_tag(lease, 0);
    for (;;) {
        std::uint64_t pos = 0;
        std::uint64_t meta = 0;
        const RingStatus status = claim_frame(lease, pos, meta);
        if (status != RingStatus::ok)
            return status;
        const auto size_word = static_cast<std::uint32_t>(meta);
        const std::uint64_t slots = frame_slots(meta);
        if ((size_word & kPaddingFlag) != 0) {
            release_frame(pos);
            // SYNC release: pairs with the acquire in recover_dead (the claim is complete).
            lease.get_pos.store(kNoPosition, std::memory_order_release);
            continue;
        }
        count_message(lease.gets);
        const std::size_t at = (pos & m_mask) * kSlotBytes;
        const std::size_t ring_bytes = slot_count() * kSlotBytes;
        const std::size_t first = std::min<std::size_t>(size_word, ring_bytes - at);
        claim = RingClaim{&lease,
                          use.shared(),
                          pos,
                          slots,
                          0,
                          {data_at(m_data, pos & m_mask), first},
                          {data_at(m_data, 0), size_word - first}};
        return RingStatus::ok;
    }
}

void MpmcRing::release_borrow(RingClaim& claim) {
    release_frame(claim.pos);
    end_claim(claim, &RingLease::get_pos);
}

// Clears the lease's record of the claim and gives a shared lease back (as ~LeaseUse does
// after a put or get).
void MpmcRing::end_claim(RingClaim& claim, std::atomic<std::uint64_t> RingLease::*field) {
    RingLease& lease = *claim.lease;
    if (field == &RingLease::put_pos)
        // relaxed is enough: put_pos (release, below) publishes it.
        lease.put_pad.store(0, std::memory_order_relaxed);
    // SYNC release: pairs with the acquire in recover_dead (the claim is complete).
    (lease.*field).store(kNoPosition, std::memory_order_release);
    if (claim.shared_lease)
        // SYNC release: pairs with the acq_rel CAS in claim_free_lease: the next borrower's
        // position stores come after ours.
        lease.owner.store(kNoOwner, std::memory_order_release);
    claim.lease = nullptr;
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// MpmcRing's fast path, put and get: find this thread's lease (cached per thread), record the
// claim in it, walk reclaim (a put), move tail or head past the slots (a CAS, or a biased
// side's store), copy, then publish (put) or release (get) the frame. Beside it: the layout,
// leases, recovery and counters, each in its mpmc_ring_*.cpp (ring/mpmc_ring.hpp explains all).
#include "ring/mpmc_ring.hpp"

#include "os/membarrier.hpp"
#include "ring/side_bias.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace shmbus::detail {

// Every claim records whether it is tagged, so that recovery never reads an earlier tagged
// claim's record into an untagged one.
void MpmcRing::record_tag(RingLease& lease, std::uint64_t value) {
    // relaxed is enough (both): only this thread writes its lease, and the claim's release
    // store of put_pos or get_pos publishes the value with the claim.
    if (lease.tag.load(std::memory_order_relaxed) != value)
        lease.tag.store(value, std::memory_order_relaxed);
}

// ---- put ----------------------------------------------------------------------------------

// Moves reclaim over the previous lap's frames that consumers have released until it reaches
// `end`: reached, or in_use when a frame before `end` is still in use (full); unreadable and
// beyond are forged controls. `pos` is the caller's snapshot of tail; `plain`: the caller's
// bias window is open, no other producer moves reclaim. Each step reads one frame's first
// slot, never its others (see "Reclaim" at the top of ring/mpmc_ring.hpp).
MpmcRing::Walk MpmcRing::room_until(std::uint64_t pos, std::uint64_t end, bool plain) {
    // SYNC acquire: pairs with the CAS below in another producer's walk: the frames it walked
    // over were released, so their consumers' reads happen before our writes.
    std::uint64_t from = m_header->reclaim.load(std::memory_order_acquire);
    for (;;) {
        std::uint64_t to = from;
        Walk walk = walk_released(to, end);
        if (walk == Walk::reached && lap_diff(to, pos + slot_count()) > 0 &&
            // relaxed is enough: a check for forged controls on a rare path; a tail that moved
            // on since `pos` only makes the bound larger.
            lap_diff(to, m_header->tail.load(std::memory_order_relaxed) + slot_count()) > 0)
            walk = Walk::beyond;
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
        if (to == from)
            return Walk::reached;
        if (plain) {
            // SYNC release: pairs with the acquire loads of reclaim, as the CAS below.
            m_header->reclaim.store(to, std::memory_order_release);
            return Walk::reached;
        }
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

// With `pad`, the frame must not wrap the ring's end: a claim that would begins with padding
// slots up to it (their count goes to *pad and to the lease).
bool MpmcRing::claim(RingLease& lease, std::uint64_t slots, std::uint64_t& pos,
                     std::uint64_t* pad) {
    const BiasWindow window(m_header->put_bias, this_thread_owner());
    // relaxed is enough: the CAS below validates the snapshot; in a plain window, tail is ours.
    pos = m_header->tail.load(std::memory_order_relaxed);
    for (;;) {
        // Ask for the lines this put writes before the walk reads another: their transfers then
        // overlap the walk's instead of following the claim. (g++ emits a read prefetch here; a
        // PREFETCHW measured no better: docs/design/rings.md.)
        __builtin_prefetch(&slot(pos), 1);
        __builtin_prefetch(m_data + (pos & m_mask) * kSlotBytes, 1);
        const std::uint64_t to_end = slot_count() - (pos & m_mask);
        const std::uint64_t before = pad != nullptr && to_end < slots ? to_end : 0;
        const Walk walk = room_until(pos, pos + before + slots, window.plain());
        if (walk != Walk::reached) {
            // SYNC release: pairs with the acquire in recover_lease (no claim in flight): a
            // claim attempt before a failed CAS recorded one.
            lease.put_pos.store(kNoPosition, std::memory_order_release);
            if (walk == Walk::in_use)
                return false;
            throw CorruptSegment(walk == Walk::beyond
                                     ? "ring: reclaim runs more than a lap ahead of tail " +
                                           std::to_string(pos)
                                     : "ring: no released frame where reclaim walks, before " +
                                           std::to_string(pos + before + slots));
        }
        // relaxed is enough (both): put_pos (release) publishes them.
        lease.put_slots.store(static_cast<std::uint32_t>(before + slots),
                              std::memory_order_relaxed);
        if (pad != nullptr) {
            *pad = before;
            lease.put_pad.store(static_cast<std::uint32_t>(before), std::memory_order_relaxed);
        }
        // SYNC release: pairs with the acquire of put_pos in recover_dead.
        lease.put_pos.store(pos, std::memory_order_release);
        if (window.plain()) {
            // SYNC release: pairs with the acquire of tail in recover_dead, as the CAS below;
            // close and may_sleep make up for its not being seq_cst (ring/side_bias.hpp).
            m_header->tail.store(pos + before + slots, std::memory_order_release);
            return true;
        }
        // SYNC seq_cst: success makes the lease record visible to whoever acquires tail past
        // pos (recover_dead) and is ordered before the closed re-check in try_put (see close);
        // failure reloads pos, relaxed is enough since the slots are checked again.
        if (m_header->tail.compare_exchange_weak(
                pos, pos + before + slots, std::memory_order_seq_cst, std::memory_order_relaxed))
            return true;
    }
}

// Copies `from` to the data bytes starting at `at` (a byte index), wrapping at the end.
void MpmcRing::copy_in(std::size_t at, std::span<const std::byte> from) {
    if (from.empty())
        return;
    const std::size_t ring_bytes = slot_count() * kSlotBytes;
    at &= ring_bytes - 1; // a power of two
    const std::size_t first = std::min(from.size(), ring_bytes - at);
    std::memcpy(m_data + at, from.data(), first);
    if (first != from.size())
        std::memcpy(m_data, from.data() + first, from.size() - first);
}

void MpmcRing::write_frame(std::uint64_t pos, std::span<const std::byte> first,
                           std::span<const std::byte> second, OwnerId writer) {
    const auto size = static_cast<std::uint32_t>(first.size() + second.size());
    const std::size_t at = (pos & m_mask) * kSlotBytes;
    if (size <= kSlotBytes) {
        // One slot, which never wraps: the inline messages skip copy_in's arithmetic.
        if (!first.empty())
            std::memcpy(m_data + at, first.data(), first.size());
        if (!second.empty())
            std::memcpy(m_data + at + first.size(), second.data(), second.size());
    } else {
        copy_in(at, first);
        copy_in(at + first.size(), second);
    }
    // After the payload, next to publish()'s store on the control line a consumer polls: one
    // transfer of it to us, not two. relaxed is enough: publish() (or, for recovery, the
    // committed mark) releases the whole frame.
    slot(pos).meta.store(frame_meta(size, writer), std::memory_order_relaxed);
}

void MpmcRing::throw_too_large(std::size_t size) const {
    throw MessageTooLarge("a message of " + std::to_string(size) +
                          " bytes does not fit in a ring of " + std::to_string(slot_count()) +
                          " slots");
}

void MpmcRing::publish(std::uint64_t pos) {
    // SYNC release: pairs with the acquire of seq in try_get: the frame is complete.
    slot(pos).seq.store(pos + 1, std::memory_order_release);
}

// Flattened, as try_get: claim, walk, copy and publish inline in one frame; their calls'
// prologues bounded a streaming producer (docs/design/rings.md, "One control per line").
[[gnu::flatten]] RingStatus MpmcRing::try_put(std::span<const std::byte> first,
                                              std::span<const std::byte> second,
                                              std::uint64_t tag) {
    const std::size_t size = first.size() + second.size();
    const std::uint64_t slots = slots_for(size);
    if (size > kMaxFrameSize || slots > slot_count()) [[unlikely]]
        throw_too_large(size);
    // relaxed is enough: a fast refusal only; the seq_cst re-check after the claim decides.
    if (m_header->closed.load(std::memory_order_relaxed) != 0)
        return RingStatus::closed;
    const OwnerId me = this_thread_owner();
    const LeaseUse use = my_lease(me);
    RingLease& lease = *use;
    std::uint64_t pos = 0;
    // relaxed is enough: only this thread writes its lease's positions.
    if (lease.put_pos.load(std::memory_order_relaxed) != kNoPosition)
        throw UsageError("this thread holds a loan on this queue: put or drop it first");
    const std::uint64_t recorded = lease_tag(kTaggedPut, tag);
    record_tag(lease, recorded);
    if (!claim(lease, slots, pos))
        return RingStatus::full;
    const bool closed = closed_after_claim();
    if (closed)
        // relaxed is enough: publish() releases it.
        slot(pos).meta.store(kPaddingFlag | static_cast<std::uint32_t>(slots),
                             std::memory_order_relaxed);
    else
        write_frame(pos, first, second, me);
    if (!closed && recorded != 0)
        // SYNC release: pairs with the acquire in recover_put / put_committed: the frame is
        // whole, recovery publishes it.
        lease.committed.store(recorded, std::memory_order_release);
    if (!closed)
        count_message(lease.puts);
    publish(pos);
    // SYNC release: pairs with the acquire in recover_dead (the claim is complete).
    lease.put_pos.store(kNoPosition, std::memory_order_release);
    return closed ? RingStatus::closed : RingStatus::ok;
}

// ---- get ----------------------------------------------------------------------------------

std::uint64_t MpmcRing::frame_slots(std::uint64_t meta) const {
    const auto size_word = static_cast<std::uint32_t>(meta);
    const std::uint64_t slots =
        (size_word & kPaddingFlag) != 0 ? size_word & ~kPaddingFlag : slots_for(size_word);
    return slots == 0 || slots > slot_count() ? 0 : slots;
}

FrameView MpmcRing::frame_at(std::uint64_t pos, std::uint32_t size) const {
    const std::size_t at = (pos & m_mask) * kSlotBytes;
    const std::size_t first = std::min<std::size_t>(size, slot_count() * kSlotBytes - at);
    const auto* data = reinterpret_cast<const std::byte*>(m_data);
    return {{data + at, first}, {data, size - first}};
}

void MpmcRing::release_frame(std::uint64_t pos) {
    // SYNC release: pairs with the acquire in walk_released: our reads of the frame are done.
    slot(pos).seq.store(pos + slot_count(), std::memory_order_release);
}

RingStatus MpmcRing::empty_or_closed(std::uint64_t pos) const {
    return closed_and_drained(pos) ? RingStatus::closed : RingStatus::empty;
}

bool MpmcRing::closed_and_drained(std::uint64_t head) const {
    // SYNC seq_cst: case analysis in close().
    if (m_header->closed.load(std::memory_order_seq_cst) == 0)
        return false;
    if (bias_may_be_in_force(m_header->put_bias))
        heavy_barrier(); // case (3) in close()
    // SYNC seq_cst: case analysis in close().
    return m_header->tail.load(std::memory_order_seq_cst) == head;
}

bool MpmcRing::closed_after_claim() const {
    // After a plain store of tail the load must follow it: case (3) in close().
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // SYNC seq_cst: case analysis in close().
    return m_header->closed.load(std::memory_order_seq_cst) != 0;
}

RingStatus MpmcRing::try_get(ByteBuffer& out) {
    return try_get(sink_into(out));
}

// Hands the claimed frame to the sink, then releases its slots, whatever the sink does: a
// frame that does not decode is consumed, not left to block the ring.
void MpmcRing::take_frame(RingLease& lease, std::uint64_t pos, std::uint64_t meta, FrameSink sink) {
    const auto size_word = static_cast<std::uint32_t>(meta);
    struct Release {
        MpmcRing& ring;
        RingLease& lease;
        std::uint64_t pos;
        ~Release() {
            ring.release_frame(pos);
            // SYNC release: pairs with the acquire in recover_dead (the claim is complete).
            lease.get_pos.store(kNoPosition, std::memory_order_release);
        }
    } release{*this, lease, pos};
    if ((size_word & kPaddingFlag) == 0) {
        count_message(lease.gets);
        sink(frame_at(pos, size_word));
    }
}

[[gnu::flatten]] RingStatus MpmcRing::try_get(FrameSink sink, std::uint64_t tag) {
    const LeaseUse use = my_lease(this_thread_owner());
    RingLease& lease = *use;
    // relaxed is enough: only this thread writes its lease's positions.
    if (lease.get_pos.load(std::memory_order_relaxed) != kNoPosition)
        throw UsageError("this thread holds a borrowed message of this queue: release it first");
    record_tag(lease, lease_tag(kTaggedGet, tag));
    for (;;) {
        std::uint64_t pos = 0;
        std::uint64_t meta = 0;
        const RingStatus status = claim_frame(lease, pos, meta);
        if (status != RingStatus::ok)
            return status;
        take_frame(lease, pos, meta, sink);
        if ((static_cast<std::uint32_t>(meta) & kPaddingFlag) == 0)
            return RingStatus::ok;
    }
}

// Moves head past the next frame (or padding), recorded in the lease's get_pos: ok with its
// position and meta, empty or closed.
RingStatus MpmcRing::claim_frame(RingLease& lease, std::uint64_t& pos, std::uint64_t& meta) {
    const BiasWindow window(m_header->get_bias, this_thread_owner());
    // relaxed is enough: the CAS below validates the snapshot; in a plain window, head is ours.
    pos = m_header->head.load(std::memory_order_relaxed);
    for (;;) {
        // SYNC acquire: pairs with the release in publish(): the frame is complete.
        const std::int64_t diff = lap_diff(slot(pos).seq.load(std::memory_order_acquire), pos + 1);
        if (diff < 0) {
            // A waiting consumer polls here: ask for the payload's first line now, so that it
            // is on its way when the frame is published, rather than fetched only after.
            __builtin_prefetch(m_data + (pos & m_mask) * kSlotBytes);
            // SYNC release: pairs with the acquire in recover_dead (no claim in flight).
            lease.get_pos.store(kNoPosition, std::memory_order_release);
            return empty_or_closed(pos);
        }
        if (diff > 0) {
            // relaxed is enough: as in claim(), the acquire of seq orders the consumer's move
            // of head before this load, so an unmoved head means the slot was forged.
            const std::uint64_t head = m_header->head.load(std::memory_order_relaxed);
            if (head == pos) {
                // SYNC release: pairs with the acquire in recover_dead (no claim in flight).
                lease.get_pos.store(kNoPosition, std::memory_order_release);
                throw CorruptSegment("ring: slot sequence ahead of head " + std::to_string(pos));
            }
            pos = head;
            continue;
        }
        // relaxed is enough: published by the acquire above; if the slot moved on to a later
        // lap meanwhile, head has moved too and the CAS below fails.
        meta = slot(pos).meta.load(std::memory_order_relaxed);
        const std::uint64_t slots = frame_slots(meta);
        if (slots == 0) {
            if (m_header->head.load(std::memory_order_relaxed) == pos) {
                // SYNC release: pairs with the acquire in recover_dead (no claim in flight).
                lease.get_pos.store(kNoPosition, std::memory_order_release);
                throw CorruptSegment("ring: invalid frame size at position " + std::to_string(pos));
            }
            pos = m_header->head.load(std::memory_order_relaxed);
            continue;
        }
        // SYNC release: pairs with the acquire of get_pos in recover_dead.
        lease.get_pos.store(pos, std::memory_order_release);
        if (window.plain()) {
            // SYNC release: pairs with the acquire of head in recover_dead, as the CAS below;
            // a parked putter's heavy_barrier() makes up for its not being seq_cst.
            m_header->head.store(pos + slots, std::memory_order_release);
            return RingStatus::ok;
        }
        // SYNC seq_cst: success makes the lease record visible to whoever acquires head past
        // pos; failure reloads pos, relaxed is enough since the slot is checked again.
        if (m_header->head.compare_exchange_weak(pos, pos + slots, std::memory_order_seq_cst,
                                                 std::memory_order_relaxed))
            return RingStatus::ok;
    }
}

// ---- close and sizes ------------------------------------------------------------------------

// Close races with puts. The three seq_cst operations involved are the close store, a
// producer's tail CAS followed by its closed load, and a consumer's closed load followed by its
// tail load. In their single total order:
//   (1) the producer's CAS comes before the consumer's tail load: the consumer sees tail past
//       its head, reports empty and waits for the frame (real or padding) to be published;
//   (2) it comes after: the close store precedes it too, so the producer's closed load sees the
//       flag, turns its claim into padding and reports closed.
//   (3) a biased producer's plain store of tail is not in that order, and may pass its later
//       closed load. So a consumer that found the flag passes heavy_barrier() before it loads
//       tail, at a point B of the producer's instruction stream: a closed load after B sees
//       the flag (the consumer read it before the barrier); one before B follows the tail
//       store, which B made visible to the consumer's tail load: case (1).
// So a consumer never reports "closed and drained" while a message it should get is in flight.
void MpmcRing::close() {
    // SYNC seq_cst: case analysis above.
    m_header->closed.store(1, std::memory_order_seq_cst);
}

bool MpmcRing::closed() const {
    // SYNC acquire: pairs with nothing in particular; a hint for qsize-like queries.
    return m_header->closed.load(std::memory_order_acquire) != 0;
}

} // namespace shmbus::detail

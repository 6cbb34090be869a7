// SPDX-License-Identifier: Apache-2.0
// A bounded MPMC ring of variable-size messages inside a segment: Vyukov's sequenced slots,
// extended to messages that span several consecutive slots, whose producers reclaim space
// frame by frame. Offsets only, so processes may map it anywhere. Queue is built on it
// (core/messaging/queue_core.cpp). Put and get are in core/ring/mpmc_ring.cpp, sizing and
// attaching in core/ring/mpmc_ring_layout.cpp, the lease table in core/ring/mpmc_ring_leases.cpp,
// recovery from dead threads in core/ring/mpmc_ring_recovery.cpp.
//
// Hand-rolled, not Boost.Lockfree, for a measured reason (6x Boost's index queue at 64 B):
// docs/design/rings.md, "Why hand-rolled rings: the measurement".
//
// The layout (header, leases, slot controls, data) is in ring/mpmc_ring_layout.hpp.
//
// Counts. Each lease counts the messages its threads put and got: one writer at a time (the
// lease's holder), so a plain load and store on a line the put or get writes anyway, never a
// locked instruction on a shared line. qsize adds them up over the leases.
//
// Slot i serves positions i, i+N, i+2N, ... A frame of n bytes takes k = max(1, ceil(n / 64))
// consecutive positions; a message of up to 64 bytes is one slot (the inline fast path). Only
// a frame's first slot has a meaningful control. For a frame starting at p (slot p mod N):
//   seq <= p       not published yet (claimed, or not even that): an earlier lap's value
//   seq == p + 1   published: the frame that starts at p is complete
//   seq == p + N   released by its consumer
// Its meta is [writer tid u32][size u32] (size | kPaddingFlag for padding: size is then the
// slot count). meta and seq live apart from the payload because a consumer reads meta before it
// knows the frame is its own: keeping them atomic and out of the memcpy'd bytes makes that
// early read race-free.
//
// Reclaim. reclaim is the position up to which producers know the slots free: the frames of the
// previous lap below reclaim - N were all released. A producer that needs slots up to e walks
// from reclaim r while r < e: the slot at r is the first slot of the previous lap's frame at
// r - N; it reads seq == r once that frame is released, and its meta still gives its length
// (no producer claims it before reclaim passes it), so r moves on by that many slots. One CAS
// of reclaim publishes the walk; a walk that finds a frame in use reports full. A frame's other
// slots are never read or written by the protocol, so a 64 KiB frame (1024 slots) costs one
// control each way, not 1024 (measured: docs/design/rings.md, "Reclaim"). A walk that started
// from a reclaim another producer has moved on may read slots this lap reuses; its CAS then
// fails, and a walk that fails is believed only after reclaim is found unmoved.
//
// put: walk reclaim up to p+k, CAS tail p -> p+k (a biased side: store), write the frame, then
//      store seq = p+1 in the first slot (release).
// get: read seq == h+1 of the slot at head h, read k from meta, CAS head h -> h+k (a biased
//      side: store), copy, then release the frame: seq = h + N (release).
// Every position is a 64-bit counter: at 10^9 slots/s it wraps after 584 years, so no ABA.
//
// No far index is read on the hot path: the first slot's sequence tells a consumer whether its
// producer is done, and a producer's walk whether a consumer is; tail and reclaim are touched
// by producers only, head by consumers only.
//
// Biased sides (ring/side_bias.hpp). While one thread alone puts (gets), it moves tail and
// reclaim (head) with plain release stores instead of the CAS; a second thread revokes that
// bias once, with heavy_barrier(), and from then on every thread uses the CAS. A parked waiter
// and a consumer deciding "closed and drained" pass heavy_barrier() while a side may be biased,
// since a plain store is not the seq_cst claim their reasoning needs.
//
// Dead peers (house style: record state in the data so a crash can be undone). Before its CAS
// a thread records the position it claims in its lease (and, for a put, the slot count);
// recover_dead(), run by a waiter that stays blocked, finds leases of dead threads whose claim
// blocks the ring and undoes it: a dead producer's claim becomes padding that consumers skip;
// a dead consumer's claim is released (that message is lost: it was delivered to the dead).
//
// Leases (my_lease). A thread owns a lease from its first put or get on until it dies: the
// hot path then writes only its own lease, no locked instruction. A newcomer that finds no
// free owned lease frees the leases of dead threads (under the recovery lock; a thread that
// loses the lock waits for the winner and uses what it freed), and when every owned lease
// belongs to a live thread it borrows a shared lease for each put or get (one CAS and one
// store more per message). So any number of threads may use a ring; at most kSharedLeases of
// the borrowers are inside a put or get at once, the others wait for a lease (bounded).
//
// Tagged claims (the NATS bridges; docs/design/crash-recovery.md). A tagged put records its
// tag in its lease before claiming and again in `committed` once its frame is whole: recovery
// publishes a dead thread's committed frame instead of padding it (put_committed), and never
// releases a dead thread's tagged get claim: adopt_taken hands its message to a successor.
//
// Loans (zero copy, Queue::loan / Queue::borrow). A loan claims k contiguous slots: when the
// frame would wrap the ring's end, the same claim begins with the d slots up to it (the lease
// records put_pos, put_slots = d + k and put_pad = d). Publishing writes the frame's meta and
// publishes it first, then the padding's first slot: consumers stop at the claim's first slot,
// so nothing is seen before both are written, and recovery pads whichever part of a dead
// writer's claim is still unpublished. A borrow is a get whose release waits for the reader:
// get_pos stays in the lease until then, so a dead reader's frame is released by recovery. One
// loan and one borrow per thread and ring at a time (the lease has one put_pos and one get_pos;
// a put or get while one is held is UsageError). Loans need frames of at most half the ring.
#pragma once

#include "os/owner.hpp"
#include "ring/mpmc_ring_layout.hpp"
#include "segment/layout.hpp"
#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/ring_claim.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace shmbus::detail {

/// How far `seq` is past `expected`, as positions (negative: behind); positions are 64-bit
/// counters, so the difference never wraps in practice.
inline std::int64_t lap_diff(std::uint64_t seq, std::uint64_t expected) {
    return static_cast<std::int64_t>(seq - expected);
}

struct MessageCounts {
    std::uint64_t put = 0;
    std::uint64_t got = 0;
};

/// Adds one to a lease's message count. The lease's holder is its counters' only writer: a
/// plain load and store, no locked instruction.
inline void count_message(std::atomic<std::uint64_t>& counter) {
    // relaxed is enough (both): an approximate count for qsize, ordered by nothing.
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// A frame's meta word: the writer's thread id, then the size word.
inline std::uint64_t frame_meta(std::uint32_t size_word, OwnerId writer) {
    return (std::uint64_t{static_cast<std::uint32_t>(owner_tid(writer))} << 32) | size_word;
}

/// A lease cache entry's index while its thread borrows shared leases in that ring.
inline constexpr std::uint32_t kBorrowing = ~std::uint32_t{0};

/// Which lease this thread owns in one ring it used lately (or kBorrowing: it borrows shared
/// leases there until next_own_try); checked against the lease's owner before use, so an entry
/// for a ring that was unmapped, or from before a fork, is just a miss.
struct LeaseCacheEntry {
    const void* ring = nullptr;
    std::uint32_t index = 0;
    std::uint32_t own_tries = 0;
    std::chrono::steady_clock::time_point next_own_try{};
};
/// Inline, so that a put or get finds its lease without a call (MpmcRing::my_lease).
inline constinit thread_local std::array<LeaseCacheEntry, 8> t_lease_cache{};

/// The messages put and got through every lease of a ring whose header validate() accepted.
/// @concurrent result may be stale.
inline MessageCounts message_counts(const MpmcRingHeader& header) {
    const auto* leases = reinterpret_cast<const RingLease*>(reinterpret_cast<const char*>(&header) +
                                                            header.leases_offset);
    MessageCounts counts;
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        // relaxed is enough (both): the result may be stale by definition.
        counts.put += leases[i].puts.load(std::memory_order_relaxed);
        counts.got += leases[i].gets.load(std::memory_order_relaxed);
    }
    return counts;
}

/// Why the `bytes` bytes at `header` are not an MPMC ring of this build, or nullopt
/// (segment/state_ref.hpp).
std::optional<std::string> validate(const MpmcRingHeader& header, std::uint64_t bytes);

enum class RingStatus : std::uint8_t { ok, full, empty, closed };

struct RecoveryReport {
    std::uint64_t messages_lost = 0; ///< claimed by a consumer that died before it finished
    std::uint64_t claims_padded = 0; ///< claimed by a producer that died before it published
    /// Written whole by a producer that died before it published (a tagged put): published.
    std::uint64_t claims_published = 0;
};

/// A view of a ring in shared memory. @concurrent any thread / any process.
class MpmcRing {
public:
    /// Slots a frame of `size` bytes takes.
    static std::uint64_t slots_for(std::size_t size) {
        return size <= kSlotBytes ? 1 : (size + kSlotBytes - 1) / kSlotBytes;
    }
    /// The largest frame a ring of `slot_count` slots holds.
    static std::size_t max_frame_for(std::uint64_t slot_count) { return slot_count * kSlotBytes; }
    /// OutOfSpace when that does not fit in 64 bits.
    static std::size_t bytes_for(std::uint64_t slot_count);
    /// Builds an empty ring at `at` (64-byte aligned, bytes_for(slot_count) bytes). `biased`:
    /// a side that one thread alone uses moves its positions with plain stores (see "Biased
    /// sides" at the top of this file); its waiters must then pass heavy_barrier().
    /// @pre slot_count is a power of two; biased only where heavy_barrier_ready().
    static void init(void* at, std::uint64_t slot_count, bool biased);

    /// Attaches to the ring at `at`; CorruptSegment unless it is one that fits in `bytes`.
    MpmcRing(void* at, std::size_t bytes);

    /// ok, full, or closed (the frame was not queued). MessageTooLarge when the frame can
    /// never fit. @concurrent any thread / any process.
    RingStatus try_put(std::span<const std::byte> frame) { return try_put(frame, {}); }
    /// try_put of the frame `first` then `second` (gathered: no copy in between).
    RingStatus try_put(std::span<const std::byte> first, std::span<const std::byte> second) {
        return try_put(first, second, 0);
    }
    /// try_put that, with a nonzero `tag` (< 2^62), records it as a tagged claim.
    RingStatus try_put(std::span<const std::byte> first, std::span<const std::byte> second,
                       std::uint64_t tag);
    /// ok (the frame is in `out`), empty, or closed (closed and drained).
    RingStatus try_get(ByteBuffer& out);
    /// try_get that hands the frame, in place, to `sink` (ok); the frame is consumed even when
    /// the sink throws.
    RingStatus try_get(FrameSink sink) { return try_get(sink, 0); }
    /// try_get that, with a nonzero `tag` (< 2^62), records it as a tagged claim: a thread
    /// that dies before the sink returned leaves the message to adopt_taken.
    RingStatus try_get(FrameSink sink, std::uint64_t tag);
    /// Whether a dead thread's put tagged `tag` got past its point of no return: its message
    /// is visible, or recover_dead will publish it.
    bool put_committed(std::uint64_t tag);
    /// Hands the message a dead thread's get tagged `tag` had claimed to `sink`, then frees
    /// it: true, or false when there is none (the get claimed nothing, or it finished).
    bool adopt_taken(std::uint64_t tag, FrameSink sink);
    /// Lends `loan` the slots of a frame of `size` bytes, contiguous (a claim that would wrap
    /// the ring's end begins with padding up to it): ok, full or closed. The claim blocks the
    /// frames behind it until publish_loan or return_loan. MessageTooLarge when a contiguous
    /// frame can never fit; UsageError while this thread holds a loan on this ring.
    RingStatus try_loan(std::size_t size, RingClaim& loan);
    /// Publishes the loaned frame (its first `size` bytes of the claim).
    void publish_loan(RingClaim& claim, std::size_t size);
    /// Gives the loaned slots back as padding that consumers skip.
    void return_loan(RingClaim& claim);
    /// Claims the next frame and keeps it until release_borrow: ok, empty or closed. UsageError
    /// while this thread holds a borrow on this ring.
    RingStatus try_borrow(RingClaim& claim);
    /// Frees a borrowed frame's slots.
    void release_borrow(RingClaim& claim);
    /// Further puts return closed; gets drain what is left, then return closed.
    void close();
    bool closed() const;

    /// Frames put minus frames got. @concurrent result may be stale.
    std::uint64_t size_guess() const;
    /// A get would find a frame now, or the ring is closed and drained; consumes nothing
    /// (shmbus::wait). A frame a dead producer's recovery padded counts as one.
    bool get_ready() const;
    /// For a getter registered as parked (wait/notify.hpp, wake_after_claim): no put has
    /// claimed a position a get could take, so the next one to claim will see the getter.
    bool getter_may_sleep() const;
    /// For a putter of `frame_size` bytes registered as parked: some slot the put needs holds
    /// a frame no get has claimed yet, so the get that frees it will see the putter.
    bool putter_may_sleep(std::size_t frame_size) const;
    /// Whether a getter (put side) or a putter (get side) that registered as parked must pass
    /// heavy_barrier() before may_sleep: a plain store of tail or head is no seq_cst claim.
    bool getter_needs_barrier() const { return bias_may_be_in_force(m_header->put_bias); }
    bool putter_needs_barrier() const { return bias_may_be_in_force(m_header->get_bias); }
    /// Positions claimed and not yet released. @concurrent result may be stale.
    std::uint64_t slots_used_guess() const;
    std::uint64_t slot_count() const { return m_mask + 1; }
    /// Every RecoveryReport added up since the ring was made. @concurrent result may be stale.
    RecoveryReport recovered_total() const;

    /// Undoes the claims of dead threads that block the ring (see the top of this file).
    /// Returns at once when another live thread is already recovering.
    RecoveryReport recover_dead();

private:
    enum class Walk : std::uint8_t { reached, in_use, unreadable, beyond };

    /// The lease of one put or get: an owned one, or a shared one given back at the end.
    class LeaseUse {
    public:
        LeaseUse(RingLease& lease, bool borrowed) : m_lease(lease), m_borrowed(borrowed) {}
        ~LeaseUse() {
            if (m_borrowed) [[unlikely]]
                give_back();
        }
        LeaseUse(const LeaseUse&) = delete;
        LeaseUse& operator=(const LeaseUse&) = delete;
        RingLease& operator*() const { return m_lease; }
        /// A shared lease, lent for one operation.
        bool shared() const { return m_borrowed; }

    private:
        void give_back();

        RingLease& m_lease;
        bool m_borrowed;
    };

    RingControl& slot(std::uint64_t pos) const { return m_control[pos & m_mask]; }
    /// This thread's lease: the one its cache names when that is still its own (two compares
    /// and a load: the put and get paths), else find_lease.
    LeaseUse my_lease(OwnerId me) {
        for (const LeaseCacheEntry& entry : t_lease_cache) {
            if (entry.ring != m_header)
                continue;
            // relaxed is enough: only this thread writes its own identity into a lease.
            if (entry.index != kBorrowing &&
                m_leases[entry.index].owner.load(std::memory_order_relaxed) == me) [[likely]]
                return {m_leases[entry.index], false};
            break;
        }
        return find_lease(me);
    }
    [[gnu::noinline]] LeaseUse find_lease(OwnerId me);
    RingLease* claim_free_lease(OwnerId me, std::uint32_t first, std::uint32_t count);
    RingLease* own_lease(OwnerId me);
    RingLease* borrow_lease(OwnerId me);
    bool free_dead_leases(OwnerId me);
    bool lease_idle(const RingLease& lease) const;
    Walk room_until(std::uint64_t pos, std::uint64_t end, bool plain);
    Walk walk_released(std::uint64_t& at, std::uint64_t end) const;
    bool claim(RingLease& lease, std::uint64_t slots, std::uint64_t& pos,
               std::uint64_t* pad = nullptr);
    RingStatus claim_frame(RingLease& lease, std::uint64_t& pos, std::uint64_t& meta);
    void end_claim(RingClaim& claim, std::atomic<std::uint64_t> RingLease::*field);
    void recover_put(RingLease& lease, std::uint64_t put, std::uint32_t slots,
                     RecoveryReport& report);
    void write_frame(std::uint64_t pos, std::span<const std::byte> first,
                     std::span<const std::byte> second, OwnerId writer);
    FrameView frame_at(std::uint64_t pos, std::uint32_t size) const;
    void copy_in(std::size_t at, std::span<const std::byte> from);
    /// MessageTooLarge for a frame of `size` bytes; out of line, off the put's path.
    [[noreturn, gnu::cold, gnu::noinline]] void throw_too_large(std::size_t size) const;
    void take_frame(RingLease& lease, std::uint64_t pos, std::uint64_t meta, FrameSink sink);
    void publish(std::uint64_t pos);
    void release_frame(std::uint64_t pos);
    std::uint64_t frame_slots(std::uint64_t meta) const;
    RingStatus empty_or_closed(std::uint64_t pos) const;
    bool closed_and_drained(std::uint64_t head) const;
    bool closed_after_claim() const;

    bool put_stuck(std::uint64_t pos) const;
    bool get_stuck(std::uint64_t pos) const;
    bool live_claim_at(std::uint64_t pos, std::atomic<std::uint64_t> RingLease::*field) const;
    bool dead_puts_agree(std::uint64_t pos, std::uint32_t slots) const;
    void recover_lease(RingLease& lease, RecoveryReport& report);
    RingLease* dead_lease_tagged(std::uint64_t tag, OwnerId me) const;
    static void record_tag(RingLease& lease, std::uint64_t value);
    bool lock_recovery_waiting(OwnerId me);
    RecoveryReport recover_dead_locked(OwnerId me);
    bool lock_recovery(OwnerId me);
    void unlock_recovery();

    MpmcRingHeader* m_header;
    RingLease* m_leases;
    RingControl* m_control;
    unsigned char* m_data;
    std::uint64_t m_mask;
};

} // namespace shmbus::detail

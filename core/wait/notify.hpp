// SPDX-License-Identifier: Apache-2.0
// The waker's half of the park protocol for rings, whose "word" is not the data itself.
// A put publishes a slot sequence; a parked getter sleeps on a separate futex word. Bumping
// that word on every put would put one more contended cache line on the hot path, so the word
// only changes when a waiter is registered. Three wakers, one waiter (park_until):
//
//   notify_all:           change the data; seq_cst fence; load waiters; if non-zero: bump, wake
//   wake_after_claim:     claim (a seq_cst RMW: the ring's tail or head CAS, a token returned;
//                         or a biased side's plain store, see below); finish the change;
//                         seq_cst load of waiters; if non-zero: bump, wake
//   notify_without_fence: change the data; load waiters; if non-zero: bump, wake
//   waiter:               waiters += 1 (seq_cst RMW); wakers.registered() (heavy_barrier() for
//                         notify_without_fence); load word; re-check the data; if
//                         wakers.may_sleep() (seq_cst loads of the claim words for
//                         wake_after_claim): FUTEX_WAIT(word)
//
// notify_all: the fence and the waiter's seq_cst increment form a Dekker pair: either the
// waker sees the waiter registered, or the waiter's re-check sees the change.
//
// wake_after_claim costs no fence: the claim it made anyway orders it. In the single total
// order S of seq_cst operations, take the waiter's increment R and the waker's claim C:
//   (1) C after R: the waker's load of waiters comes after C in its program order, so after R
//       in S; it reads a count that includes us and wakes us (below).
//   (2) C before R: may_sleep()'s loads come after R, so after C; they read the claim (tail
//       past our head for a getter; head past the slot a putter needs; a maxsize token).
//       Then either the change is complete and visible, and the re-check succeeds, or it is
//       still in flight and may_sleep() answers false: we yield and look again.
// A biased ring side (ring/side_bias.hpp) claims with a plain store, outside S: its waiters
// then also pass heavy_barrier() after registering (ClaimingWakers::barrier), and the argument
// below for notify_without_fence covers those claims.
// notify_without_fence (the Pipe, whose SPSC sides make no read-modify-write to lean on) is
// the asymmetric Dekker pair: the waiter's membarrier(2) makes every thread of every registered
// process pass a full barrier at some point B of its instruction stream. A waker whose load of
// waiters comes after B sees the registration (made before the barrier); one whose load comes
// before B made its data store before B too, and the barrier made that store visible to the
// waiter's re-check. The waker's common case is then a plain load; the waiter pays ~2.5 us per
// park, which is why a Pipe made for the block policy keeps the fenced wakers.
// A wake bumps word (seq_cst) after the change: if the waiter's load of word reads the bump,
// the change is visible to its re-check; if not, FUTEX_WAIT compares the word and returns at
// once, or sleeps before the waker's FUTEX_WAKE. So no wake-up is lost, and the common case
// (nobody parked) costs one plain load of a read-mostly line.
#pragma once

#include "os/futex.hpp"
#include "os/membarrier.hpp"
#include "segment/layout.hpp"
#include "wait/park.hpp"

#include <atomic>
#include <climits>
#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define SHMBUS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMBUS_TSAN 1
#endif
#endif

namespace shmbus::detail {

/// Where processes park for one condition of a ring-based object ("items", "space", ...),
/// with the wait statistics the CLI shows. Every field changes only on the slow path (a caller
/// parks, or a waker finds a registered waiter), so the line stays read-mostly.
struct alignas(kCacheLine) ParkingSpot {
    std::atomic<std::uint32_t> word;
    std::atomic<std::uint32_t> waiters;
    std::atomic<std::uint64_t> parks; ///< times a caller went to sleep here
    std::atomic<std::uint64_t> wakes; ///< FUTEX_WAKE calls made for sleepers here
};

static_assert(sizeof(ParkingSpot) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");

/// park_until on a spot, counting each sleep in spot.parks.
template <class Try, class Probe = NoProbe, class Wakers = FencedWakers>
bool park_at(ParkingSpot& spot, Try try_once, Deadline deadline, const WaitOptions& options,
             Probe probe = {}, Wakers wakers = {}) {
    return park_until(spot.word, spot.waiters, std::move(try_once), deadline, options,
                      std::move(probe), &spot.parks, std::move(wakers));
}

/// The waiter's half for wake_after_claim: `may_sleep` (seq_cst loads of the claim words)
/// answers false while a claim made before the waiter registered may still be in flight. When
/// `needs_barrier()`, some wakers may claim with a plain store (a biased ring side): the waiter
/// passes heavy_barrier() after registering, as for notify_without_fence. Asked only then: it
/// reads the wakers' own line, which a waiter that never parks must leave alone.
template <class MaySleep, class NeedsBarrier>
struct ClaimingWakers {
    MaySleep may_sleep_now;
    NeedsBarrier needs_barrier;
    void registered() {
        if (needs_barrier())
            heavy_barrier();
    }
    bool may_sleep() { return may_sleep_now(); }
};

template <class MaySleep, class NeedsBarrier>
ClaimingWakers<MaySleep, NeedsBarrier> claiming_wakers(MaySleep may_sleep,
                                                       NeedsBarrier needs_barrier) {
    return {std::move(may_sleep), std::move(needs_barrier)};
}

/// The waiter's half for notify_without_fence: when the wakers skip their fence, the waiter
/// makes every one of them pass a barrier right after it registered.
struct BarrierWakers {
    bool fence_free;
    void registered() const {
        if (fence_free)
            heavy_barrier();
    }
    static bool may_sleep() { return true; }
};

/// Bumps the word and wakes every process parked on `spot`.
inline void wake_parked(ParkingSpot& spot) {
    // relaxed is enough: a statistic, read only for display.
    spot.wakes.fetch_add(1, std::memory_order_relaxed);
    // SYNC seq_cst: pairs with the waiter's seq_cst load of word in park_until.
    spot.word.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(spot.word, INT_MAX);
}

/// Wakes the processes parked on `spot`, for a caller whose change began with a seq_cst claim
/// that their may_sleep() reads (the top of this file); no fence.
inline void wake_after_claim(ParkingSpot& spot) {
    // After a plain claim (a biased side) the load must follow it in the instruction stream,
    // which is what the waiter's heavy_barrier() splits.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // SYNC seq_cst: after the caller's seq_cst claim in S; pairs with the waiter's seq_cst
    // increment (case analysis at the top of this file).
    if (spot.waiters.load(std::memory_order_seq_cst) != 0)
        wake_parked(spot);
}

/// Wakes every process parked on `spot` when any is registered; otherwise costs one fence and
/// one load of a read-mostly line (no syscall).
inline void notify_all(ParkingSpot& spot) {
#ifdef SHMBUS_TSAN
    // TSan does not model fences. A seq_cst RMW on waiters orders the same way, visibly to it:
    // SYNC seq_cst: either after the waiter's increment (we see it) or before it (the waiter's
    // RMW reads ours and acquires the data change). Not used normally: it would make the
    // waiters line a written, contended line on every put and get.
    if (spot.waiters.fetch_add(0, std::memory_order_seq_cst) == 0)
        return;
#else
    // SYNC seq_cst fence: orders the caller's data change before the waiters load (Dekker pair
    // with the seq_cst waiters.fetch_add in ParkScope).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // relaxed is enough after the fence above.
    if (spot.waiters.load(std::memory_order_relaxed) == 0)
        return;
#endif
    wake_parked(spot);
}

/// notify_all for wakers whose waiters use BarrierWakers{fence_free}: with fence_free, no
/// fence; the waiter's heavy_barrier() orders our change before this load for it (the top of
/// this file).
inline void notify_without_fence(ParkingSpot& spot, bool fence_free) {
    if (!fence_free) {
        notify_all(spot);
        return;
    }
    // The load must follow the caller's data store in the instruction stream, which is what the
    // waiter's barrier splits: a compiler-only fence keeps them in order.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    // SYNC relaxed: pairs with the waiter's heavy_barrier() after its seq_cst increment: a load
    // before our barrier point follows a store it makes visible; one after it sees the waiter.
    if (spot.waiters.load(std::memory_order_relaxed) != 0)
        wake_parked(spot);
}

} // namespace shmbus::detail

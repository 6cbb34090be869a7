// SPDX-License-Identifier: Apache-2.0
// The waker's half of the park protocol for rings, whose "word" is not the data itself.
// A put publishes a slot sequence; a parked getter sleeps on a separate futex word. Bumping
// that word on every put would put one more contended cache line on the hot path, so the word
// only changes when a waiter is registered:
//
//   waker:  change the data; seq_cst fence; load waiters; if non-zero: bump word, FUTEX_WAKE
//   waiter: waiters += 1 (seq_cst, ParkScope); load word; re-check the data; FUTEX_WAIT(word)
//
// The fence and the seq_cst increment form a Dekker pair: either the waker sees the waiter
// registered, or the waiter's re-check sees the change. A bump that lands between the waiter's
// load of word and its FUTEX_WAIT makes the kernel return at once (value changed).
#pragma once

#include "os/futex.hpp"
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
template <class Try, class Probe = NoProbe>
bool park_at(ParkingSpot& spot, Try try_once, Deadline deadline, const WaitOptions& options,
             Probe probe = {}) {
    return park_until(spot.word, spot.waiters, std::move(try_once), deadline, options,
                      std::move(probe), &spot.parks);
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
    // relaxed is enough: a statistic, read only for display.
    spot.wakes.fetch_add(1, std::memory_order_relaxed);
    // SYNC seq_cst: pairs with the waiter's seq_cst load of word in park_until.
    spot.word.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(spot.word, INT_MAX);
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// How one object takes part in shmbus::wait (shmbus/multi_wait.hpp): the futex word its wakers
// bump and the waiter count they read, a readiness test that consumes nothing, and what a
// registered waiter must do for the object's kind of waker (docs/design/parking.md, "Waiting
// on many objects").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace shmbus::detail {

/// One object of a multi-object wait, described by the object itself. Either a futex object
/// (`word` and `waiters` set) or a file descriptor (`fd` >= 0: a process sentinel's pidfd or
/// a ReadableFd), waited for by poll(2).
struct WaitTarget {
    /// The futex word the object's wakers change (seq_cst) before they look at `waiters`.
    std::atomic<std::uint32_t>* word = nullptr;
    /// The registered-waiter count the object's wakers read; a multi-waiter registers here.
    std::atomic<std::uint32_t>* waiters = nullptr;
    /// A descriptor that poll(2) reports readable once the object is ready (a pidfd: once its
    /// process ended); -1 for a futex object.
    int fd = -1;
    /// True when the object is ready now; never consumes anything.
    std::function<bool()> ready;
    /// For wakers that skip their fence after a claim (wait/notify.hpp, ClaimingWakers):
    /// false while a claim made before the waiter registered may still be in flight. Empty:
    /// the waiter may always sleep.
    std::function<bool()> may_sleep;
    /// Run every kProbePeriod while the wait lasts: repairs what dead peers left (false), or
    /// finds the object ready in a way no wake announces, such as a dead pipe peer (true).
    std::function<bool()> probe;
    /// The wakers skip their fence (wait/notify.hpp, BarrierWakers): the waiter calls
    /// heavy_barrier() once after registering.
    bool barrier_after_registering = false;
    /// The wakers wake a limited count (a Semaphore's release(n) wakes n): a multi-waiter that
    /// was woken but takes nothing passes a wake on when it leaves.
    bool passes_wake_on = false;
    /// What the object is, for comparing the handles wait() returns: the same object seen
    /// through any handle of this process has the same identity (null for a descriptor, which
    /// its fd tells apart).
    const void* identity = nullptr;
};

} // namespace shmbus::detail

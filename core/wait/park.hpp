// SPDX-License-Identifier: Apache-2.0
// The one wait loop behind every blocking primitive: try, spin (policy), then park on a futex
// word with a registered-waiter count so that wakers skip the syscall when nobody sleeps.
#pragma once

#include "os/futex.hpp"
#include "shmbus/wait.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

namespace shmbus::detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// Counts this process as parked on a word for as long as it lives. A process killed while
/// parked leaves the count high, which costs later wakers a needless syscall, never a lost wake.
class ParkScope {
public:
    explicit ParkScope(std::atomic<std::uint32_t>& waiters) : m_waiters(waiters) {
        // SYNC seq_cst: pairs with the seq_cst waiters.load in wake_waiters (Dekker).
        m_waiters.fetch_add(1, std::memory_order_seq_cst);
    }
    ~ParkScope() {
        // relaxed is enough: a stale non-zero count only costs a waker one spare syscall.
        m_waiters.fetch_sub(1, std::memory_order_relaxed);
    }
    ParkScope(const ParkScope&) = delete;
    ParkScope& operator=(const ParkScope&) = delete;

private:
    std::atomic<std::uint32_t>& m_waiters;
};

/// Calls try_once() until it succeeds (true) or `until` passes (false); the clock is read
/// once every 64 tries.
template <class Try>
bool spin_until(Try& try_once, Deadline until) {
    for (unsigned round = 1;; ++round) {
        if (try_once())
            return true;
        if (round % 64 == 0 && until.expired())
            return false;
        cpu_relax();
    }
}

/// When the spin phase of a wait under `options` ends (not called for WaitPolicy::block).
inline Deadline spin_end(Deadline deadline, const WaitOptions& options) {
    return options.policy == WaitPolicy::spin ? deadline
                                              : deadline.earlier(Deadline::after(options.spin_for));
}

/// Tries before a spinning wait first reads the clock: most waits for a busy peer end within a
/// few hundred nanoseconds, and a clock read (~26 ns on the reference VM) would be a large part
/// of them.
inline constexpr unsigned kTriesBeforeClock = 64;

/// A registered waiter that may not sleep yet (wakers.may_sleep()) yields this many times, then
/// naps on the futex from kFirstNap, doubling up to kMaxNap, until it may.
inline constexpr unsigned kYieldsBeforeNap = 16;
inline constexpr std::chrono::nanoseconds kFirstNap = std::chrono::microseconds(50);
inline constexpr std::chrono::nanoseconds kMaxNap = std::chrono::milliseconds(10);

/// Calls try_once() up to kTriesBeforeClock times without reading the clock.
template <class Try>
bool spin_without_clock(Try& try_once) {
    for (unsigned round = 0; round < kTriesBeforeClock; ++round) {
        cpu_relax();
        if (try_once())
            return true;
    }
    return false;
}

/// What a long wait checks every `period` without progress: whether a peer died holding what
/// the waiter needs. check() returns true when it ended the wait for the caller (a Lock taken
/// over from a dead holder, a pipe whose peer died); a repair that only makes progress possible
/// (a dead producer's claim undone) returns false, and the wait tries again.
template <class Check>
struct Probe {
    Check check;
    std::chrono::nanoseconds period;
    Deadline slice_of(Deadline deadline) const { return deadline.earlier(Deadline::after(period)); }
};

template <class Check>
Probe<Check> probe_every(std::chrono::nanoseconds period, Check check) {
    return {std::move(check), period};
}

struct NoProbe {
    static bool check() { return false; }
    static Deadline slice_of(Deadline deadline) { return deadline; }
};

/// What a registered waiter must do for its kind of waker (wait/notify.hpp). These wakers
/// change the data and then wake with a fence or with a seq_cst change of the word itself, so
/// nothing: a waiter whose re-check failed may always sleep.
struct FencedWakers {
    /// Called once, right after the waiter registered, before its first re-check.
    static void registered() {}
    /// Whether the waiter may sleep now that its re-check failed.
    static bool may_sleep() { return true; }
};

/// The one wait loop behind every blocking primitive: try; spin as `options` says; then park
/// on `word`, registered in `waiters`, until try_once() succeeds (true) or the deadline passes
/// (false). `probe` runs after every period spent spinning or parked without success, under
/// every policy. `parks`, when given, counts the sleeps (for display).
/// Contract: whoever may make try_once() succeed changes `word` with a seq_cst operation and
/// then wakes the waiters (wake_waiters, notify_all). Wakers that skip the fence need the
/// waiter's help, given by `wakers` (wait/notify.hpp: ClaimingWakers, BarrierWakers).
template <class Try, class Probe = NoProbe, class Wakers = FencedWakers>
bool park_until(const std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& waiters,
                Try try_once, Deadline deadline, const WaitOptions& options, Probe probe = {},
                std::atomic<std::uint64_t>* parks = nullptr, Wakers wakers = {}) {
    // The uncontended path reads no clock, nor does a spinning wait that ends within its first
    // tries (a deadline already past then costs those tries before it is noticed).
    if (try_once())
        return true;
    if (deadline.is_immediate())
        return false;
    if (options.policy != WaitPolicy::block && spin_without_clock(try_once))
        return true;
    if (deadline.expired())
        return false;
    if (options.policy != WaitPolicy::block) {
        const Deadline spinning_until = spin_end(deadline, options);
        for (;;) {
            if (spin_until(try_once, probe.slice_of(spinning_until)))
                return true;
            if (spinning_until.expired())
                break;
            if (probe.check())
                return true;
        }
        if (options.policy == WaitPolicy::spin)
            return false;
    }
    if (parks != nullptr)
        // relaxed is enough: a statistic, read only for display.
        parks->fetch_add(1, std::memory_order_relaxed);
    ParkScope parked(waiters);
    wakers.registered();
    Deadline next_probe = probe.slice_of(deadline);
    unsigned unsleepable = 0;
    std::chrono::nanoseconds nap = kFirstNap;
    for (;;) {
        // SYNC seq_cst: after our waiters increment, pairs with the waker's seq_cst change of word.
        const std::uint32_t seen = word.load(std::memory_order_seq_cst);
        if (try_once())
            return true;
        if (deadline.expired())
            return false;
        if (!wakers.may_sleep()) {
            // A waker is finishing a change it made before we registered: it will not wake us.
            // It needs a few instructions, unless it was descheduled or stopped (SIGSTOP, a
            // debugger) there, or died (the probe repairs that): look again at once a few
            // times, then in naps growing to kMaxNap, so a stopped peer costs no busy CPU.
            if (++unsleepable <= kYieldsBeforeNap) {
                std::this_thread::yield();
            } else {
                (void)futex_wait(word, seen,
                                 probe.slice_of(deadline).earlier(Deadline::after(nap)));
                nap = std::min(2 * nap, kMaxNap);
            }
            if (next_probe.expired()) {
                next_probe = probe.slice_of(deadline);
                if (probe.check())
                    return true;
            }
            continue;
        }
        if (futex_wait(word, seen, probe.slice_of(deadline)) == FutexWait::timed_out &&
            probe.check())
            return true;
    }
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// The one wait loop behind every blocking primitive: try, spin (policy), then park on a futex
// word with a registered-waiter count so that wakers skip the syscall when nobody sleeps.
#pragma once

#include "os/futex.hpp"
#include "shmbus/wait.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

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

/// Calls try_once() until it succeeds or the spin phase of `options` ends.
template <class Try>
bool spin_until(Try& try_once, Deadline deadline, const WaitOptions& options) {
    if (options.policy == WaitPolicy::block)
        return false;
    const Deadline spin_end = options.policy == WaitPolicy::spin
                                  ? deadline
                                  : deadline.earlier(Deadline::after(options.spin_for));
    for (unsigned round = 1;; ++round) {
        if (try_once())
            return true;
        if (round % 64 == 0 && spin_end.expired())
            return false;
        cpu_relax();
    }
}

struct NoProbe {
    bool operator()() const { return false; }
};

enum class SpinResult : std::uint8_t { succeeded, gave_up, must_park };

/// The part of a wait that never sleeps: one try, then the spin phase of `options`.
template <class Try>
SpinResult try_then_spin(Try& try_once, Deadline deadline, const WaitOptions& options) {
    if (try_once())
        return SpinResult::succeeded;
    if (deadline.expired())
        return SpinResult::gave_up;
    if (spin_until(try_once, deadline, options))
        return SpinResult::succeeded;
    return options.policy == WaitPolicy::spin ? SpinResult::gave_up : SpinResult::must_park;
}

/// The sleeping part of a wait, registered in `waiters`, until try_once() succeeds (true) or
/// the deadline passes (false). See park_until for the contract.
template <class Try, class Probe = NoProbe>
bool sleep_until(const std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& waiters,
                 Try& try_once, Deadline deadline, Probe probe = {},
                 std::chrono::nanoseconds probe_period = {}) {
    ParkScope parked(waiters);
    for (;;) {
        // SYNC seq_cst: after our waiters increment, pairs with the waker's seq_cst change of word.
        const std::uint32_t seen = word.load(std::memory_order_seq_cst);
        if (try_once())
            return true;
        if (deadline.expired())
            return false;
        const Deadline until =
            probe_period.count() == 0 ? deadline : deadline.earlier(Deadline::after(probe_period));
        if (futex_wait(word, seen, until) == FutexWait::timed_out && probe())
            return true;
    }
}

/// Blocks until try_once() succeeds (true) or the deadline passes (false).
/// Contract: whoever may make try_once() succeed changes `word` with a seq_cst operation and
/// then calls wake_waiters(word, waiters, n). `probe` runs after every `probe_period` parked
/// without a wake (zero: never) and may acquire on behalf of the caller (dead-owner recovery).
template <class Try, class Probe = NoProbe>
bool park_until(const std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& waiters,
                Try try_once, Deadline deadline, const WaitOptions& options, Probe probe = {},
                std::chrono::nanoseconds probe_period = {}) {
    const SpinResult spun = try_then_spin(try_once, deadline, options);
    if (spun != SpinResult::must_park)
        return spun == SpinResult::succeeded;
    return sleep_until(word, waiters, try_once, deadline, probe, probe_period);
}

} // namespace shmbus::detail

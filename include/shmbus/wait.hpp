// SPDX-License-Identifier: Apache-2.0
/// @file
/// How blocking calls wait. Every blocking call x exists in four forms: x() blocks without a
/// limit, x_for(duration) / x_until(time_point) block with one, try_x() never blocks. A
/// negative duration counts as zero and a deadline in the past means "try once". When the limit
/// passes, a form returning bool returns false and a form returning a value throws (Full /
/// Empty for a Queue, as in Python; Timeout otherwise). The try_ forms and the waits that
/// return bool are [[nodiscard]]. Where Python names the non-blocking question, that name is
/// kept (Event::is_set, AsyncResult::ready).
#pragma once

#include <chrono>
#include <cstdint>

namespace shmbus {

/// How a blocked call waits for another process (WaitOptions::policy).
enum class WaitPolicy : std::uint8_t {
    spin,   ///< busy-wait until the deadline: lowest latency, burns a core
    hybrid, ///< spin for WaitOptions::spin_for, then park on a futex (the default)
    block,  ///< park on a futex at once: no CPU spent, a wake-up costs a syscall round trip
};

/// Per-object wait policy. The default spin of 20 us is measured: on the reference 2-core VM
/// a parked futex round trip costs ~15 us while a peer that answers within ~20 us of spinning
/// gives the ~120 ns cache-line floor (docs/design/parking.md).
struct WaitOptions {
    /// Spin, park, or spin then park (the default).
    WaitPolicy policy = WaitPolicy::hybrid;
    /// With WaitPolicy::hybrid, how long to spin before parking.
    std::chrono::nanoseconds spin_for = std::chrono::microseconds(20);
};

/// The outcome of acquiring a lock: true when acquired; owner_died tells the new owner that
/// the previous owner process died holding it, so the data it guards may need repair.
struct AcquireResult {
    /// The lock is now held by the caller (false: a try or a time limit ran out).
    bool acquired = false;
    /// The previous holder died holding the lock; the caller holds it now.
    bool owner_died = false;
    /// `acquired`, so that `if (lock.acquire_for(1s))` reads naturally.
    explicit operator bool() const noexcept { return acquired; }
};

} // namespace shmbus

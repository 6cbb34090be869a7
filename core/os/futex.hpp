// SPDX-License-Identifier: Apache-2.0
// futex(2) on 32-bit words in shared memory. Never FUTEX_PRIVATE_FLAG: the kernel keys shared
// futexes by inode + offset, so waiters in processes that map the segment at other addresses
// are woken. std::atomic::wait/notify cannot be used: libstdc++ skips the wake syscall when its
// process-local waiter table is empty (docs/design/parking.md).
#pragma once

#include "shmbus/detail/deadline.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace shmbus::detail {

enum class FutexWait : std::uint8_t { woken, timed_out, value_changed, interrupted };

/// Parks until woken while `word` holds `expected`, or until the deadline.
FutexWait futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                     Deadline deadline);

/// The most words one futex_wait_any call parks on (FUTEX_WAITV_MAX).
inline constexpr std::size_t kMaxWaitWords = 128;

/// Parks until one of `words[i]` no longer holds `expected[i]` or is woken, or until the
/// deadline: futex_waitv(2), one sleep on many shared words. nullopt when the kernel lacks it
/// (before Linux 5.16) or there are more than kMaxWaitWords words.
std::optional<FutexWait> futex_wait_any(std::span<const std::atomic<std::uint32_t>* const> words,
                                        std::span<const std::uint32_t> expected, Deadline deadline);

/// Wakes up to `count` parked waiters; returns how many were woken.
int futex_wake(std::atomic<std::uint32_t>& word, int count);

/// Wakes parked waiters only when a waiter is registered, so a post nobody waits for costs no
/// syscall (~1.3 us here). The caller's change to `word` must be seq_cst (or be followed by a
/// seq_cst fence): it pairs with the waiter's seq_cst `waiters` increment before it re-reads
/// `word` (a Dekker pair: one of the two sides always sees the other).
inline void wake_waiters(std::atomic<std::uint32_t>& word,
                         const std::atomic<std::uint32_t>& waiters, int count) {
    // SYNC seq_cst: pairs with the seq_cst waiters.fetch_add in ParkScope.
    if (waiters.load(std::memory_order_seq_cst) != 0)
        futex_wake(word, count);
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
#include "os/futex.hpp"

#include <array>
#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmbus::detail {
namespace {

// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, which is what steady_clock reads
// on Linux, so a deadline never drifts however often the wait is interrupted.
timespec to_timespec(Deadline::Clock::time_point when) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    return ts;
}

std::uint32_t* word_address(const std::atomic<std::uint32_t>& word) {
    static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t),
                  "the futex word is the atomic's own 32 bits");
    return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

} // namespace

FutexWait futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                     Deadline deadline) {
    if (deadline.expired())
        return FutexWait::timed_out;
    timespec ts{};
    const timespec* timeout = nullptr;
    if (!deadline.is_never()) {
        ts = to_timespec(deadline.when());
        timeout = &ts;
    }
    const long rc = syscall(SYS_futex, word_address(word), FUTEX_WAIT_BITSET, expected, timeout,
                            nullptr, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0)
        return FutexWait::woken;
    switch (errno) {
    case ETIMEDOUT:
        return FutexWait::timed_out;
    case EAGAIN:
        return FutexWait::value_changed;
    default:
        return FutexWait::interrupted;
    }
}

std::optional<FutexWait> futex_wait_any(std::span<const std::atomic<std::uint32_t>* const> words,
                                        std::span<const std::uint32_t> expected,
                                        Deadline deadline) {
#ifdef SYS_futex_waitv
    if (words.size() > kMaxWaitWords || words.size() != expected.size())
        return std::nullopt;
    if (deadline.expired())
        return FutexWait::timed_out;
    std::array<futex_waitv, kMaxWaitWords> waiters{}; // __reserved must be 0
    for (std::size_t i = 0; i < words.size(); ++i) {
        waiters[i].val = expected[i];
        waiters[i].uaddr = reinterpret_cast<std::uintptr_t>(word_address(*words[i]));
        // Shared (no FUTEX_PRIVATE_FLAG), as futex_wait: the wakers are other processes.
        waiters[i].flags = FUTEX_32;
    }
    timespec ts{};
    const timespec* timeout = nullptr;
    if (!deadline.is_never()) {
        ts = to_timespec(deadline.when());
        timeout = &ts;
    }
    const long rc = syscall(SYS_futex_waitv, waiters.data(), static_cast<unsigned>(words.size()),
                            0U, timeout, CLOCK_MONOTONIC);
    if (rc >= 0)
        return FutexWait::woken;
    switch (errno) {
    case ENOSYS:
        return std::nullopt;
    case ETIMEDOUT:
        return FutexWait::timed_out;
    case EAGAIN:
        return FutexWait::value_changed;
    default:
        return FutexWait::interrupted;
    }
#else
    (void)words;
    (void)expected;
    (void)deadline;
    return std::nullopt;
#endif
}

int futex_wake(std::atomic<std::uint32_t>& word, int count) {
    const long rc = syscall(SYS_futex, word_address(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
    return rc < 0 ? 0 : static_cast<int>(rc);
}

} // namespace shmbus::detail

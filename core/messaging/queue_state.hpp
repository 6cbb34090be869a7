// SPDX-License-Identifier: Apache-2.0
// The state of a Queue / JoinableQueue in a segment: this struct, then the MPMC ring at
// ring_offset. Futex words sit on their own lines; each put and get reads the other side's
// waiter count (a read-mostly line: written only by a process that parks).
#pragma once

#include "ring/mpmc_ring.hpp"
#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "wait/notify.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

inline constexpr std::uint64_t kQueueStateMagic = 0x3155'4555'5153'4253ULL; // "SBSQUEU1"
inline constexpr std::uint32_t kQueueStateVersion = 3;

/// QueueState::shut_down bits: shutdown() was called; shutdown(immediate = true) was called.
inline constexpr std::uint32_t kShutDown = 1;
inline constexpr std::uint32_t kShutDownImmediate = 2;

struct alignas(kCacheLine) QueueState {
    // Immutable once initialised.
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t joinable;
    std::uint64_t maxsize; ///< 0: unbounded but for the ring
    std::uint64_t max_message_size;
    std::uint64_t ring_offset; ///< from the start of this struct
    std::uint64_t ring_bytes;
    /// kShutDown | kShutDownImmediate bits, set once by shutdown() before it closes the ring
    /// and never cleared (version 3). Read only once the ring reports closed, so it sits on
    /// this read-mostly line at no cost to put and get.
    std::atomic<std::uint32_t> shut_down;

    /// maxsize > 0: items that may still be put (a counting semaphore, never below 0).
    alignas(kCacheLine) std::atomic<std::int64_t> free_items;
    /// Getters park here: bumped after a put when a getter is registered.
    ParkingSpot items;
    /// Putters park here: bumped after a get when a putter is registered.
    ParkingSpot space;
    /// JoinableQueue: items put and not yet marked done; join parks on `done`.
    alignas(kCacheLine) std::atomic<std::uint64_t> unfinished;
    ParkingSpot done;
};

static_assert(offsetof(QueueState, shut_down) == 48,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(QueueState, free_items) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(QueueState, items) == 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(QueueState, space) == 3 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(QueueState, unfinished) == 4 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(QueueState, done) == 5 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(QueueState) == 6 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<std::int64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

/// Why the `size` bytes at `state` are not a Queue of this build, its ring included, or nullopt
/// (segment/state_ref.hpp). Whether it is joinable is the caller's to compare with its kind.
inline std::optional<std::string> validate(const QueueState& state, std::uint64_t size) {
    if (auto problem = stamp_problem("queue", state.magic, kQueueStateMagic, state.version,
                                     kQueueStateVersion))
        return problem;
    if (state.joinable > 1)
        return "queue state: joinable is " + std::to_string(state.joinable);
    // relaxed is enough: a validity check of bits that are only ever added.
    const std::uint32_t shut_down = state.shut_down.load(std::memory_order_relaxed);
    if ((shut_down & ~(kShutDown | kShutDownImmediate)) != 0)
        return "queue state: shut_down is " + std::to_string(shut_down);
    if (state.ring_offset != sizeof(QueueState) || state.ring_bytes > size - sizeof(QueueState))
        return "queue state: its ring lies outside the object";
    const auto& ring = *reinterpret_cast<const MpmcRingHeader*>(
        reinterpret_cast<const char*>(&state) + state.ring_offset);
    if (auto problem = state_problem<MpmcRingHeader>(&ring, state.ring_bytes))
        return problem;
    if (state.max_message_size > MpmcRing::max_frame_for(ring.slot_count))
        return "queue state: max_message_size " + std::to_string(state.max_message_size) +
               " exceeds its ring";
    return std::nullopt;
}

} // namespace shmbus::detail

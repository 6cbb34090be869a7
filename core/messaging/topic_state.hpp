// SPDX-License-Identifier: Apache-2.0
// The state of a Topic in a segment: a broadcast ring of fixed-size slots that every subscriber
// reads at its own cursor (docs/design/topics.md has the protocol and its memory ordering).
//
//   TopicState              geometry (line 0), publish counter `next` (line 1), parking (2, 3)
//   TopicPublisher[P]       one line per publisher handle: owner, the position it is claiming
//   TopicSubscriber[S]      one line per subscriber handle: owner, cursor, counters
//   TopicSlot[capacity]     a header line (sequence word, size) then slot_stride - 64 bytes of
//                           payload, so every payload starts on a 64-byte boundary
//
// A slot's sequence word is `position << 2 | mark`: mark 1 while the publisher of `position`
// writes it, 2 once published, 3 when its publisher died while writing (aborted: subscribers
// skip it). 0 is a slot never written.
#pragma once

#include "os/owner.hpp"
#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "wait/notify.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

inline constexpr std::uint64_t kTopicStateMagic = 0x3143'4950'4f54'4253ULL; // "SBSTOPC1"
inline constexpr std::uint32_t kTopicStateVersion = 2;

/// Bounds on the tables, so that a corrupt header cannot make a scan run for ages.
inline constexpr std::uint32_t kMaxTopicHandles = 4096;
inline constexpr std::uint64_t kMaxTopicCapacity = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kMaxTopicMessageSize = std::uint64_t{1} << 30;

inline constexpr std::uint64_t kSlotWriting = 1;
inline constexpr std::uint64_t kSlotPublished = 2;
inline constexpr std::uint64_t kSlotAborted = 3;
inline constexpr std::uint64_t kSlotMarkMask = 3;

/// A slot's sequence word for `position` with `mark`.
constexpr std::uint64_t slot_sequence(std::uint64_t position, std::uint64_t mark) {
    return position << 2 | mark;
}

/// Whether a slot whose sequence reads `seen` may take the message at `position`: it was
/// never written (first lap) or holds the finished message one lap earlier.
constexpr bool slot_reusable(std::uint64_t seen, std::uint64_t position, std::uint64_t capacity) {
    if (position < capacity)
        return seen == 0;
    return seen >> 2 == position - capacity && (seen & kSlotMarkMask) >= kSlotPublished;
}

/// The seqlock's fences (docs/design/topics.md). GCC refuses atomic_thread_fence under TSan,
/// which does not model fences; TSan builds run on x86-64, where a release or acquire fence is
/// only a compiler barrier, which atomic_signal_fence keeps. (Threads in one process under TSan
/// order payloads through the sequence and cursor release/acquire pairs, not these fences.)
inline void seqlock_fence(std::memory_order order) {
#ifdef SHMBUS_TSAN
    std::atomic_signal_fence(order);
#else
    std::atomic_thread_fence(order);
#endif
}

/// A publisher lease's `claiming` when it claims nothing.
inline constexpr std::uint64_t kNotClaiming = UINT64_MAX;
/// A subscriber entry's `cursor` that publishers ignore (free, or a subscriber still joining).
inline constexpr std::uint64_t kNoCursor = UINT64_MAX;
/// An owner word held for the moment a recoverer frees a dead handle's entry.
inline constexpr OwnerId kReclaimingOwner = 1;

enum class TopicPolicy : std::uint32_t { block = 0, overwrite = 1 };

struct alignas(kCacheLine) TopicState {
    // Immutable once initialised.
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t policy;      ///< TopicPolicy
    std::uint64_t capacity;    ///< slots, a power of two
    std::uint64_t slot_stride; ///< bytes per slot: the header line and the payload
    std::uint64_t max_message_size;
    std::uint64_t history; ///< messages a late subscriber starts with, at most capacity
    std::uint16_t max_publishers;
    std::uint16_t max_subscribers;
    /// 1 when publishers and subscribers wake each other without a fence and a waiter about
    /// to sleep issues heavy_barrier() instead (wait/notify.hpp: notify_without_fence).
    std::uint32_t fence_free_wakers;
    std::uint64_t slots_offset; ///< from the start of this struct

    /// The next position to claim: positions below it are claimed (published, being written or
    /// aborted). Written by publishers only.
    alignas(kCacheLine) std::atomic<std::uint64_t> next;
    /// Subscribers that joined so far: a publisher under `block` rescans the cursors when it
    /// changed. On next's line, which publishers read anyway.
    std::atomic<std::uint64_t> joins;
    /// Subscribers park here: bumped after a publish when a subscriber is registered.
    ParkingSpot items;
    /// Publishers park here under `block`: bumped after a read when a publisher is registered.
    ParkingSpot space;
};

struct alignas(kCacheLine) TopicPublisher {
    std::atomic<OwnerId> owner; ///< the process holding this lease; 0 when free
    /// The position this publisher is claiming or writing, stored before its claim: a
    /// recoverer aborts the slot of a dead publisher's claim.
    std::atomic<std::uint64_t> claiming;
    std::atomic<std::uint64_t> published; ///< messages it published (for display)
};

struct alignas(kCacheLine) TopicSubscriber {
    std::atomic<OwnerId> owner; ///< the subscribing process; 0 when free
    /// The next position it reads; publishers under `block` never overwrite it.
    std::atomic<std::uint64_t> cursor;
    std::atomic<std::uint64_t> received; ///< messages it read (for display)
    std::atomic<std::uint64_t> dropped;  ///< messages overwritten before it read them
};

struct alignas(kCacheLine) TopicSlotHeader {
    std::atomic<std::uint64_t> sequence; ///< slot_sequence(position, mark), see the top
    std::atomic<std::uint64_t> size;     ///< payload bytes of the message
};

static_assert(offsetof(TopicState, next) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(TopicState, items) == 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(TopicState) == 4 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(TopicPublisher) == kCacheLine && sizeof(TopicSubscriber) == kCacheLine &&
                  sizeof(TopicSlotHeader) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");

/// Where the slots start for tables of `publishers` + `subscribers` entries.
constexpr std::uint64_t topic_slots_offset(std::uint64_t publishers, std::uint64_t subscribers) {
    return sizeof(TopicState) + (publishers + subscribers) * kCacheLine;
}

/// Why the `size` bytes at `state` are not a Topic of this build, or nullopt
/// (segment/state_ref.hpp).
inline std::optional<std::string> validate(const TopicState& state, std::uint64_t size) {
    if (auto problem = stamp_problem("topic", state.magic, kTopicStateMagic, state.version,
                                     kTopicStateVersion))
        return problem;
    if (state.policy > static_cast<std::uint32_t>(TopicPolicy::overwrite))
        return "topic state: policy is " + std::to_string(state.policy);
    if (state.capacity < 2 || state.capacity > kMaxTopicCapacity ||
        (state.capacity & (state.capacity - 1)) != 0)
        return "topic state: capacity " + std::to_string(state.capacity) +
               " is not a power of two in [2, 2^32]";
    if (state.history > state.capacity)
        return "topic state: history " + std::to_string(state.history) + " exceeds capacity";
    if (state.slot_stride < 2 * kCacheLine || state.slot_stride % kCacheLine != 0 ||
        state.slot_stride > kMaxTopicMessageSize + kCacheLine ||
        state.max_message_size > state.slot_stride - kCacheLine)
        return "topic state: slots of " + std::to_string(state.slot_stride) +
               " bytes cannot hold messages of " + std::to_string(state.max_message_size);
    if (state.fence_free_wakers > 1)
        return "topic state: fence_free_wakers is " + std::to_string(state.fence_free_wakers);
    if (state.max_publishers == 0 || state.max_publishers > kMaxTopicHandles ||
        state.max_subscribers == 0 || state.max_subscribers > kMaxTopicHandles)
        return "topic state: tables of " + std::to_string(state.max_publishers) +
               " publishers and " + std::to_string(state.max_subscribers) + " subscribers";
    if (state.slots_offset != topic_slots_offset(state.max_publishers, state.max_subscribers))
        return std::string("topic state: its slots do not follow its tables");
    // Both factors are bounded above, so the product cannot overflow.
    if (state.slots_offset > size || state.capacity * state.slot_stride > size - state.slots_offset)
        return "topic state: " + std::to_string(state.capacity) + " slots of " +
               std::to_string(state.slot_stride) + " bytes lie outside the object";
    return std::nullopt;
}

/// The tables and slots of a state that validate() accepted.
class TopicLayout {
public:
    explicit TopicLayout(TopicState& state) : m_state(&state) {}

    TopicState& state() const { return *m_state; }
    TopicPublisher& publisher(std::uint32_t index) const {
        return reinterpret_cast<TopicPublisher*>(m_state + 1)[index];
    }
    TopicSubscriber& subscriber(std::uint32_t index) const {
        return reinterpret_cast<TopicSubscriber*>(m_state + 1)[m_state->max_publishers + index];
    }
    TopicSlotHeader& slot(std::uint64_t position) const {
        const std::uint64_t index = position & (m_state->capacity - 1);
        return *reinterpret_cast<TopicSlotHeader*>(reinterpret_cast<char*>(m_state) +
                                                   m_state->slots_offset +
                                                   index * m_state->slot_stride);
    }
    static std::byte* payload(TopicSlotHeader& slot) {
        return reinterpret_cast<std::byte*>(&slot + 1);
    }
    /// Payload bytes a slot holds.
    std::uint64_t room() const { return m_state->slot_stride - kCacheLine; }

private:
    TopicState* m_state;
};

} // namespace shmbus::detail

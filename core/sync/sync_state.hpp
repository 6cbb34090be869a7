// SPDX-License-Identifier: Apache-2.0
// Shared-memory state of the synchronisation primitives. These structs are the layout: the
// library and tools (held / owner / value / set / waiting) decode them only through this header.
// Every field another process may read while the object is in use is an atomic, so a racy read
// is merely stale, never undefined. Immutable fields are written before the directory entry is
// published (attach_object's release) and never change after.
#pragma once

#include "os/owner.hpp"
#include "os/robust_mutex.hpp"
#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/object_kind.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <type_traits>

namespace shmbus::detail {

// Each state ends with its stamp (segment/state_ref.hpp), set by its default member
// initialisers: the futex words keep their places at the start, and the stamp fits in the room
// the pinned sizes leave. RLockState has none: its robust mutex and owner fields fill its one
// cache line, and a stamp would double it (and every Condition and Value that embeds or brings
// one); an RLock relies on its directory entry's kind and size alone.
inline constexpr std::uint64_t kLockStateMagic = 0x314b'434f'4c53'4253ULL; // "SBSLOCK1"
inline constexpr std::uint32_t kLockStateVersion = 1;
inline constexpr std::uint64_t kSemaphoreStateMagic = 0x3141'4d45'5353'4253ULL; // "SBSSEMA1"
inline constexpr std::uint32_t kSemaphoreStateVersion = 1;
inline constexpr std::uint64_t kEventStateMagic = 0x3154'4e56'4553'4253ULL; // "SBSEVNT1"
inline constexpr std::uint32_t kEventStateVersion = 1;
inline constexpr std::uint64_t kConditionStateMagic = 0x3144'4e4f'4353'4253ULL; // "SBSCOND1"
inline constexpr std::uint32_t kConditionStateVersion = 1;
inline constexpr std::uint64_t kBarrierStateMagic = 0x3152'5241'4253'4253ULL; // "SBSBARR1"
inline constexpr std::uint32_t kBarrierStateVersion = 1;

// ---- Lock -------------------------------------------------------------------------------------

struct alignas(kCacheLine) LockState {
    /// The holder's pid, 0 when free; the futex word.
    std::atomic<std::uint32_t> word;
    /// Processes parked on `word` (not those still spinning).
    std::atomic<std::uint32_t> waiters;
    /// The holding process (this_process_owner()), kNoOwner while unknown (between the CAS and
    /// its store, or cleared by release). Advisory: guards against pid reuse; `word` alone
    /// decides ownership.
    std::atomic<OwnerId> owner;
    /// How often the lock was taken over from a dead owner.
    std::atomic<std::uint32_t> recoveries;
    std::uint64_t magic = kLockStateMagic;
    std::uint32_t version = kLockStateVersion;
};

// ---- RLock ------------------------------------------------------------------------------------

struct alignas(kCacheLine) RLockState {
    RobustMutex mutex;
    /// The holding thread (this_thread_owner()), kNoOwner when free, and its process's pid,
    /// which only tools read. Written only by the holder, under the mutex.
    std::atomic<OwnerId> owner;
    std::atomic<std::int32_t> owner_pid;
    /// Recursion depth of the holder.
    std::atomic<std::uint32_t> count;
    /// How often the mutex was acquired with EOWNERDEAD.
    std::atomic<std::uint32_t> recoveries;
};

/// Whether the process whose pid is in a Lock's `word` still runs. The `owner` record guards
/// against pid reuse only when it names that pid (a holder that died between its CAS and its
/// record left an older one, or none).
bool lock_holder_alive(std::uint32_t word, OwnerId owner);

/// Initialises an RLockState in place (the pthread mutex needs its attributes set).
inline void init_rlock_state(void* address) {
    new (address) RLockState{};
    static_cast<RLockState*>(address)->mutex.init();
}

// ---- Semaphore, BoundedSemaphore --------------------------------------------------------------

/// SEM_VALUE_MAX: the largest value a Semaphore may reach.
inline constexpr std::uint32_t kSemaphoreMax = 0x7fff'ffff;

struct alignas(kCacheLine) SemaphoreState {
    /// The value; the futex word.
    std::atomic<std::uint32_t> count;
    /// Processes parked on `count`.
    std::atomic<std::uint32_t> waiters;
    /// Immutable. release() never lifts count above it: the initial value for a
    /// BoundedSemaphore, kSemaphoreMax for a Semaphore.
    std::uint32_t bound;
    /// Immutable: the value given at creation.
    std::uint32_t initial;
    std::uint64_t magic = kSemaphoreStateMagic;
    std::uint32_t version = kSemaphoreStateVersion;
};

// ---- Event ------------------------------------------------------------------------------------

inline constexpr std::uint32_t kEventSetBit = 1;

struct alignas(kCacheLine) EventState {
    /// Bit 0: the flag. Bits 1-31: how many times it went from clear to set (mod 2^31), so a
    /// waiter woken by set() returns true even when clear() came first. The futex word.
    std::atomic<std::uint32_t> word;
    /// Processes parked on `word`.
    std::atomic<std::uint32_t> waiters;
    std::uint64_t magic = kEventStateMagic;
    std::uint32_t version = kEventStateVersion;
};

// ---- Condition --------------------------------------------------------------------------------

struct alignas(kCacheLine) ConditionState {
    /// Bumped by every notify (under the lock); the futex word waiters park on.
    std::atomic<std::uint32_t> sequence;
    /// Processes parked on `sequence`.
    std::atomic<std::uint32_t> waiters;
    /// Immutable: ObjectKind::lock or ObjectKind::rlock.
    ObjectKind lock_kind;
    std::uint32_t reserved;
    /// Immutable: 0 means own_lock below; otherwise the offset of a directory entry of
    /// lock_kind in the same segment (0 is the segment header, never an object).
    std::uint64_t lock_offset;
    std::uint64_t magic = kConditionStateMagic;
    std::uint32_t version = kConditionStateVersion;
    /// The RLock of a Condition made without a lock of its own choosing.
    RLockState own_lock;
};

// ---- Barrier ----------------------------------------------------------------------------------

/// How many breaks a waiter may sleep through and still tell whether its own generation was
/// released or broken (a break needs a reset() before the barrier can be used again).
inline constexpr std::uint32_t kBreakHistory = 8;

struct alignas(kCacheLine) BarrierState {
    /// Guards every field below except the atomics' racy reads by tools and waiters.
    RobustMutex mutex;
    /// Bumped when a generation ends, released or broken; the futex word.
    std::atomic<std::uint32_t> generation;
    /// Processes parked on `generation`.
    std::atomic<std::uint32_t> waiters;
    /// Immutable: the number of parties.
    std::uint32_t parties;
    /// Parties arrived in the current generation.
    std::atomic<std::uint32_t> count;
    /// 1 while broken (until reset()).
    std::atomic<std::uint32_t> broken;
    /// Breaks so far; break n ended generation broken_generation[n % kBreakHistory].
    std::atomic<std::uint32_t> breaks;
    std::atomic<std::uint32_t> broken_generation[kBreakHistory];
    std::uint64_t magic = kBarrierStateMagic;
    std::uint32_t version = kBarrierStateVersion;
    /// The thread (this_thread_owner()) running the barrier's action, holding `mutex` while
    /// it does; kNoOwner otherwise. It sits in what was tail padding (zero in a Barrier made
    /// before actions existed, which reads as "no action running"), so the layout version
    /// stays.
    std::atomic<OwnerId> acting;
};

template <class State>
constexpr bool kValidSyncState = std::is_standard_layout_v<State> && alignof(State) == kCacheLine &&
                                 sizeof(State) % kCacheLine == 0;

static_assert(kValidSyncState<LockState> && sizeof(LockState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kValidSyncState<RLockState> && sizeof(RLockState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kValidSyncState<SemaphoreState> && sizeof(SemaphoreState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kValidSyncState<EventState> && sizeof(EventState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kValidSyncState<ConditionState> && offsetof(ConditionState, own_lock) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(kValidSyncState<BarrierState> && sizeof(BarrierState) <= 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(LockState, word) == 0 && offsetof(LockState, owner) == 8,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SemaphoreState, count) == 0 && offsetof(SemaphoreState, bound) == 8,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(ConditionState, lock_offset) == 16,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(LockState, magic) == 24 && offsetof(SemaphoreState, magic) == 16 &&
                  offsetof(EventState, magic) == 8 && offsetof(ConditionState, magic) == 24 &&
                  offsetof(BarrierState, magic) == 96 && offsetof(BarrierState, acting) == 112,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<std::int32_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

// ---- validation (segment/state_ref.hpp) -------------------------------------------------------

/// Why the `size` bytes at `state` are not a Lock of this build, or nullopt.
inline std::optional<std::string> validate(const LockState& state, std::uint64_t /*size*/) {
    return stamp_problem("lock", state.magic, kLockStateMagic, state.version, kLockStateVersion);
}

/// Why the `size` bytes at `state` are not a Semaphore or BoundedSemaphore of this build, or
/// nullopt.
inline std::optional<std::string> validate(const SemaphoreState& state, std::uint64_t /*size*/) {
    if (auto problem = stamp_problem("semaphore", state.magic, kSemaphoreStateMagic, state.version,
                                     kSemaphoreStateVersion))
        return problem;
    if (state.bound > kSemaphoreMax)
        return "semaphore state: bound " + std::to_string(state.bound) + " exceeds " +
               std::to_string(kSemaphoreMax);
    return std::nullopt;
}

/// Why the `size` bytes at `state` are not an Event of this build, or nullopt.
inline std::optional<std::string> validate(const EventState& state, std::uint64_t /*size*/) {
    return stamp_problem("event", state.magic, kEventStateMagic, state.version, kEventStateVersion);
}

/// Why the `size` bytes at `state` are not a Condition of this build, or nullopt. Its lock,
/// its own RLock (no stamp) or a Lock elsewhere (validated when opened), is not checked here.
inline std::optional<std::string> validate(const ConditionState& state, std::uint64_t /*size*/) {
    if (auto problem = stamp_problem("condition", state.magic, kConditionStateMagic, state.version,
                                     kConditionStateVersion))
        return problem;
    if (state.lock_kind != ObjectKind::lock && state.lock_kind != ObjectKind::rlock)
        return "condition state: names a lock of kind " +
               std::to_string(static_cast<std::uint32_t>(state.lock_kind));
    return std::nullopt;
}

/// Why the `size` bytes at `state` are not a Barrier of this build, or nullopt.
inline std::optional<std::string> validate(const BarrierState& state, std::uint64_t /*size*/) {
    if (auto problem = stamp_problem("barrier", state.magic, kBarrierStateMagic, state.version,
                                     kBarrierStateVersion))
        return problem;
    if (state.parties == 0)
        return std::string("barrier state: no parties");
    return std::nullopt;
}

} // namespace shmbus::detail

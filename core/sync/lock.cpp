// SPDX-License-Identifier: Apache-2.0
// Lock: an owner-pid futex word (rationale at the top of include/shmbus/lock.hpp).
#include "shmbus/lock.hpp"

#include "os/liveness.hpp"
#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

namespace shmbus {
namespace {

using detail::LockState;

std::uint32_t self_pid() {
    return static_cast<std::uint32_t>(detail::self_identity().pid);
}

void record_owner(LockState& state) {
    // relaxed is enough: the record is advisory and carries its own pid, so a prober checks it
    // against `word` instead of relying on ordering.
    state.owner.store(detail::this_process_owner(), std::memory_order_relaxed);
}

bool try_take(LockState& state) {
    // relaxed is enough: a stale non-zero only skips this round; the CAS decides.
    if (state.word.load(std::memory_order_relaxed) != 0)
        return false;
    std::uint32_t expected = 0;
    // SYNC acquire: pairs with the seq_cst exchange in Lock::release, so the critical section
    // of the previous holder happens before ours; failure relaxed: nothing was taken.
    if (!state.word.compare_exchange_strong(expected, self_pid(), std::memory_order_acquire,
                                            std::memory_order_relaxed))
        return false;
    record_owner(state);
    return true;
}

bool holder_alive(const LockState& state, std::uint32_t pid) {
    // relaxed is enough: lock_holder_alive checks the record against `pid`, not its order.
    return detail::lock_holder_alive(pid, state.owner.load(std::memory_order_relaxed));
}

bool take_from_dead_holder(LockState& state) {
    // relaxed is enough: the CAS below only succeeds if `word` still holds this value.
    std::uint32_t pid = state.word.load(std::memory_order_relaxed);
    if (pid == 0 || holder_alive(state, pid))
        return false;
    // SYNC acquire: pairs with whatever the dead holder published before dying (its own
    // acquire CAS at least); failure relaxed: the lock changed hands, so its holder is alive.
    if (!state.word.compare_exchange_strong(pid, self_pid(), std::memory_order_acquire,
                                            std::memory_order_relaxed))
        return false;
    record_owner(state);
    // relaxed is enough: a statistic for tools.
    state.recoveries.fetch_add(1, std::memory_order_relaxed);
    return true;
}

detail::ObjectSpec lock_spec() {
    return {ObjectKind::lock, sizeof(LockState), alignof(LockState), 0};
}

} // namespace

namespace detail {

bool lock_holder_alive(std::uint32_t word, OwnerId owner) {
    const auto pid = static_cast<std::int32_t>(word);
    return owner_tid(owner) == pid ? owner_alive(owner) : process_alive(pid, 0);
}

} // namespace detail

Lock::Lock() : Lock(Segment::default_segment(), "", detail::OpenMode::open_or_create) {}

Lock::Lock(const Segment& segment, std::string_view name)
    : Lock(segment, name, detail::OpenMode::open_or_create) {}

Lock::Lock(const Segment& segment, std::string_view name, detail::OpenMode mode)
    : m_object(detail::validated<LockState>(detail::attach_object(
          segment, name, lock_spec(), mode, [](void* state) { new (state) LockState{}; }))) {}

Lock Lock::create(const Segment& segment, std::string_view name) {
    return Lock(segment, name, detail::OpenMode::create);
}

Lock Lock::open(const Segment& segment, std::string_view name) {
    return Lock(segment, name, detail::OpenMode::open);
}

AcquireResult Lock::try_acquire() {
    return {try_take(m_object.state<LockState>()), false};
}

AcquireResult Lock::acquire() {
    return acquire_by(detail::Deadline::never());
}

AcquireResult Lock::acquire_by(detail::Deadline deadline) {
    LockState& state = m_object.state<LockState>();
    if (deadline.expired())
        return {try_take(state), false};
    bool took_over = false;
    const auto try_once = [&state] { return try_take(state); };
    const bool acquired = detail::park_until(state.word, state.waiters, try_once, deadline,
                                             m_options, detail::probe_every(kOwnerProbePeriod, [&] {
                                                 return took_over = take_from_dead_holder(state);
                                             }));
    return {acquired, acquired && took_over};
}

void Lock::release() {
    LockState& state = m_object.state<LockState>();
    // relaxed is enough: rejects the common misuse early; the exchange below decides.
    if (state.word.load(std::memory_order_relaxed) == 0)
        throw UsageError("release of an unlocked Lock");
    // relaxed is enough: published by the exchange below, which is a release.
    state.owner.store(0, std::memory_order_relaxed);
    // SYNC seq_cst: releases the critical section (pairs with the acquire CAS in try_take) and
    // is the store half of the Dekker pair with ParkScope that wake_waiters relies on.
    if (state.word.exchange(0, std::memory_order_seq_cst) == 0)
        throw UsageError("release of an unlocked Lock (released concurrently elsewhere)");
    detail::wake_waiters(state.word, state.waiters, 1);
}

bool Lock::locked() const {
    // relaxed is enough: a snapshot, stale as soon as it is returned.
    return m_object.state<LockState>().word.load(std::memory_order_relaxed) != 0;
}

bool Lock::held_by_this_process() const {
    // relaxed is enough: only this process stores its own pid, and it does so before asking.
    return m_object.state<LockState>().word.load(std::memory_order_relaxed) == self_pid();
}

} // namespace shmbus

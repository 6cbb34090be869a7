// SPDX-License-Identifier: Apache-2.0
// Condition: a notify sequence futex word, over an RLock embedded in its state or over a Lock /
// RLock found by offset in the same segment.
#include "shmbus/condition.hpp"

#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>

namespace shmbus {
namespace {

using detail::ConditionState;

detail::ObjectSpec condition_spec() {
    return {ObjectKind::condition, sizeof(ConditionState), alignof(ConditionState), 0};
}

// Segments are named uniquely on the host, so equal names mean the same segment.
void check_same_segment(const Segment& segment, const detail::ObjectRef& lock) {
    if (lock.segment().name() != segment.name())
        throw UsageError("a Condition's lock must live in the Condition's segment ('" +
                         segment.name() + "', not '" + lock.segment().name() + "')");
}

} // namespace

Condition::Condition()
    : Condition(Segment::default_segment(), "", detail::OpenMode::open_or_create, std::nullopt) {}

Condition::Condition(const Segment& segment, std::string_view name)
    : Condition(segment, name, detail::OpenMode::open_or_create, std::nullopt) {}

Condition Condition::create(const Segment& segment, std::string_view name) {
    return Condition(segment, name, detail::OpenMode::create, std::nullopt);
}

Condition Condition::open(const Segment& segment, std::string_view name) {
    return Condition(segment, name, detail::OpenMode::open, std::nullopt);
}

Condition::Condition(const Segment& segment, std::string_view name, detail::OpenMode mode,
                     const std::optional<AnyLock>& lock)
    : m_object(attach(segment, name, mode, lock)), m_lock(lock_of(m_object, lock)) {}

const detail::ObjectRef& Condition::object_of(const AnyLock& lock) {
    return std::visit([](const auto& any) -> const detail::ObjectRef& { return any.m_object; },
                      lock);
}

detail::ObjectRef Condition::attach(const Segment& segment, std::string_view name,
                                    detail::OpenMode mode, const std::optional<AnyLock>& lock) {
    if (lock)
        check_same_segment(segment, object_of(*lock));
    return detail::validated<ConditionState>(
        detail::attach_object(segment, name, condition_spec(), mode, [&](void* address) {
            auto* state = new (address) ConditionState{};
            if (lock) {
                state->lock_kind =
                    std::holds_alternative<Lock>(*lock) ? ObjectKind::lock : ObjectKind::rlock;
                state->lock_offset = object_of(*lock).offset();
            } else {
                state->lock_kind = ObjectKind::rlock;
                detail::init_rlock_state(&state->own_lock);
            }
        }));
}

Condition::AnyLock Condition::lock_of(const detail::ObjectRef& condition,
                                      const std::optional<AnyLock>& given) {
    // attach() validated the state: lock_kind is lock or rlock.
    ConditionState& state = condition.state<ConditionState>();
    if (given && object_of(*given).offset() != state.lock_offset)
        throw KindMismatch("the condition exists over another lock");
    if (given)
        return *given;
    const Segment& segment = condition.segment();
    if (state.lock_offset == 0) {
        return RLock(detail::ObjectRef(segment, &state.own_lock,
                                       condition.offset() + offsetof(ConditionState, own_lock),
                                       sizeof(detail::RLockState), false));
    }
    detail::ObjectRef lock = detail::object_at(segment, state.lock_offset, state.lock_kind);
    if (state.lock_kind == ObjectKind::lock)
        return Lock(detail::validated<detail::LockState>(std::move(lock)));
    return RLock(std::move(lock));
}

AcquireResult Condition::try_acquire() {
    return std::visit([](auto& lock) { return lock.try_acquire(); }, m_lock);
}

AcquireResult Condition::acquire() {
    return std::visit([](auto& lock) { return lock.acquire(); }, m_lock);
}

AcquireResult Condition::acquire_by(detail::Deadline deadline) {
    return std::visit([deadline](auto& lock) { return lock.acquire_by(deadline); }, m_lock);
}

void Condition::release() {
    std::visit([](auto& lock) { lock.release(); }, m_lock);
}

void Condition::check_owned(const char* what) const {
    const bool owned = std::holds_alternative<Lock>(m_lock)
                           ? std::get<Lock>(m_lock).held_by_this_process()
                           : std::get<RLock>(m_lock).owned_by_caller();
    if (!owned)
        throw UsageError(std::string("Condition::") + what + " without holding the lock");
}

std::uint32_t Condition::release_lock() {
    if (auto* rlock = std::get_if<RLock>(&m_lock))
        return rlock->release_save();
    std::get<Lock>(m_lock).release();
    return 1;
}

void Condition::restore_lock(std::uint32_t saved) {
    if (auto* rlock = std::get_if<RLock>(&m_lock))
        rlock->restore(saved);
    else
        std::get<Lock>(m_lock).acquire();
}

void Condition::wait() {
    wait_by(detail::Deadline::never());
}

bool Condition::wait_by(detail::Deadline deadline) {
    check_owned("wait");
    ConditionState& state = m_object.state<ConditionState>();
    // relaxed is enough: notify() bumps the sequence only under the lock, which we hold.
    const std::uint32_t seen = state.sequence.load(std::memory_order_relaxed);
    const std::uint32_t saved = release_lock();
    const auto notified = [&state, seen] {
        // SYNC acquire: pairs with the seq_cst fetch_add in notify().
        return state.sequence.load(std::memory_order_acquire) != seen;
    };
    const bool woken =
        detail::park_until(state.sequence, state.waiters, notified, deadline, m_options);
    restore_lock(saved);
    return woken;
}

void Condition::notify(unsigned n) {
    check_owned("notify");
    ConditionState& state = m_object.state<ConditionState>();
    // SYNC seq_cst: the store half of the Dekker pair wake_waiters relies on; waiters see the
    // notifier's writes through the lock they take back.
    state.sequence.fetch_add(1, std::memory_order_seq_cst);
    detail::wake_waiters(state.sequence, state.waiters, static_cast<int>(std::min(n, 0x7fffffffU)));
}

void Condition::notify_all() {
    notify(INT_MAX);
}

} // namespace shmbus

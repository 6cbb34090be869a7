// SPDX-License-Identifier: Apache-2.0
// RLock: a robust process-shared pthread mutex plus the owner's identity and recursion count.
#include "os/liveness.hpp"
#include "os/owner.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/lock.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

namespace shmbus {
namespace {

using detail::RLockState;

// relaxed is enough for the owner fields: they are written only by the owner, under the
// mutex, and others read them only to answer "is it me?". A thread sees its own identity there
// only if it wrote it itself (program order), so a stale value never answers wrongly.
bool is_caller(const RLockState& state) {
    return state.owner.load(std::memory_order_relaxed) == detail::this_thread_owner();
}

void become_owner(RLockState& state, bool owner_died) {
    // relaxed is enough: see is_caller; the pthread lock before this is the acquire.
    state.owner.store(detail::this_thread_owner(), std::memory_order_relaxed);
    state.owner_pid.store(detail::self_identity().pid, std::memory_order_relaxed);
    state.count.store(1, std::memory_order_relaxed);
    if (owner_died)
        // relaxed is enough: a statistic for tools.
        state.recoveries.fetch_add(1, std::memory_order_relaxed);
}

void give_up_ownership(RLockState& state) {
    // relaxed is enough: see is_caller; the pthread unlock below is the release.
    state.count.store(0, std::memory_order_relaxed);
    state.owner.store(detail::kNoOwner, std::memory_order_relaxed);
    state.owner_pid.store(0, std::memory_order_relaxed);
    state.mutex.unlock();
}

// The spin phase retries a try-lock: glibc's robust mutex goes to the kernel at once.
AcquireResult lock_mutex(detail::RobustMutex& mutex, detail::Deadline deadline,
                         const WaitOptions& options) {
    AcquireResult result = mutex.lock_until(detail::Deadline::immediate());
    if (result || deadline.expired())
        return result;
    auto try_once = [&] {
        return (result = mutex.lock_until(detail::Deadline::immediate())).acquired;
    };
    if (options.policy != WaitPolicy::block &&
        detail::spin_until(try_once, detail::spin_end(deadline, options)))
        return result;
    if (options.policy == WaitPolicy::spin)
        return {false, false};
    return mutex.lock_until(deadline);
}

detail::ObjectSpec rlock_spec() {
    return {ObjectKind::rlock, sizeof(RLockState), alignof(RLockState), 0};
}

} // namespace

RLock::RLock() : RLock(Segment::default_segment(), "", detail::OpenMode::open_or_create) {}

RLock::RLock(const Segment& segment, std::string_view name)
    : RLock(segment, name, detail::OpenMode::open_or_create) {}

RLock::RLock(const Segment& segment, std::string_view name, detail::OpenMode mode)
    : m_object(detail::attach_object(segment, name, rlock_spec(), mode,
                                     [](void* state) { detail::init_rlock_state(state); })) {}

RLock RLock::create(const Segment& segment, std::string_view name) {
    return RLock(segment, name, detail::OpenMode::create);
}

RLock RLock::open(const Segment& segment, std::string_view name) {
    return RLock(segment, name, detail::OpenMode::open);
}

AcquireResult RLock::try_acquire() {
    return acquire_by(detail::Deadline::immediate());
}

AcquireResult RLock::acquire() {
    return acquire_by(detail::Deadline::never());
}

AcquireResult RLock::acquire_by(detail::Deadline deadline) {
    RLockState& state = m_object.state<RLockState>();
    if (is_caller(state)) {
        // relaxed is enough: only the owner touches count while it holds the mutex.
        state.count.fetch_add(1, std::memory_order_relaxed);
        return {true, false};
    }
    const AcquireResult result = lock_mutex(state.mutex, deadline, m_options);
    if (result)
        become_owner(state, result.owner_died);
    return result;
}

void RLock::release() {
    RLockState& state = m_object.state<RLockState>();
    if (!is_caller(state))
        // relaxed is enough: only picks the message.
        throw UsageError(state.owner.load(std::memory_order_relaxed) == detail::kNoOwner
                             ? "release of an unlocked RLock"
                             : "RLock released by a thread or process that does not own it");
    // relaxed is enough: only the owner touches count while it holds the mutex.
    if (state.count.fetch_sub(1, std::memory_order_relaxed) > 1)
        return;
    give_up_ownership(state);
}

bool RLock::locked() const {
    // relaxed is enough: a snapshot, stale as soon as it is returned (see is_caller).
    return m_object.state<RLockState>().owner.load(std::memory_order_relaxed) != detail::kNoOwner;
}

bool RLock::owned_by_caller() const {
    return is_caller(m_object.state<RLockState>());
}

std::uint32_t RLock::release_save() {
    RLockState& state = m_object.state<RLockState>();
    if (!is_caller(state))
        throw UsageError("Condition used without holding its lock");
    // relaxed is enough: only the owner touches count while it holds the mutex.
    const std::uint32_t saved = state.count.load(std::memory_order_relaxed);
    give_up_ownership(state);
    return saved;
}

// A dead previous owner is not reported: Condition::wait has no way to say so (nor has
// Python's), and the waiter re-checks its predicate on the data anyway.
void RLock::restore(std::uint32_t saved) {
    acquire();
    // relaxed is enough: only the owner touches count while it holds the mutex.
    m_object.state<RLockState>().count.store(saved, std::memory_order_relaxed);
}

} // namespace shmbus

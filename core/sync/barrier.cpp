// SPDX-License-Identifier: Apache-2.0
// Barrier: a robust mutex over the arrival count plus a generation futex word that parked
// parties wait on. A party learns how its generation ended (released or broken) from the
// record of the first break after its arrival. The last party runs the action holding the
// mutex, so nothing else changes the barrier until it ends (Python holds its Condition's lock).
#include "shmbus/barrier.hpp"

#include "os/owner.hpp"
#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

#include <climits>
#include <cstdint>
#include <limits>
#include <utility>

namespace shmbus {
namespace {

using detail::BarrierState;
using detail::kBreakHistory;

// relaxed is enough for every access through these two: the fields change only under the
// barrier's mutex, which orders them; outside it they are read only as snapshots.
std::uint32_t load_guarded(const std::atomic<std::uint32_t>& field) {
    return field.load(std::memory_order_relaxed);
}
void store_guarded(std::atomic<std::uint32_t>& field, std::uint32_t value) {
    field.store(value, std::memory_order_relaxed);
}

void end_generation(BarrierState& state) {
    // SYNC seq_cst: pairs with the acquire load in Barrier::wait_by and is the store half of
    // the Dekker pair wake_waiters relies on.
    state.generation.fetch_add(1, std::memory_order_seq_cst);
    detail::wake_waiters(state.generation, state.waiters, INT_MAX);
}

void break_generation(BarrierState& state) {
    const std::uint32_t breaks = load_guarded(state.breaks) + 1;
    const std::uint32_t generation = load_guarded(state.generation);
    store_guarded(state.broken_generation[breaks % kBreakHistory], generation);
    store_guarded(state.breaks, breaks);
    store_guarded(state.broken, 1);
    store_guarded(state.count, 0);
    end_generation(state);
}

// The mutex is held for a few stores, or while the action runs; waiting this long for it when
// no live thread runs an action means its word was forged (a corrupted segment), so the caller
// gets Timeout instead of a wait without end.
constexpr auto kStateLockTimeout = std::chrono::seconds(5);

// relaxed is enough for `acting`: it is written under the mutex, and read outside it only to
// tell a long action from a stuck mutex, or by the acting thread itself (program order). A
// forged `acting` names no live thread, so it cannot make the wait endless either.
bool action_running(const BarrierState& state) {
    const detail::OwnerId acting = state.acting.load(std::memory_order_relaxed);
    return acting != detail::kNoOwner && detail::owner_alive(acting);
}

// The robust mutex is not recursive: an action that calls back into its barrier would wait for
// itself.
void refuse_reentry_from_action(const BarrierState& state) {
    if (state.acting.load(std::memory_order_relaxed) == detail::this_thread_owner())
        throw UsageError("a Barrier's action may not wait on, abort or reset its own barrier");
}

detail::RobustGuard lock_state(BarrierState& state) {
    refuse_reentry_from_action(state);
    for (;;) {
        try {
            return detail::RobustGuard(state.mutex, detail::Deadline::after(kStateLockTimeout));
        } catch (const Timeout&) {
            if (!action_running(state))
                throw;
        }
    }
}

// Holds the barrier's mutex. A holder that died (updating the state or running the action) may
// have left the state torn, so the barrier is broken: its waiters learn it, and reset() repairs
// it.
class StateGuard {
public:
    explicit StateGuard(BarrierState& state) : m_guard(lock_state(state)) {
        if (m_guard.owner_died()) {
            state.acting.store(detail::kNoOwner, std::memory_order_relaxed); // see action_running
            break_generation(state);
        }
    }

private:
    detail::RobustGuard m_guard;
};

// Runs the action with the mutex held; when it throws, the generation breaks and the exception
// goes on to the caller.
void run_action(BarrierState& state, const Barrier::Action& action) {
    state.acting.store(detail::this_thread_owner(), std::memory_order_relaxed); // see above
    try {
        action();
    } catch (...) {
        state.acting.store(detail::kNoOwner, std::memory_order_relaxed); // see action_running
        break_generation(state);
        throw;
    }
    state.acting.store(detail::kNoOwner, std::memory_order_relaxed); // see action_running
}

struct Arrival {
    std::uint32_t index;
    std::uint32_t generation;
    std::uint32_t breaks;
    bool last;
};

Arrival arrive(BarrierState& state, const Barrier::Action& action) {
    StateGuard guard(state);
    if (load_guarded(state.broken) != 0)
        throw BrokenBarrier("the barrier is broken");
    Arrival arrival{load_guarded(state.count), load_guarded(state.generation),
                    load_guarded(state.breaks), false};
    arrival.last = arrival.index + 1 >= state.parties;
    if (!arrival.last) {
        store_guarded(state.count, arrival.index + 1);
        return arrival;
    }
    if (action)
        run_action(state, action);
    store_guarded(state.count, 0);
    end_generation(state);
    return arrival;
}

void break_if_current(BarrierState& state, std::uint32_t generation) {
    StateGuard guard(state);
    if (load_guarded(state.generation) == generation)
        break_generation(state);
}

// The first break after an arrival is the one that would have ended its generation, so only
// that break's record matters. When later breaks have overwritten it (more than kBreakHistory
// break-and-reset rounds while this party slept), broken is the safe answer.
bool ended_broken(BarrierState& state, const Arrival& arrival) {
    StateGuard guard(state);
    const std::uint32_t since = load_guarded(state.breaks) - arrival.breaks;
    if (since == 0)
        return false;
    if (since > kBreakHistory)
        return true;
    const auto& record = state.broken_generation[(arrival.breaks + 1) % kBreakHistory];
    return load_guarded(record) == arrival.generation;
}

// Python raises ValueError for parties < 1; above UINT32_MAX the count would not fit the state.
std::uint32_t checked_parties(std::int64_t parties) {
    if (parties < 1)
        throw UsageError("a Barrier needs at least one party, not " + std::to_string(parties));
    if (parties > std::numeric_limits<std::uint32_t>::max())
        throw UsageError("a Barrier holds at most " +
                         std::to_string(std::numeric_limits<std::uint32_t>::max()) +
                         " parties, not " + std::to_string(parties));
    return static_cast<std::uint32_t>(parties);
}

detail::ObjectSpec barrier_spec(std::uint32_t parties) {
    return {ObjectKind::barrier, sizeof(BarrierState), alignof(BarrierState), parties};
}

} // namespace

Barrier::Barrier(std::int64_t parties, Action action, TimeLimit timeout)
    : Barrier(Segment::default_segment(), "", parties, std::move(action), timeout,
              detail::OpenMode::open_or_create) {}

Barrier::Barrier(const Segment& segment, std::string_view name, std::int64_t parties, Action action,
                 TimeLimit timeout)
    : Barrier(segment, name, parties, std::move(action), timeout,
              detail::OpenMode::open_or_create) {}

Barrier::Barrier(const Segment& segment, std::string_view name, std::int64_t parties, Action action,
                 TimeLimit timeout, detail::OpenMode mode)
    : m_object(detail::validated<BarrierState>(
          detail::attach_object(segment, name, barrier_spec(checked_parties(parties)), mode,
                                [parties](void* address) {
                                    auto* state = new (address) BarrierState{};
                                    state->mutex.init();
                                    state->parties = static_cast<std::uint32_t>(parties);
                                }))),
      m_action(std::move(action)), m_timeout(timeout) {}

Barrier Barrier::create(const Segment& segment, std::string_view name, std::int64_t parties,
                        Action action, TimeLimit timeout) {
    return Barrier(segment, name, parties, std::move(action), timeout, detail::OpenMode::create);
}

Barrier Barrier::open(const Segment& segment, std::string_view name, std::int64_t parties,
                      Action action, TimeLimit timeout) {
    return Barrier(segment, name, parties, std::move(action), timeout, detail::OpenMode::open);
}

unsigned Barrier::wait() {
    return wait_by(m_timeout ? detail::Deadline::after(*m_timeout) : detail::Deadline::never());
}

unsigned Barrier::wait_by(detail::Deadline deadline) {
    BarrierState& state = m_object.state<BarrierState>();
    const Arrival arrival = arrive(state, m_action);
    if (arrival.last)
        return arrival.index;
    const auto ended = [&state, &arrival] {
        // SYNC acquire: pairs with the seq_cst fetch_add in end_generation.
        return state.generation.load(std::memory_order_acquire) != arrival.generation;
    };
    if (!detail::park_until(state.generation, state.waiters, ended, deadline, m_options))
        break_if_current(state, arrival.generation);
    if (ended_broken(state, arrival))
        throw BrokenBarrier("the barrier was broken while this party waited");
    return arrival.index;
}

void Barrier::abort() {
    BarrierState& state = m_object.state<BarrierState>();
    StateGuard guard(state);
    if (load_guarded(state.broken) == 0)
        break_generation(state);
}

void Barrier::reset() {
    BarrierState& state = m_object.state<BarrierState>();
    StateGuard guard(state);
    if (load_guarded(state.count) != 0)
        break_generation(state);
    store_guarded(state.broken, 0);
}

unsigned Barrier::parties() const {
    return m_object.state<BarrierState>().parties;
}

unsigned Barrier::n_waiting() const {
    return load_guarded(m_object.state<BarrierState>().count);
}

bool Barrier::broken() const {
    return load_guarded(m_object.state<BarrierState>().broken) != 0;
}

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// Barrier: a robust mutex over the arrival count plus a generation futex word that parked
// parties wait on. A party learns how its generation ended (released or broken) from the
// record of the first break after its arrival.
#include "shmbus/barrier.hpp"

#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

#include <climits>

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

// The mutex is held for a few stores; waiting this long for it means its word was forged (a
// corrupted segment), so the caller gets Timeout instead of a wait without end.
constexpr auto kStateLockTimeout = std::chrono::seconds(5);

// Holds the barrier's mutex. A holder that died may have left the state torn, so the barrier is
// broken: its waiters learn it, and reset() repairs it.
class StateGuard {
public:
    explicit StateGuard(BarrierState& state)
        : m_guard(state.mutex, detail::Deadline::after(kStateLockTimeout)) {
        if (m_guard.owner_died())
            break_generation(state);
    }

private:
    detail::RobustGuard m_guard;
};

struct Arrival {
    std::uint32_t index;
    std::uint32_t generation;
    std::uint32_t breaks;
    bool last;
};

Arrival arrive(BarrierState& state) {
    StateGuard guard(state);
    if (load_guarded(state.broken) != 0)
        throw BrokenBarrier("the barrier is broken");
    Arrival arrival{load_guarded(state.count), load_guarded(state.generation),
                    load_guarded(state.breaks), false};
    arrival.last = arrival.index + 1 >= state.parties;
    store_guarded(state.count, arrival.last ? 0 : arrival.index + 1);
    if (arrival.last)
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

detail::ObjectSpec barrier_spec(unsigned parties) {
    if (parties == 0)
        throw UsageError("a Barrier needs at least one party");
    return {ObjectKind::barrier, sizeof(BarrierState), alignof(BarrierState), parties};
}

} // namespace

Barrier::Barrier(unsigned parties)
    : Barrier(Segment::default_segment(), "", parties, detail::OpenMode::open_or_create) {}

Barrier::Barrier(const Segment& segment, std::string_view name, unsigned parties)
    : Barrier(segment, name, parties, detail::OpenMode::open_or_create) {}

Barrier::Barrier(const Segment& segment, std::string_view name, unsigned parties,
                 detail::OpenMode mode)
    : m_object(detail::validated<BarrierState>(detail::attach_object(
          segment, name, barrier_spec(parties), mode, [parties](void* address) {
              auto* state = new (address) BarrierState{};
              state->mutex.init();
              state->parties = parties;
          }))) {}

Barrier Barrier::create(const Segment& segment, std::string_view name, unsigned parties) {
    return Barrier(segment, name, parties, detail::OpenMode::create);
}

Barrier Barrier::open(const Segment& segment, std::string_view name, unsigned parties) {
    return Barrier(segment, name, parties, detail::OpenMode::open);
}

unsigned Barrier::wait() {
    return wait_by(detail::Deadline::never());
}

unsigned Barrier::wait_by(detail::Deadline deadline) {
    BarrierState& state = m_object.state<BarrierState>();
    const Arrival arrival = arrive(state);
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

// SPDX-License-Identifier: Apache-2.0
// Semaphore and BoundedSemaphore: a futex counting semaphore (docs/design/parking.md);
// both kinds share one state whose immutable `bound` makes the difference.
#include "shmbus/semaphore.hpp"

#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <climits>
#include <string>

namespace shmbus {
namespace {

using detail::SemaphoreState;

static_assert(Semaphore::kMaxValue == detail::kSemaphoreMax,
              "the public maximum is the one the shared state can count to");

bool try_take(SemaphoreState& state) {
    // relaxed is enough: the CAS below re-reads the value when this one is stale.
    std::uint32_t count = state.count.load(std::memory_order_relaxed);
    while (count > 0)
        // SYNC acquire: pairs with the seq_cst CAS in add_units, so what a releaser wrote
        // before release() is visible to us; failure relaxed: we only retry with the new value.
        if (state.count.compare_exchange_weak(count, count - 1, std::memory_order_acquire,
                                              std::memory_order_relaxed))
            return true;
    return false;
}

void add_units(SemaphoreState& state, std::uint32_t n) {
    // relaxed is enough: the CAS below re-reads the value when this one is stale.
    std::uint32_t count = state.count.load(std::memory_order_relaxed);
    do {
        if (n > state.bound - std::min(count, state.bound))
            throw UsageError(std::string(state.bound == detail::kSemaphoreMax
                                             ? "Semaphore"
                                             : "BoundedSemaphore") +
                             " released too many times (value " + std::to_string(count) + " + " +
                             std::to_string(n) + " > " + std::to_string(state.bound) + ")");
        // SYNC seq_cst: publishes the releaser's writes (pairs with the acquire CAS in
        // try_take) and is the store half of the Dekker pair wake_waiters relies on.
    } while (!state.count.compare_exchange_weak(count, count + n, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
    detail::wake_waiters(state.count, state.waiters,
                         static_cast<int>(std::min<std::uint32_t>(n, INT_MAX)));
}

detail::ObjectSpec semaphore_spec(ObjectKind kind, unsigned value) {
    if (value > detail::kSemaphoreMax)
        throw UsageError("semaphore value " + std::to_string(value) + " is above the maximum " +
                         std::to_string(detail::kSemaphoreMax));
    return {kind, sizeof(SemaphoreState), alignof(SemaphoreState), 0};
}

} // namespace

Semaphore::Semaphore(unsigned value)
    : Semaphore(Segment::default_segment(), "", value, ObjectKind::semaphore,
                detail::OpenMode::open_or_create) {}

Semaphore::Semaphore(const Segment& segment, std::string_view name, unsigned value)
    : Semaphore(segment, name, value, ObjectKind::semaphore, detail::OpenMode::open_or_create) {}

Semaphore::Semaphore(const Segment& segment, std::string_view name, unsigned value, ObjectKind kind,
                     detail::OpenMode mode)
    : m_object(detail::validated<SemaphoreState>(detail::attach_object(
          segment, name, semaphore_spec(kind, value), mode, [&](void* address) {
              auto* state = new (address) SemaphoreState{};
              state->bound = kind == ObjectKind::bounded_semaphore ? value : kMaxValue;
              state->initial = value;
              // relaxed is enough: attach_object publishes the state with a release.
              state->count.store(value, std::memory_order_relaxed);
          }))) {}

Semaphore Semaphore::create(const Segment& segment, std::string_view name, unsigned value) {
    return Semaphore(segment, name, value, ObjectKind::semaphore, detail::OpenMode::create);
}

Semaphore Semaphore::open(const Segment& segment, std::string_view name) {
    return Semaphore(segment, name, 0, ObjectKind::semaphore, detail::OpenMode::open);
}

bool Semaphore::try_acquire() {
    return try_take(m_object.state<SemaphoreState>());
}

bool Semaphore::acquire() {
    return acquire_by(detail::Deadline::never());
}

bool Semaphore::acquire_by(detail::Deadline deadline) {
    SemaphoreState& state = m_object.state<SemaphoreState>();
    return detail::park_until(
        state.count, state.waiters, [&state] { return try_take(state); }, deadline, m_options);
}

detail::WaitTarget Semaphore::wait_target() const {
    SemaphoreState& state = m_object.state<SemaphoreState>();
    detail::WaitTarget target;
    target.word = &state.count;
    target.waiters = &state.waiters;
    target.ready = [&state] {
        // SYNC seq_cst: after a multi-waiter's registration; pairs with the seq_cst CAS in
        // add_units (the Dekker pair wake_waiters relies on).
        return state.count.load(std::memory_order_seq_cst) > 0;
    };
    // release(n) wakes n parked processes: one may be us, who take nothing.
    target.passes_wake_on = true;
    target.identity = &state;
    return target;
}

void Semaphore::release(unsigned n) {
    if (n == 0)
        throw UsageError("Semaphore::release(n) needs n >= 1");
    add_units(m_object.state<SemaphoreState>(), n);
}

unsigned Semaphore::get_value() const {
    // relaxed is enough: a snapshot, stale as soon as it is returned.
    return m_object.state<SemaphoreState>().count.load(std::memory_order_relaxed);
}

BoundedSemaphore::BoundedSemaphore(unsigned value)
    : BoundedSemaphore(Segment::default_segment(), "", value, detail::OpenMode::open_or_create) {}

BoundedSemaphore::BoundedSemaphore(const Segment& segment, std::string_view name, unsigned value)
    : BoundedSemaphore(segment, name, value, detail::OpenMode::open_or_create) {}

BoundedSemaphore::BoundedSemaphore(const Segment& segment, std::string_view name, unsigned value,
                                   detail::OpenMode mode)
    : Semaphore(segment, name, value, ObjectKind::bounded_semaphore, mode) {}

BoundedSemaphore BoundedSemaphore::create(const Segment& segment, std::string_view name,
                                          unsigned value) {
    return BoundedSemaphore(segment, name, value, detail::OpenMode::create);
}

BoundedSemaphore BoundedSemaphore::open(const Segment& segment, std::string_view name) {
    return BoundedSemaphore(segment, name, 0, detail::OpenMode::open);
}

} // namespace shmbus

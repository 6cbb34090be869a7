// SPDX-License-Identifier: Apache-2.0
// Event: a futex word holding the flag and a count of clear-to-set transitions.
#include "shmbus/event.hpp"

#include "sync/sync_state.hpp"
#include "wait/park.hpp"

#include <climits>

namespace shmbus {
namespace {

using detail::EventState;
using detail::kEventSetBit;

detail::ObjectSpec event_spec() {
    return {ObjectKind::event, sizeof(EventState), alignof(EventState), 0};
}

} // namespace

Event::Event() : Event(Segment::default_segment(), "", detail::OpenMode::open_or_create) {}

Event::Event(const Segment& segment, std::string_view name)
    : Event(segment, name, detail::OpenMode::open_or_create) {}

Event::Event(const Segment& segment, std::string_view name, detail::OpenMode mode)
    : m_object(detail::validated<EventState>(detail::attach_object(
          segment, name, event_spec(), mode, [](void* state) { new (state) EventState{}; }))) {}

Event Event::create(const Segment& segment, std::string_view name) {
    return Event(segment, name, detail::OpenMode::create);
}

Event Event::open(const Segment& segment, std::string_view name) {
    return Event(segment, name, detail::OpenMode::open);
}

void Event::set() {
    EventState& state = m_object.state<EventState>();
    // relaxed is enough: the CAS below re-reads the word when this one is stale.
    std::uint32_t word = state.word.load(std::memory_order_relaxed);
    do {
        if (word & kEventSetBit)
            return;
        // SYNC seq_cst: publishes the setter's writes (pairs with the acquire loads in wait_by)
        // and is the store half of the Dekker pair wake_waiters relies on. +2 counts the
        // transition in bits 1-31 (wrapping is harmless unless a waiter sleeps through 2^31).
    } while (!state.word.compare_exchange_weak(
        word, (word + 2) | kEventSetBit, std::memory_order_seq_cst, std::memory_order_relaxed));
    detail::wake_waiters(state.word, state.waiters, INT_MAX);
}

void Event::clear() {
    // relaxed is enough: clearing publishes nothing, and the RMW is ordered against set()'s
    // CAS by the word's modification order alone.
    m_object.state<EventState>().word.fetch_and(~kEventSetBit, std::memory_order_relaxed);
}

bool Event::is_set() const {
    // SYNC acquire: pairs with the seq_cst CAS in set(), so a true answer shows the setter's
    // writes.
    return (m_object.state<EventState>().word.load(std::memory_order_acquire) & kEventSetBit) != 0;
}

detail::WaitTarget Event::wait_target() const {
    EventState& state = m_object.state<EventState>();
    detail::WaitTarget target;
    target.word = &state.word;
    target.waiters = &state.waiters;
    target.ready = [&state] {
        // SYNC seq_cst: after a multi-waiter's registration; pairs with the seq_cst CAS in set()
        // (the Dekker pair wake_waiters relies on) and shows the setter's writes.
        return (state.word.load(std::memory_order_seq_cst) & kEventSetBit) != 0;
    };
    target.identity = &state;
    return target;
}

void Event::wait() {
    wait_by(detail::Deadline::never());
}

bool Event::wait_by(detail::Deadline deadline) {
    EventState& state = m_object.state<EventState>();
    // SYNC acquire: pairs with the seq_cst CAS in set().
    const std::uint32_t seen = state.word.load(std::memory_order_acquire);
    if (seen & kEventSetBit)
        return true;
    const auto signalled = [&state, seen] {
        // SYNC acquire: pairs with the seq_cst CAS in set().
        const std::uint32_t now = state.word.load(std::memory_order_acquire);
        return (now & kEventSetBit) != 0 || (now >> 1) != (seen >> 1);
    };
    return detail::park_until(state.word, state.waiters, signalled, deadline, m_options);
}

} // namespace shmbus

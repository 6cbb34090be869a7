// SPDX-License-Identifier: Apache-2.0
// Semaphore, Event and Barrier against in-process models. The operations of a case are spread
// over forked processes that take turns in an order rapidcheck chooses: a turn counter in the
// segment passes the token, each process records its results, and the parent replays the model.
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <optional>
#include <rapidcheck/gtest.h>
#include <sched.h>
#include <shmbus/errors.hpp>
#include <shmbus/sync.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace shmbus;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

constexpr int kProcesses = 3;
constexpr std::size_t kMaxSteps = 24;
constexpr std::size_t kSegmentSize = std::size_t{1} << 20;

// The turn counter and one result slot per step, in the segment.
struct Turns {
    std::atomic<std::uint32_t> turn;
    std::atomic<int> results[kMaxSteps];
};

Turns& turns_in(const Segment& segment, std::string_view name = "turns") {
    const auto ref = detail::attach_object(
        segment, name, {ObjectKind::value, sizeof(Turns), alignof(Turns), 0x7e57},
        detail::OpenMode::create, [](void* address) { new (address) Turns{}; });
    return ref.state<Turns>();
}

// Blocks until it is step `index`'s turn; bounded so that a lost turn fails instead of hanging.
void await_turn(const Turns& turns, std::size_t index) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (turns.turn.load() != index) {
        if (std::chrono::steady_clock::now() > give_up)
            throw std::runtime_error("turn " + std::to_string(index) + " never came");
        sched_yield();
    }
}

// Runs step i in process processes[i], in step order, and returns the recorded results.
template <class Run>
std::optional<std::vector<int>> take_turns(const Segment& segment,
                                           const std::vector<int>& processes, Run run) {
    Turns& turns = turns_in(segment);
    const auto codes = run_children(kProcesses, [&](int process) {
        for (std::size_t i = 0; i < processes.size(); ++i) {
            if (processes[i] != process)
                continue;
            await_turn(turns, i);
            turns.results[i].store(run(i));
            turns.turn.store(static_cast<std::uint32_t>(i + 1));
        }
    });
    if (codes != std::vector<int>(kProcesses, 0))
        return std::nullopt;
    std::vector<int> results;
    for (std::size_t i = 0; i < processes.size(); ++i)
        results.push_back(turns.results[i].load());
    return results;
}

rc::Gen<std::vector<int>> gen_processes(std::size_t steps) {
    return rc::gen::container<std::vector<int>>(steps, rc::gen::inRange(0, kProcesses));
}

// ---- Semaphore model ----------------------------------------------------------------------------

enum class SemOp { try_acquire, acquire_for_zero, release, release_two, get_value };
constexpr int kRefused = -1;

struct SemaphoreModel {
    unsigned value;
    unsigned bound;

    int apply(SemOp op) {
        switch (op) {
        case SemOp::try_acquire:
        case SemOp::acquire_for_zero:
            if (value == 0)
                return 0;
            --value;
            return 1;
        case SemOp::release:
        case SemOp::release_two: {
            const unsigned n = op == SemOp::release ? 1 : 2;
            if (value + n > bound)
                return kRefused;
            value += n;
            return 1;
        }
        case SemOp::get_value:
            return static_cast<int>(value);
        }
        return 0;
    }
};

int apply(SemOp op, Semaphore& semaphore) {
    try {
        switch (op) {
        case SemOp::try_acquire:
            return semaphore.try_acquire() ? 1 : 0;
        case SemOp::acquire_for_zero:
            return semaphore.acquire_for(std::chrono::seconds(0)) ? 1 : 0;
        case SemOp::release:
            semaphore.release();
            return 1;
        case SemOp::release_two:
            semaphore.release(2);
            return 1;
        case SemOp::get_value:
            return static_cast<int>(semaphore.get_value());
        }
    } catch (const UsageError&) {
        return kRefused;
    }
    return 0;
}

// ---- Event model --------------------------------------------------------------------------------

enum class EventOp { set, clear, is_set, wait_for_zero };

int apply(EventOp op, bool& model) {
    switch (op) {
    case EventOp::set:
        model = true;
        return 1;
    case EventOp::clear:
        model = false;
        return 1;
    case EventOp::is_set:
    case EventOp::wait_for_zero:
        return model ? 1 : 0;
    }
    return 0;
}

int apply(EventOp op, Event& event) {
    switch (op) {
    case EventOp::set:
        event.set();
        return 1;
    case EventOp::clear:
        event.clear();
        return 1;
    case EventOp::is_set:
        return event.is_set() ? 1 : 0;
    case EventOp::wait_for_zero:
        return event.wait_for(std::chrono::seconds(0)) ? 1 : 0;
    }
    return 0;
}

// ---- Barrier
// --------------------------------------------------------------------------------------

const detail::BarrierState& barrier_state(const Segment& segment, unsigned parties) {
    const auto ref = detail::attach_object(
        segment, "barrier",
        {ObjectKind::barrier, sizeof(detail::BarrierState), alignof(detail::BarrierState), parties},
        detail::OpenMode::open, [](void*) {});
    return ref.state<detail::BarrierState>();
}

// Blocks until the barrier has counted `arrivals` arrivals (generation * parties + count, read
// while the generation stays put).
void await_arrivals(const detail::BarrierState& state, unsigned parties, std::size_t arrivals) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
        const std::uint32_t generation = state.generation.load();
        const std::uint32_t count = state.count.load();
        if (state.generation.load() == generation &&
            std::size_t{generation} * parties + count == arrivals)
            return;
        if (std::chrono::steady_clock::now() > give_up)
            throw std::runtime_error("arrival " + std::to_string(arrivals) + " never came");
        sched_yield();
    }
}

} // namespace

RC_GTEST_PROP(SyncProperties, semaphore_matches_an_integer_counter_across_processes, ()) {
    const bool bounded = *rc::gen::arbitrary<bool>();
    const unsigned initial = *rc::gen::inRange(0u, 4u);
    const auto ops =
        *rc::gen::resize(kMaxSteps, rc::gen::container<std::vector<SemOp>>(rc::gen::element(
                                        SemOp::try_acquire, SemOp::acquire_for_zero, SemOp::release,
                                        SemOp::release_two, SemOp::get_value)));
    const auto processes = *gen_processes(ops.size());
    ScopedSegment segment(kSegmentSize);
    Semaphore semaphore =
        bounded ? BoundedSemaphore(*segment, "sem", initial) : Semaphore(*segment, "sem", initial);
    const auto results =
        take_turns(*segment, processes, [&](std::size_t i) { return apply(ops[i], semaphore); });
    RC_ASSERT(results.has_value());
    SemaphoreModel model{initial, bounded ? initial : Semaphore::kMaxValue};
    for (std::size_t i = 0; i < ops.size(); ++i)
        RC_ASSERT((*results)[i] == model.apply(ops[i]));
    RC_ASSERT(semaphore.get_value() == model.value);
}

RC_GTEST_PROP(SyncProperties, event_matches_a_bool_across_processes, ()) {
    const auto ops = *rc::gen::resize(
        kMaxSteps, rc::gen::container<std::vector<EventOp>>(rc::gen::element(
                       EventOp::set, EventOp::clear, EventOp::is_set, EventOp::wait_for_zero)));
    const auto processes = *gen_processes(ops.size());
    ScopedSegment segment(kSegmentSize);
    Event event(*segment, "event");
    const auto results =
        take_turns(*segment, processes, [&](std::size_t i) { return apply(ops[i], event); });
    RC_ASSERT(results.has_value());
    bool model = false;
    for (std::size_t i = 0; i < ops.size(); ++i)
        RC_ASSERT((*results)[i] == apply(ops[i], model));
    RC_ASSERT(event.is_set() == model);
}

namespace {

std::atomic<int>& shared_counter(const Segment& segment) {
    const auto ref = detail::attach_object(
        segment, "counter",
        {ObjectKind::value, sizeof(std::atomic<int>), alignof(std::atomic<int>), 0x7e57},
        detail::OpenMode::create, [](void* address) { new (address) std::atomic<int>{0}; });
    return ref.state<std::atomic<int>>();
}

// Which process makes each arrival: every generation's parties are distinct processes chosen
// by rapidcheck among `process_count`.
std::vector<int> gen_arrivals(unsigned parties, int process_count, unsigned generations) {
    std::vector<int> arrivals; // arrival i is made by process arrivals[i]
    for (unsigned g = 0; g < generations; ++g) {
        const auto keys = *rc::gen::container<std::vector<int>>(
            static_cast<std::size_t>(process_count), rc::gen::arbitrary<int>());
        std::vector<int> order(static_cast<std::size_t>(process_count));
        for (int p = 0; p < process_count; ++p)
            order[static_cast<std::size_t>(p)] = p;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
            return keys[static_cast<std::size_t>(a)] < keys[static_cast<std::size_t>(b)];
        });
        arrivals.insert(arrivals.end(), order.begin(), order.begin() + parties);
    }
    return arrivals;
}

constexpr int kBarrierProcesses = 4;

} // namespace

// Arrivals are serialised (each waits until the barrier has counted all earlier ones), so the
// model predicts every index: arrival i gets i % parties. Each generation's parties are distinct
// processes chosen by rapidcheck among up to kBarrierProcesses. Every handle carries an action,
// whose model is: it runs once per generation, in the generation's last arrival, before any
// party of that generation returns; it logs the arrival it ran in (each process knows which
// arrival it is making).
RC_GTEST_PROP(SyncProperties, barrier_generations_and_actions_match_an_arrival_counter, ()) {
    const unsigned parties = *rc::gen::inRange(1u, 5u);
    const int process_count = *rc::gen::inRange(static_cast<int>(parties), kBarrierProcesses + 1);
    const unsigned generations = *rc::gen::inRange(1u, 5u);
    const std::vector<int> arrivals = gen_arrivals(parties, process_count, generations);
    ScopedSegment segment(kSegmentSize);
    Turns& turns = turns_in(*segment);              // results[i]: arrival i's index
    Turns& actions = turns_in(*segment, "actions"); // results[g]: where generation g's action ran
    std::atomic<int>& runs = shared_counter(*segment);
    std::size_t current = 0; // the arrival this process is making (each process has its own)
    Barrier barrier(*segment, "barrier", parties, [&] {
        const int run = runs.fetch_add(1);
        actions.results[static_cast<std::size_t>(run) % kMaxSteps].store(static_cast<int>(current));
    });
    const auto& state = barrier_state(*segment, parties);
    const auto codes = run_children(process_count, [&](int process) {
        for (std::size_t i = 0; i < arrivals.size(); ++i) {
            if (arrivals[i] != process)
                continue;
            current = i;
            await_arrivals(state, parties, i);
            turns.results[i].store(static_cast<int>(barrier.wait_for(std::chrono::seconds(20))));
            if (runs.load() < static_cast<int>(i / parties + 1))
                throw std::runtime_error("released before the generation's action ran");
        }
    });
    RC_ASSERT(codes == std::vector<int>(static_cast<std::size_t>(process_count), 0));
    for (std::size_t i = 0; i < arrivals.size(); ++i)
        RC_ASSERT(turns.results[i].load() == static_cast<int>(i % parties));
    RC_ASSERT(runs.load() == static_cast<int>(generations));
    for (unsigned g = 0; g < generations; ++g)
        RC_ASSERT(actions.results[g].load() == static_cast<int>((g + 1) * parties - 1));
    RC_ASSERT(state.generation.load() == generations);
    RC_ASSERT(barrier.n_waiting() == 0u);
    RC_ASSERT(!barrier.broken());
}

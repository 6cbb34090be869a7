// SPDX-License-Identifier: Apache-2.0
// shmbus::wait against a model: random sets of Events, Semaphores, Queues and Connections, a
// random subset made ready by several processes at random moments. Nothing consumes, so an
// object once ready stays ready; the waiter waits on those it has not seen yet until it has
// seen every one made ready. A lost wake-up shows as a wait that never returns (bounded at
// 20 s); an object returned must be one a process made ready, and be ready.
#include "support/harness.hpp"

#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <rapidcheck/gtest.h>
#include <set>
#include <shmbus/event.hpp>
#include <shmbus/multi_wait.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr int kMakers = 3;
enum Kind : int { event_kind, semaphore_kind, queue_kind, pipe_kind, kind_count };

// One object of each kind may be used; the others stay empty.
struct Object {
    Kind kind;
    std::unique_ptr<Event> event;
    std::unique_ptr<Semaphore> semaphore;
    std::unique_ptr<Queue<int>> queue;
    std::unique_ptr<std::pair<Connection, Connection>> pipe;

    Object(Segment& segment, Kind k, int index) : kind(k) {
        const std::string name = "o" + std::to_string(index);
        switch (kind) {
        case event_kind:
            event = std::make_unique<Event>(segment, name);
            break;
        case semaphore_kind:
            semaphore = std::make_unique<Semaphore>(segment, name, 0);
            break;
        case queue_kind:
            queue =
                std::make_unique<Queue<int>>(segment, name, QueueOptions{.max_message_size = 64});
            break;
        default:
            pipe = std::make_unique<std::pair<Connection, Connection>>(
                Pipe(segment, true, PipeOptions{.capacity_bytes = 4096, .max_message_size = 64}));
        }
    }
    void make_ready() {
        switch (kind) {
        case event_kind:
            event->set();
            break;
        case semaphore_kind:
            semaphore->release();
            break;
        case queue_kind:
            queue->put(1);
            break;
        default:
            pipe->second.send(1);
        }
    }
    bool is_ready() {
        switch (kind) {
        case event_kind:
            return event->is_set();
        case semaphore_kind:
            return semaphore->get_value() > 0;
        case queue_kind:
            return !queue->empty();
        default:
            return pipe->first.try_poll();
        }
    }
    Waitable waitable() {
        switch (kind) {
        case event_kind:
            return *event;
        case semaphore_kind:
            return *semaphore;
        case queue_kind:
            return *queue;
        default:
            return pipe->first;
        }
    }
};

} // namespace

RC_GTEST_PROP(MultiWaitProperties, returns_only_ready_objects_and_loses_no_wake_up, ()) {
    const auto count = *rc::gen::inRange<std::size_t>(1, 9);
    const auto kinds = *rc::gen::container<std::vector<int>>(count, rc::gen::inRange(0, 4));
    // Which process makes each object ready (-1: none), and how long it sleeps first (us).
    const auto makers = *rc::gen::container<std::vector<int>>(count, rc::gen::inRange(-1, kMakers));
    const auto delays = *rc::gen::container<std::vector<int>>(count, rc::gen::inRange(0, 2000));
    const bool park_at_once = *rc::gen::arbitrary<bool>();
    const WaitOptions options{.policy = park_at_once ? WaitPolicy::block : WaitPolicy::hybrid};

    ScopedSegment segment(std::size_t{2} << 20);
    std::vector<Object> objects;
    objects.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        objects.emplace_back(*segment, static_cast<Kind>(kinds[i]), static_cast<int>(i));
    std::set<std::size_t> expected;
    for (std::size_t i = 0; i < count; ++i)
        if (makers[i] >= 0)
            expected.insert(i);

    std::vector<Child> children;
    for (int maker = 0; maker < kMakers; ++maker)
        children.emplace_back([&, maker] {
            for (std::size_t i = 0; i < count; ++i) {
                if (makers[i] != maker)
                    continue;
                std::this_thread::sleep_for(std::chrono::microseconds(delays[i]));
                objects[i].make_ready();
            }
        });

    std::vector<std::size_t> remaining(count);
    for (std::size_t i = 0; i < count; ++i)
        remaining[i] = i;
    std::set<std::size_t> seen;
    while (seen != expected) {
        std::vector<Waitable> list;
        for (const std::size_t i : remaining)
            list.push_back(objects[i].waitable());
        const auto ready = wait_for(list, 20s, options);
        RC_ASSERT(!ready.empty()); // a lost wake-up: every maker has long finished
        for (const Waitable& object : ready) {
            const std::size_t i = remaining[object.index()];
            RC_ASSERT(expected.count(i) == 1U);
            RC_ASSERT(objects[i].is_ready());
            seen.insert(i);
        }
        std::erase_if(remaining, [&](std::size_t i) { return seen.count(i) == 1U; });
    }
    for (Child& child : children)
        RC_ASSERT(child.wait() == 0);
    std::vector<Waitable> never;
    for (const std::size_t i : remaining)
        never.push_back(objects[i].waitable());
    RC_ASSERT(try_wait(never).empty());
}

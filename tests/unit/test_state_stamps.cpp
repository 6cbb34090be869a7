// SPDX-License-Identifier: Apache-2.0
// Every shared state the library validates through segment/state_ref.hpp, with its magic or its
// layout version forged: opening the object raises CorruptSegment that names the problem, for
// each state struct and for the ring nested in a Queue. (Pipes and the Pool's state block have
// no open path: tools/shmbus/test_cli.cpp checks how inspect reports them. RLockState has no
// stamp: see core/sync/sync_state.hpp.)
#include "manager/manager_store.hpp"
#include "messaging/queue_state.hpp"
#include "messaging/topic_state.hpp"
#include "ring/mpmc_ring.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"
#include "sync/sync_state.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <shmbus/shmbus.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

// One validated state: how to make the object "o", how to open it again, and where its stamp
// lies from the start of the object.
struct Stamped {
    std::string what;
    std::size_t magic_at;
    std::size_t version_at;
    std::function<void(const Segment&)> create;
    std::function<void(const Segment&)> open;
};

template <class State>
Stamped stamped(std::string what, std::function<void(const Segment&)> create,
                std::function<void(const Segment&)> open, std::size_t nested_at = 0) {
    return {std::move(what), nested_at + offsetof(State, magic),
            nested_at + offsetof(State, version), std::move(create), std::move(open)};
}

const DictOptions kContainer{.capacity_bytes = 4096};

std::vector<Stamped> every_stamped_state() {
    using namespace detail;
    return {
        stamped<LockState>(
            "lock", [](const Segment& s) { (void)Lock::create(s, "o"); },
            [](const Segment& s) { (void)Lock::open(s, "o"); }),
        stamped<SemaphoreState>(
            "semaphore", [](const Segment& s) { (void)Semaphore::create(s, "o", 1); },
            [](const Segment& s) { (void)Semaphore::open(s, "o"); }),
        stamped<SemaphoreState>(
            "semaphore", [](const Segment& s) { (void)BoundedSemaphore::create(s, "o", 1); },
            [](const Segment& s) { (void)BoundedSemaphore::open(s, "o"); }),
        stamped<EventState>(
            "event", [](const Segment& s) { (void)Event::create(s, "o"); },
            [](const Segment& s) { (void)Event::open(s, "o"); }),
        stamped<ConditionState>(
            "condition", [](const Segment& s) { (void)Condition::create(s, "o"); },
            [](const Segment& s) { (void)Condition::open(s, "o"); }),
        stamped<BarrierState>(
            "barrier", [](const Segment& s) { (void)Barrier::create(s, "o", 2); },
            [](const Segment& s) { (void)Barrier::open(s, "o", 2); }),
        stamped<QueueState>(
            "queue", [](const Segment& s) { (void)Queue<int>::create(s, "o"); },
            [](const Segment& s) { (void)Queue<int>::open(s, "o"); }),
        stamped<TopicState>(
            "topic", [](const Segment& s) { (void)Topic<int>::create(s, "o"); },
            [](const Segment& s) { (void)Topic<int>::open(s, "o"); }),
        stamped<QueueState>(
            "queue", [](const Segment& s) { (void)JoinableQueue<int>::create(s, "o"); },
            [](const Segment& s) { (void)JoinableQueue<int>::open(s, "o"); }),
        stamped<MpmcRingHeader>(
            "mpmc ring", [](const Segment& s) { (void)Queue<int>::create(s, "o"); },
            [](const Segment& s) { (void)Queue<int>::open(s, "o"); }, sizeof(QueueState)),
        stamped<ContainerState>(
            "container", [](const Segment& s) { (void)Manager(s).dict<int>("o", kContainer); },
            [](const Segment& s) { (void)Manager(s).dict<int>("o", kContainer); }),
        stamped<ContainerState>(
            "container", [](const Segment& s) { (void)Manager(s).list<int>("o", kContainer); },
            [](const Segment& s) { (void)Manager(s).list<int>("o", kContainer); }),
    };
}

char* object_bytes(const Segment& segment) {
    for (const ObjectInfo& info : segment.objects())
        if (info.name == "o")
            return detail::mapping_of(segment).base() + info.offset;
    throw std::runtime_error("no object o");
}

void expect_corrupt(const Stamped& state, const Segment& segment, const std::string& problem) {
    try {
        state.open(segment);
        ADD_FAILURE() << state.what << ": opened despite a forged " << problem;
    } catch (const CorruptSegment& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find(state.what + " state: " + problem), std::string::npos) << message;
    }
}

} // namespace

TEST(StateStamps, a_forged_magic_is_corrupt_segment) {
    for (const Stamped& state : every_stamped_state()) {
        SCOPED_TRACE(state.what);
        ScopedSegment segment;
        state.create(*segment);
        object_bytes(*segment)[state.magic_at + 3] ^= 0x20;
        expect_corrupt(state, *segment, "magic");
    }
}

TEST(StateStamps, a_forged_layout_version_is_corrupt_segment) {
    for (const Stamped& state : every_stamped_state()) {
        SCOPED_TRACE(state.what);
        ScopedSegment segment;
        state.create(*segment);
        char* version = object_bytes(*segment) + state.version_at;
        std::uint32_t forged = 0;
        std::memcpy(&forged, version, sizeof forged);
        ++forged;
        std::memcpy(version, &forged, sizeof forged);
        expect_corrupt(state, *segment, "layout version");
    }
}

TEST(StateStamps, every_state_of_this_build_is_accepted) {
    for (const Stamped& state : every_stamped_state()) {
        SCOPED_TRACE(state.what);
        ScopedSegment segment;
        state.create(*segment);
        EXPECT_NO_THROW(state.open(*segment));
    }
}

// SPDX-License-Identifier: Apache-2.0
// Segments corrupted on purpose: random bytes written into the header, the directory, the
// queue and pipe rings and every other object state. Then a forked child opens the segment
// and uses every object, with timeouts on every blocking call. Each operation must succeed or
// raise a shmbus::Error (CorruptSegment, KindMismatch, Timeout, ...); a crash, a sanitizer
// report, another exception type or a hang (the child's watchdog) fails the test.
//
// Seed: SHMBUS_CORRUPTION_SEED (default random, printed for replay).
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/checked_message.hpp"
#include "support/harness.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <iostream>
#include <random>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;
using shmbus::test::seed_from_env;

namespace {

constexpr int kRounds = 40;
constexpr int kClean = 10;   // exit code: every operation succeeded or raised a plain error
constexpr int kCorrupt = 11; // ... and at least one raised CorruptSegment

std::mt19937_64 make_rng(const char* test) {
    static const std::uint64_t base = seed_from_env("SHMBUS_CORRUPTION_SEED");
    return std::mt19937_64(base ^ std::hash<std::string>{}(test));
}

// One object of every kind, with some state in each.
void populate(const Segment& segment) {
    auto lock = Lock::create(segment, "lock");
    (void)lock.try_acquire();
    RLock::create(segment, "rlock");
    Semaphore::create(segment, "sem", 2);
    BoundedSemaphore::create(segment, "bsem", 2);
    Event::create(segment, "event").set();
    Condition::create(segment, "cond");
    Barrier::create(segment, "barrier", 2);
    Value<int>::create(segment, "value", 42);
    Array<std::int64_t>::create(segment, "array", 16);
    auto queue = Queue<std::string>::create(
        segment, "queue", QueueOptions{.max_message_size = 1024, .capacity_bytes = 4096});
    for (int i = 0; i < 6; ++i)
        queue.put(std::string(static_cast<std::size_t>(20 + 150 * i), 'q'));
    (void)queue.get();
    JoinableQueue<int>::create(segment, "jqueue", QueueOptions{.max_message_size = 64}).put(3);
}

template <class Fn>
void attempt(Fn fn, bool& saw_corrupt) {
    try {
        fn();
    } catch (const CorruptSegment&) {
        saw_corrupt = true;
    } catch (const Error&) {
    }
}

void use_object(const Segment& segment, const ObjectInfo& info, bool& corrupt) {
    const std::string& n = info.name;
    switch (info.kind) {
    case ObjectKind::lock:
        return attempt(
            [&] {
                auto lock = Lock::open(segment, n);
                if (lock.acquire_for(10ms))
                    lock.release();
            },
            corrupt);
    case ObjectKind::rlock:
        return attempt(
            [&] {
                auto lock = RLock::open(segment, n);
                if (lock.acquire_for(10ms))
                    lock.release();
            },
            corrupt);
    case ObjectKind::semaphore:
        return attempt(
            [&] {
                auto sem = Semaphore::open(segment, n);
                if (sem.acquire_for(10ms))
                    sem.release();
            },
            corrupt);
    case ObjectKind::bounded_semaphore:
        return attempt(
            [&] {
                auto sem = BoundedSemaphore::open(segment, n);
                if (sem.acquire_for(10ms))
                    sem.release();
            },
            corrupt);
    case ObjectKind::event:
        return attempt(
            [&] {
                auto event = Event::open(segment, n);
                (void)event.wait_for(10ms);
                event.clear();
                event.set();
            },
            corrupt);
    case ObjectKind::condition:
        return attempt(
            [&] {
                auto cond = Condition::open(segment, n);
                if (cond.acquire_for(10ms)) {
                    (void)cond.wait_for(10ms);
                    cond.release();
                }
            },
            corrupt);
    case ObjectKind::barrier:
        return attempt([&] { (void)Barrier::open(segment, n, 2).wait_for(10ms); }, corrupt);
    case ObjectKind::value:
        return attempt(
            [&] {
                auto value = Value<int>::open(segment, n);
                value.store(value.load() + 1);
            },
            corrupt);
    case ObjectKind::array:
        return attempt(
            [&] {
                auto array = Array<std::int64_t>::open(segment, n);
                for (std::size_t i = 0; i < array.size(); ++i)
                    array.store(i, array.load(i) + 1);
            },
            corrupt);
    case ObjectKind::queue:
        return attempt(
            [&] {
                auto queue = Queue<std::string>::open(segment, n);
                for (int i = 0; i < 80; ++i)
                    (void)queue.try_get();
                (void)queue.try_put("x");
                (void)queue.get_for(10ms);
                queue.put_for(std::string(700, 'y'), 10ms);
            },
            corrupt);
    case ObjectKind::joinable_queue:
        return attempt(
            [&] {
                auto queue = JoinableQueue<int>::open(segment, n);
                (void)queue.get_for(10ms);
                queue.task_done();
                (void)queue.join_for(10ms);
            },
            corrupt);
    default:
        return;
    }
}

// In a child: open the segment and use everything. Exit code kClean or kCorrupt; anything
// else (1 for a foreign exception, a signal, the watchdog) is a failure.
int use_everything(const std::string& name, Connection* pipe_end) {
    Child child(
        [&] {
            bool corrupt = false;
            // A forged directory lock word (held by a thread that never releases it) makes
            // each open wait out the 5 s directory timeout: stop after a few of those.
            const auto give_up = std::chrono::steady_clock::now() + 12s;
            attempt(
                [&] {
                    const Segment segment = Segment::open(name, 100ms);
                    (void)segment.bytes_free();
                    (void)segment.processes();
                    std::vector<ObjectInfo> objects;
                    attempt([&] { objects = segment.objects(); }, corrupt);
                    for (const ObjectInfo& info : objects)
                        if (std::chrono::steady_clock::now() < give_up)
                            use_object(segment, info, corrupt);
                },
                corrupt);
            // poll only: a forged length makes recv wait for bytes a live peer never sends,
            // which is a block like any other, not a fault.
            if (pipe_end != nullptr)
                attempt([&] { (void)pipe_end->poll_for(10ms); }, corrupt);
            std::fflush(nullptr);
            _exit(corrupt ? kCorrupt : kClean);
        },
        60s);
    return child.wait(90s);
}

} // namespace

namespace {

struct Range {
    std::size_t start;
    std::size_t length;
};

// Builds a fresh populated segment (and a pipe holding a message) per round, writes 1 to 16
// random bytes into the ranges `where` picks, and checks the child's verdict.
template <class Where>
void corrupt_and_use(const char* test, Where where) {
    std::mt19937_64 rng = make_rng(test);
    int detected = 0;
    for (int round = 0; round < kRounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        ScopedSegment segment;
        populate(*segment);
        auto pipe = Pipe(*segment, true, PipeOptions{.capacity_bytes = 1024});
        pipe.second.send_bytes(std::string_view("a message waiting in the pipe"));
        char* base = detail::mapping_of(*segment).base();
        const std::vector<Range> ranges = where(*segment);
        const int writes = 1 + static_cast<int>(rng() % 16);
        for (int w = 0; w < writes; ++w) {
            const Range& range = ranges[rng() % ranges.size()];
            base[range.start + rng() % range.length] = static_cast<char>(rng());
        }
        const int verdict = use_everything(segment.name(), &pipe.first);
        ASSERT_TRUE(verdict == kClean || verdict == kCorrupt)
            << "child ended with " << verdict << " (1: a non-shmbus exception, negative: a "
            << "signal, " << Child::kTimedOut << ": hung)";
        detected += verdict == kCorrupt;
    }
    std::cout << "[corruption] " << test << ": " << kRounds << " rounds, " << detected
              << " reported CorruptSegment\n";
    ::testing::Test::RecordProperty("detected", detected);
}

Range object_range(const Segment& segment, std::string_view name) {
    for (const ObjectInfo& info : segment.objects())
        if (info.name == name)
            return {info.offset, info.size};
    throw std::runtime_error("no object " + std::string(name));
}

} // namespace

TEST(Corruption, random_bytes_in_the_header_fail_cleanly) {
    corrupt_and_use("header", [](const Segment&) { return std::vector<Range>{{0, 256}}; });
}

TEST(Corruption, random_bytes_in_the_directory_fail_cleanly) {
    corrupt_and_use("directory", [](const Segment&) {
        return std::vector<Range>{{detail::kDirectoryOffset, 16 * sizeof(detail::DirEntry)}};
    });
}

TEST(Corruption, random_bytes_in_queue_and_pipe_rings_fail_cleanly) {
    corrupt_and_use("rings", [](const Segment& segment) {
        return std::vector<Range>{object_range(segment, "queue"), object_range(segment, "jqueue"),
                                  object_range(segment, "pipe#1")};
    });
}

TEST(Corruption, random_bytes_in_any_object_state_fail_cleanly) {
    corrupt_and_use("objects", [](const Segment& segment) {
        std::vector<Range> ranges;
        for (const ObjectInfo& info : segment.objects())
            ranges.push_back({info.offset, info.size});
        return ranges;
    });
}

// Whole-header garbage is always detected: the magic, version and offsets cannot all survive.
TEST(Corruption, a_header_of_random_bytes_is_corrupt_segment) {
    std::mt19937_64 rng = make_rng("garbage");
    for (int round = 0; round < kRounds; ++round) {
        ScopedSegment segment;
        char* base = detail::mapping_of(*segment).base();
        for (std::size_t i = 0; i < 128; ++i)
            base[i] = static_cast<char>(rng());
        EXPECT_THROW((void)Segment::open(segment.name(), 10ms), CorruptSegment);
    }
}

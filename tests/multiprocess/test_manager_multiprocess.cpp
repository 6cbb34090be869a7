// SPDX-License-Identifier: Apache-2.0
// Dict and List across real processes: children change what the parent sees, unrelated
// openers reach them by name, exact counts under update(), and processes SIGKILLed while
// holding the lock or in the middle of writes never deadlock or corrupt the others.
#include "support/harness.hpp"

#include <algorithm>
#include <csignal>
#include <gtest/gtest.h>
#include <random>
#include <shmbus/manager.hpp>
#include <shmbus/shared.hpp>
#include <thread>
#include <unistd.h>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

constexpr ContainerOptions kSmall{.capacity_bytes = 2048, .max_entries = 32};

// A value whose every element repeats its key's number: a torn or misplaced write shows.
std::vector<int> pattern(int n) {
    return std::vector<int>(static_cast<std::size_t>(n % 7 + 1), n);
}

bool is_pattern(const std::vector<int>& value) {
    return !value.empty() && value == pattern(value.front());
}

} // namespace

TEST(ManagerMultiprocess, children_mutate_and_the_parent_sees_it) {
    ScopedSegment segment(std::size_t{16} << 20);
    Manager manager(*segment);
    auto d = manager.dict<std::string>();
    auto l = manager.list<int>();
    const auto codes = run_children(4, [&](int i) {
        d.set("child" + std::to_string(i), "hello from " + std::to_string(i));
        l.append(i);
    });
    EXPECT_EQ(codes, (std::vector<int>{0, 0, 0, 0}));
    EXPECT_EQ(d.size(), 4U);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(d.get("child" + std::to_string(i)), "hello from " + std::to_string(i));
    auto values = l.to_vector();
    std::sort(values.begin(), values.end());
    EXPECT_EQ(values, (std::vector<int>{0, 1, 2, 3}));
}

TEST(ManagerMultiprocess, ten_processes_each_subtracting_ten_end_at_exactly_zero) {
    ScopedSegment segment(std::size_t{16} << 20);
    auto d = Manager(*segment).dict<int>();
    d.set("num", 100);
    const auto codes = run_children(10, [&](int) { d.update("num", [](int& n) { n -= 10; }); });
    EXPECT_EQ(codes, std::vector<int>(10, 0));
    EXPECT_EQ(d.get("num"), 0);
}

TEST(ManagerMultiprocess, contended_updates_count_exactly_through_compactions) {
    ScopedSegment segment;
    Dict<std::int64_t> d(*segment, "counts", kSmall);
    List<std::int64_t> l(*segment, "cells", kSmall);
    l.append(0);
    constexpr int kRounds = 500;
    const auto codes = run_children(4, [&](int) {
        for (int round = 0; round < kRounds; ++round) {
            d.update("n", 0, [](std::int64_t& n) { ++n; });
            l.update(0, [](std::int64_t n) { return n + 2; });
        }
    });
    EXPECT_EQ(codes, std::vector<int>(4, 0));
    EXPECT_EQ(d.get("n"), 4 * kRounds);
    EXPECT_EQ(l.at(0), 8 * kRounds);
}

// Each extend is one hold of the lock: a batch never interleaves with another process's.
TEST(ManagerMultiprocess, concurrent_extends_land_as_whole_batches) {
    ScopedSegment segment;
    List<std::int64_t> l(*segment, "batches", {.capacity_bytes = 65536, .max_entries = 2048});
    constexpr int kProcesses = 4;
    constexpr int kBatches = 50;
    constexpr int kBatchSize = 5;
    const auto codes = run_children(kProcesses, [&](int p) {
        for (int b = 0; b < kBatches; ++b) {
            std::vector<std::int64_t> batch;
            for (int i = 0; i < kBatchSize; ++i)
                batch.push_back((p * kBatches + b) * kBatchSize + i);
            l.extend(batch);
        }
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    const auto all = l.to_vector();
    ASSERT_EQ(all.size(), std::size_t{kProcesses * kBatches * kBatchSize});
    for (std::size_t at = 0; at < all.size(); at += kBatchSize) {
        EXPECT_EQ(all[at] % kBatchSize, 0) << "a batch starts mid-way at " << at;
        for (std::size_t i = 1; i < kBatchSize; ++i)
            EXPECT_EQ(all[at + i], all[at] + static_cast<std::int64_t>(i)) << "at " << at + i;
    }
}

TEST(ManagerMultiprocess, an_unrelated_opener_reaches_the_containers_by_name) {
    const std::string name = shmbus::test::unique_name("mgr");
    shmbus::test::UnlinkOnExit unlink(name);
    Manager creator(Segment::create(name, std::size_t{8} << 20));
    auto d = creator.dict<std::string>("config");
    d.set("mode", "fast");
    // The child uses nothing inherited but the names.
    Child opener([name] {
        Manager manager(Segment::open(name));
        auto config = Dict<std::string>::open(manager.segment(), "config");
        if (config.get("mode") != "fast")
            throw std::runtime_error("wrong value");
        config.set("seen_by", "child");
        manager.list<int>("made_by_child").append(42);
    });
    ASSERT_EQ(opener.wait(), 0);
    EXPECT_EQ(d.get("seen_by"), "child");
    EXPECT_EQ(List<int>::open(creator.segment(), "made_by_child").at(0), 42);
}

TEST(ManagerMultiprocess, holder_killed_inside_update_does_not_block_the_others) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d", kSmall);
    Value<int> inside(*segment, "inside", 0);
    d.set("n", 10);
    Child holder([&] {
        d.update("n", [&](int& n) {
            n = 999;
            inside.store(1);
            for (;;)
                ::pause();
        });
    });
    ASSERT_TRUE(eventually([&] { return inside.load() == 1; }));
    // A second process queues on the lock behind the holder.
    Child waiter([&] { d.update("n", [](int& n) { n += 1; }); });
    holder.kill(SIGKILL);
    EXPECT_EQ(holder.wait(), -SIGKILL);
    EXPECT_EQ(waiter.wait(), 0);
    EXPECT_EQ(d.get("n"), 11); // the holder's unfinished 999 was never written
    d.set("after", 1);
    EXPECT_EQ(d.keys(), (std::vector<std::string>{"n", "after"}));
}

TEST(ManagerMultiprocess, writers_killed_at_random_points_leave_consistent_containers) {
    ScopedSegment segment;
    Dict<std::vector<int>> d(*segment, "d", kSmall);
    List<std::vector<int>> l(*segment, "l", kSmall);
    std::mt19937 random(12345);
    for (int trial = 0; trial < 20; ++trial) {
        Child writer([&, trial] {
            std::mt19937 own(static_cast<unsigned>(trial));
            for (int n = 0;; ++n) {
                const int key = static_cast<int>(own() % 20);
                try {
                    switch (own() % 6) {
                    case 0:
                    case 1:
                        d.set(std::to_string(key), pattern(n));
                        break;
                    case 2:
                        d.pop(std::to_string(key), {});
                        break;
                    case 3:
                        l.append(pattern(n));
                        break;
                    case 4:
                        l.insert(key, pattern(n));
                        break;
                    default:
                        if (l.size() > 8)
                            l.pop(key % 3);
                    }
                } catch (const Full&) {
                    l.clear();
                }
            }
        });
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));
        writer.kill(SIGKILL);
        ASSERT_EQ(writer.wait(), -SIGKILL);
        const auto items = d.items();
        EXPECT_EQ(items.size(), d.size());
        for (const auto& [key, value] : items)
            EXPECT_TRUE(is_pattern(value)) << "trial " << trial << " key " << key;
        const auto values = l.to_vector();
        EXPECT_EQ(values.size(), l.size());
        for (const auto& value : values)
            EXPECT_TRUE(is_pattern(value)) << "trial " << trial;
        // Still fully usable after the recovery.
        d.set("survivor", pattern(trial));
        EXPECT_EQ(d.get("survivor"), pattern(trial));
        d.erase("survivor");
    }
}

// SPDX-License-Identifier: Apache-2.0
// Dict and List across real processes: children change what the parent sees, unrelated
// openers reach them by name, exact counts under update(), and processes SIGKILLed while
// holding the lock or in the middle of writes never deadlock or corrupt the others. Then the
// rest of SyncManager: int and tuple keys set and popped by several processes, setdefault
// races, sort and reverse that no reader sees half done, writers killed inside batches and
// reorderings, nested containers written through from children, and the Manager's Queue, Lock,
// Event, Condition, Barrier, Semaphore and Namespace shared by forked children.
#include "support/harness.hpp"

#include <algorithm>
#include <csignal>
#include <gtest/gtest.h>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <shmbus/manager.hpp>
#include <shmbus/shared.hpp>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

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

// The rest of Python's SyncManager across processes.

namespace {

constexpr std::size_t kRoomy = std::size_t{32} << 20;
constexpr ContainerOptions kModest{.capacity_bytes = 16384, .max_entries = 256};

} // namespace

TEST(SyncManagerMultiprocess, tuple_keys_set_by_children_and_popped_exactly_once) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto cells = manager.dict_of<std::tuple<int, int>, int>("cells", kModest);
    auto popped = manager.list<std::tuple<int, int>>("popped", kModest);
    constexpr int kProcesses = 4;
    constexpr int kEach = 25;
    EXPECT_EQ(run_children(kProcesses,
                           [&](int p) {
                               for (int i = 0; i < kEach; ++i)
                                   cells.set({p, i}, p * kEach + i);
                           }),
              std::vector<int>(kProcesses, 0));
    ASSERT_EQ(cells.size(), std::size_t{kProcesses * kEach});
    EXPECT_EQ(cells.get({2, 7}), 2 * kEach + 7);
    // Every process pops until the Dict is empty: each item goes to exactly one of them.
    EXPECT_EQ(run_children(kProcesses,
                           [&](int) {
                               for (;;) {
                                   try {
                                       const auto [key, value] = cells.popitem();
                                       const auto [p, i] = key;
                                       if (value != p * kEach + i)
                                           throw std::runtime_error("popped a wrong value");
                                       popped.append(key);
                                   } catch (const KeyError&) {
                                       return;
                                   }
                               }
                           }),
              std::vector<int>(kProcesses, 0));
    const auto all = popped.to_vector();
    EXPECT_EQ(all.size(), std::size_t{kProcesses * kEach});
    const std::set<std::tuple<int, int>> distinct(all.begin(), all.end());
    EXPECT_EQ(distinct.size(), all.size());
    EXPECT_TRUE(cells.empty());
}

TEST(SyncManagerMultiprocess, racing_setdefaults_agree_on_the_first_value) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto d = manager.dict_of<int, int>("d", kModest);
    auto seen = manager.list<int>("seen", kModest);
    constexpr int kProcesses = 4;
    EXPECT_EQ(run_children(kProcesses,
                           [&](int p) {
                               for (int key = 0; key < 10; ++key)
                                   seen.append(key * 100 + d.setdefault(key, p));
                           }),
              std::vector<int>(kProcesses, 0));
    for (const int entry : seen.to_vector())
        EXPECT_EQ(entry % 100, d.get(entry / 100)) << "key " << entry / 100;
}

// Readers in other processes take snapshots while the parent sorts, reverses and repeats: a
// snapshot is always a whole permutation in one of the orders, never a mix.
TEST(SyncManagerMultiprocess, readers_never_see_a_half_sorted_or_half_repeated_list) {
    ScopedSegment segment(kRoomy);
    List<int> l(*segment, "l", kModest);
    std::vector<int> base(40);
    for (std::size_t i = 0; i < base.size(); ++i)
        base[i] = static_cast<int>((i * 17) % base.size());
    l.extend(base);
    std::vector<int> ascending = base;
    std::sort(ascending.begin(), ascending.end());
    std::vector<int> descending(ascending.rbegin(), ascending.rend());
    Value<int> reads(*segment, "reads", 0);
    constexpr int kReads = 300;
    // Every state one round below passes through.
    std::vector<int> doubled = ascending;
    doubled.insert(doubled.end(), ascending.begin(), ascending.end());
    std::vector<int> sorted_doubled = doubled;
    std::sort(sorted_doubled.begin(), sorted_doubled.end());
    const std::set<std::vector<int>> whole{base,    ascending,      descending,
                                           doubled, sorted_doubled, {}};
    Child reader([&] {
        for (int read = 0; read < kReads; ++read) {
            if (!whole.contains(l.to_vector()))
                throw std::runtime_error("a reader saw a list in the middle of a change");
            reads.store(read + 1);
        }
    });
    // Changes go on until the reader has read enough (bounded in case it dies early).
    for (int round = 0; round < 100'000 && reads.load() < kReads; ++round) {
        l.sort();
        l.sort(true);
        l.reverse();
        l *= 2;
        l.sort();
        l *= 0;
        l += base;
    }
    EXPECT_EQ(reader.wait(), 0);
}

// A writer SIGKILLed at a random moment inside extend, +=, *=, sort, reverse or popitem: every
// batch of kBatch values is in the List whole (as often as *= repeated it) or not at all, and
// the Dict's items hold together.
TEST(SyncManagerMultiprocess, writers_killed_inside_batches_and_reorderings_leave_them_whole) {
    constexpr std::int64_t kBatch = 8;
    ScopedSegment segment(kRoomy);
    List<std::int64_t> l(*segment, "l", {.capacity_bytes = 8192, .max_entries = 512});
    DictOf<int, int> d(*segment, "d", {.capacity_bytes = 1024, .max_entries = 32});
    std::mt19937 random(2026);
    for (int trial = 0; trial < 12; ++trial) {
        Child writer([&, trial] {
            std::mt19937 own(static_cast<unsigned>(trial));
            for (std::int64_t batch = 0;; ++batch) {
                std::vector<std::int64_t> values(kBatch);
                std::iota(values.begin(), values.end(), batch * kBatch);
                try {
                    switch (own() % 6) {
                    case 0:
                        l.extend(values);
                        break;
                    case 1:
                        l += values;
                        break;
                    case 2:
                        l *= 2;
                        break;
                    case 3:
                        l.sort(own() % 2 == 0);
                        break;
                    case 4:
                        l.reverse();
                        break;
                    default:
                        d.set(static_cast<int>(own() % 40), trial);
                        if (own() % 2 == 0)
                            d.popitem();
                    }
                } catch (const Full&) {
                    l.clear();
                } catch (const KeyError&) {
                }
            }
        });
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 20000));
        writer.kill(SIGKILL);
        ASSERT_EQ(writer.wait(), -SIGKILL);
        std::map<std::int64_t, std::map<std::int64_t, int>> members; // batch -> value -> count
        for (const std::int64_t value : l.to_vector())
            ++members[value / kBatch][value];
        for (const auto& [batch, counts] : members) {
            ASSERT_EQ(counts.size(), std::size_t{kBatch})
                << "trial " << trial << " batch " << batch;
            for (const auto& [value, count] : counts)
                EXPECT_EQ(count, counts.begin()->second) << "trial " << trial << " value " << value;
        }
        EXPECT_EQ(d.items().size(), d.size());
        l.clear(); // still usable after the recovery
        l.append(0);
        l.clear();
    }
}

TEST(SyncManagerMultiprocess, nested_containers_write_through_from_children) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto rows = manager.list<Dict<int>>("rows", kModest);
    auto columns = manager.dict<List<int>>("columns", kModest);
    rows.append(manager.dict<int>("shared_row", kModest));
    constexpr int kProcesses = 3;
    EXPECT_EQ(run_children(kProcesses,
                           [&](int p) {
                               // A Dict the child makes, reached by the parent through rows.
                               auto mine = manager.dict<int>("", kModest);
                               mine.set("p", p);
                               rows.append(mine);
                               // The parent's Dict, changed through the reference it stored.
                               rows.at(0).update("hits", 0, [](int& n) { ++n; });
                               columns.set("c" + std::to_string(p), manager.list<int>("", kModest));
                               columns.get("c" + std::to_string(p)).append(p);
                           }),
              std::vector<int>(kProcesses, 0));
    EXPECT_EQ(rows.at(0).get("hits"), kProcesses);
    ASSERT_EQ(rows.size(), std::size_t{kProcesses + 1});
    std::set<int> made_by;
    for (std::size_t i = 1; i < rows.size(); ++i)
        made_by.insert(rows.at(static_cast<std::ptrdiff_t>(i)).get("p"));
    EXPECT_EQ(made_by, (std::set<int>{0, 1, 2}));
    for (int p = 0; p < kProcesses; ++p)
        EXPECT_EQ(columns.get("c" + std::to_string(p)).to_vector(), std::vector<int>{p});
}

// Python: q = manager.Queue(); lock = manager.Lock(); ... passed to Process(target=...).
TEST(SyncManagerMultiprocess, manager_made_primitives_are_shared_with_children) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto queue = manager.queue<int>();
    auto lock = manager.lock();
    auto counter = manager.value<int>(0);
    auto start = manager.event();
    auto barrier = manager.barrier(3u);
    auto slots = manager.bounded_semaphore(2);
    auto ns = manager.namespace_();
    auto condition = manager.condition();
    auto ready = manager.value<int>(0);
    ns.set("total", 0);
    constexpr int kProcesses = 3;
    std::vector<Child> children;
    for (int p = 0; p < kProcesses; ++p) {
        children.emplace_back([&, p] {
            start.wait();
            barrier.wait();
            for (int i = 0; i < 50; ++i) {
                std::lock_guard guard(lock);
                counter.store(counter.load() + 1); // two steps: only the Lock makes it exact
            }
            {
                std::lock_guard slot(slots);
                ns.update<int>("total", [p](int& total) { total += p; });
            }
            {
                std::unique_lock guard(condition);
                ready.store(ready.load() + 1);
                condition.notify_all();
            }
            queue.put(p);
        });
    }
    start.set();
    {
        std::unique_lock guard(condition);
        condition.wait([&] { return ready.load() == kProcesses; });
    }
    std::set<int> got;
    for (int p = 0; p < kProcesses; ++p)
        got.insert(queue.get());
    for (Child& child : children)
        EXPECT_EQ(child.wait(), 0);
    EXPECT_EQ(got, (std::set<int>{0, 1, 2}));
    EXPECT_EQ(counter.load(), kProcesses * 50);
    EXPECT_EQ(ns.get<int>("total"), 0 + 1 + 2);
}

// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"

#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/lock.hpp>
#include <shmbus/shared.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {
constexpr int kProcesses = 4;
constexpr int kIncrements = 1000;
} // namespace

TEST(SharedMultiprocess, fetch_add_from_four_processes_counts_exactly) {
    Value<int> counter(0);
    const auto codes = run_children(kProcesses, [&](int) {
        for (int i = 0; i < kIncrements; ++i)
            counter.fetch_add(1);
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(counter.load(), kProcesses * kIncrements);
}

TEST(SharedMultiprocess, compound_update_under_get_lock_counts_exactly) {
    Value<long> counter(0);
    const auto codes = run_children(kProcesses, [&](int) {
        for (int i = 0; i < kIncrements; ++i) {
            std::lock_guard guard(counter.get_lock());
            counter.store(counter.load() + 1);
        }
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(counter.load(), kProcesses * kIncrements);
}

TEST(SharedMultiprocess, array_written_by_children_is_seen_by_parent) {
    Array<int> squares(16);
    const auto codes = run_children(4, [&](int index) {
        for (std::size_t i = static_cast<std::size_t>(index); i < squares.size(); i += 4)
            squares.store(i, static_cast<int>(i * i));
    });
    EXPECT_EQ(codes, std::vector<int>(4, 0));
    for (std::size_t i = 0; i < squares.size(); ++i)
        EXPECT_EQ(squares.load(i), static_cast<int>(i * i));
}

TEST(SharedMultiprocess, named_value_reached_by_name_from_a_child_that_opens_the_segment) {
    ScopedSegment segment;
    Value<double> total(*segment, "total", 1.5);
    const std::string name = segment.name();
    const auto codes = run_children(1, [&](int) {
        Segment reopened = Segment::open(name);
        Value<double>::open(reopened, "total").fetch_add(2.0);
    });
    EXPECT_EQ(codes, std::vector<int>{0});
    EXPECT_DOUBLE_EQ(total.load(), 3.5);
}

TEST(SharedMultiprocess, lock_of_a_non_lock_free_value_guards_whole_struct_updates) {
    struct Pair {
        long a, b, c;
    };
    Value<Pair> pair(Pair{0, 0, 0});
    const auto codes = run_children(kProcesses, [&](int) {
        for (int i = 0; i < 300; ++i) {
            const Pair seen = pair.load();
            if (seen.a != seen.b || seen.b != seen.c)
                throw std::runtime_error("torn read");
            std::lock_guard guard(pair.get_lock());
            Pair next = pair.load();
            ++next.a, ++next.b, ++next.c;
            pair.store(next);
        }
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(pair.load().a, kProcesses * 300);
    EXPECT_EQ(pair.load().c, kProcesses * 300);
}

TEST(SharedMultiprocess, one_given_lock_guards_two_values_across_processes) {
    ScopedSegment segment;
    Lock lock(*segment, "lock");
    Value<long, Lock> debit(*segment, "debit", 0, lock);
    Value<long, Lock> credit(*segment, "credit", 0, lock);
    RawValue<long> audits(*segment, "audits", 0);
    const auto codes = run_children(kProcesses, [&](int) {
        for (int i = 0; i < kIncrements / 10; ++i) {
            std::lock_guard guard(debit.get_lock());
            debit.get_obj().store(debit.load() - 1);
            credit.get_obj().store(credit.load() + 1);
            if (debit.load() + credit.load() != 0) // never seen between the two stores
                audits.fetch_add(1);
        }
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(credit.load(), kProcesses * kIncrements / 10);
    EXPECT_EQ(debit.load(), -credit.load());
    EXPECT_EQ(audits.load(), 0);
}

TEST(SharedMultiprocess, raw_array_and_char_value_are_shared_with_children) {
    RawArray<int> slots(kProcesses);
    Array<char> greeting(16);
    const auto codes = run_children(kProcesses, [&](int process) {
        slots[static_cast<std::size_t>(process)] = process + 1;
        if (process == 0)
            greeting.set_value("hello");
    });
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(slots.to_vector(), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(greeting.value(), "hello");
    EXPECT_EQ(greeting.raw(), std::string("hello") + std::string(11, '\0'));
}

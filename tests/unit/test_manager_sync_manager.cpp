// SPDX-License-Identifier: Apache-2.0
// The rest of Python's SyncManager in one process: Dict keys of any encodable type, popitem and
// setdefault, List sort / reverse / += / *=, nested containers that write through, the
// Manager's other factories and Namespace.
#include "support/harness.hpp"

#include <gtest/gtest.h>
#include <shmbus/manager.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

constexpr ContainerOptions kSmall{.capacity_bytes = 1024, .max_entries = 16};
// Room for several objects made with default options (a Dict or List reserves 2.6 MB).
constexpr std::size_t kRoomy = std::size_t{32} << 20;

} // namespace

TEST(DictKeys, int_keys_follow_python) {
    ScopedSegment segment;
    DictOf<int, std::string> d(*segment, "d");
    d.set(3, "three");
    d.set(-1, "minus one");
    d.set(3, "THREE");
    EXPECT_EQ(d.get(3), "THREE");
    EXPECT_TRUE(d.contains(-1));
    EXPECT_FALSE(d.contains(4));
    EXPECT_THROW(d.get(4), KeyError);
    EXPECT_EQ(d.keys(), (std::vector<int>{3, -1}));
    EXPECT_EQ(d.pop(-1), "minus one");
    EXPECT_EQ(d.items(), (std::vector<std::pair<int, std::string>>{{3, "THREE"}}));
}

TEST(DictKeys, tuple_keys_work_through_the_manager) {
    ScopedSegment segment;
    auto grid = Manager(*segment).dict_of<std::tuple<int, int>, double>("grid");
    grid.set({0, 1}, 0.5);
    grid.set({1, 0}, 1.5);
    EXPECT_EQ(grid.get({0, 1}), 0.5);
    EXPECT_EQ(grid.get({1, 0}), 1.5);
    EXPECT_FALSE(grid.contains({1, 1}));
    EXPECT_EQ(grid.update({0, 1}, [](double& v) { v *= 2; }), 1.0);
}

TEST(DictKeys, string_keyed_dicts_keep_their_old_type_tag) {
    // Dicts made before key types existed (and by Python) must open unchanged.
    EXPECT_EQ((Dict<int>::type_tag()), detail::type_tag<int>());
    EXPECT_EQ((Dict<int, CerealCodec, std::string>::type_tag()), detail::type_tag<int>());
    EXPECT_NE((DictOf<int, int>::type_tag()), detail::type_tag<int>());
    EXPECT_NE((DictOf<int, int>::type_tag()), (DictOf<long, int>::type_tag()));
    EXPECT_NE((DictOf<int, long>::type_tag()), (DictOf<long, int>::type_tag()));
}

TEST(DictKeys, opening_with_another_key_type_is_kind_mismatch) {
    ScopedSegment segment;
    DictOf<int, int> d(*segment, "d");
    d.set(1, 1);
    EXPECT_THROW((Dict<int>::open(*segment, "d")), KindMismatch);
    EXPECT_THROW((DictOf<std::int64_t, int>::open(*segment, "d")), KindMismatch);
    EXPECT_EQ((DictOf<int, int>::open(*segment, "d").get(1)), 1);
}

TEST(DictPopitem, pops_the_last_inserted_item_first) {
    ScopedSegment segment;
    DictOf<int, int> d(*segment, "d", kSmall);
    for (int i = 0; i < 5; ++i)
        d.set(i, i * 10);
    d.set(1, 11); // replacing keeps the key's place
    EXPECT_EQ(d.popitem(), (std::pair<int, int>{4, 40}));
    d.erase(3);
    EXPECT_EQ(d.popitem(), (std::pair<int, int>{2, 20}));
    d.set(7, 70);
    EXPECT_EQ(d.popitem(), (std::pair<int, int>{7, 70}));
    EXPECT_EQ(d.popitem(), (std::pair<int, int>{1, 11}));
    EXPECT_EQ(d.popitem(), (std::pair<int, int>{0, 0}));
    EXPECT_THROW(d.popitem(), KeyError);
    // The entries popitem emptied are reused: more sets than max_entries still fit.
    for (int round = 0; round < 40; ++round) {
        d.set(round, round);
        EXPECT_EQ(d.popitem().first, round);
    }
}

TEST(DictSetdefault, stores_only_when_missing) {
    ScopedSegment segment;
    DictOf<int, std::string> d(*segment, "d");
    EXPECT_EQ(d.setdefault(1, "first"), "first");
    EXPECT_EQ(d.setdefault(1, "second"), "first");
    EXPECT_EQ(d.get(1), "first");
}

TEST(ListOrder, sort_is_stable_and_reverse_keeps_equal_entries_in_order) {
    ScopedSegment segment;
    List<std::pair<int, std::string>> l(*segment, "l");
    l.extend(std::vector<std::pair<int, std::string>>{{2, "a"}, {1, "b"}, {2, "c"}, {1, "d"}});
    l.sort_by([](const auto& p) { return p.first; });
    EXPECT_EQ(l.to_vector(),
              (std::vector<std::pair<int, std::string>>{{1, "b"}, {1, "d"}, {2, "a"}, {2, "c"}}));
    l.sort_by([](const auto& p) { return p.first; }, std::less<>{}, true);
    EXPECT_EQ(l.to_vector(),
              (std::vector<std::pair<int, std::string>>{{2, "a"}, {2, "c"}, {1, "b"}, {1, "d"}}));
    l.sort();
    EXPECT_EQ(l.at(0), (std::pair<int, std::string>{1, "b"}));
    l.sort([](const auto& a, const auto& b) { return a.second > b.second; });
    EXPECT_EQ(l.at(0).second, "d");
    l.reverse();
    EXPECT_EQ(l.at(0).second, "a");
    EXPECT_EQ(l.at(-1).second, "d");
}

TEST(ListOrder, a_throwing_comparator_leaves_the_list_unchanged) {
    ScopedSegment segment;
    List<int> l(*segment, "l");
    l.extend(std::vector<int>{3, 1, 2});
    EXPECT_THROW(l.sort([](int, int) -> bool { throw std::runtime_error("no"); }),
                 std::runtime_error);
    EXPECT_EQ(l.to_vector(), (std::vector<int>{3, 1, 2}));
    l.sort(true);
    EXPECT_EQ(l.to_vector(), (std::vector<int>{3, 2, 1}));
}

TEST(ListArithmetic, plus_equals_and_times_equals_follow_python) {
    ScopedSegment segment;
    List<int> l(*segment, "l");
    l += std::vector<int>{1, 2};
    l *= 3;
    EXPECT_EQ(l.to_vector(), (std::vector<int>{1, 2, 1, 2, 1, 2}));
    l += l;
    EXPECT_EQ(l.size(), 12U);
    l *= 1;
    EXPECT_EQ(l.size(), 12U);
    l *= 0;
    EXPECT_TRUE(l.empty());
    l += std::vector<int>{5};
    l *= -2;
    EXPECT_TRUE(l.empty());
}

TEST(ListArithmetic, what_does_not_fit_changes_nothing) {
    ScopedSegment segment;
    List<int> l(*segment, "l", kSmall);
    l.extend(std::vector<int>{1, 2, 3, 4, 5, 6});
    EXPECT_THROW(l *= 3, Full); // 18 entries, 16 allowed
    EXPECT_EQ(l.to_vector(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
    EXPECT_THROW(l.extend(std::vector<int>(11, 0)), Full);
    EXPECT_EQ(l.size(), 6U);
    l.extend(std::vector<int>(10, 0));
    EXPECT_EQ(l.size(), 16U);
}

TEST(NestedContainers, a_list_of_dicts_writes_through) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto rows = manager.list<Dict<int>>("rows");
    rows.append(manager.dict<int>());
    rows.append(manager.dict<int>("named_row"));
    rows.at(0).set("x", 1);
    rows.at(1).set("y", 2);
    EXPECT_EQ(rows.at(0).get("x"), 1);
    EXPECT_EQ(Dict<int>::open(*segment, "named_row").get("y"), 2);
    EXPECT_EQ(List<Dict<int>>::open(*segment, "rows").at(0).get("x"), 1);
    auto first = rows.at(0);
    EXPECT_EQ(rows.count(first), 1U);
    EXPECT_EQ(rows.index(first), 0U);
}

TEST(NestedContainers, a_dict_of_lists_writes_through_and_checks_types) {
    ScopedSegment segment(kRoomy);
    Manager manager(*segment);
    auto columns = manager.dict<List<std::string>>("columns");
    columns.set("names", manager.list<std::string>());
    columns.get("names").append("ada");
    columns.get("names").append("alan");
    EXPECT_EQ(columns.get("names").to_vector(), (std::vector<std::string>{"ada", "alan"}));
    // The element type is part of the outer container's type.
    EXPECT_THROW(Dict<List<int>>::open(*segment, "columns"), KindMismatch);
    EXPECT_THROW(Dict<std::string>::open(*segment, "columns"), KindMismatch);
    // A reference read as another container type is KindMismatch too.
    EXPECT_THROW((List<int>::at(*segment, columns.get("names").offset())), KindMismatch);
}

TEST(NestedContainers, an_inner_container_in_another_segment_is_opened_by_name) {
    ScopedSegment outer_segment;
    ScopedSegment inner_segment;
    List<List<int>> outer(*outer_segment, "outer");
    List<int> inner(*inner_segment, "inner");
    outer.append(inner);
    outer.at(0).append(7);
    EXPECT_EQ(inner.to_vector(), (std::vector<int>{7}));
    EXPECT_EQ(outer.at(0).segment().name(), inner_segment.name());
}

TEST(ManagerFactories, make_each_sync_manager_type_in_its_segment) {
    ScopedSegment segment(kRoomy);
    Manager m(*segment);
    auto v = m.value<int>(5);
    EXPECT_EQ(v.load(), 5);
    auto a = m.array<double>(3);
    EXPECT_EQ(a.size(), 3U);
    auto q = m.queue<std::string>();
    q.put("hello");
    EXPECT_EQ(q.get(), "hello");
    auto jq = m.joinable_queue<int>(QueueOptions{.maxsize = 1});
    jq.put(1);
    EXPECT_EQ(jq.get(), 1);
    jq.task_done();
    auto lock = m.lock();
    EXPECT_TRUE(lock.try_lock());
    lock.release();
    auto rlock = m.rlock();
    EXPECT_TRUE(rlock.try_lock());
    EXPECT_TRUE(rlock.try_lock());
    rlock.release();
    rlock.release();
    auto s = m.semaphore(2);
    EXPECT_TRUE(s.try_acquire());
    EXPECT_TRUE(s.try_acquire());
    EXPECT_FALSE(s.try_acquire());
    auto bs = m.bounded_semaphore(1);
    EXPECT_THROW(bs.release(), UsageError);
    auto e = m.event();
    EXPECT_FALSE(e.is_set());
    e.set();
    EXPECT_TRUE(e.is_set());
    auto c = m.condition();
    auto c_over_lock = m.condition(lock);
    auto b = m.barrier(1u);
    EXPECT_EQ(b.wait(), 0U);
    for (const ObjectInfo& info : segment->objects())
        EXPECT_NE(info.name.find('#'), std::string::npos) << info.name << " should be anonymous";
}

TEST(NamespaceTest, attributes_keep_their_types) {
    ScopedSegment segment;
    auto ns = Manager(*segment).namespace_();
    ns.set("x", 1);
    ns.set("name", std::string("shmbus"));
    EXPECT_EQ(ns.get<int>("x"), 1);
    EXPECT_EQ(ns.get<std::string>("name"), "shmbus");
    EXPECT_THROW(ns.get<double>("x"), KindMismatch);
    EXPECT_THROW(ns.get<int>("missing"), KeyError);
    EXPECT_EQ(ns.get<int>("missing", 9), 9);
    EXPECT_EQ(ns.update<int>("x", [](int& x) { x += 41; }), 42);
    ns.set("x", 2.5); // assignment may change the type, as in Python
    EXPECT_EQ(ns.get<double>("x"), 2.5);
    EXPECT_EQ(ns.names(), (std::vector<std::string>{"x", "name"}));
    EXPECT_TRUE(ns.contains("name"));
    ns.erase("name");
    EXPECT_FALSE(ns.contains("name"));
    EXPECT_THROW(ns.erase("name"), KeyError);
}

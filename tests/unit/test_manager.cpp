// SPDX-License-Identifier: Apache-2.0
// Dict and List in one process: Python's semantics and errors, capacity limits that lose
// nothing, compaction, and forged shared state that must raise CorruptSegment; then key types,
// popitem, List sort and arithmetic, nesting, the Manager's other factories and Namespace.
#include "manager/manager_store.hpp"
#include "support/harness.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <shmbus/manager.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

constexpr ContainerOptions kSmall{.capacity_bytes = 1024, .max_entries = 16};

detail::ContainerState& container_state(Segment& segment, std::string_view name, ObjectKind kind,
                                        std::uint64_t tag) {
    const auto ref = detail::attach_object(segment, name, {kind, 0, 64, tag},
                                           detail::OpenMode::open, [](void*) {});
    return ref.state<detail::ContainerState>();
}

// The first record of the active heap half of a container made with kSmall.
std::byte* first_record(Segment& segment, std::string_view name, ObjectKind kind,
                        std::uint64_t tag) {
    detail::ContainerState& state = container_state(segment, name, kind, tag);
    const detail::Geometry g =
        detail::Geometry::of(state.heap_bytes, state.max_entries, state.hash_slots);
    const detail::Root& root = state.roots[state.root_index.load()];
    return reinterpret_cast<std::byte*>(&state) + g.heap_offset + root.heap * g.heap_bytes;
}

} // namespace

TEST(Dict, set_get_contains_erase_and_size_follow_python) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d");
    EXPECT_TRUE(d.empty());
    d.set("a", 1);
    d.set("b", 2);
    d.set("a", 3);
    EXPECT_EQ(d.get("a"), 3);
    EXPECT_EQ(d.get("b"), 2);
    EXPECT_EQ(d.size(), 2U);
    EXPECT_TRUE(d.contains("b"));
    EXPECT_FALSE(d.contains("c"));
    EXPECT_EQ(d.get("c", 7), 7);
    EXPECT_EQ(d.try_get("c"), std::nullopt);
    d.erase("a");
    EXPECT_FALSE(d.contains("a"));
    EXPECT_EQ(d.size(), 1U);
    EXPECT_THROW(d.get("a"), KeyError);
    EXPECT_THROW(d.erase("a"), KeyError);
    EXPECT_THROW(d.pop("a"), KeyError);
    EXPECT_EQ(d.pop("a", -1), -1);
    EXPECT_EQ(d.pop("b"), 2);
    EXPECT_TRUE(d.empty());
}

TEST(Dict, keys_values_and_items_keep_insertion_order) {
    ScopedSegment segment;
    Dict<std::string> d(*segment, "d");
    d.set("z", "last letter");
    d.set("a", "first letter");
    d.set("m", "middle");
    d.erase("a");
    d.set("a", "again");
    d.set("z", "replaced in place");
    EXPECT_EQ(d.keys(), (std::vector<std::string>{"z", "m", "a"}));
    EXPECT_EQ(d.values(), (std::vector<std::string>{"replaced in place", "middle", "again"}));
    const auto items = d.items();
    ASSERT_EQ(items.size(), 3U);
    EXPECT_EQ(items[2], (std::pair<std::string, std::string>{"a", "again"}));
}

TEST(Dict, update_forms_and_setdefault) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d");
    EXPECT_THROW(d.update("n", [](int& n) { n += 1; }), KeyError);
    EXPECT_EQ(d.update("n", 100, [](int& n) { n -= 10; }), 90);
    EXPECT_EQ(d.update("n", [](int n) { return n * 2; }), 180);
    EXPECT_EQ(d.setdefault("n", 5), 180);
    EXPECT_EQ(d.setdefault("m", 5), 5);
    EXPECT_THROW(d.update("n", [](int&) { throw std::runtime_error("no"); }), std::runtime_error);
    EXPECT_EQ(d.get("n"), 180);
}

TEST(Dict, using_the_dict_inside_its_own_update_is_a_usage_error) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d");
    d.set("n", 1);
    EXPECT_THROW(d.update("n", [&](int& n) { n = d.get("n"); }), UsageError);
    EXPECT_EQ(d.get("n"), 1);
}

TEST(Dict, full_capacity_raises_full_and_loses_nothing) {
    ScopedSegment segment;
    Dict<std::string> d(*segment, "d", kSmall);
    std::map<std::string, std::string> model;
    int i = 0;
    try {
        for (;; ++i) {
            const std::string key = "key" + std::to_string(i);
            d.set(key, std::string(40, 'x'));
            model[key] = std::string(40, 'x');
        }
    } catch (const Full&) {
    }
    EXPECT_GT(i, 3);
    EXPECT_THROW(d.set("big", std::string(2000, 'y')), Full);
    EXPECT_EQ(d.size(), model.size());
    for (const auto& [key, value] : model)
        EXPECT_EQ(d.get(key), value);
    d.erase("key0");
    d.set("fits-now", "y");
    EXPECT_EQ(d.get("fits-now"), "y");
}

TEST(Dict, too_many_entries_raise_full) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d", kSmall);
    for (int i = 0; i < 16; ++i)
        d.set(std::to_string(i), i);
    EXPECT_THROW(d.set("17th", 0), Full);
    d.set("3", 33); // replacing needs no new entry
    EXPECT_EQ(d.get("3"), 33);
    EXPECT_EQ(d.size(), 16U);
}

TEST(Dict, overwriting_far_beyond_capacity_compacts_and_keeps_every_entry) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d", kSmall);
    for (int round = 0; round < 500; ++round) {
        d.set("k" + std::to_string(round % 10), round);
        if (round % 7 == 0)
            d.erase("k" + std::to_string(round % 10));
    }
    for (int k = 0; k < 10; ++k) {
        const std::string key = "k" + std::to_string(k);
        const int last = 490 + k;
        if (last % 7 == 0)
            EXPECT_FALSE(d.contains(key)) << key;
        else
            EXPECT_EQ(d.get(key), last) << key;
    }
}

TEST(Dict, opened_by_name_shares_state_and_checks_the_value_type) {
    ScopedSegment segment;
    Manager manager(*segment);
    auto first = manager.dict<double>("prices");
    first.set("x", 1.5);
    EXPECT_EQ(Dict<double>::open(*segment, "prices").get("x"), 1.5);
    EXPECT_THROW(Dict<int>::open(*segment, "prices"), KindMismatch);
    EXPECT_THROW(List<double>::open(*segment, "prices"), KindMismatch);
    EXPECT_THROW(Dict<double>::open(*segment, "missing"), NotFound);
    EXPECT_THROW(Dict<double>::create(*segment, "prices"), AlreadyExists);
    EXPECT_THROW(Dict<int>(*segment, "bad", {.capacity_bytes = 0}), UsageError);
}

TEST(List, append_at_set_pop_insert_erase_follow_python) {
    ScopedSegment segment;
    List<std::string> l(*segment, "l");
    l.append("a");
    l.append("b");
    l.append("c");
    EXPECT_EQ(l.at(0), "a");
    EXPECT_EQ(l.at(-1), "c");
    EXPECT_THROW(l.at(3), IndexError);
    EXPECT_THROW(l.at(-4), IndexError);
    l.set(-2, "B");
    l.insert(0, "start");
    l.insert(100, "end");
    l.insert(-1, "before end");
    EXPECT_EQ(l.to_vector(),
              (std::vector<std::string>{"start", "a", "B", "c", "before end", "end"}));
    EXPECT_EQ(l.pop(), "end");
    EXPECT_EQ(l.pop(0), "start");
    l.erase(1);
    EXPECT_EQ(l.to_vector(), (std::vector<std::string>{"a", "c", "before end"}));
    EXPECT_EQ(l.index("c"), 1U);
    EXPECT_THROW(l.index("zzz"), UsageError);
    EXPECT_TRUE(l.contains("a"));
    EXPECT_EQ(l.update(0, [](std::string& s) { s += "!"; }), "a!");
    l.clear();
    EXPECT_TRUE(l.empty());
    EXPECT_THROW(l.pop(), IndexError);
    EXPECT_THROW(l.set(0, "x"), IndexError);
}

TEST(List, extend_remove_and_count_follow_python) {
    ScopedSegment segment;
    List<std::string> l(*segment, "l");
    l.extend(std::vector<std::string>{"a", "b", "a"});
    l.extend(std::vector<const char*>{"c"});
    EXPECT_EQ(l.count("a"), 2U);
    EXPECT_EQ(l.count("zzz"), 0U);
    l.remove("a");
    EXPECT_EQ(l.to_vector(), (std::vector<std::string>{"b", "a", "c"}));
    EXPECT_THROW(l.remove("zzz"), UsageError);
    EXPECT_EQ(l.size(), 3U);
}

TEST(List, extend_that_does_not_fit_changes_nothing) {
    ScopedSegment segment;
    List<std::vector<int>> l(*segment, "l", kSmall);
    l.extend(std::vector<std::vector<int>>(3, std::vector<int>(10, 1)));
    const auto before = l.to_vector();
    EXPECT_THROW(l.extend(std::vector<std::vector<int>>(1000, std::vector<int>(10, 2))), Full);
    EXPECT_EQ(l.to_vector(), before);
    l.append(std::vector<int>(10, 3));
    EXPECT_EQ(l.size(), 4U);
}

TEST(List, index_error_is_an_out_of_range) {
    ScopedSegment segment;
    List<int> l(*segment, "l");
    EXPECT_THROW(l.at(0), OutOfRange);
}

TEST(List, full_capacity_raises_full_and_loses_nothing) {
    ScopedSegment segment;
    List<std::vector<int>> l(*segment, "l", kSmall);
    std::vector<std::vector<int>> model;
    try {
        for (int i = 0; i < 1000; ++i) {
            l.append(std::vector<int>(10, i));
            model.push_back(std::vector<int>(10, i));
        }
    } catch (const Full&) {
    }
    EXPECT_LT(model.size(), 1000U);
    EXPECT_THROW(l.insert(0, std::vector<int>(10, -1)), Full);
    EXPECT_THROW(l.set(0, std::vector<int>(400, -1)), Full);
    EXPECT_EQ(l.to_vector(), model);
}

TEST(List, setting_far_beyond_capacity_compacts_in_place) {
    ScopedSegment segment;
    List<int> l(*segment, "l", kSmall);
    for (int i = 0; i < 8; ++i)
        l.append(i);
    for (int round = 0; round < 1000; ++round)
        l.set(round % 8, round);
    EXPECT_EQ(l.to_vector(), (std::vector<int>{992, 993, 994, 995, 996, 997, 998, 999}));
}

TEST(Manager, default_segment_containers_are_anonymous_and_distinct) {
    Manager manager;
    auto a = manager.dict<int>();
    auto b = manager.dict<int>();
    a.set("k", 1);
    EXPECT_FALSE(b.contains("k"));
    auto l = manager.list<int>();
    l.append(5);
    EXPECT_EQ(l.at(0), 5);
}

TEST(ManagerCorruption, record_length_past_the_heap_is_corrupt_segment) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d", kSmall);
    d.set("key", 1);
    detail::RecordHeader forged{3, 1U << 30};
    std::memcpy(first_record(*segment, "d", ObjectKind::dict, detail::type_tag<int>()), &forged,
                sizeof forged);
    EXPECT_THROW(d.get("key"), CorruptSegment);
    EXPECT_THROW(d.keys(), CorruptSegment);
}

TEST(ManagerCorruption, entry_offset_outside_the_records_is_corrupt_segment) {
    ScopedSegment segment;
    List<int> l(*segment, "l", kSmall);
    l.append(1);
    detail::ContainerState& state =
        container_state(*segment, "l", ObjectKind::list, detail::type_tag<int>());
    const detail::Geometry g =
        detail::Geometry::of(state.heap_bytes, state.max_entries, state.hash_slots);
    auto* entries =
        reinterpret_cast<detail::Entry*>(reinterpret_cast<std::byte*>(&state) + g.entries_offset);
    const detail::Root& root = state.roots[state.root_index.load()];
    entries[root.array * g.max_entries].ref = 1'000'000;
    EXPECT_THROW(l.at(0), CorruptSegment);
}

TEST(ManagerCorruption, root_beyond_the_geometry_is_corrupt_segment) {
    ScopedSegment segment;
    List<int> l(*segment, "l", kSmall);
    l.append(1);
    detail::ContainerState& state =
        container_state(*segment, "l", ObjectKind::list, detail::type_tag<int>());
    state.roots[state.root_index.load()].count = 1'000'000;
    EXPECT_THROW(l.to_vector(), CorruptSegment);
    EXPECT_THROW(l.at(0), CorruptSegment);
    state.root_index.store(7);
    EXPECT_THROW(l.append(2), CorruptSegment);
}

TEST(ManagerCorruption, forged_geometry_is_rejected_at_open) {
    ScopedSegment segment;
    Dict<int> d(*segment, "d", kSmall);
    detail::ContainerState& state =
        container_state(*segment, "d", ObjectKind::dict, detail::type_tag<int>());
    state.heap_bytes *= 2;
    EXPECT_THROW(Dict<int>::open(*segment, "d"), CorruptSegment);
    state.heap_bytes /= 2;
    state.magic = 0;
    EXPECT_THROW(Dict<int>::open(*segment, "d"), CorruptSegment);
}

// The rest of Python's SyncManager: Dict keys of any encodable type, popitem and setdefault,
// List sort / reverse / += / *=, nested containers that write through, the Manager's other
// factories and Namespace.

namespace {

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

// SPDX-License-Identifier: Apache-2.0
// Dict against an insertion-ordered map and List against std::vector under random operation
// sequences (small capacities, so compaction and Full happen), then the atomic forms spread
// over several forked processes against the sum of what each one did. Then int- and tuple-keyed
// Dicts (popitem, setdefault) against an insertion-ordered model, Lists against std::vector
// under sort, reverse, += and *=, and random interleavings of popitem and setdefault from
// several processes against what each one saw.
#include "support/harness.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <rapidcheck/gtest.h>
#include <set>
#include <shmbus/manager.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using rc::Gen;
namespace gen = rc::gen;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

constexpr ContainerOptions kSmall{.capacity_bytes = 512, .max_entries = 12};

enum class DictOp { set, erase, get, pop, update };

struct DictStep {
    DictOp op;
    int key;
    std::string value;
};

// Python's dict: a map plus the order keys were first inserted in.
struct DictModel {
    std::map<std::string, std::string> values;
    std::vector<std::string> order;

    void set(const std::string& key, const std::string& value) {
        if (!values.contains(key))
            order.push_back(key);
        values[key] = value;
    }
    void erase(const std::string& key) {
        values.erase(key);
        order.erase(std::find(order.begin(), order.end(), key));
    }
    std::vector<std::pair<std::string, std::string>> items() const {
        std::vector<std::pair<std::string, std::string>> result;
        for (const auto& key : order)
            result.emplace_back(key, values.at(key));
        return result;
    }
};

Gen<DictStep> dict_step() {
    return gen::build<DictStep>(
        gen::set(&DictStep::op, gen::element(DictOp::set, DictOp::set, DictOp::erase, DictOp::get,
                                             DictOp::pop, DictOp::update)),
        gen::set(&DictStep::key, gen::inRange(0, 8)),
        gen::set(&DictStep::value, gen::string<std::string>()));
}

// Applies `step` to both; Full from the Dict must leave it as the model (which is unchanged).
void apply(const DictStep& step, Dict<std::string>& dict, DictModel& model) {
    const std::string key = "k" + std::to_string(step.key);
    const bool present = model.values.contains(key);
    switch (step.op) {
    case DictOp::set:
        try {
            dict.set(key, step.value);
            model.set(key, step.value);
        } catch (const Full&) {
        }
        break;
    case DictOp::erase:
        if (present) {
            dict.erase(key);
            model.erase(key);
        } else {
            RC_ASSERT_THROWS_AS(dict.erase(key), KeyError);
        }
        break;
    case DictOp::get:
        if (present)
            RC_ASSERT(dict.get(key) == model.values.at(key));
        else
            RC_ASSERT_THROWS_AS(dict.get(key), KeyError);
        break;
    case DictOp::pop:
        RC_ASSERT(dict.pop(key, "none") == (present ? model.values.at(key) : "none"));
        if (present)
            model.erase(key);
        break;
    case DictOp::update:
        try {
            const std::string result =
                dict.update(key, std::string(), [&](std::string& v) { v += step.value; });
            model.set(key, (present ? model.values.at(key) : "") + step.value);
            RC_ASSERT(result == model.values.at(key));
        } catch (const Full&) {
        }
        break;
    }
}

enum class ListOp { append, extend, insert, set, pop, erase, remove, count, at };

struct ListStep {
    ListOp op;
    int index;
    // Few distinct values, so that remove and count find duplicates and misses.
    std::int64_t value;
    std::vector<std::int64_t> values;
};

Gen<ListStep> list_step() {
    return gen::build<ListStep>(
        gen::set(&ListStep::op,
                 gen::element(ListOp::append, ListOp::append, ListOp::extend, ListOp::insert,
                              ListOp::set, ListOp::pop, ListOp::erase, ListOp::remove,
                              ListOp::count, ListOp::at)),
        gen::set(&ListStep::index, gen::inRange(-12, 12)),
        gen::set(&ListStep::value, gen::inRange<std::int64_t>(0, 6)),
        gen::set(&ListStep::values,
                 gen::container<std::vector<std::int64_t>>(gen::inRange<std::int64_t>(0, 6))));
}

// Python's index rules on the model: nullopt when out of range.
std::optional<std::size_t> position(const std::vector<std::int64_t>& model, int index) {
    const auto size = static_cast<int>(model.size());
    const int at = index < 0 ? size + index : index;
    if (at < 0 || at >= size)
        return std::nullopt;
    return static_cast<std::size_t>(at);
}

void apply(const ListStep& step, List<std::int64_t>& list, std::vector<std::int64_t>& model) {
    const auto at = position(model, step.index);
    const auto size = static_cast<int>(model.size());
    switch (step.op) {
    case ListOp::append:
        try {
            list.append(step.value);
            model.push_back(step.value);
        } catch (const Full&) {
        }
        break;
    case ListOp::extend:
        try {
            list.extend(step.values);
            model.insert(model.end(), step.values.begin(), step.values.end());
        } catch (const Full&) {
        }
        break;
    case ListOp::remove:
        if (const auto found = std::find(model.begin(), model.end(), step.value);
            found != model.end()) {
            list.remove(step.value);
            model.erase(found);
        } else {
            RC_ASSERT_THROWS_AS(list.remove(step.value), UsageError);
        }
        break;
    case ListOp::count:
        RC_ASSERT(list.count(step.value) ==
                  static_cast<std::size_t>(std::count(model.begin(), model.end(), step.value)));
        break;
    case ListOp::insert:
        try {
            list.insert(step.index, step.value);
            const int clamped =
                step.index < 0 ? std::max(size + step.index, 0) : std::min(step.index, size);
            model.insert(model.begin() + clamped, step.value);
        } catch (const Full&) {
        }
        break;
    case ListOp::set:
        if (!at) {
            RC_ASSERT_THROWS_AS(list.set(step.index, step.value), IndexError);
            break;
        }
        try {
            list.set(step.index, step.value);
            model[*at] = step.value;
        } catch (const Full&) {
        }
        break;
    case ListOp::pop:
        if (at) {
            RC_ASSERT(list.pop(step.index) == model[*at]);
            model.erase(model.begin() + static_cast<std::ptrdiff_t>(*at));
        } else {
            RC_ASSERT_THROWS_AS(list.pop(step.index), IndexError);
        }
        break;
    case ListOp::erase:
        if (at) {
            list.erase(step.index);
            model.erase(model.begin() + static_cast<std::ptrdiff_t>(*at));
        } else {
            RC_ASSERT_THROWS_AS(list.erase(step.index), IndexError);
        }
        break;
    case ListOp::at:
        if (at)
            RC_ASSERT(list.at(step.index) == model[*at]);
        else
            RC_ASSERT_THROWS_AS(list.at(step.index), IndexError);
        break;
    }
}

constexpr int kProcesses = 3;

} // namespace

RC_GTEST_PROP(ManagerProperties, dict_behaves_like_an_insertion_ordered_map, ()) {
    const auto steps = *gen::container<std::vector<DictStep>>(dict_step());
    ScopedSegment segment(std::size_t{1} << 20);
    Dict<std::string> dict(*segment, "d", kSmall);
    DictModel model;
    for (const DictStep& step : steps) {
        apply(step, dict, model);
        RC_ASSERT(dict.size() == model.values.size());
    }
    RC_ASSERT(dict.items() == model.items());
}

RC_GTEST_PROP(ManagerProperties, list_behaves_like_a_vector, ()) {
    const auto steps = *gen::container<std::vector<ListStep>>(list_step());
    ScopedSegment segment(std::size_t{1} << 20);
    List<std::int64_t> list(*segment, "l", kSmall);
    std::vector<std::int64_t> model;
    for (const ListStep& step : steps) {
        apply(step, list, model);
        RC_ASSERT(list.size() == model.size());
    }
    RC_ASSERT(list.to_vector() == model);
}

// Each process adds its deltas to keys with update() and appends tagged values: the result is
// the sum of every process's deltas per key, and every append, in each process's order.
RC_GTEST_PROP(ManagerProperties, atomic_forms_from_several_processes_match_the_model, ()) {
    using Work = std::vector<std::pair<int, std::int64_t>>; // (key, delta)
    const auto work = *gen::container<std::vector<Work>>(
        kProcesses, gen::container<Work>(
                        gen::pair(gen::inRange(0, 5), gen::inRange<std::int64_t>(-1000, 1000))));
    ScopedSegment segment(std::size_t{4} << 20);
    Dict<std::int64_t> dict(*segment, "d", {.capacity_bytes = 4096, .max_entries = 16});
    List<std::int64_t> list(*segment, "l", {.capacity_bytes = 16384, .max_entries = 1024});
    const auto codes = run_children(kProcesses, [&](int p) {
        for (std::size_t i = 0; i < work[p].size(); ++i) {
            const auto& [key, delta] = work[p][i];
            const std::int64_t add = delta; // clang 14 cannot capture a structured binding
            dict.update("k" + std::to_string(key), 0, [add](std::int64_t& v) { v += add; });
            list.append(p * 1'000'000 + static_cast<std::int64_t>(i));
        }
    });
    RC_ASSERT(codes == std::vector<int>(kProcesses, 0));

    std::map<std::string, std::int64_t> sums;
    for (const Work& each : work)
        for (const auto& [key, delta] : each)
            sums["k" + std::to_string(key)] += delta;
    const auto items = dict.items();
    const std::map<std::string, std::int64_t> result(items.begin(), items.end());
    RC_ASSERT(result == sums);

    const auto appended = list.to_vector();
    std::size_t total = 0;
    for (int p = 0; p < kProcesses; ++p) {
        std::vector<std::int64_t> mine;
        std::copy_if(appended.begin(), appended.end(), std::back_inserter(mine),
                     [p](std::int64_t v) { return v / 1'000'000 == p; });
        std::vector<std::int64_t> expected(work[p].size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            expected[i] = p * 1'000'000 + static_cast<std::int64_t>(i);
        RC_ASSERT(mine == expected);
        total += mine.size();
    }
    RC_ASSERT(appended.size() == total);
}

// Keyed Dicts, List reorderings and arithmetic, and popitem/setdefault from several processes.

namespace {

enum class KeyedOp { set, erase, pop, popitem, setdefault, get };

template <class K>
struct KeyedStep {
    KeyedOp op;
    K key;
    int value;
};

// Python's dict: values plus the order keys were first inserted in.
template <class K>
struct OrderedModel {
    std::map<K, int> values;
    std::vector<K> order;

    void set(const K& key, int value) {
        if (!values.contains(key))
            order.push_back(key);
        values[key] = value;
    }
    void erase(const K& key) {
        values.erase(key);
        order.erase(std::find(order.begin(), order.end(), key));
    }
    std::vector<std::pair<K, int>> items() const {
        std::vector<std::pair<K, int>> result;
        for (const K& key : order)
            result.emplace_back(key, values.at(key));
        return result;
    }
};

template <class K>
Gen<KeyedStep<K>> keyed_step(Gen<K> keys) {
    return gen::build<KeyedStep<K>>(
        gen::set(&KeyedStep<K>::op,
                 gen::element(KeyedOp::set, KeyedOp::set, KeyedOp::erase, KeyedOp::pop,
                              KeyedOp::popitem, KeyedOp::setdefault, KeyedOp::get)),
        gen::set(&KeyedStep<K>::key, std::move(keys)),
        gen::set(&KeyedStep<K>::value, gen::inRange(-50, 50)));
}

template <class K>
void apply(const KeyedStep<K>& step, DictOf<K, int>& dict, OrderedModel<K>& model) {
    const bool present = model.values.contains(step.key);
    switch (step.op) {
    case KeyedOp::set:
        dict.set(step.key, step.value);
        model.set(step.key, step.value);
        break;
    case KeyedOp::erase:
        if (present) {
            dict.erase(step.key);
            model.erase(step.key);
        } else {
            RC_ASSERT_THROWS_AS(dict.erase(step.key), KeyError);
        }
        break;
    case KeyedOp::pop:
        RC_ASSERT(dict.pop(step.key, -100) == (present ? model.values.at(step.key) : -100));
        if (present)
            model.erase(step.key);
        break;
    case KeyedOp::popitem:
        if (model.order.empty()) {
            RC_ASSERT_THROWS_AS(dict.popitem(), KeyError);
        } else {
            const K last = model.order.back();
            const std::pair<K, int> expected(last, model.values.at(last));
            RC_ASSERT(dict.popitem() == expected);
            model.erase(last);
        }
        break;
    case KeyedOp::setdefault:
        if (!present)
            model.set(step.key, step.value);
        RC_ASSERT(dict.setdefault(step.key, step.value) == model.values.at(step.key));
        break;
    case KeyedOp::get:
        RC_ASSERT(dict.try_get(step.key) ==
                  (present ? std::optional<int>(model.values.at(step.key)) : std::nullopt));
        break;
    }
}

// Few entries and a small heap, so that compaction runs; the keys never exceed max_entries.
constexpr ContainerOptions kSmallDict{.capacity_bytes = 512, .max_entries = 12};

template <class K>
void check_dict_against_model(Gen<K> keys) {
    const auto steps = *gen::container<std::vector<KeyedStep<K>>>(keyed_step(std::move(keys)));
    ScopedSegment segment(std::size_t{1} << 20);
    DictOf<K, int> dict(*segment, "d", kSmallDict);
    OrderedModel<K> model;
    for (const KeyedStep<K>& step : steps) {
        apply(step, dict, model);
        RC_ASSERT(dict.size() == model.values.size());
    }
    RC_ASSERT(dict.items() == model.items());
}

enum class OrderOp { append, extend, repeat, sort, sort_descending, sort_by_key, reverse, pop };

struct OrderStep {
    OrderOp op;
    int count;
    std::vector<int> values;
};

Gen<OrderStep> order_step() {
    return gen::build<OrderStep>(
        gen::set(&OrderStep::op,
                 gen::element(OrderOp::append, OrderOp::extend, OrderOp::repeat, OrderOp::sort,
                              OrderOp::sort_descending, OrderOp::sort_by_key, OrderOp::reverse,
                              OrderOp::pop)),
        gen::set(&OrderStep::count, gen::inRange(-1, 4)),
        gen::set(&OrderStep::values, gen::container<std::vector<int>>(gen::inRange(-20, 20))));
}

constexpr std::size_t kMaxListEntries = 48;
constexpr ContainerOptions kSmallList{.capacity_bytes = 2048, .max_entries = kMaxListEntries};

// The key sort_by_key sorts by: many ties, so stability shows.
int bucket(int value) {
    return value / 8;
}

void apply(const OrderStep& step, List<int>& list, std::vector<int>& model) {
    switch (step.op) {
    case OrderOp::append:
        if (model.size() < kMaxListEntries) {
            list.append(step.count);
            model.push_back(step.count);
        }
        break;
    case OrderOp::extend:
    case OrderOp::repeat: {
        std::vector<int> next = model;
        if (step.op == OrderOp::extend) {
            next.insert(next.end(), step.values.begin(), step.values.end());
        } else {
            next.clear();
            for (int i = 0; i < step.count; ++i)
                next.insert(next.end(), model.begin(), model.end());
        }
        const auto change = [&] {
            if (step.op == OrderOp::extend)
                list += step.values;
            else
                list *= step.count;
        };
        if (next.size() > kMaxListEntries) {
            RC_ASSERT_THROWS_AS(change(), Full); // and nothing changed: checked below
        } else {
            change();
            model = next;
        }
        break;
    }
    case OrderOp::sort:
        list.sort();
        std::stable_sort(model.begin(), model.end());
        break;
    case OrderOp::sort_descending:
        list.sort(true);
        std::stable_sort(model.begin(), model.end(), std::greater<>{});
        break;
    case OrderOp::sort_by_key:
        list.sort_by(bucket);
        std::stable_sort(model.begin(), model.end(),
                         [](int a, int b) { return bucket(a) < bucket(b); });
        break;
    case OrderOp::reverse:
        list.reverse();
        std::reverse(model.begin(), model.end());
        break;
    case OrderOp::pop:
        if (model.empty()) {
            RC_ASSERT_THROWS_AS(list.pop(), IndexError);
        } else {
            RC_ASSERT(list.pop() == model.back());
            model.pop_back();
        }
        break;
    }
}

constexpr int kKeys = 12;
constexpr int kMultiprocessCases = 24;

} // namespace

RC_GTEST_PROP(SyncManagerProperties, int_keyed_dict_behaves_like_an_insertion_ordered_map, ()) {
    check_dict_against_model<int>(gen::inRange(-4, 5));
}

RC_GTEST_PROP(SyncManagerProperties, tuple_keyed_dict_behaves_like_an_insertion_ordered_map, ()) {
    check_dict_against_model<std::tuple<int, std::string>>(
        gen::tuple(gen::inRange(0, 3), gen::element<std::string>("", "a", "bc")));
}

RC_GTEST_PROP(SyncManagerProperties, list_sort_reverse_and_arithmetic_match_a_vector, ()) {
    const auto steps = *gen::container<std::vector<OrderStep>>(order_step());
    ScopedSegment segment(std::size_t{1} << 20);
    List<int> list(*segment, "l", kSmallList);
    std::vector<int> model;
    for (const OrderStep& step : steps) {
        apply(step, list, model);
        RC_ASSERT(list.to_vector() == model);
    }
}

// Processes interleave popitem and setdefault on one Dict at random; every value is unique (the
// initial ones, and each setdefault's own), so what each process got accounts exactly for every
// insertion: each inserted value is popped once or still in the Dict, never both, never twice,
// and every setdefault returned a value that was inserted under its key.
TEST(SyncManagerProperties, interleaved_popitem_and_setdefault_from_processes_lose_nothing) {
    // Each case forks processes: fewer cases than the single-process properties run.
    rc::detail::TestParams params = rc::detail::configuration().testParams;
    params.maxSuccess = std::min(params.maxSuccess, kMultiprocessCases);
    rc::detail::TestMetadata metadata;
    metadata.id = metadata.description = "interleaved popitem and setdefault";
    const auto result = rc::detail::checkTestable(
        [] {
            using Work = std::vector<std::pair<bool, int>>; // (popitem?, key for setdefault)
            const auto work = *gen::container<std::vector<Work>>(
                kProcesses,
                gen::container<Work>(gen::pair(gen::arbitrary<bool>(), gen::inRange(0, kKeys))));
            ScopedSegment segment(std::size_t{4} << 20);
            DictOf<int, int> dict(*segment, "d", {.capacity_bytes = 4096, .max_entries = 64});
            // (key, value) pairs: what popitem returned, and what setdefault returned.
            using Log = List<std::pair<int, int>>;
            const ContainerOptions log_options{.capacity_bytes = 65536, .max_entries = 2048};
            Log popped(*segment, "popped", log_options);
            Log returned(*segment, "returned", log_options);
            std::map<int, int> inserted; // value -> key
            for (int key = 0; key < kKeys; key += 2) {
                dict.set(key, -1 - key);
                inserted[-1 - key] = key;
            }
            const auto codes = run_children(kProcesses, [&](int p) {
                const Work& mine = work[static_cast<std::size_t>(p)];
                for (std::size_t i = 0; i < mine.size(); ++i) {
                    if (!mine[i].first) {
                        const int own = p * 1000 + static_cast<int>(i);
                        returned.append({mine[i].second, dict.setdefault(mine[i].second, own)});
                        continue;
                    }
                    try {
                        popped.append(dict.popitem());
                    } catch (const KeyError&) {
                    }
                }
            });
            RC_ASSERT(codes == std::vector<int>(kProcesses, 0));
            for (std::size_t p = 0; p < work.size(); ++p)
                for (std::size_t i = 0; i < work[p].size(); ++i)
                    if (!work[p][i].first) {
                        const int own = static_cast<int>(p) * 1000 + static_cast<int>(i);
                        const std::pair<int, int> inserted_it(work[p][i].second, own);
                        if (returned.contains(inserted_it))
                            inserted[own] = work[p][i].second;
                    }
            for (const auto& [key, value] : returned.to_vector())
                RC_ASSERT(inserted.contains(value) && inserted.at(value) == key);
            std::map<int, int> accounted; // value -> key, popped or left
            for (const auto& [key, value] : popped.to_vector())
                RC_ASSERT(accounted.emplace(value, key).second);
            for (const auto& [key, value] : dict.items())
                RC_ASSERT(accounted.emplace(value, key).second);
            RC_ASSERT(accounted == inserted);
        },
        metadata, params);
    rc::detail::printResultMessage(result, std::cerr);
    std::cerr << '\n';
    EXPECT_TRUE(result.template is<rc::detail::SuccessResult>());
}

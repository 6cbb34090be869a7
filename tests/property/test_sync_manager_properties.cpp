// SPDX-License-Identifier: Apache-2.0
// Dicts with int and tuple keys against an insertion-ordered model (popitem, setdefault, pop,
// erase), Lists against std::vector under sort, reverse, += and *=, and random interleavings of
// popitem and setdefault from several processes against what each one saw.
#include "support/harness.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
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

enum class DictOp { set, erase, pop, popitem, setdefault, get };

template <class K>
struct DictStep {
    DictOp op;
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
Gen<DictStep<K>> dict_step(Gen<K> keys) {
    return gen::build<DictStep<K>>(
        gen::set(&DictStep<K>::op,
                 gen::element(DictOp::set, DictOp::set, DictOp::erase, DictOp::pop, DictOp::popitem,
                              DictOp::setdefault, DictOp::get)),
        gen::set(&DictStep<K>::key, std::move(keys)),
        gen::set(&DictStep<K>::value, gen::inRange(-50, 50)));
}

template <class K>
void apply(const DictStep<K>& step, DictOf<K, int>& dict, OrderedModel<K>& model) {
    const bool present = model.values.contains(step.key);
    switch (step.op) {
    case DictOp::set:
        dict.set(step.key, step.value);
        model.set(step.key, step.value);
        break;
    case DictOp::erase:
        if (present) {
            dict.erase(step.key);
            model.erase(step.key);
        } else {
            RC_ASSERT_THROWS_AS(dict.erase(step.key), KeyError);
        }
        break;
    case DictOp::pop:
        RC_ASSERT(dict.pop(step.key, -100) == (present ? model.values.at(step.key) : -100));
        if (present)
            model.erase(step.key);
        break;
    case DictOp::popitem:
        if (model.order.empty()) {
            RC_ASSERT_THROWS_AS(dict.popitem(), KeyError);
        } else {
            const K last = model.order.back();
            const std::pair<K, int> expected(last, model.values.at(last));
            RC_ASSERT(dict.popitem() == expected);
            model.erase(last);
        }
        break;
    case DictOp::setdefault:
        if (!present)
            model.set(step.key, step.value);
        RC_ASSERT(dict.setdefault(step.key, step.value) == model.values.at(step.key));
        break;
    case DictOp::get:
        RC_ASSERT(dict.try_get(step.key) ==
                  (present ? std::optional<int>(model.values.at(step.key)) : std::nullopt));
        break;
    }
}

// Few entries and a small heap, so that compaction runs; the keys never exceed max_entries.
constexpr ContainerOptions kSmallDict{.capacity_bytes = 512, .max_entries = 12};

template <class K>
void check_dict_against_model(Gen<K> keys) {
    const auto steps = *gen::container<std::vector<DictStep<K>>>(dict_step(std::move(keys)));
    ScopedSegment segment(std::size_t{1} << 20);
    DictOf<K, int> dict(*segment, "d", kSmallDict);
    OrderedModel<K> model;
    for (const DictStep<K>& step : steps) {
        apply(step, dict, model);
        RC_ASSERT(dict.size() == model.values.size());
    }
    RC_ASSERT(dict.items() == model.items());
}

enum class ListOp { append, extend, repeat, sort, sort_descending, sort_by_key, reverse, pop };

struct ListStep {
    ListOp op;
    int count;
    std::vector<int> values;
};

Gen<ListStep> list_step() {
    return gen::build<ListStep>(
        gen::set(&ListStep::op, gen::element(ListOp::append, ListOp::extend, ListOp::repeat,
                                             ListOp::sort, ListOp::sort_descending,
                                             ListOp::sort_by_key, ListOp::reverse, ListOp::pop)),
        gen::set(&ListStep::count, gen::inRange(-1, 4)),
        gen::set(&ListStep::values, gen::container<std::vector<int>>(gen::inRange(-20, 20))));
}

constexpr std::size_t kMaxListEntries = 48;
constexpr ContainerOptions kSmallList{.capacity_bytes = 2048, .max_entries = kMaxListEntries};

// The key sort_by_key sorts by: many ties, so stability shows.
int bucket(int value) {
    return value / 8;
}

void apply(const ListStep& step, List<int>& list, std::vector<int>& model) {
    switch (step.op) {
    case ListOp::append:
        if (model.size() < kMaxListEntries) {
            list.append(step.count);
            model.push_back(step.count);
        }
        break;
    case ListOp::extend:
    case ListOp::repeat: {
        std::vector<int> next = model;
        if (step.op == ListOp::extend) {
            next.insert(next.end(), step.values.begin(), step.values.end());
        } else {
            next.clear();
            for (int i = 0; i < step.count; ++i)
                next.insert(next.end(), model.begin(), model.end());
        }
        const auto change = [&] {
            if (step.op == ListOp::extend)
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
    case ListOp::sort:
        list.sort();
        std::stable_sort(model.begin(), model.end());
        break;
    case ListOp::sort_descending:
        list.sort(true);
        std::stable_sort(model.begin(), model.end(), std::greater<>{});
        break;
    case ListOp::sort_by_key:
        list.sort_by(bucket);
        std::stable_sort(model.begin(), model.end(),
                         [](int a, int b) { return bucket(a) < bucket(b); });
        break;
    case ListOp::reverse:
        list.reverse();
        std::reverse(model.begin(), model.end());
        break;
    case ListOp::pop:
        if (model.empty()) {
            RC_ASSERT_THROWS_AS(list.pop(), IndexError);
        } else {
            RC_ASSERT(list.pop() == model.back());
            model.pop_back();
        }
        break;
    }
}

constexpr int kProcesses = 3;
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
    const auto steps = *gen::container<std::vector<ListStep>>(list_step());
    ScopedSegment segment(std::size_t{1} << 20);
    List<int> list(*segment, "l", kSmallList);
    std::vector<int> model;
    for (const ListStep& step : steps) {
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

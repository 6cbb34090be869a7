// SPDX-License-Identifier: Apache-2.0
// Dict against an insertion-ordered map and List against std::vector under random operation
// sequences (small capacities, so compaction and Full happen), then the atomic forms spread
// over several forked processes against the sum of what each one did.
#include "support/harness.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <rapidcheck/gtest.h>
#include <shmbus/manager.hpp>
#include <string>
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

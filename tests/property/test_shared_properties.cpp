// SPDX-License-Identifier: Apache-2.0
// Value and Array against plain in-process models, with the operations spread over several
// forked processes that take turns in an order rapidcheck chooses.
#include "support/harness.hpp"

#include <chrono>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sched.h>
#include <shmbus/errors.hpp>
#include <shmbus/shared.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using namespace shmbus;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

enum class Op { store, fetch_add, fetch_sub, exchange, compare_exchange };

struct Step {
    Op op;
    std::int64_t argument;
    std::int64_t expected; // for compare_exchange
    int process;
};

constexpr int kProcesses = 3;

// What the model says the operation returns, applied to `value`.
std::int64_t apply(const Step& step, std::int64_t& value) {
    const std::int64_t before = value;
    switch (step.op) {
    case Op::store:
        value = step.argument;
        return 0;
    case Op::fetch_add:
        value += step.argument;
        return before;
    case Op::fetch_sub:
        value -= step.argument;
        return before;
    case Op::exchange:
        value = step.argument;
        return before;
    case Op::compare_exchange:
        if (value == step.expected)
            value = step.argument;
        return before;
    }
    return 0;
}

std::int64_t apply(const Step& step, Value<std::int64_t>& value) {
    switch (step.op) {
    case Op::store:
        value.store(step.argument);
        return 0;
    case Op::fetch_add:
        return value.fetch_add(step.argument);
    case Op::fetch_sub:
        return value.fetch_sub(step.argument);
    case Op::exchange:
        return value.exchange(step.argument);
    case Op::compare_exchange: {
        // Either way `expected` ends up holding the value before the call.
        std::int64_t expected = step.expected;
        value.compare_exchange(expected, step.argument);
        return expected;
    }
    }
    return 0;
}

// Blocks until `turn` reaches `index`; bounded so that a lost turn fails instead of hanging.
void await_turn(Value<std::int64_t>& turn, std::int64_t index) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (turn.load() != index) {
        if (std::chrono::steady_clock::now() > give_up)
            throw std::runtime_error("turn " + std::to_string(index) + " never came");
        sched_yield();
    }
}

rc::Gen<Step> gen_step() {
    return rc::gen::build<Step>(
        rc::gen::set(&Step::op, rc::gen::element(Op::store, Op::fetch_add, Op::fetch_sub,
                                                 Op::exchange, Op::compare_exchange)),
        rc::gen::set(&Step::argument, rc::gen::inRange<std::int64_t>(-50, 50)),
        rc::gen::set(&Step::expected, rc::gen::inRange<std::int64_t>(-3, 3)),
        rc::gen::set(&Step::process, rc::gen::inRange(0, kProcesses)));
}

} // namespace

RC_GTEST_PROP(SharedProperties, value_matches_an_integer_model_across_processes, ()) {
    const auto steps = *rc::gen::container<std::vector<Step>>(gen_step());
    ScopedSegment segment;
    Value<std::int64_t> value(*segment, "value", 0);
    Value<std::int64_t> turn(*segment, "turn", 0);
    Array<std::int64_t> results(*segment, "results", steps.size());
    const auto codes = run_children(kProcesses, [&](int process) {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (steps[i].process != process)
                continue;
            await_turn(turn, static_cast<std::int64_t>(i));
            results.store(i, apply(steps[i], value));
            turn.store(static_cast<std::int64_t>(i + 1));
        }
    });
    RC_ASSERT(codes == std::vector<int>(kProcesses, 0));
    std::int64_t model = 0;
    for (std::size_t i = 0; i < steps.size(); ++i)
        RC_ASSERT(results.load(i) == apply(steps[i], model));
    RC_ASSERT(value.load() == model);
}

RC_GTEST_PROP(SharedProperties, array_matches_a_vector_model_across_processes, ()) {
    const auto length = *rc::gen::inRange<std::size_t>(1, 32);
    const auto writes = *rc::gen::container<std::vector<std::tuple<std::size_t, int, int>>>(
        rc::gen::tuple(rc::gen::inRange<std::size_t>(0, length), rc::gen::arbitrary<int>(),
                       rc::gen::inRange(0, kProcesses)));
    ScopedSegment segment;
    Array<int> array(*segment, "array", length);
    Value<std::int64_t> turn(*segment, "turn", 0);
    const auto codes = run_children(kProcesses, [&](int process) {
        for (std::size_t i = 0; i < writes.size(); ++i) {
            const auto& [index, value, writer] = writes[i];
            if (writer != process)
                continue;
            await_turn(turn, static_cast<std::int64_t>(i));
            array.store(index, value);
            turn.store(static_cast<std::int64_t>(i + 1));
        }
    });
    RC_ASSERT(codes == std::vector<int>(kProcesses, 0));
    std::vector<int> model(length, 0);
    for (const auto& [index, value, writer] : writes)
        model[index] = value;
    RC_ASSERT(array.to_vector() == model);
}

namespace {

enum class CharOp { set_value, set_raw, value, raw };

struct CharStep {
    CharOp op;
    std::string text;
    int process;
};

// Python's c_char array, as a std::string of the array's length.
struct CharArrayModel {
    std::string bytes;

    // What the step returns: the string read, "error" for a text too long, "" for a set.
    std::string apply(const CharStep& step) {
        switch (step.op) {
        case CharOp::value:
            return bytes.substr(0, bytes.find('\0'));
        case CharOp::raw:
            return bytes;
        case CharOp::set_value:
        case CharOp::set_raw:
            if (step.text.size() > bytes.size())
                return "error";
            bytes.replace(0, step.text.size(), step.text);
            if (step.op == CharOp::set_value && step.text.size() < bytes.size())
                bytes[step.text.size()] = '\0';
            return "";
        }
        return "";
    }
};

std::string apply(const CharStep& step, Array<char>& array) {
    try {
        switch (step.op) {
        case CharOp::value:
            return array.value();
        case CharOp::raw:
            return array.raw();
        case CharOp::set_value:
            array.set_value(step.text);
            return "";
        case CharOp::set_raw:
            array.set_raw(step.text);
            return "";
        }
    } catch (const UsageError&) {
        return "error";
    }
    return "";
}

rc::Gen<CharStep> gen_char_step(std::size_t length) {
    return rc::gen::build<CharStep>(
        rc::gen::set(&CharStep::op, rc::gen::element(CharOp::set_value, CharOp::set_raw,
                                                     CharOp::value, CharOp::raw)),
        rc::gen::set(&CharStep::text, rc::gen::resize(static_cast<int>(length) + 2,
                                                      rc::gen::container<std::string>(
                                                          rc::gen::element('a', 'b', '\0')))),
        rc::gen::set(&CharStep::process, rc::gen::inRange(0, kProcesses)));
}

} // namespace

// Each process checks its own steps against the model replayed up to that step (the steps run
// in turn order), and the parent checks the final bytes.
RC_GTEST_PROP(SharedProperties, char_array_value_and_raw_match_a_string_model_across_processes,
              ()) {
    const auto length = *rc::gen::inRange<std::size_t>(0, 8);
    const auto steps =
        *rc::gen::resize(16, rc::gen::container<std::vector<CharStep>>(gen_char_step(length)));
    ScopedSegment segment;
    Array<char> array(*segment, "chars", length);
    Value<std::int64_t> turn(*segment, "turn", 0);
    const auto codes = run_children(kProcesses, [&](int process) {
        CharArrayModel model{std::string(length, '\0')};
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (steps[i].process != process) {
                model.apply(steps[i]);
                continue;
            }
            await_turn(turn, static_cast<std::int64_t>(i));
            if (apply(steps[i], array) != model.apply(steps[i]))
                throw std::runtime_error("step " + std::to_string(i) + " differs from the model");
            turn.store(static_cast<std::int64_t>(i + 1));
        }
    });
    RC_ASSERT(codes == std::vector<int>(kProcesses, 0));
    CharArrayModel model{std::string(length, '\0')};
    for (const CharStep& step : steps)
        model.apply(step);
    RC_ASSERT(array.raw() == model.bytes);
    RC_ASSERT(array.value() == model.bytes.substr(0, model.bytes.find('\0')));
}

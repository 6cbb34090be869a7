// SPDX-License-Identifier: Apache-2.0
// Typed values through a Pipe against models, under rapidcheck. Plain values, and strings and
// vectors of plain elements, go straight into the ring and out of it
// (shmbus/detail/frame_codec.hpp); other types through the codec's buffer. Either way a message
// holds exactly the bytes encode() makes:
//   * one process: random try_sends and receives of mixed types on a small ring, whose frames
//     wrap its end, against a deque of the values and a count of the ring's bytes, so that
//     "full" is predicted exactly; a message read as bytes is encode() of its value;
//   * two forked processes: a writer sending values of every kind, some bigger than the ring
//     (they stream through it), and a reader receiving each as its type, in order and whole.
#include "support/harness.hpp"

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <shmbus/codec.hpp>
#include <shmbus/pipe.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::uint64_t kCapacity = 1024;

struct Point {
    std::int32_t x;
    std::int32_t y;
    double weight;
    bool operator==(const Point&) const = default;
};

using Value = std::variant<std::int64_t, Point, std::string, std::vector<std::uint32_t>,
                           std::pair<std::int32_t, std::string>>;

std::vector<std::byte> encoded(const Value& value) {
    detail::ByteBuffer buffer;
    std::visit([&](const auto& item) { encode(item, buffer); }, value);
    const auto bytes = buffer.bytes();
    return {bytes.begin(), bytes.end()};
}

// Strings and vectors of up to `longest` elements.
rc::Gen<Value> gen_value(std::size_t longest) {
    const auto length = rc::gen::inRange<std::size_t>(0, longest + 1);
    return rc::gen::oneOf(
        rc::gen::cast<Value>(rc::gen::arbitrary<std::int64_t>()),
        rc::gen::map(rc::gen::tuple(rc::gen::arbitrary<std::int32_t>(),
                                    rc::gen::arbitrary<std::int32_t>(),
                                    rc::gen::inRange(-1000, 1000)),
                     [](const auto& t) {
                         const auto& [x, y, w] = t;
                         return Value(Point{x, y, w / 8.0});
                     }),
        rc::gen::map(length, [](std::size_t n) { return Value(std::string(n, 'a' + n % 26)); }),
        rc::gen::map(length,
                     [](std::size_t n) {
                         std::vector<std::uint32_t> numbers(n / 4);
                         for (std::size_t i = 0; i < numbers.size(); ++i)
                             numbers[i] = static_cast<std::uint32_t>(n * 7919 + i);
                         return Value(std::move(numbers));
                     }),
        rc::gen::map(length, [](std::size_t n) {
            return Value(std::pair(static_cast<std::int32_t>(n), std::string(n, 'p')));
        }));
}

bool try_send(Connection& writer, const Value& value) {
    return std::visit([&](const auto& item) { return writer.try_send(item); }, value);
}

void send(Connection& writer, const Value& value) {
    std::visit([&](const auto& item) { writer.send(item); }, value);
}

// Receives the next message as the type `expected` holds.
Value recv_like(Connection& reader, const Value& expected) {
    return std::visit(
        [&](const auto& item) { return Value(reader.recv<std::decay_t<decltype(item)>>()); },
        expected);
}

// A frame's bytes on the ring: an 8-byte header word and the payload padded to 8 bytes
// (core/messaging/pipe_state.hpp); a send also needs room for the next frame's header word.
std::uint64_t frame_bytes(std::size_t length) {
    return 8 + (length + 7) / 8 * 8;
}

struct Model {
    std::deque<std::pair<Value, std::uint64_t>> values; ///< each with its frame's bytes
    std::uint64_t used = 0;
};

void produce(Connection& writer, Model& model, const Value& value) {
    const std::uint64_t frame = frame_bytes(encoded(value).size());
    const bool fits = kCapacity - model.used >= frame + 8;
    RC_ASSERT(try_send(writer, value) == fits);
    if (fits) {
        model.values.emplace_back(value, frame);
        model.used += frame;
    }
}

void consume(Connection& reader, Model& model, bool as_bytes) {
    RC_ASSERT(reader.try_poll() == !model.values.empty());
    if (model.values.empty())
        return;
    const auto [value, frame] = model.values.front();
    model.values.pop_front();
    model.used -= frame;
    if (as_bytes)
        RC_ASSERT(reader.recv_bytes() == encoded(value));
    else
        RC_ASSERT(recv_like(reader, value) == value);
}

} // namespace

RC_GTEST_PROP(PipeValueModel, random_typed_sends_and_recvs_match_a_deque, ()) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = kCapacity});
    Model model;
    const auto ops = *rc::gen::container<std::vector<std::pair<int, Value>>>(
        rc::gen::pair(rc::gen::inRange(0, 5), gen_value(300)));
    for (const auto& [kind, value] : ops) {
        if (kind < 3)
            produce(writer, model, value);
        else
            consume(reader, model, kind == 4);
    }
    while (!model.values.empty())
        consume(reader, model, false);
    RC_ASSERT(!reader.try_poll());
}

RC_GTEST_PROP(PipeValueAcrossProcesses, every_value_arrives_whole_and_in_order, ()) {
    const auto values = *rc::gen::container<std::vector<Value>>(gen_value(3000));
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = kCapacity});
    Child child([&] {
        for (const Value& value : values)
            if (recv_like(reader, value) != value)
                std::_Exit(2);
    });
    for (const Value& value : values)
        send(writer, value);
    RC_ASSERT(child.wait() == 0);
}

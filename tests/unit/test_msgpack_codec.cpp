// SPDX-License-Identifier: Apache-2.0
// MsgpackCodec: Queue<T, MsgpackCodec> carries MessagePack; the codec is recorded in the queue
// (KindMismatch against cereal), and bytes that are not one T are a DecodeError, never UB.
#include "support/harness.hpp"

#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

struct Fill {
    double price;
    std::int64_t quantity;
    bool operator==(const Fill&) const = default;
    MSGPACK_DEFINE(price, quantity)
};

struct Order {
    std::string symbol;
    std::vector<Fill> fills;
    std::map<std::string, std::int64_t> tags;
    std::optional<std::string> note;
    bool operator==(const Order&) const = default;
    MSGPACK_DEFINE_MAP(symbol, fills, tags, note)
};

QueueOptions small() {
    return QueueOptions{.max_message_size = 4096, .capacity_bytes = 16384};
}

template <class T>
T round_trip(const T& value) {
    detail::ByteBuffer buffer;
    MsgpackCodec::encode(value, buffer);
    return MsgpackCodec::decode<T>(buffer.bytes());
}

std::vector<std::byte> raw(std::initializer_list<unsigned> values) {
    std::vector<std::byte> out;
    for (unsigned v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

} // namespace

TEST(MsgpackCodec, queue_carries_scalars_strings_bytes_lists_and_maps) {
    ScopedSegment segment;
    Queue<int, MsgpackCodec> ints(*segment, "ints", small());
    ints.put(-7);
    EXPECT_EQ(ints.get(), -7);
    Queue<double, MsgpackCodec> doubles(*segment, "doubles", small());
    doubles.put(2.5);
    EXPECT_EQ(doubles.get(), 2.5);
    Queue<std::string, MsgpackCodec> strings(*segment, "strings", small());
    strings.put("hello");
    EXPECT_EQ(strings.get(), "hello");
    Queue<std::vector<std::byte>, MsgpackCodec> bytes(*segment, "bytes", small());
    bytes.put(raw({0, 255, 10}));
    EXPECT_EQ(bytes.get(), raw({0, 255, 10}));
    using Table = std::map<std::string, std::vector<int>>;
    Queue<Table, MsgpackCodec> tables(*segment, "tables", small());
    tables.put(Table{{"a", {1, 2}}, {"b", {}}});
    EXPECT_EQ(tables.get(), (Table{{"a", {1, 2}}, {"b", {}}}));
}

TEST(MsgpackCodec, queue_carries_structs_with_a_msgpack_adaptor) {
    ScopedSegment segment;
    JoinableQueue<Order, MsgpackCodec> orders(*segment, "orders", small());
    const Order order{"ACME", {{1.5, 10}, {1.25, -3}}, {{"desk", 4}}, std::nullopt};
    orders.put(order);
    EXPECT_EQ(orders.get(), order);
    orders.task_done();
}

TEST(MsgpackCodec, encodes_what_other_languages_read) {
    // The bytes Python's msgpack.packb gives for the same values.
    detail::ByteBuffer buffer;
    MsgpackCodec::encode(std::map<std::string, int>{{"a", 1}}, buffer);
    EXPECT_EQ(std::vector<std::byte>(buffer.bytes().begin(), buffer.bytes().end()),
              raw({0x81, 0xa1, 'a', 0x01}));
    buffer.clear();
    MsgpackCodec::encode(Fill{0.5, 3}, buffer);
    EXPECT_EQ(std::vector<std::byte>(buffer.bytes().begin(), buffer.bytes().end()),
              raw({0x92, 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0x03}));
}

TEST(MsgpackCodec, floating_point_stays_floating_point) {
    // msgpack-cxx alone would pack 2.0 as the integer 2 and -0.0 as 0.
    const auto encoded = [](auto value) {
        detail::ByteBuffer buffer;
        MsgpackCodec::encode(value, buffer);
        return std::vector<std::byte>(buffer.bytes().begin(), buffer.bytes().end());
    };
    EXPECT_EQ(encoded(2.0), raw({0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(encoded(-0.0), raw({0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(encoded(1.0f), raw({0xca, 0x3f, 0x80, 0, 0}));
    EXPECT_EQ(encoded(std::vector<double>{18446744073709551616.0}),
              raw({0x91, 0xcb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0}));
    EXPECT_TRUE(std::signbit(round_trip(-0.0)));
}

TEST(MsgpackCodec, every_element_type_opens_one_msgpack_queue) {
    ScopedSegment segment;
    Queue<int, MsgpackCodec> ints(*segment, "q", small());
    ints.put(42);
    auto relay = Queue<MsgpackBytes, MsgpackCodec>::open(*segment, "q");
    const MsgpackBytes message = relay.get();
    EXPECT_EQ(message.bytes, raw({42}));
    relay.put(message);
    auto as_string = Queue<std::string, MsgpackCodec>::open(*segment, "q");
    EXPECT_THROW(as_string.get(), DecodeError);
}

TEST(MsgpackCodec, opening_with_another_codec_is_kind_mismatch) {
    ScopedSegment segment;
    Queue<int, MsgpackCodec> packed(*segment, "packed", small());
    Queue<int> cereal(*segment, "cereal", small());
    EXPECT_THROW(Queue<int>::open(*segment, "packed"), KindMismatch);
    EXPECT_THROW((Queue<std::string>::open(*segment, "packed")), KindMismatch);
    EXPECT_THROW((Queue<int, MsgpackCodec>::open(*segment, "cereal")), KindMismatch);
    EXPECT_THROW((JoinableQueue<int, MsgpackCodec>::open(*segment, "packed")), KindMismatch);
}

TEST(MsgpackCodec, malformed_messages_are_decode_errors) {
    const auto decode_string = [](std::vector<std::byte> bytes) {
        return MsgpackCodec::decode<std::string>(bytes);
    };
    EXPECT_THROW(decode_string(raw({})), DecodeError);
    EXPECT_THROW(decode_string(raw({0xa3, 'a'})), DecodeError);       // truncated str
    EXPECT_THROW(decode_string(raw({0xa1, 'a', 0x01})), DecodeError); // bytes left over
    EXPECT_THROW(decode_string(raw({0x01})), DecodeError);            // an int
    EXPECT_THROW(decode_string(raw({0xc1})), DecodeError);            // never used
    // An array claiming 2^32 - 1 elements in a 5-byte message: refused, not allocated.
    EXPECT_THROW(MsgpackCodec::decode<std::vector<int>>(raw({0xdd, 0xff, 0xff, 0xff, 0xff})),
                 DecodeError);
}

RC_GTEST_PROP(MsgpackCodec, round_trips_nested_values,
              (const std::map<std::string, std::vector<std::int64_t>>& table,
               const std::vector<double>& numbers, const std::string& text)) {
    RC_ASSERT(round_trip(table) == table);
    RC_ASSERT(round_trip(numbers) == numbers);
    RC_ASSERT(round_trip(text) == text);
}

RC_GTEST_PROP(MsgpackCodec, arbitrary_bytes_decode_or_raise_decode_error,
              (const std::vector<std::uint8_t>& input)) {
    std::vector<std::byte> bytes;
    for (const std::uint8_t byte : input)
        bytes.push_back(std::byte{byte});
    try {
        (void)MsgpackCodec::decode<Order>(bytes);
    } catch (const DecodeError&) {
    }
}

TEST(MsgpackCodec, manager_containers_take_the_codec_too) {
    ScopedSegment segment;
    Manager manager(*segment);
    auto dict = manager.dict<std::vector<int>, MsgpackCodec>("d", {.capacity_bytes = 4096});
    dict.set("a", {1, 2});
    EXPECT_EQ((Dict<std::vector<int>, MsgpackCodec>::open(*segment, "d").get("a")),
              (std::vector<int>{1, 2}));
    EXPECT_THROW(Dict<std::vector<int>>::open(*segment, "d"), KindMismatch);
    auto list = manager.list<std::string, MsgpackCodec>("l", {.capacity_bytes = 4096});
    list.append("x");
    list.append("y");
    EXPECT_EQ(list.index("y"), 1u);
    list.remove("x");
    EXPECT_EQ(list.to_vector(), std::vector<std::string>{"y"});
    EXPECT_THROW(List<std::string>::open(*segment, "l"), KindMismatch);
}

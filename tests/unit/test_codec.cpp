// SPDX-License-Identifier: Apache-2.0
// codec.hpp: memcpy for trivially copyable types, cereal for the rest, DecodeError (never UB)
// for bytes that are not a T.
#include <array>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <rapidcheck/gtest.h>
#include <shmbus/codec.hpp>
#include <shmbus/errors.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace shmbus;

namespace {

struct Point {
    int x;
    double y;
    bool operator==(const Point&) const = default;
};

struct Order {
    std::string symbol;
    std::vector<Point> fills;
    std::optional<std::map<std::string, int>> tags;
    bool operator==(const Order&) const = default;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(symbol, fills, tags);
    }
};

struct NotEncodable {
    std::string text;
};

template <class T>
T round_trip(const T& value) {
    return from_bytes<T>(to_bytes(value));
}

std::vector<std::byte> raw(std::initializer_list<unsigned> values) {
    std::vector<std::byte> out;
    for (unsigned v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

} // namespace

static_assert(Encodable<int>);
static_assert(Encodable<Point>);
static_assert(Encodable<Order>);
static_assert(Encodable<std::string>);
static_assert(!Encodable<NotEncodable>);
static_assert(detail::type_tag<int>() != detail::type_tag<std::string>());
static_assert(detail::type_tag<Point>() != detail::type_tag<std::vector<int>>());

TEST(Codec, trivially_copyable_values_are_their_bytes) {
    const Point p{3, 4.5};
    const auto bytes = to_bytes(p);
    EXPECT_EQ(bytes.size(), sizeof(Point));
    EXPECT_EQ(std::memcmp(bytes.data(), &p, sizeof p), 0);
    EXPECT_EQ(round_trip(p), p);
    EXPECT_EQ(round_trip(std::array<int, 3>{1, 2, 3}), (std::array<int, 3>{1, 2, 3}));
    EXPECT_EQ(round_trip(-7LL), -7LL);
}

TEST(Codec, standard_types_round_trip_through_cereal) {
    EXPECT_EQ(round_trip(std::string("hello\0world", 11)), std::string("hello\0world", 11));
    EXPECT_EQ(round_trip(std::vector<std::string>{"a", "", "ccc"}),
              (std::vector<std::string>{"a", "", "ccc"}));
    const std::map<std::string, std::vector<int>> map = {{"x", {1}}, {"y", {}}};
    EXPECT_EQ(round_trip(map), map);
    EXPECT_EQ(round_trip(std::make_pair(1, std::string("one"))),
              std::make_pair(1, std::string("one")));
    EXPECT_EQ(round_trip(std::make_tuple(1, 2.0, std::string("t"))),
              std::make_tuple(1, 2.0, std::string("t")));
    EXPECT_EQ(round_trip(std::optional<std::string>{}), std::nullopt);
    EXPECT_EQ(round_trip(std::optional<std::string>{"some"}), "some");
    EXPECT_EQ(round_trip(true), true);
    const std::vector<Point> points = {{1, 1.5}, {2, 2.5}};
    EXPECT_EQ(round_trip(points), points); // trivially copyable elements go as bytes
    const std::vector<std::array<int, 2>> arrays = {{1, 2}, {3, 4}};
    EXPECT_EQ(round_trip(arrays), arrays); // std::array keeps cereal's own function
}

TEST(Codec, user_types_use_their_serialize_function) {
    const Order order{"ACME", {{1, 2.0}, {3, 4.0}}, std::map<std::string, int>{{"k", 1}}};
    EXPECT_EQ(round_trip(order), order);
    EXPECT_EQ(round_trip(Order{}), Order{});
}

TEST(Codec, wrong_size_for_a_trivially_copyable_type_is_a_decode_error) {
    EXPECT_THROW(from_bytes<int>(raw({1, 2, 3})), DecodeError);
    EXPECT_THROW(from_bytes<int>(raw({1, 2, 3, 4, 5})), DecodeError);
    EXPECT_THROW(from_bytes<Point>({}), DecodeError);
}

TEST(Codec, truncated_and_trailing_bytes_are_decode_errors) {
    auto bytes = to_bytes(std::string("abcdef"));
    EXPECT_THROW(from_bytes<std::string>(std::span(bytes).first(bytes.size() - 1)), DecodeError);
    EXPECT_THROW(from_bytes<std::string>(std::span(bytes).first(3)), DecodeError);
    bytes.push_back(std::byte{0});
    EXPECT_THROW(from_bytes<std::string>(bytes), DecodeError);
}

TEST(Codec, a_huge_length_is_a_decode_error_not_an_allocation) {
    // [u64 length = 2^60]["x"]: a string or vector that long cannot be in 9 bytes.
    auto bytes = raw({0, 0, 0, 0, 0, 0, 0, 0x10, 'x'});
    EXPECT_THROW(from_bytes<std::string>(bytes), DecodeError);
    EXPECT_THROW(from_bytes<std::vector<double>>(bytes), DecodeError);
    EXPECT_THROW((from_bytes<std::map<int, int>>(bytes)), DecodeError);
}

TEST(Codec, a_bool_byte_other_than_0_or_1_is_a_decode_error) {
    EXPECT_THROW(from_bytes<bool>(raw({2})), DecodeError);
    EXPECT_THROW(from_bytes<std::optional<int>>(raw({7, 1, 0, 0, 0})), DecodeError);
    EXPECT_TRUE(from_bytes<bool>(raw({1})));
}

TEST(Codec, bytes_of_another_type_fail_cleanly) {
    const auto bytes = to_bytes(Order{"A", {{1, 1.0}}, std::nullopt});
    EXPECT_THROW((from_bytes<std::map<std::string, std::string>>(bytes)), DecodeError);
    EXPECT_THROW(from_bytes<std::vector<std::string>>(bytes), DecodeError);
}

// Whatever the bytes, decoding returns a value or raises DecodeError: never a crash, a hang or
// an unbounded allocation (ASan / UBSan builds run this too).
RC_GTEST_PROP(Codec, random_bytes_decode_or_raise_decode_error, (std::vector<std::uint8_t> input)) {
    std::vector<std::byte> bytes(input.size());
    if (!input.empty()) // memcpy from an empty vector's null data() is UB (UBSan)
        std::memcpy(bytes.data(), input.data(), input.size());
    const auto survives = [&](auto tag) {
        using T = decltype(tag);
        try {
            (void)from_bytes<T>(bytes);
        } catch (const DecodeError&) {
        }
    };
    survives(std::string{});
    survives(std::vector<std::string>{});
    survives(std::map<int, std::vector<double>>{});
    survives(Order{});
    survives(std::optional<std::tuple<int, std::string>>{});
}

RC_GTEST_PROP(Codec, encode_then_decode_is_identity,
              (std::string symbol, std::vector<int> xs, std::map<std::string, int> tags)) {
    std::vector<Point> fills;
    for (int x : xs)
        fills.push_back({x, x * 0.5});
    const Order order{symbol, fills, tags.empty() ? std::nullopt : std::optional(tags)};
    RC_ASSERT(round_trip(order) == order);
}

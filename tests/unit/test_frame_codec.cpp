// SPDX-License-Identifier: Apache-2.0
// frame_codec.hpp: the in-place path writes exactly the bytes codec.hpp's encode() writes and
// reads them back (split anywhere, as a ring wraps), and bytes that are not a T give the same
// DecodeError, never a read past the frame.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <shmbus/codec.hpp>
#include <shmbus/detail/frame_codec.hpp>
#include <shmbus/errors.hpp>
#include <string>
#include <vector>

using namespace shmbus;

namespace {

struct Point {
    int x;
    double y;
    bool operator==(const Point&) const = default;
};

template <class T>
std::vector<std::byte> in_place_bytes(const T& item) {
    const detail::FrameParts<T> parts(item);
    std::vector<std::byte> out(parts.first().begin(), parts.first().end());
    out.insert(out.end(), parts.second().begin(), parts.second().end());
    return out;
}

// Decodes `bytes` in place, seen as two pieces split at `split` (a wrapped frame).
template <class T>
T decode_in_place(const std::vector<std::byte>& bytes, std::size_t split) {
    const std::span<const std::byte> all(bytes);
    split = std::min(split, bytes.size());
    detail::InPlaceDecoder<T> decoder;
    decoder.sink()(detail::FrameView(all.first(split), all.subspan(split)));
    return decoder.take();
}

} // namespace

static_assert(detail::kFrameInPlace<int>);
static_assert(detail::kFrameInPlace<Point>);
static_assert(detail::kFrameInPlace<std::string>);
static_assert(detail::kFrameInPlace<std::vector<double>>);
static_assert(detail::kFrameInPlace<std::vector<Point>>);
static_assert(!detail::kFrameInPlace<bool>);
static_assert(!detail::kFrameInPlace<std::vector<bool>>);
static_assert(!detail::kFrameInPlace<std::vector<std::string>>);

TEST(FrameCodec, a_trivially_copyable_value_is_its_bytes_in_both_paths) {
    const Point p{7, 2.5};
    EXPECT_EQ(in_place_bytes(p), to_bytes(p));
    EXPECT_EQ(decode_in_place<Point>(to_bytes(p), 5), p);
}

TEST(FrameCodec, a_value_decoded_into_the_caller_s_item_is_whole_or_a_decode_error) {
    const Point p{-3, 0.125};
    const std::vector<std::byte> bytes = to_bytes(p);
    const std::span<const std::byte> all(bytes);
    for (std::size_t split : {std::size_t{0}, std::size_t{5}, bytes.size()}) {
        Point into{};
        detail::DecoderInto<Point> decoder(into);
        decoder.sink()(detail::FrameView(all.first(split), all.subspan(split)));
        EXPECT_NO_THROW(decoder.check());
        EXPECT_EQ(into, p) << "split at " << split;
    }
    Point untouched{1, 1.0};
    detail::DecoderInto<Point> short_frame(untouched);
    short_frame.sink()(detail::FrameView(all.first(bytes.size() - 1), {}));
    EXPECT_THROW(short_frame.check(), DecodeError);
    EXPECT_EQ(untouched, (Point{1, 1.0}));
}

TEST(FrameCodec, a_wrong_size_is_the_same_decode_error_and_nothing_is_read_past_the_frame) {
    const auto bytes = to_bytes(std::int64_t{1});
    EXPECT_THROW(decode_in_place<int>(bytes, 3), DecodeError);
    EXPECT_THROW(decode_in_place<std::string>({bytes.begin(), bytes.begin() + 7}, 2), DecodeError);
    auto lying = to_bytes(std::string("abc"));
    lying[0] = std::byte{200}; // announces 200 chars, 3 follow
    EXPECT_THROW(decode_in_place<std::string>(lying, 4), DecodeError);
    EXPECT_THROW(decode_in_place<std::vector<double>>(to_bytes(std::string("abcd")), 4),
                 DecodeError);
}

RC_GTEST_PROP(FrameCodec, strings_and_vectors_match_encode_and_survive_any_split,
              (std::string text, std::vector<double> numbers, std::vector<int> xs,
               std::uint8_t split)) {
    std::vector<Point> points;
    for (int x : xs)
        points.push_back({x, x * 0.25});
    RC_ASSERT(in_place_bytes(text) == to_bytes(text));
    RC_ASSERT(in_place_bytes(numbers) == to_bytes(numbers));
    RC_ASSERT(in_place_bytes(points) == to_bytes(points));
    RC_ASSERT(decode_in_place<std::string>(to_bytes(text), split) == text);
    RC_ASSERT(decode_in_place<std::vector<double>>(to_bytes(numbers), split) == numbers);
    RC_ASSERT(decode_in_place<std::vector<Point>>(to_bytes(points), split) == points);
}

RC_GTEST_PROP(FrameCodec, random_bytes_decode_as_encode_would_or_raise_decode_error,
              (std::vector<std::uint8_t> input, std::uint8_t split)) {
    std::vector<std::byte> bytes(input.size());
    if (!input.empty())
        std::memcpy(bytes.data(), input.data(), input.size());
    const auto agrees = [&](auto tag) {
        using T = decltype(tag);
        std::optional<T> by_codec;
        try {
            by_codec = from_bytes<T>(bytes);
        } catch (const DecodeError&) {
        }
        try {
            RC_ASSERT(by_codec && decode_in_place<T>(bytes, split) == *by_codec);
        } catch (const DecodeError&) {
            RC_ASSERT(!by_codec);
        }
    };
    agrees(std::string{});
    agrees(std::vector<std::int32_t>{});
    agrees(std::int64_t{});
}

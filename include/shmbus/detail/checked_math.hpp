// SPDX-License-Identifier: Apache-2.0
// Size arithmetic that cannot wrap. Every size, length, capacity or count that comes from a
// caller or from shared memory goes through these before it sizes an allocation or a loop: a
// product or sum that wrapped would size a small object and then write far past its end (into
// whatever is mapped after the segment).
#pragma once

#include "shmbus/errors.hpp"

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::detail {

/// a + b, or nullopt when the sum does not fit in 64 bits.
constexpr std::optional<std::uint64_t> checked_add(std::uint64_t a, std::uint64_t b) {
    std::uint64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum))
        return std::nullopt;
    return sum;
}

/// a * b, or nullopt when the product does not fit in 64 bits.
constexpr std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product))
        return std::nullopt;
    return product;
}

/// `value` rounded up to a multiple of `to` (> 0), or nullopt when that does not fit.
constexpr std::optional<std::uint64_t> checked_round_up(std::uint64_t value, std::uint64_t to) {
    const std::uint64_t rest = value % to;
    return rest == 0 ? std::optional<std::uint64_t>(value) : checked_add(value, to - rest);
}

/// The smallest power of two >= value, or nullopt when that is 2^64 or more (std::bit_ceil
/// is undefined there).
constexpr std::optional<std::uint64_t> checked_bit_ceil(std::uint64_t value) {
    if (value > (std::uint64_t{1} << 63))
        return std::nullopt;
    return std::bit_ceil(value);
}

/// The value of a checked step, or OutOfSpace: a size past 2^64 bytes fits in no segment.
inline std::uint64_t size_or_throw(std::optional<std::uint64_t> size, std::string_view what) {
    if (!size)
        throw OutOfSpace(std::string(what) + " needs more than 2^64 bytes, which no segment holds");
    return *size;
}

inline std::uint64_t add_size(std::uint64_t a, std::uint64_t b, std::string_view what) {
    return size_or_throw(checked_add(a, b), what);
}
inline std::uint64_t mul_size(std::uint64_t a, std::uint64_t b, std::string_view what) {
    return size_or_throw(checked_mul(a, b), what);
}
inline std::uint64_t round_up_size(std::uint64_t value, std::uint64_t to, std::string_view what) {
    return size_or_throw(checked_round_up(value, to), what);
}
inline std::uint64_t bit_ceil_size(std::uint64_t value, std::string_view what) {
    return size_or_throw(checked_bit_ceil(value), what);
}

} // namespace shmbus::detail

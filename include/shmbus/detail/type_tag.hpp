// SPDX-License-Identifier: Apache-2.0
// One type tag for every typed object (Value, Array, Queue, JoinableQueue, Dict, List): opening
// an object by name with another element type is KindMismatch, and `shmbus inspect` names the
// element type from it.
#pragma once

#include <cstdint>
#include <type_traits>

namespace shmbus::detail {

/// The codec carries T as its bytes when T is trivially copyable (bool excepted: its bytes may
/// hold values other than 0 and 1); other types go through cereal.
template <class T>
inline constexpr bool kCodecByMemcpy = std::is_trivially_copyable_v<T> && !std::is_same_v<T, bool>;

/// The character types, which are not the integers of their size: Value<char> is Python's 'c'
/// and Value<wchar_t> its 'u', and neither opens as Value<int8_t> or Value<int32_t>.
template <class T>
inline constexpr bool kCharacterType =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

inline constexpr unsigned kTagAlignShift = 32;
inline constexpr unsigned kTagCategoryShift = 48;
inline constexpr unsigned kTagEncodingShift = 56;

/// Bits 0..31 sizeof(T); 32..47 alignof(T); 48..55 the category (1 floating point, 2 signed
/// integral, 3 unsigned integral with bool, 4 anything else, 5 a character type); 56..63 the
/// encoding (1 its bytes, 2 cereal, 3 MessagePack: see kMsgpackTypeTag; 4 marks a tag mixed
/// from two, such as a Dict's key and value types: detail::composite_tag in
/// container_element.hpp).
template <class T>
constexpr std::uint64_t type_tag() {
    const std::uint64_t category = kCharacterType<T>             ? 5
                                   : std::is_floating_point_v<T> ? 1
                                   : std::is_signed_v<T>         ? 2
                                   : std::is_integral_v<T>       ? 3
                                                                 : 4;
    const std::uint64_t encoding = kCodecByMemcpy<T> ? 1 : 2;
    return sizeof(T) | (std::uint64_t{alignof(T)} << kTagAlignShift) |
           (category << kTagCategoryShift) | (encoding << kTagEncodingShift);
}

/// The tag of every object made with MsgpackCodec (shmbus/msgpack_codec.hpp), whatever its
/// element type: MessagePack describes itself, so a Python process, which has no C++ type, opens
/// the same objects as `Queue<Order, MsgpackCodec>`; a message that is no Order is then a
/// DecodeError on get. Size, alignment and category are 0, so no cereal or memcpy tag equals it.
inline constexpr std::uint64_t kMsgpackTypeTag = std::uint64_t{3} << kTagEncodingShift;

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// How Dict and List carry their keys and elements: through the codec, except a Dict or List
// element (a nested container), which is stored as a reference to the inner object (its
// segment's name and its offset there) and read back as a live handle to it, the way a
// Python proxy stored in a managed list is.
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/manager_core.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/segment.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace shmbus::detail {

inline constexpr unsigned kCompositeEncoding = 4;

/// The tag of a type made of two others (a Dict's key and value types, a reference to a
/// container of some type): a mix of both, with encoding 4 (type_tag.hpp), so that it equals
/// no tag of a single type.
constexpr std::uint64_t composite_tag(std::uint64_t first, std::uint64_t second) {
    constexpr auto mix = [](std::uint64_t x) { // splitmix64's finaliser
        x = (x ^ (x >> 30U)) * 0xbf58'476d'1ce4'e5b9ULL;
        x = (x ^ (x >> 27U)) * 0x94d0'49bb'1331'11ebULL;
        return x ^ (x >> 31U);
    };
    constexpr std::uint64_t kLowBits = (std::uint64_t{1} << kTagEncodingShift) - 1;
    return (mix(mix(first) + second) & kLowBits) |
           (std::uint64_t{kCompositeEncoding} << kTagEncodingShift);
}

/// Marks a reference to a container in composite_tag().
inline constexpr std::uint64_t kContainerReferenceTag = 0x5245'4645'5245'4e43ULL; // "REFERENC"

/// A Dict or List handle: stored in another container as a reference.
template <class T>
concept ContainerHandle = requires(const T& handle, const Segment& segment) {
    { T::type_tag() } -> std::same_as<std::uint64_t>;
    { T::at(segment, std::uint64_t{}) } -> std::same_as<T>;
    { handle.offset() } -> std::same_as<std::uint64_t>;
    { handle.segment() } -> std::convertible_to<const Segment&>;
};

/// What a nested container is stored as: its segment's name and its offset there.
using ContainerReference = std::pair<std::string, std::uint64_t>;

/// The tag an element type T records in its container.
template <class Codec, class T>
constexpr std::uint64_t element_tag() {
    if constexpr (ContainerHandle<T>)
        return composite_tag(kContainerReferenceTag, T::type_tag());
    else
        return Codec::template type_tag<T>();
}

/// The encoding of an element in this thread's codec buffer (see encoded()).
template <class Codec, class T>
std::span<const std::byte> encoded_element(const T& value) {
    if constexpr (ContainerHandle<T>)
        return encoded<Codec>(ContainerReference{value.segment().name(), value.offset()});
    else
        return encoded<Codec>(value);
}

/// Decodes an element stored in a container of segment `home`. A reference to a container in
/// another segment opens that segment by name.
template <class Codec, class T>
T decoded_element(std::span<const std::byte> bytes, const Segment& home) {
    if constexpr (ContainerHandle<T>) {
        const auto reference = Codec::template decode<ContainerReference>(bytes);
        if (reference.first == home.name())
            return T::at(home, reference.second);
        return T::at(Segment::open(reference.first), reference.second);
    } else {
        return Codec::template decode<T>(bytes);
    }
}

/// A Dict key as stored: a std::string key is its own bytes (so a Python process, whose keys
/// are str, shares the Dict), any other key type its encoding by the codec.
template <class K, class Codec>
struct KeyBytes {
    /// The argument type of the Dict's key parameters.
    using Arg = const K&;
    static std::string of(const K& key) {
        ByteBuffer buffer;
        Codec::encode(key, buffer);
        return {reinterpret_cast<const char*>(buffer.data()), buffer.size()};
    }
    static K decode(std::string_view bytes) {
        return Codec::template decode<K>(std::as_bytes(std::span(bytes.data(), bytes.size())));
    }
    static std::string describe(const K& key) {
        if constexpr (std::is_arithmetic_v<K>)
            return "key " + std::to_string(key);
        else
            return "the key";
    }
};

template <class Codec>
struct KeyBytes<std::string, Codec> {
    using Arg = std::string_view;
    static std::string_view of(std::string_view key) { return key; }
    static std::string decode(std::string_view bytes) { return std::string(bytes); }
    static std::string describe(std::string_view key) { return "key '" + std::string(key) + "'"; }
};

} // namespace shmbus::detail

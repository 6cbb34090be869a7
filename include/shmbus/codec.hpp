// SPDX-License-Identifier: Apache-2.0
/// @file
/// How values travel through Queue and Pipe.
///
///   * Trivially copyable types (int, double, plain structs, std::array of them) go as their
///     bytes, by memcpy. Decoding checks the size; the bytes themselves are taken as they are,
///     so a struct whose members have invalid bit patterns (a bool that is neither 0 nor 1) is
///     the sender's responsibility. A bare bool is checked.
///     Inside a cereal-encoded value (a std::vector<Point>), a trivially copyable class without
///     cereal functions of its own also goes as its bytes.
///   * Everything else goes through cereal (https://uscilab.github.io/cereal/): std::string,
///     std::vector, std::map, std::tuple/pair, std::optional and the other standard types whose
///     cereal/types/ header this file includes, and user types with cereal's serialize (or
///     save/load) member or free function. The format is cereal's binary archive format; the
///     archives below only add bounds checks, so that bytes that do not decode as T raise
///     DecodeError instead of reading past the message or allocating without limit.
///
/// A size read from a message (string length, element count) larger than the bytes left in the
/// message is a DecodeError: every element takes at least one byte, except empty classes, so a
/// container of more empty-class elements than the message has bytes does not decode.
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace shmbus::detail {

/// cereal's binary format, written straight into a ByteBuffer.
class SHMBUS_EXPORT CodecOutputArchive
    : public cereal::OutputArchive<CodecOutputArchive, cereal::AllowEmptyClassElision> {
public:
    explicit CodecOutputArchive(ByteBuffer& out)
        : cereal::OutputArchive<CodecOutputArchive, cereal::AllowEmptyClassElision>(this),
          m_out(out) {}
    void saveBinary(const void* data, std::size_t size) { m_out.append(data, size); }

private:
    ByteBuffer& m_out;
};

/// cereal's binary format, read from a span with every read bounds-checked.
class SHMBUS_EXPORT CodecInputArchive
    : public cereal::InputArchive<CodecInputArchive, cereal::AllowEmptyClassElision> {
public:
    explicit CodecInputArchive(std::span<const std::byte> in)
        : cereal::InputArchive<CodecInputArchive, cereal::AllowEmptyClassElision>(this), m_in(in) {}
    void loadBinary(void* data, std::size_t size) {
        if (size > remaining())
            throw DecodeError("message truncated: " + std::to_string(size) + " bytes wanted, " +
                              std::to_string(remaining()) + " left");
        if (size != 0)
            std::memcpy(data, m_in.data() + m_read, size);
        m_read += size;
    }
    std::size_t remaining() const { return m_in.size() - m_read; }

private:
    std::span<const std::byte> m_in;
    std::size_t m_read = 0;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(CodecOutputArchive& ar,
                                                                    const T& value) {
    ar.saveBinary(std::addressof(value), sizeof value);
}

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(CodecInputArchive& ar,
                                                                    T& value) {
    if constexpr (std::is_same_v<T, bool>) {
        unsigned char byte = 0;
        ar.loadBinary(&byte, 1);
        if (byte > 1)
            throw DecodeError("a bool byte holds " + std::to_string(byte));
        value = byte != 0;
    } else {
        ar.loadBinary(std::addressof(value), sizeof value);
    }
}

template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(CodecInputArchive, CodecOutputArchive)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& pair) {
    ar(pair.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CodecOutputArchive& ar, const cereal::SizeTag<T>& tag) {
    ar(tag.size);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CodecInputArchive& ar, cereal::SizeTag<T>& tag) {
    ar(tag.size);
    if (static_cast<std::uint64_t>(tag.size) > ar.remaining())
        throw DecodeError("a length of " + std::to_string(tag.size) + " with only " +
                          std::to_string(ar.remaining()) + " bytes left in the message");
}

/// A trivially copyable class that has no cereal functions of its own (checked against
/// cereal's binary archive, which has no such fallback): its bytes.
template <class T>
concept RawClass = std::is_trivially_copyable_v<T> && std::is_class_v<T> &&
                   !cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
                   !cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

template <RawClass T>
void CEREAL_SAVE_FUNCTION_NAME(CodecOutputArchive& ar, const T& value) {
    ar.saveBinary(std::addressof(value), sizeof(T));
}

template <RawClass T>
void CEREAL_LOAD_FUNCTION_NAME(CodecInputArchive& ar, T& value) {
    ar.loadBinary(std::addressof(value), sizeof(T));
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CodecOutputArchive& ar, const cereal::BinaryData<T>& data) {
    ar.saveBinary(data.data, static_cast<std::size_t>(data.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CodecInputArchive& ar, cereal::BinaryData<T>& data) {
    ar.loadBinary(data.data, static_cast<std::size_t>(data.size));
}

/// Per-thread buffer for encoding and decoding messages.
inline ByteBuffer& codec_scratch() {
    thread_local ByteBuffer buffer;
    return buffer;
}

} // namespace shmbus::detail

CEREAL_REGISTER_ARCHIVE(shmbus::detail::CodecOutputArchive)
CEREAL_REGISTER_ARCHIVE(shmbus::detail::CodecInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(shmbus::detail::CodecInputArchive, shmbus::detail::CodecOutputArchive)

namespace shmbus {

/// Types the codec carries: trivially copyable ones, and default-constructible ones cereal
/// can save and load.
template <class T>
concept Encodable = detail::kCodecByMemcpy<T> ||
    (std::is_default_constructible_v<T>&&
         cereal::traits::is_output_serializable<T, detail::CodecOutputArchive>::value&&
             cereal::traits::is_input_serializable<T, detail::CodecInputArchive>::value);

/// Fails to compile, with a message that says what T lacks, unless T is Encodable.
template <class T>
void check_encodable() {
    static_assert(Encodable<T>,
                  "shmbus: this type cannot travel through a Queue or Pipe. It must be trivially "
                  "copyable, or default-constructible with a cereal serialize(Archive&) (or "
                  "save/load) function; for standard containers, include their "
                  "<cereal/types/...> header");
}

/// Appends the encoding of `value` to `out`.
template <class T>
void encode(const T& value, detail::ByteBuffer& out) {
    check_encodable<T>();
    if constexpr (detail::kCodecByMemcpy<T>) {
        out.append(std::addressof(value), sizeof(T));
    } else {
        detail::CodecOutputArchive archive(out);
        archive(value);
    }
}

namespace detail {

// decode's two branches are functions of their own: g++ 12 elides the copy of a named return
// value only when every return of the function returns it, discarded `if constexpr` branches
// included, so one function with both made a second copy of every T.
template <class T>
T decode_by_memcpy(std::span<const std::byte> bytes) {
    if (bytes.size() != sizeof(T))
        throw DecodeError("a message of " + std::to_string(bytes.size()) +
                          " bytes cannot be a value of " + std::to_string(sizeof(T)) + " bytes");
    T value;
    std::memcpy(static_cast<void*>(std::addressof(value)), bytes.data(), sizeof(T));
    return value;
}

template <class T>
T decode_by_archive(std::span<const std::byte> bytes) {
    T value{};
    CodecInputArchive archive(bytes);
    try {
        archive(value);
    } catch (const cereal::Exception& e) {
        throw DecodeError(std::string("message does not decode: ") + e.what());
    } catch (const std::length_error& e) {
        throw DecodeError(std::string("message does not decode: ") + e.what());
    } catch (const std::bad_alloc&) {
        throw DecodeError("message does not decode: a length in it is too large");
    }
    if (archive.remaining() != 0)
        throw DecodeError("message has " + std::to_string(archive.remaining()) +
                          " bytes left over after decoding: sent as another type?");
    return value;
}

} // namespace detail

/// Decodes a whole message as T; DecodeError when the bytes are not exactly one T.
template <class T>
T decode(std::span<const std::byte> bytes) {
    check_encodable<T>();
    if constexpr (detail::kCodecByMemcpy<T>)
        return detail::decode_by_memcpy<T>(bytes);
    else
        return detail::decode_by_archive<T>(bytes);
}

/// The encoding of `value` as a fresh vector (Python's pickle.dumps).
template <class T>
std::vector<std::byte> to_bytes(const T& value) {
    detail::ByteBuffer buffer;
    encode(value, buffer);
    return {buffer.data(), buffer.data() + buffer.size()};
}
/// Decodes a whole message as T, as decode(); DecodeError when it is not exactly one T.
template <class T>
T from_bytes(std::span<const std::byte> bytes) {
    return decode<T>(bytes);
}

/// The default codec of Queue, SimpleQueue and JoinableQueue: encode() and decode() above
/// (trivially copyable types as their bytes, the rest through cereal). Only C++ reads it; for a
/// codec other languages read, see MsgpackCodec (shmbus/msgpack_codec.hpp).
///
/// A codec is a class with static `type_tag<T>()` (recorded in the object: opening it with
/// another tag is KindMismatch), `encode<T>(value, out)` and `decode<T>(bytes)`.
struct CerealCodec {
    /// detail::type_tag<T>(): size, alignment, category and encoding of T.
    template <class T>
    static constexpr std::uint64_t type_tag() {
        return detail::type_tag<T>();
    }
    /// shmbus::encode.
    template <class T>
    static void encode(const T& value, detail::ByteBuffer& out) {
        shmbus::encode(value, out);
    }
    /// shmbus::decode.
    template <class T>
    static T decode(std::span<const std::byte> bytes) {
        return shmbus::decode<T>(bytes);
    }
};

} // namespace shmbus

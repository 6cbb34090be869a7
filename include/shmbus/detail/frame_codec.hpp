// SPDX-License-Identifier: Apache-2.0
// Encoding straight into ring slots and decoding straight out of them, for the types whose
// encoding (codec.hpp) is their bytes, or a 64-bit length and then their elements' bytes: a
// message then costs two copies (in, out), like a plain ring, instead of four (encode into a
// scratch buffer, copy it into the ring, copy it out, decode). The bytes are exactly what
// codec.hpp's encode() makes, so both paths read each other's messages.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace shmbus::detail {

/// A frame in place, in one or two pieces (a ring wraps). @concurrent valid only inside the
/// FrameSink call that received it.
class FrameView {
public:
    FrameView(std::span<const std::byte> first, std::span<const std::byte> second)
        : m_first(first), m_second(second) {}
    std::size_t size() const { return m_first.size() + m_second.size(); }
    /// Copies frame bytes [at, at + count) to `to`. @pre at + count <= size().
    void copy_to(std::size_t at, void* to, std::size_t count) const {
        if (count == 0) // an empty vector's data() may be null, which memcpy must not get
            return;
        if (count <= m_first.size() && at <= m_first.size() - count) {
            std::memcpy(to, m_first.data() + at, count); // the common case: not wrapped
            return;
        }
        copy_wrapped(at, static_cast<std::byte*>(to), count);
    }

private:
    void copy_wrapped(std::size_t at, std::byte* out, std::size_t count) const {
        if (at < m_first.size()) {
            const std::size_t head = m_first.size() - at;
            std::memcpy(out, m_first.data() + at, head);
            out += head;
            count -= head;
            at = m_first.size();
        }
        if (count != 0)
            std::memcpy(out, m_second.data() + (at - m_first.size()), count);
    }

    std::span<const std::byte> m_first;
    std::span<const std::byte> m_second;
};

/// A consumer of one frame, type-erased so that the untyped cores can call a typed decoder.
struct FrameSink {
    void* context;
    void (*consume)(void* context, const FrameView& frame);
    void operator()(const FrameView& frame) const { consume(context, frame); }
};

/// A sink that copies the frame into `out` (resized to it).
inline FrameSink sink_into(ByteBuffer& out) {
    return {&out, [](void* buffer, const FrameView& frame) {
                auto& to = *static_cast<ByteBuffer*>(buffer);
                frame.copy_to(0, to.resize_for_overwrite(frame.size()), frame.size());
            }};
}

/// Element types whose sequences the codec writes as their bytes: arithmetic (bool excepted)
/// and trivially copyable classes without cereal functions of their own.
template <class E>
concept RawElement = (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) || RawClass<E>;

template <class T>
struct RawSequence : std::false_type {};
template <RawElement E, class Traits, class Alloc>
struct RawSequence<std::basic_string<E, Traits, Alloc>> : std::true_type {};
template <RawElement E, class Alloc>
struct RawSequence<std::vector<E, Alloc>> : std::true_type {};

/// T is carried as [u64 element count][the elements' bytes].
template <class T>
inline constexpr bool kRawSequence = RawSequence<T>::value;
/// T goes in and out of the ring without a scratch buffer.
template <class T>
inline constexpr bool kFrameInPlace = kCodecByMemcpy<T> || kRawSequence<T>;

/// The encoding of an item as at most two pieces of memory (the item's own bytes and, for a
/// sequence, its length word before them). Not copyable: first() may point into it.
template <class T>
class FrameParts {
public:
    explicit FrameParts(const T& item) {
        if constexpr (kCodecByMemcpy<T>) {
            m_second = {reinterpret_cast<const std::byte*>(std::addressof(item)), sizeof(T)};
        } else {
            m_length = item.size();
            m_second = {reinterpret_cast<const std::byte*>(item.data()),
                        item.size() * sizeof(typename T::value_type)};
        }
    }
    FrameParts(const FrameParts&) = delete;
    FrameParts& operator=(const FrameParts&) = delete;

    std::span<const std::byte> first() const {
        if constexpr (kCodecByMemcpy<T>)
            return {};
        else
            return {reinterpret_cast<const std::byte*>(&m_length), sizeof m_length};
    }
    std::span<const std::byte> second() const { return m_second; }

private:
    std::uint64_t m_length = 0;
    std::span<const std::byte> m_second;
};

inline std::string wrong_size(std::size_t frame, std::size_t item) {
    return "a message of " + std::to_string(frame) + " bytes cannot be a value of " +
           std::to_string(item) + " bytes";
}

/// DecoderInto may fill a T left unzeroed: a class whose default constructor does nothing (so
/// there is something to save), big enough that every ABI shmbus builds for returns it through
/// memory, so DefaultInitialised's named T is its result, never a copy. Zeroing a smaller T
/// first costs little.
template <class T>
inline constexpr bool kLeftUnzeroed =
    sizeof(T) >= 256 &&
    std::conjunction_v<std::is_class<T>, std::is_trivially_default_constructible<T>>;

/// Converts to a default-initialised T, so that `std::optional<T> item(std::in_place,
/// DefaultInitialised<T>{})` holds a T whose bytes are left as they are, for DecoderInto to
/// overwrite: optional's own in_place constructor value-initialises, which zeroes every byte of
/// a trivially copyable class first. The conversion's result initialises the optional's T
/// directly (C++17), and the named T is that result (g++ 12 and clang 14 make no copy).
template <class T>
struct DefaultInitialised {
    static_assert(kLeftUnzeroed<T>, "a smaller T would be returned by a copy of its bytes");
    operator T() const {
        T item;
        return item;
    }
};

/// An optional holding a T for DecoderInto to fill, left unzeroed when kLeftUnzeroed<T>.
template <class T>
std::optional<T> item_to_fill() {
    if constexpr (kLeftUnzeroed<T>)
        return std::optional<T>(std::in_place, DefaultInitialised<T>{});
    else
        return std::optional<T>(std::in_place);
}

/// Decodes a frame of exactly sizeof(T) bytes straight into a T the caller holds, so that a get
/// returning that T (a named return value) copies the message once, out of the ring.
template <class T>
requires kCodecByMemcpy<T>
class DecoderInto {
public:
    explicit DecoderInto(T& item) : m_item(item) {}
    FrameSink sink() {
        return {this, [](void* self, const FrameView& frame) {
                    static_cast<DecoderInto*>(self)->consume(frame);
                }};
    }
    /// DecodeError when the frame was not one T.
    void check() const {
        if (m_frame_size != sizeof(T)) [[unlikely]]
            throw DecodeError(wrong_size(m_frame_size, sizeof(T)));
    }

private:
    void consume(const FrameView& frame) {
        m_frame_size = frame.size();
        if (frame.size() == sizeof(T))
            frame.copy_to(0, std::addressof(m_item), sizeof(T));
    }

    T& m_item;
    /// The consumed frame's size, kept instead of an error string on the path of every get.
    std::size_t m_frame_size = sizeof(T);
};

/// Decodes one frame in place into an item, or records why it cannot (the frame is consumed
/// either way, as with decode()).
template <class T>
class InPlaceDecoder {
public:
    FrameSink sink() {
        return {this, [](void* self, const FrameView& frame) {
                    static_cast<InPlaceDecoder*>(self)->consume(frame);
                }};
    }
    /// The item; DecodeError when the frame was not one T.
    T take() {
        if (!m_item)
            throw DecodeError(m_error);
        return std::move(*m_item);
    }

private:
    void consume(const FrameView& frame) {
        if constexpr (kCodecByMemcpy<T>)
            consume_bytes(frame);
        else
            consume_sequence(frame);
    }

    void consume_bytes(const FrameView& frame) {
        if (frame.size() != sizeof(T)) {
            m_error = wrong_size(frame.size(), sizeof(T));
            return;
        }
        T& item = m_item.emplace();
        frame.copy_to(0, std::addressof(item), sizeof(T));
    }

    void consume_sequence(const FrameView& frame) {
        using Element = typename T::value_type;
        std::uint64_t count = 0;
        if (frame.size() < sizeof count) {
            m_error =
                "message truncated: " + std::to_string(frame.size()) + " bytes, a length takes 8";
            return;
        }
        frame.copy_to(0, &count, sizeof count);
        const std::size_t bytes = frame.size() - sizeof count;
        if (count > bytes / sizeof(Element) || count * sizeof(Element) != bytes) {
            m_error = "a length of " + std::to_string(count) + " elements of " +
                      std::to_string(sizeof(Element)) + " bytes in a message with " +
                      std::to_string(bytes) + " bytes after it: sent as another type?";
            return;
        }
        T& item = m_item.emplace();
        item.resize(count);
        frame.copy_to(sizeof count, item.data(), bytes);
    }

    std::optional<T> m_item;
    std::string m_error;
};

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
/// @file
/// MsgpackCodec: MessagePack (https://msgpack.org) as a Queue codec, so that Python (the
/// `shmbus` module, or any MessagePack library) and C++ read each other's messages.
///
/// @code
///   struct Order {
///       std::string symbol;
///       std::int64_t quantity;
///       MSGPACK_DEFINE_MAP(symbol, quantity)    // a dict in Python; MSGPACK_DEFINE: a list
///   };
///   shmbus::Queue<Order, shmbus::MsgpackCodec> orders(segment, "orders");
///   shmbus::Queue<std::map<std::string, std::vector<int>>, shmbus::MsgpackCodec> q(segment, "m");
/// @endcode
///
/// Types are those of msgpack-cxx (https://github.com/msgpack/msgpack-c/tree/cpp_master):
/// integers, floating point, bool, std::string (str), std::vector<std::byte> or
/// std::vector<char> (bin), std::vector / std::list / std::array (array), std::map /
/// std::unordered_map (map), std::optional (nil when empty), std::tuple (array), and classes
/// with MSGPACK_DEFINE / MSGPACK_DEFINE_MAP or a msgpack adaptor. MsgpackBytes carries an
/// already encoded message without decoding it.
///
/// Every object made with this codec records the same tag (detail::kMsgpackTypeTag), whatever
/// T is: a Python process, which has no C++ type, opens it, and so does any
/// `Queue<U, MsgpackCodec>`. Opening it with CerealCodec (or a cereal queue with this codec) is
/// KindMismatch. A message that is not one T (an int where a string is expected, a truncated
/// message) is a DecodeError on get; the message is consumed.
///
/// This header needs msgpack-cxx (header-only; Debian's libmsgpack-cxx-dev) on the include path,
/// used without Boost: it defines MSGPACK_NO_BOOST unless the including program did.
#pragma once

#ifndef MSGPACK_NO_BOOST
#define MSGPACK_NO_BOOST
#endif

#include "shmbus/codec.hpp"
#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <msgpack.hpp>
#include <new>
#include <span>
#include <string>
#include <vector>

namespace shmbus {

/// One MessagePack-encoded message, carried as it is: MsgpackCodec neither checks nor decodes
/// it (the Python module passes its messages this way; a C++ relay may forward them unread).
struct MsgpackBytes {
    /// The encoding of exactly one MessagePack value.
    std::vector<std::byte> bytes;
    /// Equal when the bytes are.
    bool operator==(const MsgpackBytes&) const = default;
};

namespace detail {

/// msgpack-cxx's packer writes to a stream with write(const char*, size_t).
class MsgpackBufferStream {
public:
    explicit MsgpackBufferStream(ByteBuffer& out) : m_out(out) {}
    void write(const char* data, std::size_t size) { m_out.append(data, size); }

private:
    ByteBuffer& m_out;
};

} // namespace detail
} // namespace shmbus

// msgpack-cxx 4.1 packs a float or double that holds an integral value (2.0, -0.0) as an
// integer, so Python would get 2 for 2.0 and 0 for -0.0 (and converting 2^64 to uint64_t is
// undefined). For the codec's own stream, floating point is packed as MessagePack float 32 /
// float 64, always: a float stays a float, bit for bit, in every language.
// msgpack-cxx's namespace is not part of shmbus's API reference.
/// @cond
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(v1) {
    template <>
    inline packer<shmbus::detail::MsgpackBufferStream>&
    packer<shmbus::detail::MsgpackBufferStream>::pack_float(float d) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, &d, sizeof bits);
        char buf[5];
        buf[0] = static_cast<char>(0xcau);
        _msgpack_store32(&buf[1], bits);
        append_buffer(buf, sizeof buf);
        return *this;
    }

    template <>
    inline packer<shmbus::detail::MsgpackBufferStream>&
    packer<shmbus::detail::MsgpackBufferStream>::pack_double(double d) {
        std::uint64_t bits = 0;
        std::memcpy(&bits, &d, sizeof bits);
        char buf[9];
        buf[0] = static_cast<char>(0xcbu);
        _msgpack_store64(&buf[1], bits);
        append_buffer(buf, sizeof buf);
        return *this;
    }
} // MSGPACK_API_VERSION_NAMESPACE(v1)
} // namespace msgpack
/// @endcond

namespace shmbus::detail {

/// Every array element, map pair, string and bin byte takes at least one byte of the message,
/// so no count in a valid message exceeds its length: with these limits a forged count fails at
/// once instead of making msgpack-cxx allocate for it. Depth is bounded so that conversion,
/// which recurses, cannot exhaust the stack.
inline msgpack::unpack_limit msgpack_limits(std::size_t message_size) {
    constexpr std::size_t kMaxDepth = 256;
    return {message_size, message_size, message_size, message_size, message_size, kMaxDepth};
}

} // namespace shmbus::detail

namespace shmbus {

/// MessagePack, through msgpack-cxx; see the top of this file.
struct MsgpackCodec {
    /// detail::kMsgpackTypeTag for every T: MessagePack carries its own types.
    template <class T>
    static constexpr std::uint64_t type_tag() {
        return detail::kMsgpackTypeTag;
    }

    /// Appends the MessagePack encoding of `value` to `out`.
    template <class T>
    static void encode(const T& value, detail::ByteBuffer& out) {
        if constexpr (std::is_same_v<T, MsgpackBytes>) {
            out.append(value.bytes.data(), value.bytes.size());
        } else {
            detail::MsgpackBufferStream stream(out);
            msgpack::pack(stream, value);
        }
    }

    /// Decodes a whole message as T; DecodeError when it is not exactly one MessagePack value
    /// convertible to T.
    template <class T>
    static T decode(std::span<const std::byte> bytes) {
        if constexpr (std::is_same_v<T, MsgpackBytes>) {
            return MsgpackBytes{{bytes.begin(), bytes.end()}};
        } else {
            const msgpack::object_handle handle = unpack(bytes);
            try {
                return handle.get().as<T>();
            } catch (const msgpack::type_error&) {
                throw DecodeError("MessagePack message does not convert to the queue's type");
            }
        }
    }

    /// Parses exactly one MessagePack value from `bytes`. DecodeError when it is malformed,
    /// truncated, followed by more bytes, or larger than its length allows.
    static msgpack::object_handle unpack(std::span<const std::byte> bytes) {
        const auto* data = reinterpret_cast<const char*>(bytes.data());
        std::size_t offset = 0;
        msgpack::object_handle handle;
        try {
            handle = msgpack::unpack(data, bytes.size(), offset, nullptr, nullptr,
                                     detail::msgpack_limits(bytes.size()));
        } catch (const msgpack::unpack_error& e) {
            throw DecodeError(std::string("MessagePack message does not decode: ") + e.what());
        } catch (const std::bad_alloc&) {
            throw DecodeError("MessagePack message does not decode: a length in it is too large");
        }
        if (offset != bytes.size())
            throw DecodeError("MessagePack message has " + std::to_string(bytes.size() - offset) +
                              " bytes left over after one value");
        return handle;
    }
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// The codec (include/shmbus/codec.hpp): arbitrary bytes decoded as several types must give a
// value or DecodeError, never a crash, an over-read or an unbounded allocation. A value that
// decodes must encode back to the same bytes (cereal's binary format is canonical for these
// types).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <shmbus/codec.hpp>
#include <span>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace {

struct Point {
    double x;
    std::int32_t y;
};

// `canonical`: one value has one encoding (not so for a map, whose duplicate keys collapse).
template <class T>
void round_trip(std::span<const std::byte> bytes, bool canonical = true) {
    try {
        const T value = shmbus::decode<T>(bytes);
        if (!canonical)
            return;
        shmbus::detail::ByteBuffer again;
        shmbus::encode(value, again);
        if (again.size() != bytes.size() ||
            (!bytes.empty() && std::memcmp(again.data(), bytes.data(), bytes.size()) != 0))
            __builtin_trap();
    } catch (const shmbus::DecodeError&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    const auto bytes = std::as_bytes(std::span(data + 1, size - 1));
    switch (data[0] % 8) {
    case 0:
        round_trip<std::string>(bytes);
        break;
    case 1:
        round_trip<std::vector<std::int32_t>>(bytes);
        break;
    case 2:
        round_trip<std::map<std::string, std::int64_t>>(bytes, false);
        break;
    case 3:
        round_trip<std::tuple<std::int32_t, std::string, double>>(bytes);
        break;
    case 4:
        round_trip<std::optional<std::vector<std::string>>>(bytes);
        break;
    case 5:
        round_trip<std::vector<Point>>(bytes);
        break;
    case 6:
        round_trip<std::variant<std::int32_t, std::string>>(bytes);
        break;
    default:
        round_trip<bool>(bytes);
        break;
    }
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
// What the parts of the C++ peer (peer.cpp, peer_topics.cpp) share: the values both languages
// send, the checks that fail a part, and the entry of the topic parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/segment.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::peer {

/// What Python sees as {"symbol": str, "quantity": int, "prices": [float], "note": None|str}.
struct Order {
    std::string symbol;
    std::int64_t quantity = 0;
    std::vector<double> prices;
    std::optional<std::string> note;
    bool operator==(const Order&) const = default;
    MSGPACK_DEFINE_MAP(symbol, quantity, prices, note)
};

using Table = std::map<std::string, std::vector<int>>;

inline const Order kOrder{"ACME", -3, {1.5, 2.25}, std::nullopt};
inline const Table kTable{{"a", {1, 2, 3}}, {"b", {}}};
inline const std::vector<std::byte> kBytes{std::byte{0}, std::byte{255}, std::byte{7}};

inline bool is_nil(const MsgpackBytes& message) {
    return message.bytes.size() == 1 && message.bytes[0] == std::byte{0xc0};
}

struct CheckFailed {
    std::string what;
};

template <class T>
void expect_equal(const T& got, const T& want, std::string_view what) {
    if (!(got == want))
        throw CheckFailed{"unexpected " + std::string(what)};
}

// Fails unless `open` throws KindMismatch (an object opened with the wrong codec or type).
template <class Open>
void expect_kind_mismatch(Open open, std::string_view what) {
    try {
        open();
    } catch (const shmbus::KindMismatch&) {
        return;
    }
    throw CheckFailed{std::string(what) + " opened without KindMismatch"};
}

/// Plays the topic part `part` (topic-subscribe, topic-publish, ...: peer_topics.cpp).
void run_topic_part(const Segment& segment, const std::string& part,
                    const std::vector<std::string>& args);

} // namespace shmbus::peer

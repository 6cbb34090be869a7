// SPDX-License-Identifier: Apache-2.0
// `shmbus ls` and `inspect` show the NATS bridges' records a segment holds. The records are made
// here with Array<std::uint64_t> and their layout (core/messaging/bridge_record_layout.hpp), as
// the bridges make them: the CLI and its tests never link the NATS client.
#include "messaging/bridge_record_layout.hpp"
#include "support/harness.hpp"
#include "test_cli_run.hpp"

#include <gtest/gtest.h>
#include <shmbus/array.hpp>
#include <string>
#include <utility>
#include <vector>

namespace shmbus {
namespace {

using nlohmann::json;
using test::ScopedSegment;
namespace layout = detail::bridge_layout;

std::string run_cli(std::vector<std::string> args, int expected_code = 0) {
    const test::Outcome outcome = test::shmbus_run(std::move(args));
    EXPECT_EQ(outcome.code, expected_code) << outcome.err;
    return outcome.out;
}

// A record as an outbound topic bridge leaves it: one message in flight, one error so far.
Array<std::uint64_t> make_record(Segment& segment, const std::string& name) {
    Array<std::uint64_t> record(segment, name, layout::kRecordLength);
    const auto store = [&record](std::size_t index, std::uint64_t value) {
        record.store(index, value);
    };
    store(layout::version, layout::kVersion);
    store(layout::flags, layout::kTopic);
    store(layout::state, layout::in_flight);
    store(layout::forwarded, 7);
    store(layout::errors, 1);
    store(layout::stream_max_age_ms, 60000);
    store(layout::stream_max_messages, 1000);
    layout::store_text(store, layout::kSubjectAt, "prices");
    layout::store_text(store, layout::kLastErrorAt, "nats: No server available for connection");
    store(layout::magic, layout::kMagic);
    return record;
}

const json& only_bridge(const json& segment) {
    EXPECT_EQ(segment.at("bridges").size(), 1U) << segment.dump();
    return segment.at("bridges").at(0);
}

TEST(CliBridges, InspectAndLsShowABridgeRecord) {
    ScopedSegment segment;
    Array<std::uint64_t> record = make_record(*segment, "shmbus.topic-bridge-out.ticks");
    // The in-flight payload beside it is not a record.
    Array<std::byte> payload(*segment, "shmbus.topic-bridge-out.ticks.payload", 64);

    const json inspected = json::parse(run_cli({"inspect", "--json", segment.name()}));
    const json& bridge = only_bridge(inspected.at("segment"));
    EXPECT_EQ(bridge.at("direction"), "out");
    EXPECT_EQ(bridge.at("bridged"), "topic");
    EXPECT_EQ(bridge.at("name"), "ticks");
    EXPECT_EQ(bridge.at("subject"), "prices");
    EXPECT_EQ(bridge.at("in_flight"), 1);
    EXPECT_EQ(bridge.at("forwarded"), 7);
    EXPECT_EQ(bridge.at("errors"), 1);
    EXPECT_EQ(bridge.at("stream_max_age_ms"), 60000);
    EXPECT_EQ(bridge.at("stream_max_bytes"), 0);
    EXPECT_EQ(bridge.at("stream_max_messages"), 1000);
    EXPECT_EQ(bridge.at("last_error"), "nats: No server available for connection");
    EXPECT_TRUE(bridge.at("problem").is_null());

    const std::string text = run_cli({"inspect", segment.name()});
    EXPECT_NE(text.find("bridges (1)\n  out topic ticks -> prices: forwarded 7, in flight 1, "
                        "errors 1, last error: nats: No server available for connection; "
                        "stream keeps at most 60000 ms old, 1000 messages"),
              std::string::npos)
        << text;

    const json listed = json::parse(run_cli({"ls", "--json"}));
    const json* mine = nullptr;
    for (const json& entry : listed.at("segments"))
        if (entry.at("name") == segment.name())
            mine = &entry;
    ASSERT_NE(mine, nullptr);
    EXPECT_EQ(only_bridge(*mine).at("forwarded"), 7);
    const std::string ls = run_cli({"ls"});
    EXPECT_NE(ls.find(segment.name() + " bridge out topic ticks -> prices: forwarded 7"),
              std::string::npos)
        << ls;
}

TEST(CliBridges, AnInboundQueueBridgeAndItsCountersAfterProgress) {
    ScopedSegment segment;
    Array<std::uint64_t> record = make_record(*segment, "shmbus.bridge-in.orders");
    record.store(layout::flags, layout::kInbound);
    record.store(layout::state, layout::idle);
    record.store(layout::forwarded, 8);
    layout::store_text([&](std::size_t i, std::uint64_t v) { record.store(i, v); },
                       layout::kLastErrorAt, "");
    const json document = json::parse(run_cli({"inspect", "--json", segment.name()}));
    const json& bridge = only_bridge(document.at("segment"));
    EXPECT_EQ(bridge.at("direction"), "in");
    EXPECT_EQ(bridge.at("bridged"), "queue");
    EXPECT_EQ(bridge.at("name"), "orders");
    EXPECT_EQ(bridge.at("in_flight"), 0);
    EXPECT_EQ(bridge.at("forwarded"), 8);
    EXPECT_TRUE(bridge.at("last_error").is_null());
    EXPECT_NE(run_cli({"inspect", segment.name()}).find("in queue orders <- prices: forwarded 8"),
              std::string::npos);
}

TEST(CliBridges, AForeignOrCorruptRecordIsReportedNotRead) {
    ScopedSegment segment;
    Array<std::uint64_t> garbage(*segment, "shmbus.bridge-out.a", layout::kRecordLength);
    garbage.store(layout::magic, 0x1234);
    Array<std::uint64_t> future = make_record(*segment, "shmbus.bridge-out.b");
    future.store(layout::version, layout::kVersion + 1);
    Array<std::uint64_t> shorter(*segment, "shmbus.bridge-out.c", 3);
    Array<std::uint64_t> longer(*segment, "shmbus.bridge-out.d", layout::kRecordLength + 1);
    longer.store(layout::version, layout::kVersion);
    longer.store(layout::magic, layout::kMagic);
    Array<std::uint64_t> other_name(*segment, "shmbus.bridge-out.", layout::kRecordLength);

    const json inspected = json::parse(run_cli({"inspect", "--json", segment.name()}));
    const json& bridges = inspected.at("segment").at("bridges");
    ASSERT_EQ(bridges.size(), 4U) << bridges.dump(); // "shmbus.bridge-out." names no queue
    EXPECT_EQ(bridges[0].at("problem"), "not a bridge record (bad magic)");
    EXPECT_EQ(bridges[1].at("problem"),
              "bridge record version " + std::to_string(layout::kVersion + 1) +
                  ", this shmbus reads " + std::to_string(layout::kVersion));
    EXPECT_EQ(bridges[2].at("problem"), "not a bridge record (bad magic)");
    EXPECT_NE(bridges[3].at("problem").get<std::string>().find("words, expected"),
              std::string::npos);
    for (const json& bridge : bridges)
        EXPECT_TRUE(bridge.at("forwarded").is_null());
    const std::string text = run_cli({"inspect", segment.name()});
    EXPECT_NE(text.find("out queue a: unreadable: not a bridge record (bad magic)"),
              std::string::npos)
        << text;
}

TEST(CliBridges, ALongTextIsCutAndAFullOneHasNoTerminator) {
    ScopedSegment segment;
    Array<std::uint64_t> record = make_record(*segment, "shmbus.bridge-out.orders");
    const auto store = [&record](std::size_t i, std::uint64_t v) { record.store(i, v); };
    layout::store_text(store, layout::kLastErrorAt, std::string(400, 'e'));
    // A foreign writer may fill every byte: the reader stops at the end of the words.
    for (std::size_t word = 0; word < layout::kTextWords; ++word)
        record.store(layout::kSubjectAt + word, 0x7373737373737373); // "ssssssss"
    const json document = json::parse(run_cli({"inspect", "--json", segment.name()}));
    const json& bridge = only_bridge(document.at("segment"));
    EXPECT_EQ(bridge.at("last_error"), std::string(layout::kTextWords * 8 - 1, 'e'));
    EXPECT_EQ(bridge.at("subject"), std::string(layout::kTextWords * 8, 's'));
}

} // namespace
} // namespace shmbus

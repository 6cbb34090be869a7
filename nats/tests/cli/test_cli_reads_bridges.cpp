// SPDX-License-Identifier: Apache-2.0
// The records real bridges write are the ones `shmbus ls` / `inspect` decode (the CLI library,
// which does not link the NATS client, reading the segments these bridges ran on).
#include "cli.hpp"
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/topic.hpp"
#include "support/harness.hpp"
#include "support/nats_server.hpp"

#include <gtest/gtest.h>
#include <sstream>
#include <thread>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;

BridgeOptions options(const std::string& segment, const std::string& subject) {
    BridgeOptions result;
    result.segment = segment;
    result.url = test::server().url();
    result.subject = subject;
    return result;
}

std::uint64_t forwarded(const cli::SegmentSummary& summary) {
    return summary.bridges.size() == 1 ? summary.bridges[0].forwarded : 0;
}

TEST(CliReadsBridges, ARunningTopicBridgeAndAStoppedQueueBridgeAreShown) {
    ScopedSegment here{std::size_t{16} << 20};
    Topic<int> ticks(*here, "ticks", {.history = 16});
    ticks.publish(1);
    ticks.publish(2);
    BridgeOptions topic = options(here.name(), "cli.ticks");
    topic.topic = "ticks";
    std::atomic<bool> stop{false};
    std::ostringstream log;
    std::thread out([&] { run_bridge_out(topic, stop, log); });
    const bool both =
        eventually([&] { return forwarded(cli::inspect_segment(here.name()).segment) == 2; }, 20s);
    stop = true;
    out.join();
    ASSERT_TRUE(both) << log.str();
    const cli::BridgeRow row = cli::inspect_segment(here.name()).segment.bridges.at(0);
    EXPECT_FALSE(row.inbound);
    EXPECT_TRUE(row.topic);
    EXPECT_EQ(row.name, "ticks");
    EXPECT_EQ(row.subject, "cli.ticks");
    EXPECT_EQ(row.in_flight, 0U);
    EXPECT_EQ(row.problem, "");

    // An outbound queue bridge that cannot reach a server records the error.
    Queue<int> orders(*here, "orders");
    BridgeOptions queue = options(here.name(), "cli.orders");
    queue.queue = "orders";
    queue.url = "nats://127.0.0.1:1"; // nothing listens there
    stop = false;
    std::thread failing([&] { run_bridge_out(queue, stop, log); });
    const auto errors = [&] {
        for (const cli::BridgeRow& bridge : cli::inspect_segment(here.name()).segment.bridges)
            if (!bridge.topic)
                return bridge.errors;
        return std::uint64_t{0};
    };
    const bool failed = eventually([&] { return errors() > 0; }, 20s);
    stop = true;
    failing.join();
    ASSERT_TRUE(failed) << log.str();
    const std::vector<cli::BridgeRow> rows = cli::inspect_segment(here.name()).segment.bridges;
    ASSERT_EQ(rows.size(), 2U);
    const cli::BridgeRow& failing_row = rows[0].topic ? rows[1] : rows[0];
    EXPECT_EQ(failing_row.subject, "cli.orders");
    EXPECT_NE(failing_row.last_error.find("No server available"), std::string::npos)
        << failing_row.last_error;
    ConnectOptions connect;
    connect.url = test::server().url();
    Connection connection(connect);
    JetStream(connection).delete_stream(default_stream_name("cli.ticks"));
}

} // namespace
} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
// The Topic bridges (shmbus/nats/bridge.hpp, BridgeOptions::topic) with a real nats-server:
// segments standing for hosts, subscribers on the far side, and the outbound bridge program
// SIGKILLed at random moments and restarted.
//   SHMBUS_NATS_FAULT_SEED   replays the kill schedule of a run (printed as "seed: ...")
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/topic.hpp"
#include "support/bridge_thread.hpp"
#include "support/checked_message.hpp"
#include "support/harness.hpp"
#include "support/nats_server.hpp"

#include <csignal>
#include <future>
#include <gtest/gtest.h>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;
using shmbus::nats::test::BridgeThread;
using shmbus::nats::test::test_name;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;

constexpr std::size_t kSegmentSize = std::size_t{64} << 20; // sparse
// The sending topic's history covers every message of a test: a bridge that subscribes (or
// restarts) late still receives them all.
constexpr TopicOptions kSendingTopic{.capacity = 2048, .max_message_size = 256, .history = 2048};

struct TopicBridgeTest : ::testing::Test {
    ScopedSegment here{kSegmentSize};
    std::string subject = "topics." + test_name();

    BridgeOptions options(const std::string& segment) const {
        BridgeOptions result;
        result.segment = segment;
        result.topic = "ticks";
        result.url = test::server().url();
        result.subject = subject;
        result.ack_wait = 1s;
        return result;
    }

    void TearDown() override {
        ConnectOptions connect;
        connect.url = test::server().url();
        Connection connection(connect);
        JetStream(connection).delete_stream(default_stream_name(subject));
    }
};

// Receives `count` messages, or fewer when one does not come within the time allowed.
std::vector<std::string> receive(Subscriber<std::string>& subscriber, int count) {
    std::vector<std::string> received;
    try {
        while (static_cast<int>(received.size()) < count)
            received.push_back(subscriber.recv_for(20s));
    } catch (const Empty&) {
    }
    return received;
}

std::vector<std::string> numbered(int count) {
    std::vector<std::string> messages;
    for (int i = 0; i < count; ++i)
        messages.push_back("tick " + std::to_string(i));
    return messages;
}

TEST_F(TopicBridgeTest, EverySubscriberOnTheFarSideGetsEveryMessageInOrder) {
    ScopedSegment there{kSegmentSize};
    Topic<std::string> source(*here, "ticks", kSendingTopic);
    Topic<std::string> far(*there, "ticks");
    Subscriber<std::string> first = far.subscribe();
    Subscriber<std::string> second = far.subscribe();
    constexpr int kCount = 200;
    BridgeThread out(true, options(here.name()));
    BridgeThread in(false, options(there.name()));
    for (const std::string& message : numbered(kCount))
        source.publish(message);
    // Each at its own pace, as in two processes: under block the faster one waits for the other.
    auto by_first = std::async(std::launch::async, [&] { return receive(first, kCount); });
    EXPECT_EQ(receive(second, kCount), numbered(kCount)) << out.log() << in.log();
    EXPECT_EQ(by_first.get(), numbered(kCount)) << out.log() << in.log();
    out.stop();
    in.stop();
    const BridgeStatus sent = bridge_out_status(here.name(), "ticks", Bridged::topic);
    EXPECT_EQ(sent.forwarded, std::uint64_t{kCount});
    EXPECT_EQ(sent.missed, 0U);
    EXPECT_EQ(sent.in_flight, 0U);
    EXPECT_EQ(bridge_in_status(there.name(), "ticks", Bridged::topic).forwarded,
              std::uint64_t{kCount});
}

TEST_F(TopicBridgeTest, EveryHostWithAnInboundBridgeGetsEverything) {
    ScopedSegment host_a{kSegmentSize};
    ScopedSegment host_b{kSegmentSize};
    Topic<std::string> source(*here, "ticks", kSendingTopic);
    Subscriber<std::string> on_a = Topic<std::string>(*host_a, "ticks").subscribe();
    Subscriber<std::string> on_b = Topic<std::string>(*host_b, "ticks").subscribe();
    BridgeOptions a = options(host_a.name());
    a.durable = "host-a";
    BridgeOptions b = options(host_b.name());
    b.durable = "host-b";
    constexpr int kCount = 150;
    for (const std::string& message : numbered(kCount))
        source.publish(message);
    BridgeThread out(true, options(here.name()));
    BridgeThread in_a(false, a);
    BridgeThread in_b(false, b);
    EXPECT_EQ(receive(on_a, kCount), numbered(kCount)) << out.log() << in_a.log();
    EXPECT_EQ(receive(on_b, kCount), numbered(kCount)) << out.log() << in_b.log();
}

TEST_F(TopicBridgeTest, TheDefaultConsumerNameTellsHostsApart) {
    const std::string name = default_topic_durable_name("app", "ticks");
    EXPECT_EQ(name.rfind("shmbus_", 0), 0U);
    EXPECT_NE(name.find("_app_ticks"), std::string::npos);
    EXPECT_GT(name.size(), std::string("shmbus__app_ticks").size()); // the host name is in it
}

TEST_F(TopicBridgeTest, ABridgeNeedsExactlyOneOfAQueueAndATopic) {
    BridgeOptions both = options(here.name());
    both.queue = "orders";
    std::atomic<bool> stop{true};
    std::ostringstream log;
    EXPECT_THROW(run_bridge_out(both, stop, log), UsageError);
}

// `shmbus-bridge out --max-messages 10`: the stream keeps the last 10; a host whose inbound
// bridge starts after 30 were forwarded gets those 10, in order, and counts the 20 as missed.
TEST_F(TopicBridgeTest, StreamLimitsDiscardTheOldestAndALateHostCountsThemMissed) {
    constexpr int kCount = 30;
    constexpr int kKept = 10;
    ScopedSegment there{kSegmentSize};
    Topic<std::string> source(*here, "ticks", kSendingTopic);
    Subscriber<std::string> far = Topic<std::string>(*there, "ticks").subscribe();
    ConnectOptions connect;
    connect.url = test::server().url();
    Connection connection(connect);
    JetStream js(connection);
    StreamOptions unlimited; // found by the bridge, which gives it its limits
    unlimited.name = default_stream_name(subject);
    unlimited.subject = subject;
    unlimited.retention = Retention::limits;
    js.add_stream(unlimited);

    const std::vector<std::string> argv{SHMBUS_BRIDGE_PROGRAM,
                                        "out",
                                        "--segment",
                                        here.name(),
                                        "--topic",
                                        "ticks",
                                        "--url",
                                        test::server().url(),
                                        "--subject",
                                        subject,
                                        "--max-messages",
                                        std::to_string(kKept),
                                        "--max-age",
                                        "1h",
                                        "--max-bytes",
                                        "1MiB"};
    test::Spawned out(argv, test::server().directory() / "limits-bridge-out.log");
    for (const std::string& message : numbered(kCount))
        source.publish(message);
    ASSERT_TRUE(eventually([&] {
        try {
            return bridge_out_status(here.name(), "ticks", Bridged::topic).forwarded == kCount;
        } catch (const NotFound&) { // the bridge has not made its record yet
            return false;
        }
    }));
    out.stop(SIGTERM);
    const StreamLimits expected{.max_age = 1h, .max_bytes = 1 << 20, .max_messages = kKept};
    EXPECT_EQ(bridge_out_status(here.name(), "ticks", Bridged::topic).stream_limits, expected);
    const StreamInfo stream = js.stream_info(unlimited.name);
    EXPECT_EQ(stream.limits, expected);
    EXPECT_EQ(stream.messages, std::uint64_t{kKept});

    BridgeThread in(false, options(there.name()));
    const std::vector<std::string> all = numbered(kCount);
    EXPECT_EQ(receive(far, kKept), std::vector(all.end() - kKept, all.end())) << in.log();
    in.stop();
    const BridgeStatus received = bridge_in_status(there.name(), "ticks", Bridged::topic);
    EXPECT_EQ(received.forwarded, std::uint64_t{kKept});
    EXPECT_EQ(received.missed, std::uint64_t{kCount - kKept});
    EXPECT_EQ(received.stream_limits, expected);
}

TEST_F(TopicBridgeTest, AQueueStreamTakesNoLimits) {
    BridgeOptions queue = options(here.name());
    queue.topic.clear();
    queue.queue = "orders";
    queue.stream_limits.max_messages = 10;
    std::atomic<bool> stop{true};
    std::ostringstream log;
    EXPECT_THROW(run_bridge_out(queue, stop, log), UsageError);
    EXPECT_THROW(run_bridge_in(queue, stop, log), UsageError);
}

TEST_F(TopicBridgeTest, AnOutboundBridgeKilledAtRandomMomentsLosesAndDoublesNothing) {
    constexpr std::uint64_t kCount = 1500;
    constexpr int kKills = 5;
    std::mt19937_64 random(shmbus::test::seed_from_env("SHMBUS_NATS_FAULT_SEED"));
    ScopedSegment there{kSegmentSize};
    Topic<std::uint64_t> source(*here, "ticks", {.capacity = 2048, .history = 2048});
    Subscriber<std::uint64_t> far = Topic<std::uint64_t>(*there, "ticks").subscribe();
    Child publisher([this] {
        Topic<std::uint64_t> topic = Topic<std::uint64_t>::open(*here, "ticks");
        for (std::uint64_t n = 0; n < kCount; ++n) {
            topic.publish(n);
            std::this_thread::sleep_for(1ms); // keeps coming while the bridge is killed
        }
    });
    const std::vector<std::string> argv{
        SHMBUS_BRIDGE_PROGRAM, "out",       "--segment", here.name(), "--topic", "ticks", "--url",
        test::server().url(),  "--subject", subject};
    const auto log = test::server().directory() / "topic-bridge-out.log";
    auto out = std::make_unique<test::Spawned>(argv, log);
    BridgeThread in(false, options(there.name()));
    for (int kill = 0; kill < kKills; ++kill) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + random() % 250));
        out->stop(SIGKILL);
        out = std::make_unique<test::Spawned>(argv, log);
    }
    ASSERT_EQ(publisher.wait(), 0);
    std::uint64_t delivered = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::int64_t last = -1;
    std::vector<bool> seen(kCount, false);
    try {
        for (;;) { // until nothing comes: after the last message, a second longer for copies
            const std::uint64_t n = far.recv_for(delivered < kCount ? 20s : 1s);
            ASSERT_LT(n, kCount);
            if (seen[n]) {
                ++duplicated;
                continue;
            }
            seen[n] = true;
            ++delivered;
            reordered += static_cast<std::int64_t>(n) < last ? 1 : 0;
            last = std::max(last, static_cast<std::int64_t>(n));
        }
    } catch (const Empty&) {
    }
    out.reset();
    const BridgeStatus status = bridge_out_status(here.name(), "ticks", Bridged::topic);
    std::cout << "topic bridge kills: sent=" << kCount << " delivered=" << delivered
              << " duplicated=" << duplicated << " lost=" << kCount - delivered
              << " reordered=" << reordered << " | kills out=" << kKills
              << " | out: republished=" << status.republished
              << " duplicates_dropped=" << status.duplicates_dropped << " missed=" << status.missed
              << std::endl;
    EXPECT_EQ(kCount - delivered, 0U) << in.log();
    EXPECT_EQ(duplicated, 0U);
    EXPECT_EQ(reordered, 0U);
    EXPECT_EQ(status.missed, 0U);
}

} // namespace
} // namespace shmbus::nats

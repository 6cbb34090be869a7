// SPDX-License-Identifier: Apache-2.0
// The Queue bridges (shmbus/nats/bridge.hpp) in this process's threads, with two segments
// standing for two hosts and a real nats-server between them.
#include "bridge_record.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/queue.hpp"
#include "support/bridge_thread.hpp"
#include "support/harness.hpp"
#include "support/nats_server.hpp"

#include <gtest/gtest.h>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;
using shmbus::nats::test::BridgeThread;
using shmbus::nats::test::test_name;
using shmbus::test::eventually;
using shmbus::test::ScopedSegment;

constexpr std::size_t kSegmentSize = std::size_t{64} << 20; // sparse

struct BridgeTest : ::testing::Test {
    ScopedSegment here{kSegmentSize};  // the sending host
    ScopedSegment there{kSegmentSize}; // the receiving host
    BridgeOptions out_options = options(here.name());
    BridgeOptions in_options = options(there.name());

    static BridgeOptions options(const std::string& segment) {
        BridgeOptions result;
        result.segment = segment;
        result.queue = "orders";
        result.url = test::server().url();
        result.subject = "bridge." + test_name();
        result.ack_wait = 1s;
        return result;
    }

    BridgeStatus out_status() {
        return status_or_none([&] { return bridge_out_status(here.name(), "orders"); });
    }
    BridgeStatus in_status() {
        return status_or_none([&] { return bridge_in_status(there.name(), "orders"); });
    }

    // A bridge that has not started yet has no record.
    template <class Status>
    static BridgeStatus status_or_none(Status status) {
        try {
            return status();
        } catch (const NotFound&) {
            return {};
        }
    }

    void TearDown() override {
        ConnectOptions connect;
        connect.url = test::server().url();
        Connection connection(connect);
        JetStream(connection).delete_stream(default_stream_name(out_options.subject));
    }
};

TEST_F(BridgeTest, MessagesCrossFromOneSegmentToTheOtherInOrder) {
    Queue<std::string> source(*here, "orders");
    Queue<std::string> sink(*there, "orders");
    constexpr int kCount = 200;
    for (int i = 0; i < kCount; ++i)
        source.put("order " + std::to_string(i));
    BridgeThread out(true, out_options);
    BridgeThread in(false, in_options);
    for (int i = 0; i < kCount; ++i)
        ASSERT_EQ(sink.get_for(20s), "order " + std::to_string(i)) << out.log() << in.log();
    out.stop();
    in.stop();
    EXPECT_EQ(out_status().forwarded, std::uint64_t{kCount});
    EXPECT_EQ(in_status().forwarded, std::uint64_t{kCount});
    EXPECT_EQ(out_status().in_flight, 0U);
    EXPECT_TRUE(sink.empty());
}

TEST_F(BridgeTest, TheInboundBridgeCreatesTheQueueWithTheSendersElementType) {
    Queue<double> source(*here, "orders");
    source.put(2.5);
    BridgeThread out(true, out_options);
    BridgeThread in(false, in_options);
    ASSERT_TRUE(eventually([&] { return in_status().forwarded == 1; }, 20s)) << in.log();
    EXPECT_EQ(Queue<double>::open(*there, "orders").get_for(1s), 2.5);
    EXPECT_THROW(Queue<std::string>::open(*there, "orders"), KindMismatch);
}

TEST_F(BridgeTest, AFullLocalQueueStopsTheInboundBridgeWithoutDroppingAnything) {
    Queue<std::string> source(*here, "orders");
    QueueOptions small;
    small.maxsize = 3;
    Queue<std::string> sink(*there, "orders", small);
    constexpr int kCount = 10;
    for (int i = 0; i < kCount; ++i)
        source.put(std::to_string(i));
    BridgeThread out(true, out_options);
    BridgeThread in(false, in_options);
    ASSERT_TRUE(eventually([&] { return sink.qsize() == 3; }, 20s)) << in.log();
    std::this_thread::sleep_for(1500ms); // past ack_wait: in-progress acks keep it ours
    EXPECT_EQ(in_status().forwarded, 3U);
    for (int i = 0; i < kCount; ++i)
        ASSERT_EQ(sink.get_for(20s), std::to_string(i)) << in.log();
    in.stop();
    EXPECT_EQ(in_status().redeliveries_skipped, 0U);
}

TEST_F(BridgeTest, ARepublishedInFlightMessageIsDroppedByTheServerAsADuplicate) {
    Queue<std::string> source(*here, "orders");
    Queue<std::string> sink(*there, "orders");
    source.put("once");
    {
        BridgeThread out(true, out_options);
        ASSERT_TRUE(eventually([&] { return out_status().forwarded == 1; }, 20s)) << out.log();
    }
    // As if killed after the server stored it but before the record was cleared.
    bridge::Record record(*here, bridge::Direction::out, Bridged::queue, "orders");
    record.store(bridge::state, bridge::in_flight);
    BridgeThread out(true, out_options);
    BridgeThread in(false, in_options);
    EXPECT_EQ(sink.get_for(20s), "once");
    ASSERT_TRUE(eventually([&] { return out_status().duplicates_dropped == 1; }, 5s))
        << out_status().republished << " " << out_status().forwarded << " " << out.log();
    EXPECT_EQ(out_status().republished, 1U);
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(sink.empty());
}

TEST_F(BridgeTest, TheInboundBridgeSkipsAMessageItAlreadyPut) {
    Queue<std::string> source(*here, "orders");
    Queue<std::string> sink(*there, "orders");
    source.put("first");
    source.put("second");
    {
        BridgeThread out(true, out_options);
        ASSERT_TRUE(eventually([&] { return out_status().forwarded == 2; }, 20s));
    }
    // As if killed after putting stream message 1 but before acknowledging it.
    ConnectOptions connect;
    connect.url = test::server().url();
    Connection connection(connect);
    JetStream js(connection);
    const std::string stream = default_stream_name(in_options.subject);
    bridge::Record record(*there, bridge::Direction::in, Bridged::queue, "orders");
    record.store(bridge::stream_created,
                 static_cast<std::uint64_t>(js.stream_info(stream).created_ns));
    record.store(bridge::last_sequence, 1);
    BridgeThread in(false, in_options);
    EXPECT_EQ(sink.get_for(20s), "second");
    EXPECT_EQ(in_status().redeliveries_skipped, 1U);
    ASSERT_TRUE(eventually([&] { return js.stream_info(stream).messages == 0; }, 20s));
    EXPECT_TRUE(sink.empty());
}

// The bridges' own queue operations, as a bridge process makes them (bridge_out.cpp,
// bridge_in.cpp): the record first, then the tagged get or put.
detail::QueueCore open_orders(const Segment& segment) {
    return detail::QueueCore(segment, "orders", QueueOptions{}, detail::OpenMode::open,
                             ObjectKind::queue, detail::type_tag<std::string>());
}

// "first" then "second" arrive, each once.
void expect_first_and_second_once(Queue<std::string>& sink) {
    EXPECT_EQ(sink.get_for(20s), "first");
    EXPECT_EQ(sink.get_for(20s), "second");
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(sink.empty());
}

TEST_F(BridgeTest, TheOutboundBridgeAdoptsTheMessageARunKilledInsideItsGetHadClaimed) {
    Queue<std::string> source(*here, "orders");
    Queue<std::string> sink(*there, "orders");
    source.put("first");
    source.put("second");
    shmbus::test::Child killed([&] {
        bridge::Record record(*here, bridge::Direction::out, Bridged::queue, "orders");
        record.store(bridge::claim_tag, 1);
        record.store(bridge::state, bridge::taking);
        const detail::FrameSink die{nullptr, [](void*, const detail::FrameView&) { ::_exit(0); }};
        (void)open_orders(*here).try_get_tagged(die, 1); // killed while copying "first" out
        ::_exit(1);
    });
    ASSERT_EQ(killed.wait(), 0);
    EXPECT_EQ(source.qsize(), 1U);
    BridgeThread out(true, out_options);
    BridgeThread in(false, in_options);
    expect_first_and_second_once(sink);
    EXPECT_EQ(out_status().kills_settled, 1U);
}

struct InboundKillTest : BridgeTest {
    // Stream messages 1 ("first") and 2 ("second") waiting for the inbound bridge.
    void SetUp() override {
        Queue<std::string> source(*here, "orders");
        source.put("first");
        source.put("second");
        BridgeThread out(true, out_options);
        ASSERT_TRUE(eventually([&] { return out_status().forwarded == 2; }, 20s));
    }

    // As if an inbound run was killed inside its tagged put of stream message 1, after its
    // point of no return (`committed`) or before its claim.
    void kill_inside_put_of_first(bool committed) {
        ConnectOptions connect;
        connect.url = test::server().url();
        Connection connection(connect);
        const auto created = static_cast<std::uint64_t>(
            JetStream(connection).stream_info(default_stream_name(in_options.subject)).created_ns);
        shmbus::test::Child killed([&] {
            bridge::Record record(*there, bridge::Direction::in, Bridged::queue, "orders");
            record.store(bridge::stream_created, created);
            record.store(bridge::claim_tag, 1);
            record.store(bridge::putting_sequence, 1);
            record.store(bridge::state, bridge::putting);
            if (committed)
                open_orders(*there).put_tagged(to_bytes(std::string("first")), 1,
                                               detail::Deadline::after(5s));
            ::_exit(0);
        });
        ASSERT_EQ(killed.wait(), 0);
    }
};

TEST_F(InboundKillTest, APutARunKilledAfterItsPointOfNoReturnMadeIsNotMadeAgain) {
    Queue<std::string> sink(*there, "orders");
    kill_inside_put_of_first(true);
    BridgeThread in(false, in_options);
    expect_first_and_second_once(sink);
    EXPECT_EQ(in_status().kills_settled, 1U);
    EXPECT_EQ(in_status().redeliveries_skipped, 1U);
}

TEST_F(InboundKillTest, APutARunKilledBeforeItsClaimIsMadeFromTheRedelivery) {
    Queue<std::string> sink(*there, "orders");
    kill_inside_put_of_first(false);
    BridgeThread in(false, in_options);
    expect_first_and_second_once(sink);
    EXPECT_EQ(in_status().kills_settled, 0U);
}

TEST_F(BridgeTest, TheInboundBridgeSkipsACopyTheServerNoLongerRecognised) {
    // A server that forgot an id (window passed, or the message was deleted before a restart)
    // stores a republished copy again; the inbound bridge knows it by its outbound id.
    ConnectOptions connect;
    connect.url = test::server().url();
    Connection connection(connect);
    JetStream js(connection);
    StreamOptions stream;
    stream.name = default_stream_name(in_options.subject);
    stream.subject = in_options.subject;
    stream.duplicate_window = 100ms;
    js.add_stream(stream);
    const std::vector<std::byte> frame = to_bytes(std::string("twice"));
    const std::string tag = [] {
        std::ostringstream out;
        out << std::hex << detail::type_tag<std::string>();
        return out.str();
    }();
    PublishOptions same_id;
    same_id.msg_id = "1f-5";
    for (int copy = 0; copy < 2; ++copy) {
        Message message(in_options.subject, frame);
        message.set_header(bridge::kTypeTagHeader, tag);
        EXPECT_FALSE(js.publish(message, same_id).duplicate);
        std::this_thread::sleep_for(300ms); // past the duplicate window
    }
    Queue<std::string> sink(*there, "orders");
    BridgeThread in(false, in_options);
    EXPECT_EQ(sink.get_for(20s), "twice");
    ASSERT_TRUE(eventually([&] { return in_status().redeliveries_skipped == 1; }, 20s));
    EXPECT_TRUE(sink.empty());
}

TEST_F(BridgeTest, WithoutAServerTheOutboundBridgeLeavesTheMessagesQueuedAndRetries) {
    Queue<std::string> source(*here, "orders");
    for (int i = 0; i < 5; ++i)
        source.put(std::to_string(i));
    out_options.url = "nats://127.0.0.1:1";
    BridgeThread out(true, out_options);
    ASSERT_TRUE(eventually([&] { return out_status().errors >= 2; }, 20s));
    out.stop();
    EXPECT_EQ(source.qsize(), 5U);
    EXPECT_EQ(out_status().forwarded, 0U);
    EXPECT_NE(out.log().find("No server available"), std::string::npos) << out.log();
}

TEST_F(BridgeTest, ASecondBridgeOnTheSameQueueIsRefused) {
    Queue<std::string> source(*here, "orders");
    BridgeThread first(true, out_options);
    Lock held(*here,
              bridge::record_name(bridge::Direction::out, Bridged::queue, "orders") + ".running");
    ASSERT_TRUE(eventually([&] { return held.locked(); }, 20s));
    std::atomic<bool> stop{false};
    std::ostringstream log;
    EXPECT_THROW(run_bridge_out(out_options, stop, log), UsageError);
}

} // namespace
} // namespace shmbus::nats

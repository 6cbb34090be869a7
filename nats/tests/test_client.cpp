// SPDX-License-Identifier: Apache-2.0
// The RAII layer (shmbus/nats/client.hpp) against a real nats-server.
#include "shmbus/nats/client.hpp"
#include "support/harness.hpp"
#include "support/nats_server.hpp"

#include <atomic>
#include <exception>
#include <gtest/gtest.h>
#include <string>
#include <thread>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;

std::span<const std::byte> bytes(std::string_view text) {
    return std::as_bytes(std::span(text.data(), text.size()));
}

std::string text(std::span<const std::byte> data) {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}

ConnectOptions to(const std::string& url) {
    ConnectOptions options;
    options.url = url;
    return options;
}

PublishOptions with_id(const char* id) {
    PublishOptions options;
    options.msg_id = id;
    return options;
}

ConsumerOptions consumer(const char* durable, const std::string& stream) {
    ConsumerOptions options;
    options.durable = durable;
    options.stream = stream;
    return options;
}

struct ClientTest : ::testing::Test {
    std::string stream = "T" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string subject = "client." + stream;
    Connection connection{to(test::server().url())};
    JetStream js{connection};

    void SetUp() override {
        StreamOptions options;
        options.name = stream;
        options.subject = subject;
        js.add_stream(options);
    }
    void TearDown() override { js.delete_stream(stream); }
};

TEST(NatsClient, ConnectingToNoServerIsNatsErrorWithNatsText) {
    try {
        ConnectOptions options = to("nats://127.0.0.1:1");
        options.timeout = 500ms;
        options.max_reconnect = 0;
        Connection connection(options);
        FAIL() << "connected to port 1";
    } catch (const NatsError& error) {
        EXPECT_EQ(error.status(), NATS_NO_SERVER);
        EXPECT_NE(std::string(error.what()).find("No server available"), std::string::npos)
            << error.what();
    }
}

TEST_F(ClientTest, PublishedMessagesAreFetchedInOrderWithTheirHeaders) {
    for (int i = 0; i < 3; ++i) {
        Message message(subject, bytes("m" + std::to_string(i)));
        message.set_header("Seq", std::to_string(i));
        const PubAck ack = js.publish(message);
        EXPECT_EQ(ack.stream, stream);
        EXPECT_EQ(ack.sequence, static_cast<std::uint64_t>(i + 1));
        EXPECT_FALSE(ack.duplicate);
    }
    ConsumerOptions reader = consumer("reader", stream);
    reader.max_ack_pending = 10;
    Subscription sub = js.pull_subscribe(subject, reader);
    std::vector<Message> messages = sub.fetch(3, 5s);
    ASSERT_EQ(messages.size(), 3U);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(text(messages[i].data()), "m" + std::to_string(i));
        EXPECT_EQ(messages[i].header("Seq"), std::to_string(i));
        EXPECT_EQ(messages[i].header("Missing"), std::nullopt);
        EXPECT_EQ(messages[i].stream_sequence(), static_cast<std::uint64_t>(i + 1));
        EXPECT_EQ(messages[i].delivery_count(), 1U);
        messages[i].ack();
    }
    connection.flush(5s);
    // Work queue: acknowledged messages are removed, once the server has processed the acks
    // (flush only says it received them).
    EXPECT_TRUE(shmbus::test::eventually([&] { return js.stream_info(stream).messages == 0; }, 5s))
        << js.stream_info(stream).messages << " messages left";
}

TEST_F(ClientTest, ARepublishedMsgIdIsReportedDuplicateAndStoredOnce) {
    EXPECT_FALSE(js.publish(subject, bytes("a"), with_id("id-1")).duplicate);
    EXPECT_TRUE(js.publish(subject, bytes("a"), with_id("id-1")).duplicate);
    EXPECT_FALSE(js.publish(subject, bytes("b"), with_id("id-2")).duplicate);
    EXPECT_EQ(js.stream_info(stream).messages, 2U);
}

TEST_F(ClientTest, FetchWithNothingThereReturnsNoneAfterTheTimeout) {
    Subscription sub = js.pull_subscribe(subject, consumer("idle", stream));
    EXPECT_TRUE(sub.fetch(1, 100ms).empty());
}

TEST_F(ClientTest, AnUnacknowledgedMessageIsRedeliveredAfterAckWait) {
    js.publish(subject, bytes("again"));
    ConsumerOptions slow = consumer("slow", stream);
    slow.ack_wait = 300ms;
    Subscription sub = js.pull_subscribe(subject, slow);
    std::vector<Message> first = sub.fetch(1, 5s);
    ASSERT_EQ(first.size(), 1U);
    std::vector<Message> second = sub.fetch(1, 5s);
    ASSERT_EQ(second.size(), 1U);
    EXPECT_EQ(second[0].stream_sequence(), first[0].stream_sequence());
    EXPECT_EQ(second[0].delivery_count(), 2U);
    second[0].ack();
}

TEST_F(ClientTest, MissingStreamIsNatsErrorNotFound) {
    try {
        js.stream_info("NO_SUCH_STREAM");
        FAIL() << "found a stream that does not exist";
    } catch (const NatsError& error) {
        EXPECT_EQ(error.status(), NATS_NOT_FOUND) << error.what();
    }
    EXPECT_FALSE(js.delete_stream("NO_SUCH_STREAM"));
}

// A Pool and its worker add the pool's stream at once; nats-server may answer the second
// "subjects overlap" rather than "name exists" (seen in nats.bench_quick). Either way both see
// the stream.
TEST_F(ClientTest, TwoClientsAddingOneStreamAtOnceBothSucceed) {
    Connection other_connection{to(test::server().url())};
    JetStream other{other_connection};
    for (int round = 0; round < 40; ++round) {
        StreamOptions options;
        options.name = stream + "_both_" + std::to_string(round);
        options.subject = subject + ".both." + std::to_string(round);
        std::atomic<int> ready{0};
        std::exception_ptr failed;
        std::thread second([&] {
            ready.fetch_add(1);
            while (ready.load() < 2) {
            }
            try {
                other.add_stream(options);
            } catch (...) {
                failed = std::current_exception();
            }
        });
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        EXPECT_NO_THROW(js.add_stream(options)) << "round " << round;
        second.join();
        EXPECT_FALSE(failed) << "round " << round;
        EXPECT_TRUE(js.delete_stream(options.name));
    }
}

TEST_F(ClientTest, PublishWithoutAStreamIsNatsError) {
    PublishOptions options;
    options.timeout = 500ms;
    EXPECT_THROW(js.publish("no.stream.here", bytes("x"), options), NatsError);
}

} // namespace
} // namespace shmbus::nats

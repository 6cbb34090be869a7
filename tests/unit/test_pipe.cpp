// SPDX-License-Identifier: Apache-2.0
// Pipe and Connection within one process (threads where something must block).
#include "support/harness.hpp"

#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

using Clock = std::chrono::steady_clock;

PipeOptions small_pipe() {
    return PipeOptions{.capacity_bytes = 256, .max_message_size = 1 << 20};
}

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto span = std::as_bytes(std::span(text));
    return {span.begin(), span.end()};
}

} // namespace

TEST(Pipe, duplex_ends_send_typed_values_both_ways) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    a.send(std::string("ping"));
    b.send(std::make_tuple(1, 2.5, std::string("x")));
    EXPECT_EQ(b.recv<std::string>(), "ping");
    EXPECT_EQ((a.recv<std::tuple<int, double, std::string>>()),
              std::make_tuple(1, 2.5, std::string("x")));
    a.send(42);
    EXPECT_EQ(b.recv<int>(), 42);
}

TEST(Pipe, one_way_pipe_has_a_receive_end_and_a_send_end) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    EXPECT_TRUE(reader.readable());
    EXPECT_FALSE(reader.writable());
    EXPECT_TRUE(writer.writable());
    EXPECT_FALSE(writer.readable());
    writer.send(std::string("one way"));
    EXPECT_EQ(reader.recv<std::string>(), "one way");
    EXPECT_THROW(reader.send(1), UsageError);
    EXPECT_THROW(writer.recv<int>(), UsageError);
}

TEST(Pipe, send_bytes_with_offset_and_size_and_recv_bytes_into_with_offset) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    const auto data = bytes_of("0123456789");
    a.send_bytes(data, 2, 5);
    a.send_bytes(data);
    EXPECT_THROW(a.send_bytes(data, 8, 5), UsageError);
    EXPECT_EQ(b.recv_bytes(), bytes_of("23456"));
    std::vector<std::byte> buffer(16);
    EXPECT_EQ(b.recv_bytes_into(buffer, 3), 10u);
    EXPECT_EQ(std::vector<std::byte>(buffer.begin() + 3, buffer.begin() + 13), data);
}

TEST(Pipe, too_long_for_the_caller_leaves_the_message_in_the_pipe) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    a.send_bytes("twelve bytes");
    EXPECT_THROW(b.recv_bytes(5), MessageTooLarge);
    EXPECT_EQ(b.recv_bytes(12), bytes_of("twelve bytes"));
}

TEST(Pipe, recv_bytes_into_a_short_buffer_consumes_the_message_and_carries_it) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    a.send_bytes("twelve bytes");
    a.send_bytes("next");
    std::vector<std::byte> small(8);
    try {
        (void)b.recv_bytes_into(small, 2);
        ADD_FAILURE() << "no BufferTooShort";
    } catch (const BufferTooShort& e) {
        EXPECT_EQ(e.message(), bytes_of("twelve bytes"));
    }
    EXPECT_EQ(b.recv_bytes_into(small), 4u); // the next message, not the rest of the first
    EXPECT_EQ(std::vector<std::byte>(small.begin(), small.begin() + 4), bytes_of("next"));
}

TEST(Pipe, messages_larger_than_the_ring_stream_through_in_chunks) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment, true, small_pipe());
    std::vector<int> big(100000);
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<int>(i * 7);
    std::thread writer([&, &a = a] {
        a.send(big);
        a.send(std::string("after"));
    });
    EXPECT_EQ(b.recv<std::vector<int>>(), big);
    EXPECT_EQ(b.recv<std::string>(), "after");
    writer.join();
}

TEST(Pipe, oversize_send_is_refused_and_the_pipe_stays_usable) {
    ScopedSegment segment;
    auto [a, b] =
        Pipe(*segment, true, PipeOptions{.capacity_bytes = 1024, .max_message_size = 100});
    EXPECT_THROW(a.send_bytes(std::vector<std::byte>(101)), MessageTooLarge);
    a.send_bytes(std::vector<std::byte>(100));
    EXPECT_EQ(b.recv_bytes().size(), 100u);
}

TEST(Pipe, recv_after_the_peer_closed_drains_then_raises_end_of_stream) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    a.send(1);
    a.send(2);
    a.close();
    EXPECT_TRUE(a.closed());
    EXPECT_FALSE(b.closed());
    EXPECT_TRUE(b.try_poll());
    EXPECT_EQ(b.recv<int>(), 1);
    EXPECT_EQ(b.recv<int>(), 2);
    EXPECT_TRUE(b.try_poll()); // end of stream: recv would not block
    EXPECT_THROW(b.recv<int>(), EndOfStream);
    EXPECT_THROW(b.send(3), Closed); // the peer is gone: broken pipe
}

TEST(Pipe, operations_on_a_closed_connection_are_closed) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    b.send(1);
    a.close();
    EXPECT_THROW(a.send(1), Closed);
    EXPECT_THROW(a.recv<int>(), Closed);
    EXPECT_THROW(a.poll(), Closed);
    EXPECT_THROW((void)a.try_poll(), Closed);
}

TEST(Pipe, close_wakes_a_blocked_reader_with_end_of_stream) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    b.set_wait_options({WaitPolicy::block, {}});
    std::thread closer([&, &a = a] {
        std::this_thread::sleep_for(50ms);
        a.close();
    });
    EXPECT_THROW(b.recv<int>(), EndOfStream);
    closer.join();
}

TEST(Pipe, poll_waits_at_least_its_timeout_and_sees_a_message) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    EXPECT_FALSE(b.try_poll());
    const auto start = Clock::now();
    EXPECT_FALSE(b.poll_for(100ms));
    EXPECT_GE(Clock::now() - start, 100ms);
    EXPECT_FALSE(b.poll_until(Clock::now() - 1s));
    a.send_bytes("x");
    EXPECT_TRUE(b.poll_for(0ms));
    EXPECT_TRUE(b.poll_until(std::chrono::system_clock::now() + 1s));
    b.poll(); // a message is there: returns at once
}

TEST(Pipe, a_writer_blocked_on_a_full_pipe_resumes_when_the_reader_drains) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment, true, small_pipe());
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        a.set_wait_options({policy, std::chrono::microseconds(20)});
        b.set_wait_options({policy, std::chrono::microseconds(20)});
        std::thread writer([&, &a = a] {
            for (int i = 0; i < 3000; ++i)
                a.send(i);
        });
        for (int i = 0; i < 3000; ++i)
            ASSERT_EQ(b.recv<int>(), i);
        writer.join();
    }
}

TEST(Pipe, anonymous_pipe_in_the_default_segment) {
    auto [a, b] = Pipe();
    a.send(std::map<int, std::string>{{1, "one"}});
    EXPECT_EQ((b.recv<std::map<int, std::string>>().at(1)), "one");
}

TEST(Pipe, byte_forms_with_a_limit_time_out_then_carry_whole_messages) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment, true, small_pipe());
    EXPECT_EQ(b.try_recv_bytes(), std::nullopt);
    const auto start = Clock::now();
    EXPECT_THROW((void)b.recv_bytes_for(50ms), Timeout);
    EXPECT_GE(Clock::now() - start, 50ms);
    EXPECT_THROW((void)b.recv_bytes_until(Clock::now() - 1s), Timeout);
    const std::vector<std::byte> hello = bytes_of("hello");
    EXPECT_TRUE(a.try_send_bytes(hello));
    int sent = 1;
    while (sent < 1000 && a.send_bytes_for(hello, 0ms))
        ++sent;
    EXPECT_LT(sent, 1000) << "a 256-byte ring never filled";
    EXPECT_FALSE(a.send_bytes_until(hello, Clock::now() + 10ms));
    EXPECT_FALSE(a.try_send_bytes(hello));
    EXPECT_THROW((void)b.recv_bytes_for(1s, 4), MessageTooLarge); // stays in the pipe
    for (int i = 0; i < sent; ++i)
        ASSERT_EQ(b.recv_bytes_until(Clock::now() + 1s), hello) << "message " << i;
    EXPECT_EQ(b.try_recv_bytes(), std::nullopt);
    EXPECT_TRUE(a.send_bytes_for(hello, 1s));
    EXPECT_EQ(b.try_recv_bytes(), hello);
}

TEST(Pipe, an_end_closes_when_the_last_handle_of_the_process_is_destroyed) {
    ScopedSegment segment;
    Connection reader = [&] {
        auto [r, w] = Pipe(*segment, false);
        {
            Connection copy = w; // a second handle: destroying it keeps the end open
            copy.send(7);
        }
        EXPECT_FALSE(w.closed());
        w.send(8);
        return r;
    }();
    EXPECT_EQ(reader.recv<int>(), 7);
    EXPECT_EQ(reader.recv<int>(), 8);
    EXPECT_THROW(reader.recv<int>(), EndOfStream);
}

TEST(Pipe, close_closes_every_handle_of_the_process_on_that_end) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment);
    Connection copy = b;
    b.close();
    EXPECT_TRUE(copy.closed());
    EXPECT_THROW(copy.send(1), Closed);
    EXPECT_THROW(a.send(1), Closed); // no other process holds it: closed for the peer too
    b.close();                       // twice is harmless
}

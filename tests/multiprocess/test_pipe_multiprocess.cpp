// SPDX-License-Identifier: Apache-2.0
// Pipe between forked processes: round trips, end of stream after close or after the sender
// dies, large messages streaming through a small ring, a writer whose reader died, the timed
// forms of send and recv, BufferTooShort, and ends held per process.
#include "support/harness.hpp"

#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/pipe.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;
using Clock = std::chrono::steady_clock;

TEST(PipeMultiprocess, parent_and_child_exchange_typed_messages) {
    ScopedSegment segment;
    auto [parent, child_end] = Pipe(*segment);
    Child child([&, &child_end = child_end] {
        for (;;) {
            const int n = child_end.recv<int>();
            if (n < 0)
                return;
            child_end.send(std::to_string(n * 2));
        }
    });
    for (int i = 0; i < 1000; ++i) {
        parent.send(i);
        ASSERT_EQ(parent.recv<std::string>(), std::to_string(i * 2));
    }
    parent.send(-1);
    EXPECT_EQ(child.wait(), 0);
}

TEST(PipeMultiprocess, recv_raises_end_of_stream_after_the_sender_closes) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    Child child([&, &writer = writer] {
        for (int i = 0; i < 3; ++i)
            writer.send(i);
        writer.close();
    });
    writer.close(); // the parent's copy, as with pipe(2): the child's hold is the last
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(reader.recv<int>(), i);
    EXPECT_THROW(reader.recv<int>(), EndOfStream);
    EXPECT_EQ(child.wait(), 0);
}

TEST(PipeMultiprocess, recv_raises_end_of_stream_when_the_sender_process_dies) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    Child child([&, &writer = writer] {
        writer.send(std::string("last words"));
        pause(); // killed below, never closes
    });
    EXPECT_EQ(reader.recv<std::string>(), "last words");
    child.kill(SIGKILL);
    EXPECT_EQ(child.wait(), -SIGKILL);
    EXPECT_THROW(reader.recv<std::string>(), EndOfStream);
}

TEST(PipeMultiprocess, megabyte_messages_stream_through_a_small_ring) {
    ScopedSegment segment(std::size_t{16} << 20);
    auto [a, b] = Pipe(*segment, true, PipeOptions{.capacity_bytes = 4096});
    std::vector<std::uint64_t> big(std::size_t{1} << 19); // 4 MiB encoded
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = i * 0x9e3779b97f4a7c15ULL;
    Child child([&, &b = b] {
        const auto got = b.recv<std::vector<std::uint64_t>>();
        b.send(got == big);
        b.send(got);
    });
    a.send(big);
    EXPECT_TRUE(a.recv<bool>());
    EXPECT_EQ(a.recv<std::vector<std::uint64_t>>(), big);
    EXPECT_EQ(child.wait(), 0);
}

TEST(PipeMultiprocess, a_writer_blocked_on_a_reader_that_died_gets_closed) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = 1024});
    Child child([&, &reader = reader] {
        (void)reader.recv<int>(); // records this process as the reader
        pause();
    });
    writer.send(1);
    for (int i = 0; i < 1000 && reader.try_poll(); ++i) // until the child has taken it
        std::this_thread::sleep_for(1ms);
    child.kill(SIGKILL);
    EXPECT_EQ(child.wait(), -SIGKILL);
    EXPECT_THROW(
        {
            for (int i = 0; i < 10000; ++i)
                writer.send(std::string(100, 'x'));
        },
        Closed);
}

// Timing checks are lower bounds only: a loaded box may return late, never early.
TEST(PipeMultiprocess, recv_for_times_out_then_receives_what_a_child_sends) {
    ScopedSegment segment;
    auto [parent, child_end] = Pipe(*segment);
    Child child([&, &child_end = child_end] {
        const int go = child_end.recv<int>();
        child_end.send(go + 1);
        child_end.send(go + 2);
        child_end.close();
    });
    child_end.close(); // the parent's copy: the child's close ends the stream
    const auto start = Clock::now();
    EXPECT_THROW(parent.recv_for<int>(100ms), Timeout);
    EXPECT_GE(Clock::now() - start, 100ms);
    EXPECT_THROW(parent.recv_until<int>(Clock::now() - 1s), Timeout); // a past deadline tries once
    EXPECT_EQ(parent.try_recv<int>(), std::nullopt);
    parent.send(41);
    EXPECT_EQ(parent.recv_for<int>(30s), 42);
    EXPECT_EQ(parent.recv_until<int>(std::chrono::system_clock::now() + 30s), 43);
    EXPECT_EQ(child.wait(), 0);
    EXPECT_THROW(parent.recv_for<int>(30s), EndOfStream); // drained and closed: not a Timeout
    EXPECT_THROW((void)parent.try_recv<int>(), EndOfStream);
}

TEST(PipeMultiprocess, send_for_on_a_full_pipe_times_out_having_sent_nothing) {
    ScopedSegment segment;
    auto [parent, child_end] = Pipe(*segment, true, PipeOptions{.capacity_bytes = 1024});
    Event go(*segment, "go");
    const std::string big(5000, 'b'); // bigger than the ring: sent in chunks
    Child child([&, &child_end = child_end] {
        go.wait();
        int numbers = 0;
        bool saw_big = false;
        for (std::string message = child_end.recv<std::string>(); message != "end";
             message = child_end.recv<std::string>()) {
            if (message == big && !saw_big)
                saw_big = true;
            else if (saw_big || message != std::to_string(numbers++))
                throw std::runtime_error("unexpected message " + message.substr(0, 20));
        }
        child_end.send(saw_big ? numbers : -1);
    });
    int sent = 0;
    while (sent < 100000 && parent.try_send(std::to_string(sent)))
        ++sent;
    ASSERT_GT(sent, 0);
    ASSERT_LT(sent, 100000) << "the pipe never filled";
    const auto start = Clock::now();
    EXPECT_FALSE(parent.send_for(std::to_string(sent), 100ms));
    EXPECT_GE(Clock::now() - start, 100ms);
    EXPECT_FALSE(parent.send_until(std::to_string(sent), Clock::now() - 1s));
    EXPECT_FALSE(parent.try_send(big));
    go.set();
    // The reader drains the ring: the next number goes in whole, the big message waits for an
    // empty ring and streams, and the stream the child checks has no gap or torn message.
    EXPECT_TRUE(parent.send_for(std::to_string(sent), 30s));
    EXPECT_TRUE(parent.send_until(big, Clock::now() + 30s));
    parent.send(std::string("end"));
    EXPECT_EQ(parent.recv_for<int>(30s), sent + 1) << "numbers the child got, then the big one";
    EXPECT_EQ(child.wait(), 0);
}

// A spinning writer that finds the ring full waits for the reader to free a burst of it, but
// only while the reader keeps reading: here the reader frees one frame and then waits for the
// very message the writer is sending, which must still go in.
TEST(PipeMultiprocess, a_full_pipe_takes_a_message_when_its_reader_frees_one_frame_and_stops) {
    for (const WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid}) {
        SCOPED_TRACE(static_cast<int>(policy));
        ScopedSegment segment;
        auto [parent, child_end] =
            Pipe(*segment, true, PipeOptions{.capacity_bytes = 4096, .wait = {.policy = policy}});
        Event sent_last(*segment, "sent-last");
        int sent = 0;
        while (sent < 100000 && parent.try_send(sent))
            ++sent;
        ASSERT_LT(sent, 100000) << "the pipe never filled";
        Child child([&, &child_end = child_end] {
            if (child_end.recv<int>() != 0)
                throw std::runtime_error("the first message is not 0");
            if (!sent_last.wait_for(30s))
                throw std::runtime_error("the writer did not send into the room of one frame");
            for (int expected = 1; expected <= sent; ++expected)
                if (child_end.recv_for<int>(30s) != expected)
                    throw std::runtime_error("a message out of order");
        });
        // The child takes one message and reads no more until this one is in.
        EXPECT_TRUE(parent.send_for(sent, 30s));
        sent_last.set();
        EXPECT_EQ(child.wait(), 0);
    }
}

TEST(PipeMultiprocess, send_for_raises_closed_when_the_reader_closes_while_it_waits) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = 1024});
    while (writer.try_send(std::string(100, 'x'))) {
    }
    Child child([&, &reader = reader] {
        std::this_thread::sleep_for(50ms);
        reader.close();
    });
    reader.close(); // the parent's copy: the child's close is then the last
    EXPECT_THROW((void)writer.send_for(std::string(100, 'x'), 30s), Closed);
    EXPECT_EQ(child.wait(), 0);
}

// Python's BufferTooShort: a message longer than the buffer (here also longer than the ring, so
// it streams from the child) is consumed whole and handed over in the exception.
TEST(PipeMultiprocess, recv_bytes_into_a_short_buffer_raises_buffer_too_short_with_the_message) {
    ScopedSegment segment;
    auto [a, b] = Pipe(*segment, true, PipeOptions{.capacity_bytes = 4096});
    std::vector<std::byte> big(20000);
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<std::byte>(i * 31);
    Child child([&, &b = b] {
        b.send_bytes(big);
        b.send_bytes(std::string_view("after"));
    });
    std::vector<std::byte> buffer(100);
    try {
        (void)a.recv_bytes_into(buffer);
        ADD_FAILURE() << "no BufferTooShort";
    } catch (const BufferTooShort& e) {
        EXPECT_EQ(e.message(), big);
    }
    EXPECT_EQ(a.recv_bytes_into(buffer), 5u);
    EXPECT_EQ(child.wait(), 0);
}

// ---- ends held per process ----------------------------------------------------------------

TEST(PipeMultiprocess, closing_the_parents_copy_of_the_childs_end_leaves_the_child_working) {
    ScopedSegment segment;
    auto [parent, child_end] = Pipe(*segment);
    Child child([&, &child_end = child_end] {
        for (int n = child_end.recv<int>(); n >= 0; n = child_end.recv<int>())
            child_end.send(n * 2);
    });
    child_end.close(); // at once: the child may not even have run yet
    EXPECT_TRUE(child_end.closed());
    EXPECT_THROW(child_end.send(1), Closed);
    for (int i = 0; i < 10; ++i) {
        parent.send(i);
        EXPECT_EQ(parent.recv_for<int>(30s), i * 2);
    }
    parent.send(-1);
    EXPECT_EQ(child.wait(), 0); // ends with _exit: its hold is found dead
    EXPECT_THROW((void)parent.recv_for<int>(30s), EndOfStream);
}

TEST(PipeMultiprocess, a_holder_that_died_without_sending_is_found_and_the_stream_ends) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    Child child([] {}); // holds the writer it inherited, never sends, dies
    writer.close();
    EXPECT_EQ(child.wait(), 0);
    EXPECT_THROW((void)reader.recv_for<int>(30s), EndOfStream);
}

TEST(PipeMultiprocess, the_end_closes_when_the_last_process_holding_it_lets_go) {
    ScopedSegment segment;
    Event closed_by_child(*segment, "closed");
    Event eof_seen(*segment, "eof");
    std::optional<Connection> reader;
    std::optional<Child> child;
    {
        auto [r, w] = Pipe(*segment, false);
        reader.emplace(r);
        child.emplace([&, &w = w] {
            for (int i = 0; i < 3; ++i)
                w.send(i);
            if (!closed_by_child.wait_for(30s))
                throw std::runtime_error("never told to close");
            w.close();
            if (!eof_seen.wait_for(30s)) // alive until the parent saw the end
                throw std::runtime_error("the parent never saw the end of the stream");
        });
    } // the parent's last handles on both ends are destroyed: its holds are given back
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(reader->recv_for<int>(30s), i);
    EXPECT_FALSE(reader->try_poll()); // the child still holds the writing end
    closed_by_child.set();
    EXPECT_THROW((void)reader->recv_for<int>(30s), EndOfStream);
    eof_seen.set();
    EXPECT_EQ(child->wait(), 0);
}

// SPDX-License-Identifier: Apache-2.0
// Pipe between forked processes: round trips, end of stream after close or after the sender
// dies, large messages streaming through a small ring, and a writer whose reader died.
#include "support/harness.hpp"

#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

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
    for (int i = 0; i < 1000 && reader.poll(); ++i) // until the child has taken it
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

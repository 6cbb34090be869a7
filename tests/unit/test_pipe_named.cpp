// SPDX-License-Identifier: Apache-2.0
// Named pipes within one process: Pipe(segment, name) and Connection::open, their errors, and
// the hold an opened end takes of its own.
#include "support/harness.hpp"

#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/pipe.hpp>
#include <string>

using namespace shmbus;
using shmbus::test::ScopedSegment;

TEST(NamedPipe, an_end_opened_by_name_talks_to_the_creator_both_ways) {
    ScopedSegment segment;
    auto [mine, theirs] = Pipe(*segment, "control");
    Connection opened = Connection::open(*segment, "control", 1);
    mine.send(std::string("to the opener"));
    EXPECT_EQ(opened.recv<std::string>(), "to the opener");
    opened.send_bytes("to the creator");
    const auto bytes = mine.recv_bytes();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
              "to the creator");
    Connection first = Connection::open(*segment, "control", 0);
    opened.send(7);
    EXPECT_EQ(first.recv<int>(), 7);
}

TEST(NamedPipe, a_one_way_named_pipe_keeps_its_directions) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, std::string("one-way"), false);
    Connection opened = Connection::open(*segment, "one-way", 1);
    EXPECT_TRUE(opened.writable());
    EXPECT_FALSE(opened.readable());
    opened.send(3);
    EXPECT_EQ(reader.recv<int>(), 3);
    EXPECT_THROW(opened.recv<int>(), UsageError);
}

TEST(NamedPipe, opening_a_missing_name_another_kind_or_a_bad_end_fails) {
    ScopedSegment segment;
    EXPECT_THROW(Connection::open(*segment, "missing", 0), NotFound);
    Lock lock(*segment, "a-lock");
    EXPECT_THROW(Connection::open(*segment, "a-lock", 0), KindMismatch);
    auto ends = Pipe(*segment, "taken");
    EXPECT_THROW(Connection::open(*segment, "taken", 2), UsageError);
    EXPECT_THROW(Connection::open(*segment, "taken", -1), UsageError);
    EXPECT_THROW(Pipe(*segment, "taken"), AlreadyExists);
}

TEST(NamedPipe, the_end_closes_for_the_peer_once_the_creator_and_the_opener_gave_it_back) {
    ScopedSegment segment;
    auto [mine, theirs] = Pipe(*segment, "pair");
    Connection opened = Connection::open(*segment, "pair", 1);
    theirs.close(); // the creator's copy: the opener still holds the end
    EXPECT_FALSE(opened.closed());
    opened.send(1);
    opened.close();
    EXPECT_EQ(mine.recv<int>(), 1);
    EXPECT_THROW(mine.recv<int>(), EndOfStream);
}

TEST(NamedPipe, closing_an_opened_handle_leaves_the_creators_copy_open) {
    ScopedSegment segment;
    auto [mine, theirs] = Pipe(*segment, "kept");
    Connection opened = Connection::open(*segment, "kept", 1);
    opened.close();
    EXPECT_TRUE(opened.closed());
    EXPECT_FALSE(theirs.closed());
    theirs.send(2);
    EXPECT_EQ(mine.recv<int>(), 2);
}

TEST(NamedPipe, a_closed_end_never_opens_again) {
    ScopedSegment segment;
    auto [mine, theirs] = Pipe(*segment, "gone");
    theirs.close();
    EXPECT_THROW(Connection::open(*segment, "gone", 1), Closed);
    Connection first = Connection::open(*segment, "gone", 0);
    EXPECT_THROW(first.recv<int>(), EndOfStream);
}

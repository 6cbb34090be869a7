// SPDX-License-Identifier: Apache-2.0
// Named pipes between processes that share no end by fork: a child forked before the pipe
// existed opens an end by name, talks, and closes it or dies holding it.
#include "support/harness.hpp"

#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/pipe.hpp>
#include <string>
#include <unistd.h>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

// A child forked before the pipe exists: it waits for Event "made", then opens end 1 of pipe
// "named" and runs body on it.
template <class Body>
Child opener(ScopedSegment& segment, Body body) {
    Event made(*segment, "made");
    return Child([&segment, body] {
        Event::open(*segment, "made").wait();
        body(Connection::open(*segment, "named", 1));
    });
}

} // namespace

TEST(NamedPipeMultiprocess, an_unrelated_process_opens_an_end_and_echoes_until_it_closes) {
    ScopedSegment segment;
    Child child = opener(segment, [](Connection end) {
        end.send(std::string("ready"));
        for (int n = end.recv<int>(); n >= 0; n = end.recv<int>())
            end.send(n * 3);
        end.close();
    });
    auto [mine, theirs] = Pipe(*segment, "named");
    Event::open(*segment, "made").set();
    ASSERT_EQ(mine.recv<std::string>(), "ready");
    theirs.close(); // the child holds its end now: ours is the copy
    for (int i = 0; i < 500; ++i) {
        mine.send(i);
        ASSERT_EQ(mine.recv<int>(), i * 3);
    }
    mine.send(-1);
    EXPECT_THROW(mine.recv<int>(), EndOfStream);
    EXPECT_EQ(child.wait(), 0);
}

TEST(NamedPipeMultiprocess, the_end_of_an_opener_that_died_holding_it_closes) {
    ScopedSegment segment;
    Child child = opener(segment, [](Connection end) {
        end.send(std::string("bye"));
        ::_exit(0); // holding the end: the peer's probe finds the holder dead
    });
    auto [mine, theirs] = Pipe(*segment, "named");
    Event::open(*segment, "made").set();
    ASSERT_EQ(mine.recv<std::string>(), "bye");
    theirs.close();
    EXPECT_EQ(child.wait(), 0);
    EXPECT_THROW(mine.recv<int>(), EndOfStream);
    // The probe that ended the recv gave back the dead opener's hold, the last one.
    EXPECT_THROW(Connection::open(*segment, "named", 1), Closed);
}

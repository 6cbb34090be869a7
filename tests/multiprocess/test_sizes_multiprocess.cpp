// SPDX-License-Identifier: Apache-2.0
// A create whose size cannot fit must not touch memory outside its own segment. The failed
// creates run in a process that maps a second segment right next to the first (mmap places a
// later mapping below an earlier one), so a size that wrapped and was then value-initialised
// would overwrite that segment's header and queued message before it crashed.
#include "support/harness.hpp"

#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <shmbus/errors.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
const QueueOptions kSmallQueue{.max_message_size = 256};
const std::string kMessage = "the message that must survive a neighbour's failed create";

template <class Create>
void expect_out_of_space(Create create) {
    try {
        create();
    } catch (const OutOfSpace&) {
        return;
    }
    throw std::runtime_error("a create that cannot fit did not raise OutOfSpace");
}

} // namespace

TEST(SizesMultiprocess, huge_creates_fail_cleanly_and_leave_the_next_segments_message_intact) {
    ScopedSegment neighbour(std::size_t{1} << 20);
    ScopedSegment small(std::size_t{1} << 20);
    const std::string neighbour_name = neighbour.name();

    const auto put = run_children(1, [&](int) {
        Queue<std::string>(Segment::open(neighbour_name), "inbox", kSmallQueue).put(kMessage);
    });
    ASSERT_EQ(put, std::vector<int>{0});

    const auto before = small->objects();
    const auto create = run_children(1, [&](int) {
        for (std::size_t length : {kMax, kMax / 4 + 1, std::size_t{1} << 62, std::size_t{1} << 40})
            expect_out_of_space([&] { Array<int>(*small, "a", length); });
        for (std::size_t capacity : {kMax, (std::size_t{1} << 63) + 1, std::size_t{1} << 62})
            expect_out_of_space(
                [&] { Pipe(*small, true, PipeOptions{.capacity_bytes = capacity}); });
        for (std::size_t capacity : {kMax, (std::size_t{1} << 63) + 1})
            expect_out_of_space(
                [&] { Queue<int>(*small, "q", QueueOptions{.capacity_bytes = capacity}); });
        if (small->objects() != before)
            throw std::runtime_error("a failed create changed the directory");
    });
    EXPECT_EQ(create, std::vector<int>{0});
    EXPECT_EQ(small->objects(), before);

    const auto get = run_children(1, [&](int) {
        Segment reopened = Segment::open(neighbour_name);
        auto inbox = Queue<std::string>::open(reopened, "inbox");
        if (inbox.get_for(std::chrono::seconds(10)) != kMessage)
            throw std::runtime_error("the neighbour's message changed");
    });
    EXPECT_EQ(get, std::vector<int>{0});
}

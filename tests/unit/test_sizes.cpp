// SPDX-License-Identifier: Apache-2.0
// Sizes, lengths and capacities that cannot fit: every constructor rejects them with
// OutOfSpace (too large) or UsageError (nonsense) before it writes anything, and leaves the
// segment's directory and heap as they were.
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <shmbus/detail/checked_math.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/shmbus.hpp>
#include <string>
#include <tuple>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
constexpr std::size_t k2p62 = std::size_t{1} << 62;
constexpr std::size_t k2p63 = std::size_t{1} << 63;

// Sizes that wrap, or lie just past a power of two, or would fit 64 bits but no segment.
const std::vector<std::size_t> kHugeSizes = {kMax,
                                             kMax - 1,
                                             kMax - 63,
                                             kMax / 2,
                                             kMax / 4 + 1,
                                             k2p63 + 1,
                                             k2p63,
                                             k2p63 - 1,
                                             k2p62 + 1,
                                             k2p62,
                                             k2p62 - 1,
                                             kMax / 128 + 1,
                                             std::size_t{1} << 40,
                                             std::size_t{1} << 32,
                                             (std::size_t{1} << 32) + 1};

// The offset a new 64-byte object gets: it shows whether a failed create leaked heap bytes.
std::uint64_t next_object_offset(const Segment& segment) {
    const detail::ObjectRef probe = detail::attach_object(
        segment, "", {ObjectKind::value, 64, 64, 0}, detail::OpenMode::create, [](void*) {});
    return probe.offset();
}

// Runs `create`, which must throw E, and checks the segment is unchanged: same directory, same
// heap fill level.
template <class E, class Create>
void expect_rejected(ScopedSegment& segment, Create create) {
    const auto before = segment->objects();
    const std::uint64_t heap_used = detail::mapping_of(*segment).header().heap_used;
    EXPECT_THROW(create(), E);
    EXPECT_EQ(segment->objects(), before);
    EXPECT_EQ(detail::mapping_of(*segment).header().heap_used, heap_used);
}

} // namespace

TEST(CheckedMath, detects_wrap_in_every_helper) {
    using namespace shmbus::detail;
    EXPECT_EQ(checked_add(kMax, 0), kMax);
    EXPECT_FALSE(checked_add(kMax, 1));
    EXPECT_EQ(checked_mul(k2p62, 3), 3 * k2p62);
    EXPECT_FALSE(checked_mul(k2p62, 4));
    EXPECT_FALSE(checked_mul(kMax, 2));
    EXPECT_EQ(checked_round_up(kMax - 63, 64), kMax - 63);
    EXPECT_FALSE(checked_round_up(kMax - 62, 64));
    EXPECT_EQ(checked_bit_ceil(k2p63), k2p63);
    EXPECT_FALSE(checked_bit_ceil(k2p63 + 1));
    EXPECT_EQ(checked_bit_ceil(0), 1U);
    EXPECT_THROW(add_size(kMax, 1, "x"), OutOfSpace);
    EXPECT_THROW(mul_size(kMax, 2, "x"), OutOfSpace);
}

TEST(Sizes, array_of_a_length_that_does_not_fit_is_out_of_space_and_writes_nothing) {
    ScopedSegment segment;
    Array<int> before(*segment, "before", 4);
    before[3] = 7;
    for (std::size_t length : kHugeSizes) {
        SCOPED_TRACE(length);
        expect_rejected<OutOfSpace>(segment, [&] { Array<int>(*segment, "a", length); });
        expect_rejected<OutOfSpace>(segment, [&] { Array<char>::create(*segment, "c", length); });
        expect_rejected<OutOfSpace>(segment, [&] { Array<double>(*segment, "", length); });
    }
    EXPECT_EQ(before[3], 7);
    Array<int> after(*segment, "a", 16);
    EXPECT_EQ(after.size(), 16U);
}

TEST(Sizes, pipe_of_a_capacity_that_does_not_fit_leaves_no_entry) {
    ScopedSegment segment;
    for (std::size_t capacity : kHugeSizes) {
        SCOPED_TRACE(capacity);
        for (bool duplex : {true, false})
            expect_rejected<OutOfSpace>(
                segment, [&] { Pipe(*segment, duplex, PipeOptions{.capacity_bytes = capacity}); });
    }
    for (std::size_t max_message : {std::size_t{0}, std::size_t{1} << 32, kMax})
        expect_rejected<UsageError>(
            segment, [&] { Pipe(*segment, true, PipeOptions{.max_message_size = max_message}); });
    auto [left, right] = Pipe(*segment);
    left.send(42);
    EXPECT_EQ(right.recv<int>(), 42);
    // The first pipe that was made is the first one numbered.
    EXPECT_EQ(segment->objects().back().name, "pipe#1");
}

TEST(Sizes, queues_of_a_capacity_that_does_not_fit_are_out_of_space) {
    ScopedSegment segment;
    for (std::size_t capacity : kHugeSizes) {
        SCOPED_TRACE(capacity);
        const QueueOptions options{.capacity_bytes = capacity};
        expect_rejected<OutOfSpace>(segment, [&] { Queue<int>(*segment, "q", options); });
        expect_rejected<OutOfSpace>(segment, [&] { Queue<int>(*segment, "", options); });
        expect_rejected<OutOfSpace>(segment, [&] { SimpleQueue<int>(*segment, "s", options); });
        expect_rejected<OutOfSpace>(segment, [&] { JoinableQueue<int>(*segment, "j", options); });
    }
}

TEST(Sizes, queue_maxsize_too_large_for_its_default_ring_is_out_of_space) {
    ScopedSegment segment;
    for (std::size_t maxsize : {k2p62, std::size_t{1} << 58, std::size_t{1} << 57, k2p63 - 1}) {
        SCOPED_TRACE(maxsize);
        expect_rejected<OutOfSpace>(
            segment, [&] { Queue<int>(*segment, "q", QueueOptions{.maxsize = maxsize}); });
    }
}

TEST(Sizes, queue_options_that_mean_nothing_are_usage_errors) {
    ScopedSegment segment;
    for (std::size_t max_message : {std::size_t{0}, std::size_t{1} << 31, k2p63 + 1, kMax})
        expect_rejected<UsageError>(segment, [&] {
            Queue<int>(*segment, "q", QueueOptions{.max_message_size = max_message});
        });
    // free_items counts maxsize down in a signed word.
    for (std::size_t maxsize : {k2p63, k2p63 + 1, kMax})
        expect_rejected<UsageError>(segment, [&] {
            Queue<int>(
                *segment, "q",
                QueueOptions{.maxsize = maxsize, .max_message_size = 64, .capacity_bytes = 4096});
        });
    // A ring too small for one largest message.
    expect_rejected<UsageError>(segment, [&] {
        Queue<int>(*segment, "q", QueueOptions{.max_message_size = 4096, .capacity_bytes = 64});
    });
}

TEST(Sizes, a_huge_maxsize_with_a_small_ring_is_bounded_by_the_ring) {
    ScopedSegment segment;
    Queue<int> queue(
        *segment, "q",
        QueueOptions{.maxsize = k2p63 - 1, .max_message_size = 64, .capacity_bytes = 4096});
    queue.put(5);
    EXPECT_EQ(queue.get(), 5);
}

TEST(Sizes, containers_too_large_are_out_of_space_and_impossible_counts_usage_errors) {
    ScopedSegment segment;
    for (std::size_t capacity :
         {kMax, k2p63 + 1, k2p62, (std::size_t{1} << 40) + 1, std::size_t{1} << 40}) {
        SCOPED_TRACE(capacity);
        expect_rejected<OutOfSpace>(
            segment, [&] { Dict<int>(*segment, "d", DictOptions{.capacity_bytes = capacity}); });
        expect_rejected<OutOfSpace>(
            segment, [&] { List<int>(*segment, "l", ListOptions{.capacity_bytes = capacity}); });
    }
    for (std::size_t entries : {kMax, k2p63 + 1, k2p62, std::size_t{1} << 31}) {
        SCOPED_TRACE(entries);
        expect_rejected<UsageError>(
            segment, [&] { Dict<int>(*segment, "d", DictOptions{.max_entries = entries}); });
        expect_rejected<UsageError>(
            segment, [&] { List<int>(*segment, "l", ListOptions{.max_entries = entries}); });
    }
    expect_rejected<UsageError>(
        segment, [&] { Dict<int>(*segment, "d", DictOptions{.capacity_bytes = 0}); });
    // A valid entry count, but more than the segment holds.
    expect_rejected<OutOfSpace>(segment, [&] {
        List<int>(*segment, "l", ListOptions{.max_entries = (std::size_t{1} << 31) - 2});
    });
}

TEST(Sizes, sync_objects_reject_counts_they_cannot_hold) {
    ScopedSegment segment;
    expect_rejected<UsageError>(segment, [&] { Barrier(*segment, "b", 0); });
    for (unsigned value : {Semaphore::kMaxValue + 1, std::numeric_limits<unsigned>::max()}) {
        expect_rejected<UsageError>(segment, [&] { Semaphore(*segment, "s", value); });
        expect_rejected<UsageError>(segment, [&] { BoundedSemaphore(*segment, "s", value); });
    }
    Barrier barrier(*segment, "b", std::numeric_limits<unsigned>::max());
    EXPECT_EQ(barrier.parties(), std::numeric_limits<unsigned>::max());
}

TEST(Sizes, a_failed_initialisation_leaves_no_entry_and_no_heap_used) {
    ScopedSegment segment;
    Value<int> first(*segment, "first", 1);
    const auto before = segment->objects();
    const std::uint64_t heap_used = detail::mapping_of(*segment).header().heap_used;
    const std::uint64_t anonymous = detail::mapping_of(*segment).header().anonymous_count;
    std::uint64_t failed_at = 0;
    EXPECT_THROW(detail::attach_object(
                     *segment, "", {ObjectKind::pipe, 4096, 64, 0}, detail::OpenMode::create,
                     [&](void* at) {
                         failed_at = static_cast<char*>(at) - detail::mapping_of(*segment).base();
                         std::memset(at, 0xab, 4096);
                         throw UsageError("init failed");
                     }),
                 UsageError);
    EXPECT_EQ(segment->objects(), before);
    EXPECT_EQ(detail::mapping_of(*segment).header().heap_used, heap_used);
    EXPECT_EQ(detail::mapping_of(*segment).header().anonymous_count, anonymous);
    // The next object takes the same bytes, zeroed again as new objects expect.
    EXPECT_EQ(next_object_offset(*segment), failed_at);
    const char* bytes = detail::mapping_of(*segment).base() + failed_at;
    EXPECT_EQ(std::count(bytes, bytes + 4096, 0), 4096);
}

// A Value or Array is made together with its RLock; when the object fits and the lock does not,
// neither is left behind (fuzz_sizes found the Array left in the directory).
TEST(Sizes, a_value_or_array_whose_lock_does_not_fit_leaves_no_entry) {
    ScopedSegment segment;
    const detail::SegmentHeader& header = detail::mapping_of(*segment).header();
    const std::uint64_t room =
        detail::mapping_of(*segment).size() - detail::kHeapOffset - header.heap_used;
    ASSERT_EQ(room % 64, 0U);
    // The filler (64-byte header, data, 64-byte lock) leaves 64 bytes: one object, no lock.
    Array<char> filler(*segment, "filler", room - 3 * 64);
    ASSERT_EQ(detail::mapping_of(*segment).size() - detail::kHeapOffset - header.heap_used, 64U);
    expect_rejected<OutOfSpace>(segment, [&] { Value<int>(*segment, "v", 1); });
    expect_rejected<OutOfSpace>(segment, [&] { Value<int>(*segment, "", 1); });
    expect_rejected<OutOfSpace>(segment, [&] { Array<char>(*segment, "a", 0); });
    expect_rejected<OutOfSpace>(segment, [&] { Array<std::int64_t>::create(*segment, "", 0); });
    EXPECT_EQ(header.anonymous_count, 0U);
    RLock last(*segment, "last");
    EXPECT_TRUE(last.try_acquire());
}

// A name whose ".lock" companion would be too long is rejected before the object is made.
TEST(Sizes, a_value_whose_lock_name_is_too_long_leaves_no_entry) {
    ScopedSegment segment;
    expect_rejected<InvalidName>(segment, [&] { Value<int>(*segment, std::string(60, 'v'), 1); });
}

TEST(Sizes, a_forged_heap_fill_level_is_corrupt_segment_not_a_write_past_the_end) {
    ScopedSegment segment;
    detail::SegmentHeader& header = detail::mapping_of(*segment).header();
    const std::uint64_t heap_used = header.heap_used;
    for (std::uint64_t forged : {std::uint64_t{kMax}, std::uint64_t{kMax - detail::kHeapOffset},
                                 std::uint64_t{detail::mapping_of(*segment).size()}}) {
        header.heap_used = forged;
        EXPECT_THROW(Value<int>(*segment, "v", 1), CorruptSegment);
    }
    header.heap_used = heap_used;
    Value<int> value(*segment, "v", 1);
    EXPECT_EQ(value.load(), 1);
}

TEST(Sizes, ring_bytes_for_is_out_of_space_when_it_would_wrap) {
    using detail::MpmcRing;
    using detail::SpscRing;
    EXPECT_EQ(SpscRing::bytes_for(k2p63), k2p63 + sizeof(detail::SpscRingHeader));
    for (std::uint64_t capacity : {std::uint64_t{kMax}, std::uint64_t{kMax - 319}})
        EXPECT_THROW(SpscRing::bytes_for(capacity), OutOfSpace);
    EXPECT_EQ(MpmcRing::bytes_for(4) - MpmcRing::bytes_for(2), 2 * (64 + detail::kSlotBytes));
    for (std::uint64_t slots : {std::uint64_t{kMax}, std::uint64_t{kMax / 128 + 1}, k2p62})
        EXPECT_THROW(MpmcRing::bytes_for(slots), OutOfSpace);
}

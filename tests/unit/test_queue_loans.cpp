// SPDX-License-Identifier: Apache-2.0
// Queue loans and borrows in one process: a loaned message written in place arrives whole, a
// dropped loan is skipped, a loan at the ring's end starts after padding, a borrowed message
// is read in place (or gathered when a plain put wrapped it), maxsize tokens, task counts,
// closing and the one-claim-per-thread rule.
#include "support/harness.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

struct Frame {
    std::uint64_t serial;
    std::array<unsigned char, 1050> pixels; // with serial: 17 slots of 64 bytes
};

Frame frame_of(std::uint64_t serial) {
    Frame frame{serial, {}};
    for (std::size_t i = 0; i < frame.pixels.size(); ++i)
        frame.pixels[i] = static_cast<unsigned char>(serial * 31 + i);
    return frame;
}

bool same(const Frame& a, const Frame& b) {
    return a.serial == b.serial && a.pixels == b.pixels;
}

QueueOptions small_ring(std::size_t maxsize = 0) {
    return QueueOptions{.maxsize = maxsize, .max_message_size = 2048, .capacity_bytes = 4096};
}

} // namespace

TEST(QueueLoan, a_loaned_value_written_in_place_is_got_whole) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    auto loan = q.loan();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(loan.get()) % 64, 0u);
    EXPECT_EQ(loan->serial, 0u); // value-initialised
    *loan = frame_of(7);
    EXPECT_FALSE(q.try_get().has_value()); // not queued until published
    loan.publish();
    EXPECT_THROW(loan.publish(), UsageError);
    EXPECT_TRUE(same(q.get_for(1s), frame_of(7)));
}

TEST(QueueLoan, raw_bytes_loaned_are_the_item_s_encoding) {
    ScopedSegment segment;
    auto q = Queue<std::uint64_t>::create(*segment, "q", small_ring());
    auto loan = q.loan(sizeof(std::uint64_t));
    const std::uint64_t value = 0x1234'5678'9abc'def0ULL;
    std::memcpy(loan.bytes().data(), &value, sizeof value);
    loan.publish();
    EXPECT_EQ(q.get_for(1s), value);
    auto big = q.loan(64);
    EXPECT_THROW(big.publish(65), UsageError);
    std::memcpy(big.bytes().data(), &value, sizeof value);
    big.publish(sizeof value); // only the bytes used
    EXPECT_EQ(q.get_for(1s), value);
}

TEST(QueueLoan, a_loan_dropped_unpublished_is_skipped) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    {
        auto loan = q.loan();
        *loan = frame_of(1);
    }
    EXPECT_FALSE(q.try_get().has_value());
    q.put(frame_of(2));
    EXPECT_TRUE(same(q.get_for(1s), frame_of(2)));
    EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueLoan, loans_at_the_ring_s_end_start_after_padding_and_stay_contiguous) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring()); // 64 slots, 17 per Frame
    for (std::uint64_t serial = 0; serial < 40; ++serial) {
        auto loan = q.loan_for(1s);
        *loan = frame_of(serial);
        loan.publish();
        auto got = q.borrow_for(1s);
        EXPECT_TRUE(got.in_place()) << serial;
        EXPECT_TRUE(same(*got, frame_of(serial))) << serial;
    }
}

TEST(QueueBorrow, a_borrowed_message_is_read_in_place_and_frees_its_room_on_release) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    q.put(frame_of(1));
    q.put(frame_of(2));
    q.put(frame_of(3));
    EXPECT_FALSE(q.try_put(frame_of(4))); // 51 of 64 slots used
    {
        auto first = q.borrow();
        EXPECT_TRUE(first.in_place());
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first.bytes().data()) % 64, 0u);
        EXPECT_TRUE(same(first.get(), frame_of(1)));
        EXPECT_TRUE(same(first.decoded(), frame_of(1)));
        EXPECT_FALSE(q.try_put(frame_of(4))); // still held
        first.release();
        EXPECT_TRUE(q.try_put(frame_of(4)));
    }
    EXPECT_TRUE(same(q.get(), frame_of(2)));
}

TEST(QueueBorrow, a_message_a_put_wrapped_round_the_ring_s_end_is_gathered) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    bool saw_wrapped = false;
    for (std::uint64_t serial = 0; serial < 8; ++serial) {
        q.put(frame_of(serial));
        auto got = q.borrow_for(1s);
        saw_wrapped = saw_wrapped || !got.in_place();
        EXPECT_TRUE(same(*got, frame_of(serial))) << serial;
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(got.bytes().data()) % 64, 0u);
    }
    EXPECT_TRUE(saw_wrapped); // 17-slot frames in 64 slots: the fourth wraps
}

TEST(QueueLoan, one_loan_and_one_borrow_per_thread_and_no_put_or_get_meanwhile) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    auto loan = q.loan();
    EXPECT_THROW((void)q.try_loan(), UsageError);
    EXPECT_THROW(q.put(frame_of(1)), UsageError);
    loan.publish();
    auto held = q.borrow();
    EXPECT_THROW((void)q.try_borrow(), UsageError);
    EXPECT_THROW((void)q.try_get(), UsageError);
    held.release();
    EXPECT_FALSE(q.try_get().has_value());
}

TEST(QueueLoan, a_loan_takes_a_maxsize_token_and_a_dropped_one_gives_it_back) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring(1));
    std::optional<QueueLoan<Frame>> loan = q.try_loan();
    ASSERT_TRUE(loan.has_value());
    EXPECT_TRUE(q.full());
    loan.reset();
    EXPECT_FALSE(q.full());
    EXPECT_TRUE(q.try_put(frame_of(1)));
    EXPECT_FALSE(q.try_loan().has_value());
    EXPECT_THROW((void)q.loan_for(10ms), Full);
}

TEST(QueueLoan, a_published_loan_counts_as_an_unfinished_task) {
    ScopedSegment segment;
    JoinableQueue<Frame> q(*segment, "q", small_ring());
    auto loan = q.loan();
    EXPECT_EQ(q.unfinished_tasks(), 0u);
    loan.publish();
    EXPECT_EQ(q.unfinished_tasks(), 1u);
    q.borrow().release();
    q.task_done();
    EXPECT_TRUE(q.join_for(1s));
}

TEST(QueueLoan, closed_queues_and_oversized_loans_refuse) {
    ScopedSegment segment;
    auto q = Queue<Frame>::create(*segment, "q", small_ring());
    EXPECT_THROW((void)q.loan(2049), MessageTooLarge); // beyond max_message_size
    auto wide = Queue<std::uint64_t>::create(
        *segment, "wide", QueueOptions{.max_message_size = 4096, .capacity_bytes = 4096});
    EXPECT_THROW((void)wide.loan(2049), MessageTooLarge); // beyond half the ring
    EXPECT_THROW((void)q.borrow_for(10ms), Empty);
    EXPECT_FALSE(q.try_borrow().has_value());
    q.put(frame_of(1));
    q.close();
    EXPECT_THROW((void)q.loan(), Closed);
    EXPECT_FALSE(q.try_loan().has_value());
    EXPECT_TRUE(same(q.borrow().get(), frame_of(1))); // drains
    EXPECT_THROW((void)q.borrow(), Closed);
}

// SPDX-License-Identifier: Apache-2.0
// Topic<T> within one process: fan-out, history for late joiners, block and overwrite, lag
// accounting, option checks, and entries freed when handles go.
#include "support/checked_message.hpp"
#include "support/harness.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

TopicOptions small(SlowSubscriber policy, std::size_t capacity = 8, std::size_t history = 0) {
    return TopicOptions{.capacity = capacity,
                        .max_message_size = 256,
                        .history = history,
                        .slow_subscriber = policy};
}

} // namespace

TEST(Topic, every_subscriber_receives_every_message_in_order) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block));
    auto a = topic.subscribe();
    auto b = topic.subscribe();
    for (int i = 0; i < 5; ++i)
        topic.publish(i);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(a.recv(), i);
        EXPECT_EQ(b.recv(), i);
    }
    EXPECT_FALSE(a.try_recv().has_value());
    EXPECT_EQ(topic.messages_in(), 5u);
}

TEST(Topic, carries_strings_up_to_max_message_size) {
    ScopedSegment segment;
    Topic<std::string> topic(*segment, "", small(SlowSubscriber::block));
    auto sub = topic.subscribe();
    topic.publish(std::string(200, 'x'));
    EXPECT_EQ(sub.recv(), std::string(200, 'x'));
    EXPECT_THROW(topic.publish(std::string(300, 'y')), MessageTooLarge);
    EXPECT_FALSE(sub.try_recv().has_value());
}

TEST(Topic, messages_written_in_place_are_the_codecs_bytes_both_ways) {
    ScopedSegment segment;
    Topic<std::string> strings(*segment, "s", small(SlowSubscriber::block));
    Topic<std::vector<int>> vectors(*segment, "v", small(SlowSubscriber::block));
    auto string_sub = strings.subscribe();
    auto vector_sub = vectors.subscribe();
    strings.publish("in place");
    vectors.publish({1, 2, 3});
    {
        auto message = string_sub.borrow();
        detail::ByteBuffer expected;
        encode(std::string("in place"), expected);
        ASSERT_EQ(message.bytes().size(), expected.size());
        EXPECT_EQ(std::memcmp(message.bytes().data(), expected.data(), expected.size()), 0);
    }
    EXPECT_EQ(vector_sub.recv(), (std::vector<int>{1, 2, 3}));
    // And the other way: the codec's bytes, loaned raw, decode in place.
    detail::ByteBuffer encoded;
    encode(std::string("from the codec"), encoded);
    auto loan = strings.loan(encoded.size());
    std::memcpy(loan.bytes().data(), encoded.data(), encoded.size());
    loan.publish();
    EXPECT_EQ(string_sub.recv(), "from the codec");
}

TEST(Topic, a_late_subscriber_gets_the_last_history_messages) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::overwrite, 8, 3));
    for (int i = 0; i < 20; ++i)
        topic.publish(i);
    auto late = topic.subscribe();
    EXPECT_EQ(late.pending(), 3u);
    for (int i = 17; i < 20; ++i)
        EXPECT_EQ(late.recv(), i);
    EXPECT_FALSE(late.try_recv().has_value());
}

TEST(Topic, without_history_a_subscriber_starts_with_the_next_message) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block));
    topic.publish(1);
    auto sub = topic.subscribe();
    EXPECT_FALSE(sub.try_recv().has_value());
    topic.publish(2);
    EXPECT_EQ(sub.recv(), 2);
}

TEST(Topic, block_refuses_to_overwrite_what_a_subscriber_has_not_read) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block, 4));
    auto sub = topic.subscribe();
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE(topic.try_publish(i));
    EXPECT_FALSE(topic.try_publish(4));
    EXPECT_THROW(topic.publish_for(4, 10ms), Full);
    EXPECT_EQ(sub.recv(), 0);
    EXPECT_TRUE(topic.try_publish(4));
    for (int i = 1; i <= 4; ++i)
        EXPECT_EQ(sub.recv(), i);
}

TEST(Topic, block_without_subscribers_never_waits) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block, 4));
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(topic.try_publish(i));
}

TEST(Topic, a_blocked_publisher_goes_on_once_the_subscriber_reads) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block, 2));
    auto sub = topic.subscribe();
    std::thread publisher([&] {
        Topic<int> mine(topic);
        for (int i = 0; i < 50; ++i)
            mine.publish(i);
    });
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(sub.recv_for(10s), i);
    publisher.join();
}

TEST(Topic, overwrite_reports_the_lost_messages_then_goes_on_with_the_oldest) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::overwrite, 4));
    auto sub = topic.subscribe();
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(topic.try_publish(i));
    try {
        (void)sub.recv();
        FAIL() << "no Lagged";
    } catch (const Lagged& lagged) {
        EXPECT_EQ(lagged.missed(), 6u);
    }
    for (int i = 6; i < 10; ++i)
        EXPECT_EQ(sub.recv(), i);
    EXPECT_EQ(sub.dropped(), 6u);
    EXPECT_THROW((void)sub.recv_for(1ms), Empty);
}

// recv, recv_for and try_recv copy a trivially copyable message out of its slot straight into
// the one they return.
TEST(Topic, a_large_plain_message_comes_out_whole_through_every_recv) {
    ScopedSegment segment;
    using Block = std::array<std::uint8_t, 3000>;
    Topic<Block> topic(*segment, "t", TopicOptions{.capacity = 4, .max_message_size = 3000});
    auto sub = topic.subscribe();
    const auto block_for = shmbus::test::patterned_block<3000>;
    for (int i = 0; i < 20; ++i) {
        topic.publish(block_for(i));
        switch (i % 3) {
        case 0:
            ASSERT_EQ(sub.recv(), block_for(i)) << i;
            break;
        case 1:
            ASSERT_EQ(sub.recv_for(10s), block_for(i)) << i;
            break;
        default:
            ASSERT_EQ(sub.try_recv(), block_for(i)) << i;
            break;
        }
    }
    EXPECT_FALSE(sub.try_recv().has_value());
    EXPECT_THROW((void)sub.recv_for(5ms), Empty);
}

TEST(Topic, recv_for_times_out_with_empty) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block));
    auto sub = topic.subscribe();
    EXPECT_THROW((void)sub.recv_for(5ms), Empty);
    EXPECT_THROW((void)sub.recv_until(std::chrono::steady_clock::now() + 5ms), Empty);
}

TEST(Topic, rejects_nonsense_options) {
    ScopedSegment segment;
    EXPECT_THROW(Topic<int>(*segment, "", TopicOptions{.capacity = 0}), UsageError);
    EXPECT_THROW(Topic<int>(*segment, "", TopicOptions{.max_message_size = 0}), UsageError);
    EXPECT_THROW(Topic<int>(*segment, "", TopicOptions{.capacity = 4, .history = 5}), UsageError);
    EXPECT_THROW(Topic<int>(*segment, "", TopicOptions{.max_subscribers = 0}), UsageError);
    EXPECT_THROW(
        Topic<int>(*segment, "", TopicOptions{.capacity = 1 << 20, .max_message_size = 1 << 20}),
        OutOfSpace);
}

TEST(Topic, opens_by_name_and_checks_the_element_type) {
    ScopedSegment segment;
    Topic<int> made = Topic<int>::create(*segment, "t", small(SlowSubscriber::overwrite, 16, 2));
    EXPECT_THROW(Topic<int>::create(*segment, "t"), AlreadyExists);
    EXPECT_THROW(Topic<double>::open(*segment, "t"), KindMismatch);
    EXPECT_THROW(Topic<int>::open(*segment, "missing"), NotFound);
    Topic<int> opened = Topic<int>::open(*segment, "t");
    EXPECT_EQ(opened.capacity(), 16u);
    EXPECT_EQ(opened.history(), 2u);
    EXPECT_EQ(opened.slow_subscriber(), SlowSubscriber::overwrite);
    auto sub = opened.subscribe();
    made.publish(7);
    EXPECT_EQ(sub.recv(), 7);
}

TEST(Topic, handles_give_back_their_entries) {
    ScopedSegment segment;
    TopicOptions options = small(SlowSubscriber::block);
    options.max_publishers = 1;
    options.max_subscribers = 1;
    Topic<int> topic(*segment, "t", options);
    {
        auto sub = topic.subscribe();
        EXPECT_THROW(topic.subscribe(), OutOfSpace);
        auto pub = topic.publisher();
        EXPECT_THROW(topic.publisher(), OutOfSpace);
    }
    auto sub = topic.subscribe();
    auto pub = topic.publisher();
    pub.publish(3);
    EXPECT_EQ(sub.recv(), 3);
}

TEST(Topic, publishers_share_one_order) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", small(SlowSubscriber::block, 8));
    auto a = topic.subscribe();
    auto b = topic.subscribe();
    auto p1 = topic.publisher();
    auto p2 = topic.publisher();
    for (int i = 0; i < 3; ++i) {
        p1.publish(i);
        p2.publish(100 + i);
    }
    for (int i = 0; i < 6; ++i)
        EXPECT_EQ(a.recv(), b.recv());
}

namespace {

struct Frame {
    std::uint64_t id;
    std::array<std::uint32_t, 30> pixels;
};

} // namespace

TEST(TopicLoan, a_loaned_value_is_written_in_place_and_received_by_every_subscriber) {
    ScopedSegment segment;
    Topic<Frame> topic(*segment, "frames", TopicOptions{.capacity = 4, .max_message_size = 256});
    auto a = topic.subscribe();
    auto b = topic.subscribe();
    auto publisher = topic.publisher();
    {
        auto frame = publisher.loan();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(frame.get()) % 64, 0u);
        frame->id = 7;
        frame->pixels[29] = 99;
        frame.publish();
        EXPECT_THROW(frame.publish(), UsageError);
    }
    EXPECT_EQ(a.recv().pixels[29], 99u);
    auto borrowed = b.borrow();
    EXPECT_EQ(borrowed->id, 7u);
    EXPECT_EQ(borrowed.get().pixels[29], 99u);
    EXPECT_TRUE(borrowed.intact());
    borrowed.release();
    EXPECT_FALSE(b.try_recv().has_value());
}

TEST(TopicLoan, raw_bytes_loans_reach_borrowers_unchanged) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", TopicOptions{.capacity = 4, .max_message_size = 100});
    auto sub = topic.subscribe();
    auto loan = topic.loan(100);
    ASSERT_EQ(loan.bytes().size(), 100u);
    std::memset(loan.bytes().data(), 0x3c, 100);
    loan.publish();
    auto message = sub.borrow_for(1s);
    ASSERT_EQ(message.bytes().size(), 100u);
    EXPECT_EQ(message.bytes()[99], std::byte{0x3c});
    EXPECT_THROW(topic.loan(101), MessageTooLarge);
}

TEST(TopicLoan, an_unpublished_loan_is_given_back_and_skipped) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", TopicOptions{.capacity = 4});
    auto sub = topic.subscribe();
    auto publisher = topic.publisher();
    {
        auto dropped = publisher.loan();
        *dropped = 5;
        EXPECT_THROW(publisher.loan(), UsageError); // one loan at a time
        EXPECT_THROW(publisher.publish(1), UsageError);
    }
    EXPECT_FALSE(sub.try_recv().has_value());
    publisher.publish(6);
    EXPECT_EQ(sub.recv(), 6);
}

TEST(TopicLoan, try_loan_and_loan_for_answer_full_without_waiting_for_good) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", TopicOptions{.capacity = 2});
    auto sub = topic.subscribe();
    auto publisher = topic.publisher();
    for (int i = 0; i < 2; ++i) {
        std::optional<Loan<int>> slot = publisher.try_loan();
        ASSERT_TRUE(slot.has_value());
        **slot = i;
        slot->publish();
    }
    EXPECT_FALSE(publisher.try_loan().has_value()); // the subscriber has read nothing
    EXPECT_FALSE(publisher.try_loan(sizeof(int)).has_value());
    EXPECT_THROW((void)publisher.loan_for(sizeof(int), 10ms), Full);
    EXPECT_EQ(sub.recv(), 0);
    auto slot = publisher.loan_for(sizeof(int), 10ms);
    constexpr int kAnswer = 42;
    std::memcpy(slot.bytes().data(), &kAnswer, sizeof kAnswer);
    slot.publish();
    EXPECT_EQ(sub.recv(), 1);
    EXPECT_EQ(sub.recv_for(10ms), kAnswer);
}

TEST(TopicLoan, a_borrow_under_block_holds_publishers_off_its_slot) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t", TopicOptions{.capacity = 2});
    auto sub = topic.subscribe();
    topic.publish(1);
    topic.publish(2);
    auto first = sub.borrow();
    EXPECT_THROW((void)sub.try_recv(), UsageError);
    EXPECT_FALSE(topic.try_publish(3));
    EXPECT_EQ(*first, 1);
    first.release();
    EXPECT_TRUE(topic.try_publish(3));
    EXPECT_EQ(sub.recv(), 2);
    EXPECT_EQ(sub.recv(), 3);
}

TEST(TopicLoan, a_borrow_overwritten_while_held_is_detected_and_reported) {
    ScopedSegment segment;
    Topic<int> topic(*segment, "t",
                     TopicOptions{.capacity = 2, .slow_subscriber = SlowSubscriber::overwrite});
    auto sub = topic.subscribe();
    topic.publish(1);
    auto held = sub.borrow();
    EXPECT_TRUE(held.intact());
    for (int i = 2; i < 6; ++i)
        topic.publish(i);
    EXPECT_FALSE(held.intact());
    try {
        held.release();
        FAIL() << "no Lagged";
    } catch (const Lagged& lagged) {
        EXPECT_EQ(lagged.missed(), 3u); // 1, 2 and 3 gone; 4 and 5 retained
    }
    EXPECT_EQ(sub.recv(), 4);
    EXPECT_EQ(sub.recv(), 5);
}

// SPDX-License-Identifier: Apache-2.0
// Topic across forked processes: late joiners and history, block and overwrite, lag
// accounting, a subscriber killed (SIGKILL) while a publisher waits for it, a publisher killed
// while writing, a stress of several publishers and subscribers checking checksummed messages in
// one order, and parked sides woken without a fence.
#include "messaging/topic_state.hpp"
#include "support/checked_message.hpp"
#include "support/harness.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::checked_message;
using shmbus::test::Child;
using shmbus::test::intact;
using shmbus::test::mix;
using shmbus::test::ScopedSegment;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Messages per publisher in the stress tests: fewer under a sanitizer, which slows every atomic.
constexpr std::uint32_t kStressMessages = kSanitized ? 4000 : 20000;

void require(bool condition, const std::string& what) {
    if (!condition)
        throw std::runtime_error(what);
}

// Words in MAP_SHARED memory that children write and the parent reads.
class SharedWords {
public:
    explicit SharedWords(std::size_t count)
        : m_count(count), m_words(static_cast<std::atomic<std::uint64_t>*>(
                              mmap(nullptr, count * sizeof(std::uint64_t), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {}
    ~SharedWords() { munmap(m_words, m_count * sizeof(std::uint64_t)); }
    SharedWords(const SharedWords&) = delete;
    SharedWords& operator=(const SharedWords&) = delete;
    std::atomic<std::uint64_t>& operator[](std::size_t i) { return m_words[i]; }

private:
    std::size_t m_count;
    std::atomic<std::uint64_t>* m_words;
};

TopicOptions options(SlowSubscriber policy, std::size_t capacity, std::size_t max_message = 256,
                     std::size_t history = 0) {
    return TopicOptions{.capacity = capacity,
                        .max_message_size = max_message,
                        .history = history,
                        .slow_subscriber = policy};
}

} // namespace

TEST(TopicMultiprocess, a_late_subscriber_process_gets_history_then_everything_new) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::block, 8, 64, 3));
    Semaphore joined(*segment, "joined", 0);
    for (int i = 0; i < 10; ++i)
        topic.publish(i);
    const std::string name = segment.name();
    Child child([name] {
        Segment mine = Segment::open(name);
        auto sub = Topic<int>::open(mine, "t").subscribe();
        Semaphore(mine, "joined", 0).release();
        for (int expected : {7, 8, 9, 10, 11, 12, 13, 14})
            require(sub.recv_for(20s) == expected, "wrong message");
    });
    ASSERT_TRUE(joined.acquire_for(20s));
    for (int i = 10; i < 15; ++i)
        topic.publish(i);
    EXPECT_EQ(child.wait(), 0);
}

TEST(TopicMultiprocess, overwrite_tells_a_slow_subscriber_process_how_many_it_lost) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::overwrite, 8));
    Semaphore joined(*segment, "joined", 0);
    Semaphore published(*segment, "published", 0);
    const std::string name = segment.name();
    Child child([name] {
        Segment mine = Segment::open(name);
        auto sub = Topic<int>::open(mine, "t").subscribe();
        Semaphore(mine, "joined", 0).release();
        require(Semaphore(mine, "published", 0).acquire_for(20s), "never published");
        try {
            (void)sub.recv();
            throw std::runtime_error("no Lagged");
        } catch (const Lagged& lagged) {
            require(lagged.missed() == 92, "missed " + std::to_string(lagged.missed()));
        }
        for (int expected = 92; expected < 100; ++expected)
            require(sub.recv_for(20s) == expected, "wrong message after the lag");
        require(sub.dropped() == 92, "dropped count");
    });
    ASSERT_TRUE(joined.acquire_for(20s));
    for (int i = 0; i < 100; ++i)
        ASSERT_TRUE(topic.try_publish(i)); // overwrite never waits
    published.release();
    EXPECT_EQ(child.wait(), 0);
}

TEST(TopicMultiprocess, a_subscriber_killed_under_block_releases_the_publisher) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::block, 4));
    Semaphore joined(*segment, "joined", 0);
    const std::string name = segment.name();
    Child sleeper([name] {
        Segment mine = Segment::open(name);
        auto sub = Topic<int>::open(mine, "t").subscribe();
        Semaphore(mine, "joined", 0).release();
        pause(); // never reads
    });
    ASSERT_TRUE(joined.acquire_for(20s));
    for (int i = 0; i < 4; ++i)
        topic.publish(i);
    EXPECT_FALSE(topic.try_publish(4)); // the sleeper has not read slot 0
    sleeper.kill(SIGKILL);
    EXPECT_EQ(sleeper.wait(), -SIGKILL);
    EXPECT_NO_THROW(topic.publish_for(4, 20s)); // its cursor is released within ~50 ms
}

// A dead publisher's claim of position 0 under block: the slot marked writing (a subscriber
// joined while it claimed) or left as it was (unmarked claims are the common case).
class DeadClaimTest : public ::testing::TestWithParam<bool> {};

TEST_P(DeadClaimTest, a_publisher_killed_while_writing_leaves_no_message_visible) {
    const bool marked = GetParam();
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::block, 8));
    auto sub = topic.subscribe();
    Semaphore leased(*segment, "leased", 0);
    const std::string name = segment.name();
    // The child takes a publisher lease and dies without giving it back.
    Child dead([name] {
        Segment mine = Segment::open(name);
        auto publisher = Topic<int>::open(mine, "t").publisher();
        Semaphore(mine, "leased", 0).release();
        pause();
    });
    ASSERT_TRUE(leased.acquire_for(20s));
    dead.kill(SIGKILL);
    ASSERT_EQ(dead.wait(), -SIGKILL);
    // Forge what it would leave had it died inside a publish of position 0: its lease claims 0,
    // the slot holds half a payload (marked as being written or not), next has moved on.
    const detail::ObjectRef ref = detail::attach_object(
        *segment, "t", {ObjectKind::topic, 0, alignof(detail::TopicState), detail::type_tag<int>()},
        detail::OpenMode::open, [](void*) {});
    auto& state = ref.state<detail::TopicState>();
    const detail::TopicLayout layout(state);
    std::uint32_t lease = 0;
    while (layout.publisher(lease).owner.load() == detail::kNoOwner)
        ++lease;
    layout.publisher(lease).claiming.store(0);
    layout.slot(0).size.store(sizeof(int));
    std::memset(detail::TopicLayout::payload(layout.slot(0)), 0x5a, 2);
    if (marked)
        layout.slot(0).sequence.store(detail::slot_sequence(0, detail::kSlotWriting));
    state.next.store(1);
    topic.publish(42);
    EXPECT_EQ(sub.recv_for(20s), 42); // slot 0 was aborted by the parked subscriber's probe
    EXPECT_EQ(layout.slot(0).sequence.load(), detail::slot_sequence(0, detail::kSlotAborted));
}

INSTANTIATE_TEST_SUITE_P(TopicMultiprocess, DeadClaimTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? "marked_writing" : "unmarked";
                         });

TEST(TopicMultiprocess, publishers_killed_inside_large_publishes_never_tear_a_message) {
    ScopedSegment segment(std::size_t{64} << 20);
    constexpr std::size_t kSize = std::size_t{1} << 20;
    auto topic = Topic<std::string>::create(*segment, "t",
                                            options(SlowSubscriber::overwrite, 4, kSize + 64));
    auto sub = topic.subscribe();
    std::uint64_t intact_messages = 0;
    for (std::uint32_t round = 0; round < 4; ++round) {
        Child publisher([&topic, round] {
            Topic<std::string> mine(topic);
            for (std::uint32_t seq = 0;; ++seq)
                mine.publish(checked_message(round, seq, kSize, mix(seq)));
        });
        const std::uint64_t before = topic.messages_in();
        ASSERT_TRUE(test::eventually([&] { return topic.messages_in() >= before + 3; }));
        std::this_thread::sleep_for(std::chrono::microseconds(300 * round));
        publisher.kill(SIGKILL);
        ASSERT_EQ(publisher.wait(), -SIGKILL);
        for (;;) {
            try {
                auto message = sub.try_recv();
                if (!message)
                    break;
                std::uint32_t producer = 0;
                std::uint32_t seq = 0;
                ASSERT_TRUE(intact(*message, producer, seq)) << "torn message, round " << round;
                ++intact_messages;
            } catch (const Lagged&) {
            }
        }
    }
    // A publish after the kills reaches the subscriber: no dead claim blocks it for good.
    topic.publish(checked_message(9, 0, 64, 1));
    std::string last;
    for (int tries = 0; tries < 10 && last.size() != 64; ++tries) {
        try {
            last = sub.recv_for(20s);
        } catch (const Lagged&) {
        }
    }
    EXPECT_EQ(last.size(), 64u);
    EXPECT_GT(intact_messages, 0u);
}

// Two publisher processes, three subscriber processes, `block`: every subscriber receives every
// message intact, each publisher's in order, and all subscribers see one and the same order.
TEST(TopicMultiprocess, stress_several_publishers_and_subscribers_checksummed_in_one_order) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr int kPublishers = 2;
    constexpr int kSubscribers = 3;
    constexpr std::uint32_t kPerPublisher = kStressMessages;
    auto topic = Topic<std::string>::create(*segment, "t", options(SlowSubscriber::block, 64, 512));
    Semaphore joined(*segment, "joined", 0);
    SharedWords results(2 * kSubscribers); // per subscriber: errors, order hash
    const std::string name = segment.name();
    std::vector<Child> subscribers;
    for (int s = 0; s < kSubscribers; ++s)
        subscribers.emplace_back([&, s] {
            Segment mine = Segment::open(name);
            auto sub = Topic<std::string>::open(mine, "t").subscribe();
            Semaphore(mine, "joined", 0).release();
            std::uint32_t next[kPublishers] = {};
            std::uint64_t errors = 0;
            std::uint64_t order = 0;
            for (std::uint32_t n = 0; n < kPublishers * kPerPublisher; ++n) {
                const std::string message = sub.recv_for(60s);
                std::uint32_t producer = 0;
                std::uint32_t seq = 0;
                if (!intact(message, producer, seq) || producer >= kPublishers ||
                    seq != next[producer]++)
                    ++errors;
                order = mix(order ^ (std::uint64_t{producer} << 32 | seq));
            }
            results[2 * s].store(errors);
            results[2 * s + 1].store(order);
        });
    for (int s = 0; s < kSubscribers; ++s)
        ASSERT_TRUE(joined.acquire_for(20s));
    std::vector<Child> publishers;
    for (int p = 0; p < kPublishers; ++p)
        publishers.emplace_back([name, p] {
            Segment mine = Segment::open(name);
            auto pub = Topic<std::string>::open(mine, "t").publisher();
            for (std::uint32_t seq = 0; seq < kPerPublisher; ++seq)
                pub.publish(checked_message(p, seq, 16 + mix(seq + p) % 480, mix(seq)));
        });
    for (Child& child : publishers)
        EXPECT_EQ(child.wait(std::chrono::seconds(120)), 0);
    for (Child& child : subscribers)
        EXPECT_EQ(child.wait(std::chrono::seconds(120)), 0);
    for (int s = 0; s < kSubscribers; ++s) {
        EXPECT_EQ(results[2 * s].load(), 0u) << "subscriber " << s;
        EXPECT_EQ(results[2 * s + 1].load(), results[1].load()) << "subscriber " << s;
    }
}

namespace {

// The bytes [begin, end) of the topic `name` in this process's mapping of `segment`.
std::pair<const std::byte*, const std::byte*>
topic_bytes(const Segment& segment, std::string_view name, std::uint64_t type_tag) {
    const detail::ObjectRef ref = detail::attach_object(
        segment, name, {ObjectKind::topic, 0, alignof(detail::TopicState), type_tag},
        detail::OpenMode::open, [](void*) {});
    const auto* begin = &ref.state<std::byte>();
    return {begin, begin + ref.size()};
}

} // namespace

TEST(TopicLoanMultiprocess, a_one_mib_loan_reaches_four_subscribers_read_in_place) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr std::size_t kSize = std::size_t{1} << 20;
    using Bytes = std::vector<std::byte>;
    auto topic = Topic<Bytes>::create(*segment, "frames",
                                      TopicOptions{.capacity = 4, .max_message_size = kSize});
    Semaphore joined(*segment, "joined", 0);
    const std::string name = segment.name();
    std::vector<Child> subscribers;
    for (int s = 0; s < 4; ++s)
        subscribers.emplace_back([name] {
            Segment mine = Segment::open(name);
            auto sub = Topic<Bytes>::open(mine, "frames").subscribe();
            Semaphore(mine, "joined", 0).release();
            auto frame = sub.borrow_for(60s);
            const auto [begin, end] = topic_bytes(mine, "frames", detail::type_tag<Bytes>());
            require(frame.bytes().data() >= begin && frame.bytes().data() + kSize <= end,
                    "the borrowed message is not in the segment");
            require(reinterpret_cast<std::uintptr_t>(frame.bytes().data()) % 64 == 0,
                    "payload not 64-byte aligned");
            require(frame.bytes().size() == kSize, "wrong size");
            std::uint64_t sum = 0;
            for (std::size_t i = 0; i < kSize; i += 4096)
                sum += std::to_integer<std::uint64_t>(frame.bytes()[i]);
            require(sum == (kSize / 4096) * 0xa5, "wrong content");
            require(frame.intact(), "overwritten");
            frame.release();
        });
    for (int s = 0; s < 4; ++s)
        ASSERT_TRUE(joined.acquire_for(20s));
    auto loan = topic.loan(kSize);
    std::memset(loan.bytes().data(), 0xa5, kSize);
    loan.publish();
    for (Child& child : subscribers)
        EXPECT_EQ(child.wait(), 0);
}

TEST(TopicLoanMultiprocess, a_publisher_killed_inside_a_loan_is_skipped) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::block, 8));
    auto sub = topic.subscribe();
    Semaphore loaned(*segment, "loaned", 0);
    const std::string name = segment.name();
    Child dead([name] {
        Segment mine = Segment::open(name);
        auto publisher = Topic<int>::open(mine, "t").publisher();
        auto loan = publisher.loan();
        *loan = 13; // written, never published
        Semaphore(mine, "loaned", 0).release();
        pause();
    });
    ASSERT_TRUE(loaned.acquire_for(20s));
    topic.publish(14); // queued behind the loan
    EXPECT_FALSE(sub.try_recv().has_value());
    dead.kill(SIGKILL);
    ASSERT_EQ(dead.wait(), -SIGKILL);
    EXPECT_EQ(sub.recv_for(20s), 14); // the dead loan is aborted by the parked subscriber's probe
}

TEST(TopicLoanMultiprocess, a_subscriber_killed_holding_a_borrow_releases_the_publisher) {
    ScopedSegment segment;
    auto topic = Topic<int>::create(*segment, "t", options(SlowSubscriber::block, 2));
    Semaphore borrowed(*segment, "borrowed", 0);
    const std::string name = segment.name();
    Child holder([name] {
        Segment mine = Segment::open(name);
        auto sub = Topic<int>::open(mine, "t").subscribe();
        Semaphore(mine, "borrowed", 0).release();
        auto message = sub.borrow_for(20s);
        Semaphore(mine, "borrowed", 0).release();
        pause();
    });
    ASSERT_TRUE(borrowed.acquire_for(20s));
    topic.publish(1);
    topic.publish(2);
    ASSERT_TRUE(borrowed.acquire_for(20s));
    EXPECT_FALSE(topic.try_publish(3)); // slot of 1 is borrowed
    holder.kill(SIGKILL);
    ASSERT_EQ(holder.wait(), -SIGKILL);
    EXPECT_NO_THROW(topic.publish_for(3, 20s));
}

// Overwrite with more publishers than a small ring holds: subscribers fall behind on purpose.
// Every message a subscriber gets is intact and in its publisher's order, and what it got plus
// what it was told it lost is exactly what was published.
TEST(TopicMultiprocess, overwrite_stress_accounts_for_every_message) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr int kPublishers = 3;
    constexpr int kSubscribers = 2;
    constexpr std::uint32_t kPerPublisher = kStressMessages;
    constexpr std::uint64_t kTotal = std::uint64_t{kPublishers} * kPerPublisher;
    auto topic =
        Topic<std::string>::create(*segment, "t", options(SlowSubscriber::overwrite, 16, 256));
    Semaphore joined(*segment, "joined", 0);
    SharedWords results(3 * kSubscribers); // per subscriber: errors, received, dropped
    const std::string name = segment.name();
    std::vector<Child> subscribers;
    for (int s = 0; s < kSubscribers; ++s)
        subscribers.emplace_back([&, s] {
            Segment mine = Segment::open(name);
            auto sub = Topic<std::string>::open(mine, "t").subscribe();
            Semaphore(mine, "joined", 0).release();
            std::int64_t last[kPublishers] = {-1, -1, -1};
            std::uint64_t errors = 0;
            std::uint64_t received = 0;
            while (received + sub.dropped() < kTotal) {
                try {
                    const std::string message = sub.recv_for(60s);
                    std::uint32_t producer = 0;
                    std::uint32_t seq = 0;
                    if (!intact(message, producer, seq) || producer >= kPublishers ||
                        std::int64_t{seq} <= last[producer])
                        ++errors;
                    else
                        last[producer] = seq;
                    ++received;
                } catch (const Lagged&) {
                }
            }
            results[3 * s].store(errors);
            results[3 * s + 1].store(received);
            results[3 * s + 2].store(sub.dropped());
        });
    for (int s = 0; s < kSubscribers; ++s)
        ASSERT_TRUE(joined.acquire_for(20s));
    std::vector<Child> publishers;
    for (int p = 0; p < kPublishers; ++p)
        publishers.emplace_back([name, p] {
            Segment mine = Segment::open(name);
            auto pub = Topic<std::string>::open(mine, "t").publisher();
            for (std::uint32_t seq = 0; seq < kPerPublisher; ++seq)
                pub.publish(checked_message(p, seq, 16 + mix(seq + p) % 200, mix(seq)));
        });
    for (Child& child : publishers)
        EXPECT_EQ(child.wait(std::chrono::seconds(120)), 0);
    for (Child& child : subscribers)
        EXPECT_EQ(child.wait(std::chrono::seconds(120)), 0);
    for (int s = 0; s < kSubscribers; ++s) {
        EXPECT_EQ(results[3 * s].load(), 0u) << "subscriber " << s;
        EXPECT_EQ(results[3 * s + 1].load() + results[3 * s + 2].load(), kTotal)
            << "subscriber " << s;
    }
}

// Every wait parks (hybrid without a spin): each message crosses a fence-free wake-up, in both
// directions (publishers waiting for room on a ring of 2, subscribers for messages). A lost
// wake-up would leave a side asleep until its 20 s limit.
TEST(TopicMultiprocess, parked_sides_are_woken_without_a_fence_per_message) {
    ScopedSegment segment;
    const WaitOptions parking{.policy = WaitPolicy::hybrid, .spin_for = 0ms};
    TopicOptions tight = options(SlowSubscriber::block, 2);
    tight.wait = parking;
    auto pings = Topic<std::uint32_t>::create(*segment, "pings", tight);
    auto pongs = Topic<std::uint32_t>::create(*segment, "pongs", tight);
    auto pings_in = pings.subscribe();
    auto pongs_in = pongs.subscribe();
    constexpr std::uint32_t kTrips = kSanitized ? 300 : 2000;
    Child echo([&] {
        auto answers = pongs.publisher();
        for (std::uint32_t i = 0; i < kTrips; ++i) {
            if (i % 8 == 4)
                std::this_thread::sleep_for(100us); // so that the publisher parks
            answers.publish_for(pings_in.recv_for(20s), 20s);
        }
    });
    auto out = pings.publisher();
    for (std::uint32_t i = 0; i < kTrips; ++i) {
        if (i % 8 == 0)
            std::this_thread::sleep_for(100us); // so that the echo parks
        out.publish_for(i, 20s);
        ASSERT_EQ(pongs_in.recv_for(20s), i);
    }
    EXPECT_EQ(echo.wait(), 0);
}

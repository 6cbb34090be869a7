// SPDX-License-Identifier: Apache-2.0
// Queue loans and borrows across forked processes: a large message loaned in one process is
// read in place in another (its address inside the segment's mapping), a producer killed
// (SIGKILL) inside a loan, also one that began with padding at the ring's end, is skipped, a
// consumer killed holding a borrow frees the room, and producers loaning while consumers
// borrow deliver every message once, in each producer's order.
#include "support/harness.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <shmbus/errors.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::mapped_from;
using shmbus::test::ScopedSegment;

namespace {

void require(bool condition, const std::string& what) {
    if (!condition)
        throw std::runtime_error(what);
}

struct Tagged {
    std::uint32_t producer;
    std::uint32_t serial;
    std::array<std::uint32_t, 30> body; // 128 bytes: two slots
};

} // namespace

TEST(QueueLoanMultiprocess, a_one_mib_loan_is_read_in_place_by_another_process) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr std::size_t kSize = std::size_t{1} << 20;
    using Bytes = std::array<std::byte, kSize>;
    auto q = Queue<Bytes>::create(*segment, "frames", QueueOptions{.max_message_size = kSize});
    const std::string name = segment.name();
    Child reader([name] {
        Segment mine = Segment::open(name);
        auto frames = Queue<Bytes>::open(mine, "frames");
        auto frame = frames.borrow_for(60s);
        require(frame.in_place(), "not read in place");
        require(mapped_from(frame.bytes().data(), name), "the message is not in the segment");
        require(reinterpret_cast<std::uintptr_t>(frame.bytes().data()) % 64 == 0, "unaligned");
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < kSize; i += 4096)
            sum += std::to_integer<std::uint64_t>(frame.bytes()[i]);
        require(sum == (kSize / 4096) * 0xa5, "wrong content");
    });
    auto loan = q.loan(kSize);
    ASSERT_TRUE(mapped_from(loan.bytes().data(), segment.name()));
    std::memset(loan.bytes().data(), 0xa5, kSize);
    loan.publish();
    EXPECT_EQ(reader.wait(), 0);
}

TEST(QueueLoanMultiprocess, a_producer_killed_inside_a_loan_is_skipped) {
    for (const std::uint64_t before : {0, 3}) { // 3 x 17 slots: the loan pads the ring's end
        ScopedSegment segment;
        using Frame = std::array<std::byte, 1050>;
        auto q = Queue<Frame>::create(
            *segment, "q", QueueOptions{.max_message_size = 2048, .capacity_bytes = 4096});
        for (std::uint64_t i = 0; i < before; ++i) {
            q.put(Frame{});
            (void)q.get();
        }
        Semaphore loaned(*segment, "loaned", 0);
        const std::string name = segment.name();
        Child dead([name] {
            Segment mine = Segment::open(name);
            auto frames = Queue<Frame>::open(mine, "q");
            auto loan = frames.loan(); // written, never published
            Semaphore(mine, "loaned", 0).release();
            pause();
        });
        ASSERT_TRUE(loaned.acquire_for(20s));
        Frame marked{};
        marked[0] = std::byte{14};
        q.put(marked); // queued behind the loan
        EXPECT_FALSE(q.try_get().has_value());
        dead.kill(SIGKILL);
        ASSERT_EQ(dead.wait(), -SIGKILL);
        EXPECT_EQ(q.get_for(20s)[0], std::byte{14}) << before; // the parked getter's probe
        EXPECT_FALSE(q.try_get().has_value());
    }
}

TEST(QueueLoanMultiprocess, a_consumer_killed_holding_a_borrow_frees_the_room) {
    ScopedSegment segment;
    auto q = Queue<std::uint64_t>::create(*segment, "q", QueueOptions{.maxsize = 1});
    Semaphore borrowed(*segment, "borrowed", 0);
    const std::string name = segment.name();
    q.put(1);
    Child holder([name] {
        Segment mine = Segment::open(name);
        auto numbers = Queue<std::uint64_t>::open(mine, "q");
        auto message = numbers.borrow_for(20s);
        require(message.get() == 1, "wrong message");
        Semaphore(mine, "borrowed", 0).release();
        pause();
    });
    ASSERT_TRUE(borrowed.acquire_for(20s));
    EXPECT_FALSE(q.try_put(2)); // maxsize 1: the borrowed message still holds its token
    holder.kill(SIGKILL);
    ASSERT_EQ(holder.wait(), -SIGKILL);
    EXPECT_NO_THROW(q.put_for(2, 20s)); // a parked putter's probe releases the dead borrow
    EXPECT_EQ(q.get_for(1s), 2u);
}

TEST(QueueLoanMultiprocess, producers_loaning_and_consumers_borrowing_deliver_each_once_in_order) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr std::uint32_t kProducers = 3;
    constexpr std::uint32_t kConsumers = 2;
    constexpr std::uint32_t kMessages = 3000;
    auto q = Queue<Tagged>::create(*segment, "q",
                                   QueueOptions{.max_message_size = 256, .capacity_bytes = 8192});
    auto results = Queue<std::vector<std::uint32_t>>::create(*segment, "results");
    const std::string name = segment.name();
    std::vector<Child> children;
    for (std::uint32_t c = 0; c < kConsumers; ++c)
        children.emplace_back([name] {
            Segment mine = Segment::open(name);
            auto in = Queue<Tagged>::open(mine, "q");
            std::vector<std::uint32_t> last(kProducers, 0); // serials start at 1
            std::vector<std::uint32_t> counts(kProducers, 0);
            for (;;) {
                auto message = in.borrow_for(60s);
                const Tagged& tagged = message.get();
                if (tagged.producer == kProducers)
                    break; // end marker
                require(tagged.serial > last[tagged.producer], "out of order");
                for (std::uint32_t word : tagged.body)
                    require(word == tagged.serial * 7 + tagged.producer, "torn message");
                last[tagged.producer] = tagged.serial;
                ++counts[tagged.producer];
            }
            Queue<std::vector<std::uint32_t>>::open(mine, "results").put(counts);
        });
    for (std::uint32_t p = 0; p < kProducers; ++p)
        children.emplace_back([name, p] {
            Segment mine = Segment::open(name);
            auto out = Queue<Tagged>::open(mine, "q");
            for (std::uint32_t serial = 1; serial <= kMessages; ++serial) {
                auto loan = out.loan_for(60s);
                loan->producer = p;
                loan->serial = serial;
                loan->body.fill(serial * 7 + p);
                loan.publish();
            }
        });
    for (std::uint32_t p = 0; p < kProducers; ++p)
        EXPECT_EQ(children[kConsumers + p].wait(), 0);
    for (std::uint32_t c = 0; c < kConsumers; ++c)
        q.put(Tagged{kProducers, 0, {}});
    std::vector<std::uint32_t> total(kProducers, 0);
    for (std::uint32_t c = 0; c < kConsumers; ++c) {
        EXPECT_EQ(children[c].wait(), 0);
        const auto counts = results.get_for(20s);
        for (std::uint32_t p = 0; p < kProducers; ++p)
            total[p] += counts[p];
    }
    for (std::uint32_t p = 0; p < kProducers; ++p)
        EXPECT_EQ(total[p], kMessages) << p;
}

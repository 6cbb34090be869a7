// SPDX-License-Identifier: Apache-2.0
// The biased sides of an MpmcRing (ring/side_bias.hpp): the first thread takes a side, a
// second one revokes it (waiting for the owner's window), a dead owner's side is taken over,
// and a revocation a dead thread left unfinished is finished. Queue rings are biased unless
// made for the block policy.
#include "messaging/queue_state.hpp"
#include "os/membarrier.hpp"
#include "ring/mpmc_ring.hpp"
#include "support/harness.hpp"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <shmbus/detail/object.hpp>
#include <shmbus/detail/queue_core.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/queue.hpp>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace shmbus::detail;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::uint64_t kSlots = 64;

std::vector<std::byte> message(unsigned char fill) {
    return std::vector<std::byte>(40, std::byte{fill});
}

unsigned char first_byte(const ByteBuffer& buffer) {
    return static_cast<unsigned char>(buffer.data()[0]);
}

/// Gets every message left and returns the fill byte of each, in order.
std::vector<int> drain(MpmcRing& ring) {
    std::vector<int> fills;
    ByteBuffer out;
    while (ring.try_get(out) == RingStatus::ok)
        fills.push_back(first_byte(out));
    return fills;
}

struct BiasedRing {
    BiasedRing()
        : memory(attach_object(
              *segment, "",
              ObjectSpec{ObjectKind::queue, MpmcRing::bytes_for(kSlots), kCacheLine, 0},
              OpenMode::create, [](void* at) { MpmcRing::init(at, kSlots, true); })),
          ring(&memory.state<char>(), MpmcRing::bytes_for(kSlots)) {}

    SideBias& put_side() { return memory.state<MpmcRingHeader>().put_bias; }
    SideBias& get_side() { return memory.state<MpmcRingHeader>().get_bias; }

    ScopedSegment segment;
    ObjectRef memory;
    MpmcRing ring;
};

class RingBias : public ::testing::Test {
protected:
    void SetUp() override {
        if (!heavy_barrier_ready())
            GTEST_SKIP() << "membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) is refused here: rings "
                            "are never biased";
    }
};

TEST_F(RingBias, the_first_thread_to_put_and_to_get_takes_each_side) {
    BiasedRing r;
    EXPECT_EQ(r.put_side().owner.load(), kNoOwner);
    ASSERT_EQ(r.ring.try_put(message(1)), RingStatus::ok);
    ByteBuffer out;
    ASSERT_EQ(r.ring.try_get(out), RingStatus::ok);
    EXPECT_EQ(first_byte(out), 1);
    for (SideBias* side : {&r.put_side(), &r.get_side()}) {
        EXPECT_EQ(side->owner.load(), this_thread_owner());
        EXPECT_EQ(side->mode.load(), BiasMode::open);
        EXPECT_EQ(side->busy.load(), 0u); // the window closed with the put (the get)
    }
    EXPECT_TRUE(r.ring.getter_needs_barrier());
}

TEST_F(RingBias, a_second_producer_revokes_the_put_side_and_every_frame_arrives_in_order) {
    BiasedRing r;
    for (unsigned char i = 0; i < 5; ++i)
        ASSERT_EQ(r.ring.try_put(message(i)), RingStatus::ok);
    std::thread other([&] {
        for (unsigned char i = 100; i < 105; ++i)
            ASSERT_EQ(r.ring.try_put(message(i)), RingStatus::ok);
    });
    other.join();
    for (unsigned char i = 5; i < 10; ++i) // the former owner goes on, with CAS
        ASSERT_EQ(r.ring.try_put(message(i)), RingStatus::ok);
    EXPECT_EQ(r.put_side().mode.load(), BiasMode::shared);
    EXPECT_FALSE(r.ring.getter_needs_barrier());
    std::vector<int> mine;
    std::vector<int> theirs;
    ByteBuffer out;
    while (r.ring.try_get(out) == RingStatus::ok)
        (first_byte(out) >= 100 ? theirs : mine).push_back(first_byte(out));
    EXPECT_EQ(mine, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(theirs, (std::vector<int>{100, 101, 102, 103, 104}));
    EXPECT_EQ(r.get_side().mode.load(), BiasMode::open); // one consumer all along
}

// The owner's window is forced open (busy = 1, as between its store of busy and its store of
// tail): the revoker must not touch tail until it closes.
TEST_F(RingBias, a_revoker_waits_until_the_owners_window_closes) {
    BiasedRing r;
    ASSERT_EQ(r.ring.try_put(message(1)), RingStatus::ok);
    r.put_side().busy.store(1);
    std::atomic<bool> done{false};
    std::thread revoker([&] {
        EXPECT_EQ(r.ring.try_put(message(2)), RingStatus::ok);
        done.store(true);
    });
    // Until the revoker is inside its wait (bounded: a loaded box may start the thread late),
    // then a while longer: it must still be waiting.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (r.put_side().mode.load() != BiasMode::revoking &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(1ms);
    const BiasMode mode_while_open = r.put_side().mode.load();
    std::this_thread::sleep_for(20ms);
    const bool done_while_open = done.load();
    r.put_side().busy.store(0);
    revoker.join();
    EXPECT_EQ(mode_while_open, BiasMode::revoking);
    EXPECT_FALSE(done_while_open) << "a put moved tail while the owner's window was open";
    EXPECT_TRUE(done.load());
    EXPECT_EQ(r.put_side().mode.load(), BiasMode::shared);
    EXPECT_EQ(drain(r.ring), (std::vector<int>{1, 2}));
}

TEST_F(RingBias, a_side_whose_owner_died_is_taken_over_not_revoked) {
    BiasedRing r;
    Child child([&] {
        ASSERT_EQ(r.ring.try_put(message(1)), RingStatus::ok);
        ASSERT_EQ(r.put_side().owner.load(), this_thread_owner());
    });
    ASSERT_EQ(child.wait(), 0);
    ASSERT_EQ(r.ring.try_put(message(2)), RingStatus::ok);
    EXPECT_EQ(r.put_side().owner.load(), this_thread_owner());
    EXPECT_EQ(r.put_side().mode.load(), BiasMode::open);
    EXPECT_EQ(drain(r.ring), (std::vector<int>{1, 2}));
}

// An owner killed inside its window while another thread was revoking: the next thread
// finishes the revocation without waiting for the dead owner's window.
TEST_F(RingBias, a_revocation_left_by_the_dead_is_finished_by_the_next_producer) {
    BiasedRing r;
    Child child([&] {
        ASSERT_EQ(r.ring.try_put(message(1)), RingStatus::ok);
        r.put_side().busy.store(1);
        r.put_side().mode.store(BiasMode::revoking);
    });
    ASSERT_EQ(child.wait(), 0);
    ASSERT_EQ(r.ring.try_put(message(2)), RingStatus::ok);
    EXPECT_EQ(r.put_side().mode.load(), BiasMode::shared);
    EXPECT_EQ(drain(r.ring), (std::vector<int>{1, 2}));
}

// A header forged to say "revoking, and the owner (this very thread) inside its window": no
// window of ours can be open while we put, so the put goes on instead of waiting 10 s.
TEST_F(RingBias, a_window_forged_in_the_callers_own_name_is_not_waited_for) {
    BiasedRing r;
    ASSERT_EQ(r.ring.try_put(message(1)), RingStatus::ok);
    r.put_side().busy.store(1);
    r.put_side().mode.store(BiasMode::revoking);
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(r.ring.try_put(message(2)), RingStatus::ok);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_EQ(r.put_side().mode.load(), BiasMode::shared);
}

TEST_F(RingBias, a_consumer_in_another_process_revokes_the_get_side) {
    BiasedRing r;
    for (unsigned char i = 0; i < 4; ++i)
        ASSERT_EQ(r.ring.try_put(message(i)), RingStatus::ok);
    ByteBuffer out;
    ASSERT_EQ(r.ring.try_get(out), RingStatus::ok); // this thread takes the get side
    Child child([&] {
        ByteBuffer theirs;
        ASSERT_EQ(r.ring.try_get(theirs), RingStatus::ok);
        EXPECT_EQ(first_byte(theirs), 1);
    });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_EQ(r.get_side().mode.load(), BiasMode::shared);
    EXPECT_FALSE(r.ring.putter_needs_barrier());
    ASSERT_EQ(r.ring.try_get(out), RingStatus::ok);
    EXPECT_EQ(first_byte(out), 2);
}

TEST_F(RingBias, a_queue_is_biased_unless_made_for_the_block_policy) {
    ScopedSegment segment;
    for (const WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block}) {
        QueueCore core(*segment, "",
                       QueueOptions{.max_message_size = 64, .wait = {.policy = policy}},
                       OpenMode::create, ObjectKind::queue, 0);
        auto& state = core.object().state<QueueState>();
        const auto& header = *reinterpret_cast<const MpmcRingHeader*>(
            reinterpret_cast<const char*>(&state) + state.ring_offset);
        const BiasMode expected = policy == WaitPolicy::block ? BiasMode::off : BiasMode::open;
        EXPECT_EQ(header.put_bias.mode.load(), expected);
        EXPECT_EQ(header.get_bias.mode.load(), expected);
    }
}

} // namespace

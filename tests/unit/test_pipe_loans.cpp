// SPDX-License-Identifier: Apache-2.0
// Pipe loans and borrows in one process: a loaned message written in place arrives whole, its
// payload 64-byte aligned and contiguous (after a padding frame when needed), a dropped loan
// sends nothing, a borrowed message is read in place (or gathered when a plain send wrapped
// it), the one-loan and one-borrow rules, and the limits.
#include "support/harness.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <string>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

struct Sample {
    std::uint64_t serial;
    std::array<std::uint8_t, 300> data;
};

Sample sample_of(std::uint64_t serial) {
    Sample sample{serial, {}};
    for (std::size_t i = 0; i < sample.data.size(); ++i)
        sample.data[i] = static_cast<std::uint8_t>(serial * 13 + i);
    return sample;
}

bool same(const Sample& a, const Sample& b) {
    return a.serial == b.serial && a.data == b.data;
}

std::pair<Connection, Connection> small_pipe(Segment& segment) {
    return Pipe(segment, false, PipeOptions{.capacity_bytes = 1024}); // reader, writer
}

} // namespace

TEST(PipeLoan, loaned_values_arrive_whole_aligned_and_contiguous_round_the_ring) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    for (std::uint64_t serial = 0; serial < 50; ++serial) {
        auto loan = writer.loan<Sample>();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(loan.get()) % 64, 0u) << serial;
        EXPECT_EQ(loan->serial, 0u);
        *loan = sample_of(serial);
        EXPECT_FALSE(reader.try_poll()); // nothing sent until published
        loan.publish();
        auto got = reader.borrow_for(1s);
        EXPECT_TRUE(got.in_place()) << serial;
        EXPECT_TRUE(same(got.as<Sample>(), sample_of(serial))) << serial;
    }
}

TEST(PipeLoan, loans_and_plain_sends_interleave_in_order) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    for (std::uint64_t serial = 0; serial < 60; ++serial) {
        if (serial % 3 == 0) {
            writer.send(sample_of(serial));
        } else {
            auto loan = writer.loan(sizeof(Sample) + 50);
            const Sample sample = sample_of(serial);
            std::memcpy(loan.bytes().data(), &sample, sizeof sample);
            EXPECT_THROW(loan.publish(sizeof(Sample) + 51), UsageError);
            loan.publish(sizeof sample); // only what was written
        }
        if (serial % 2 == 0)
            EXPECT_TRUE(same(reader.recv_for<Sample>(1s), sample_of(serial))) << serial;
        else
            EXPECT_TRUE(same(reader.borrow_for(1s).decoded<Sample>(), sample_of(serial))) << serial;
    }
}

TEST(PipeLoan, a_dropped_loan_sends_nothing) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    {
        auto loan = writer.loan<Sample>();
        *loan = sample_of(1);
    }
    EXPECT_FALSE(reader.try_poll());
    writer.send(sample_of(2));
    EXPECT_TRUE(same(reader.recv_for<Sample>(1s), sample_of(2)));
}

TEST(PipeBorrow, a_message_a_send_wrapped_round_the_ring_s_end_is_gathered) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    bool saw_wrapped = false;
    for (std::uint64_t serial = 0; serial < 12; ++serial) {
        writer.send(sample_of(serial)); // 308 bytes and a 4-byte header: some wrap
        auto got = reader.borrow_for(1s);
        saw_wrapped = saw_wrapped || !got.in_place();
        EXPECT_TRUE(same(got.decoded<Sample>(), sample_of(serial))) << serial;
    }
    EXPECT_TRUE(saw_wrapped);
}

TEST(PipeBorrow, a_borrow_frees_its_room_only_when_released) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    writer.send(std::array<std::uint8_t, 600>{});
    auto held = reader.borrow();
    EXPECT_FALSE(writer.try_send(std::array<std::uint8_t, 600>{})); // 1024-byte ring
    EXPECT_THROW((void)reader.try_recv<int>(), UsageError);
    EXPECT_THROW((void)reader.borrow_for(10ms), UsageError);
    held.release();
    EXPECT_TRUE(writer.try_send(std::array<std::uint8_t, 600>{}));
}

TEST(PipeLoan, one_loan_at_a_time_and_the_limits) {
    ScopedSegment segment;
    auto [reader, writer] = small_pipe(*segment);
    EXPECT_THROW((void)writer.loan(1024 / 2 - 127), MessageTooLarge); // half the ring less 128
    EXPECT_THROW((void)reader.loan(8), UsageError);                   // the receive-only end
    auto loan = writer.loan(64);
    EXPECT_THROW((void)writer.try_loan(8), UsageError);
    EXPECT_THROW(writer.send(1), UsageError);
    loan.publish();
    EXPECT_THROW(loan.publish(), UsageError);
    writer.send(std::array<std::uint8_t, 700>{});
    EXPECT_FALSE(writer.try_loan(150).has_value()); // it would wrap: no room until read
    EXPECT_THROW((void)writer.loan_for(150, 10ms), Timeout);
    EXPECT_EQ(reader.borrow().bytes().size(), 64u);
    EXPECT_THROW((void)reader.borrow().as<std::uint64_t>(), DecodeError); // 700 bytes
}

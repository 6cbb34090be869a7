// SPDX-License-Identifier: Apache-2.0
// Pipe loans and borrows across forked processes: a large message loaned in one process is
// read in place in another (its address inside the segment's mapping), and a writer mixing
// sends, published and dropped loans streams to a reader mixing recvs and borrows, in order.
#include "support/harness.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <stdexcept>
#include <string>
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

} // namespace

TEST(PipeLoanMultiprocess, a_large_loan_is_read_in_place_by_another_process) {
    ScopedSegment segment(std::size_t{16} << 20);
    constexpr std::size_t kSize = std::size_t{1} << 20;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = 4 * kSize});
    const std::string name = segment.name();
    Child child([&reader, name] {
        auto frame = reader.borrow_for(60s);
        require(frame.in_place(), "not read in place");
        require(mapped_from(frame.bytes().data(), name), "the message is not in the segment");
        require(reinterpret_cast<std::uintptr_t>(frame.bytes().data()) % 64 == 0, "unaligned");
        require(frame.bytes().size() == kSize, "wrong size");
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < kSize; i += 4096)
            sum += std::to_integer<std::uint64_t>(frame.bytes()[i]);
        require(sum == (kSize / 4096) * 0x5a, "wrong content");
    });
    auto loan = writer.loan(kSize);
    ASSERT_TRUE(mapped_from(loan.bytes().data(), segment.name()));
    std::memset(loan.bytes().data(), 0x5a, kSize);
    loan.publish();
    EXPECT_EQ(child.wait(), 0);
}

TEST(PipeLoanMultiprocess, sends_and_loans_stream_in_order_to_recvs_and_borrows) {
    ScopedSegment segment;
    constexpr std::uint32_t kMessages = 20000;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = 2048});
    Child child([&reader] {
        for (std::uint32_t serial = 0; serial < kMessages; ++serial) {
            if (serial % 7 == 3)
                continue; // the writer dropped this loan
            std::array<std::uint32_t, 16> words{};
            if (serial % 2 == 0) {
                words = reader.recv_for<std::array<std::uint32_t, 16>>(60s);
            } else {
                auto borrowed = reader.borrow_for(60s);
                words = borrowed.as<std::array<std::uint32_t, 16>>();
            }
            for (std::uint32_t word : words)
                require(word == serial, "message " + std::to_string(serial) + " out of order");
        }
    });
    for (std::uint32_t serial = 0; serial < kMessages; ++serial) {
        std::array<std::uint32_t, 16> words{};
        words.fill(serial);
        if (serial % 3 == 0 && serial % 7 != 3) {
            writer.send(words);
            continue;
        }
        auto loan = writer.loan<std::array<std::uint32_t, 16>>();
        *loan = words;
        if (serial % 7 != 3)
            loan.publish();
    }
    EXPECT_EQ(child.wait(), 0);
}

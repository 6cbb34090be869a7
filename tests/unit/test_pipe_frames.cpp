// SPDX-License-Identifier: Apache-2.0
// The Pipe's frames on its ring (core/messaging/pipe_state.hpp): 8-byte aligned, each led by a
// header word committed in band, whole or streamed. Messages of every length up to a few lines
// wrap the ring whole; a big message that does not fit at once streams and still arrives, or
// is borrowed, whole; a forged header word (unknown kind, a whole frame longer than the ring, a
// padding frame that runs past the written bytes) or a forged position off the 8-byte grid is
// CorruptSegment, never a read or write outside the ring.
#include "messaging/pipe_state.hpp"
#include "segment/mapping.hpp"
#include "support/harness.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/segment.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

std::vector<std::byte> pattern(std::size_t length, unsigned seed) {
    std::vector<std::byte> bytes(length);
    for (std::size_t i = 0; i < length; ++i)
        bytes[i] = static_cast<std::byte>(seed * 31 + i * 7);
    return bytes;
}

// The ring that end 0 of the named one-way pipe reads: its header, its data after it.
char* ring_of(const Segment& segment, const std::string& name) {
    for (const ObjectInfo& info : segment.objects()) {
        if (info.name != name)
            continue;
        char* state = detail::mapping_of(segment).base() + info.offset;
        const auto& pipe = *reinterpret_cast<const detail::PipeState*>(state);
        return state + pipe.channels[0].ring_offset;
    }
    throw std::runtime_error("no object " + name);
}

detail::SpscRingHeader& ring_header(const Segment& segment, const std::string& name) {
    return *reinterpret_cast<detail::SpscRingHeader*>(ring_of(segment, name));
}

// The header word `ahead` bytes past the read position of that ring.
std::uint64_t* next_header(const Segment& segment, const std::string& name,
                           std::uint64_t ahead = 0) {
    char* ring = ring_of(segment, name);
    const auto& header = *reinterpret_cast<const detail::SpscRingHeader*>(ring);
    const std::uint64_t read = header.read_pos.load() + ahead;
    return reinterpret_cast<std::uint64_t*>(ring + sizeof(detail::SpscRingHeader) +
                                            (read & (header.capacity - 1)));
}

} // namespace

TEST(PipeFrames, every_length_wraps_the_ring_and_arrives_whole) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false, PipeOptions{.capacity_bytes = 512});
    for (unsigned round = 0; round < 3; ++round)
        for (std::size_t length = 0; length <= 200; ++length) {
            const std::vector<std::byte> message = pattern(length, round);
            writer.send_bytes(message);
            ASSERT_EQ(reader.recv_bytes(), message) << "length " << length;
        }
    EXPECT_FALSE(reader.try_poll());
}

TEST(PipeFrames, a_big_message_that_does_not_fit_at_once_streams_and_is_borrowed_whole) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, "frames", false, PipeOptions{.capacity_bytes = 16384});
    const std::vector<std::byte> first = pattern(10000, 1);
    const std::vector<std::byte> second = pattern(9001, 2); // 3 KiB of it does not fit yet
    writer.send_bytes(first);
    std::thread sender([&] { writer.send_bytes(second); });
    const auto* word = std::bit_cast<const std::atomic<std::uint64_t>*>(
        next_header(*segment, "frames", detail::frame_bytes(first.size())));
    for (int i = 0; i < 10000 && word->load() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(detail::frame_kind(word->load()), detail::FrameKind::streamed);
    {
        auto borrowed = reader.borrow();
        EXPECT_TRUE(std::ranges::equal(borrowed.bytes(), first));
    } // the release makes room for the rest of the second
    {
        auto borrowed = reader.borrow();
        EXPECT_TRUE(std::ranges::equal(borrowed.bytes(), second));
    }
    sender.join();
    writer.send_bytes(first);
    EXPECT_EQ(reader.recv_bytes(), first);
}

TEST(PipeFrames, a_header_word_of_unknown_kind_is_corrupt_segment) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, "frames", false, PipeOptions{.capacity_bytes = 1024});
    writer.send_bytes(pattern(40, 3));
    *next_header(*segment, "frames") = detail::frame_header(static_cast<detail::FrameKind>(7), 40);
    EXPECT_THROW((void)reader.recv_bytes(), CorruptSegment);
}

TEST(PipeFrames, a_whole_frame_longer_than_the_ring_is_corrupt_segment) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, "frames", false,
                                 PipeOptions{.capacity_bytes = 1024, .max_message_size = 4096});
    writer.send_bytes(pattern(40, 4));
    *next_header(*segment, "frames") = detail::frame_header(detail::FrameKind::whole, 2000);
    EXPECT_THROW((void)reader.recv_bytes(), CorruptSegment);
    EXPECT_THROW((void)reader.borrow(), CorruptSegment);
}

TEST(PipeFrames, a_padding_frame_past_the_written_bytes_is_corrupt_segment) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, "frames", false, PipeOptions{.capacity_bytes = 1024});
    writer.send_bytes(pattern(40, 5));
    *next_header(*segment, "frames") = detail::frame_header(detail::FrameKind::padding, 512);
    EXPECT_THROW((void)reader.recv_bytes(), CorruptSegment);
}

// Frames keep positions at multiples of 8, so a header word never crosses the ring's end. A
// forged position 4 bytes short of it would put one there, half past the ring: the reader
// refused nothing and read it (UBSan: a misaligned load, found by the corruption test); both
// sides now refuse it, and the 8 bytes after the ring's data stay as they were.
TEST(PipeFrames, a_position_off_the_8_byte_grid_is_corrupt_segment_on_both_sides) {
    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, "frames", false, PipeOptions{.capacity_bytes = 1024});
    detail::SpscRingHeader& header = ring_header(*segment, "frames");
    const std::uint64_t forged = 3 * header.capacity - 4;
    header.write_pos.store(forged);
    header.read_pos.store(forged);
    const char* past_end =
        ring_of(*segment, "frames") + sizeof(detail::SpscRingHeader) + header.capacity;
    std::array<char, 8> after{};
    std::memcpy(after.data(), past_end, after.size());
    EXPECT_THROW(writer.send_bytes(pattern(16, 6)), CorruptSegment);
    EXPECT_THROW((void)reader.try_poll(), CorruptSegment);
    EXPECT_EQ(std::memcmp(after.data(), past_end, after.size()), 0);
}

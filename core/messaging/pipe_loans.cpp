// SPDX-License-Identifier: Apache-2.0
// PipeCore's loans and borrows (zero copy). A loan reserves its frame at a 64-byte aligned
// payload position that does not wrap the ring's end, after a padding frame when the write
// position is not there already; the writer fills the payload in place and publishes the
// frame, then the padding before it, by committing their header words. A borrow waits for a
// whole frame and leaves the read position on it until released.
#include "messaging/pipe_checks.hpp"
#include "messaging/pipe_state.hpp"
#include "ring/spsc_ring.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "shmbus/errors.hpp"

#include <cstring>
#include <string>

namespace shmbus::detail {
namespace {

constexpr std::uint64_t kAlign = kCacheLine;

std::uint64_t round_up(std::uint64_t pos, std::uint64_t to) {
    return (pos + to - 1) / to * to;
}

// Where a loan of `size` bytes written from `pos` puts its payload: 64-byte aligned, its
// header word right before it, and not across the ring's end. Frames are 8-byte aligned, so a
// gap before that word always holds a padding frame's.
std::uint64_t loan_payload_at(std::uint64_t pos, std::size_t size, std::uint64_t capacity) {
    std::uint64_t payload = round_up(pos + kHeaderBytes, kAlign);
    if ((payload & (capacity - 1)) + size > capacity)
        // The next lap, a line in.
        payload = round_up(payload, capacity) + kAlign;
    return payload;
}

} // namespace

bool PipeCore::loan(std::size_t size, PipeClaim& claim, Deadline deadline) {
    if (!m_send_ring)
        throw UsageError("loan on the receive-only end of a one-way pipe");
    require_open();
    require_not_held(m_send_ring);
    SpscRing& ring = *m_send_ring;
    if (size > max_message_size() || size + 2 * kAlign > ring.capacity() / 2)
        throw MessageTooLarge(
            "a loan of " + std::to_string(size) + " bytes exceeds this pipe's " +
            (size > max_message_size() ? "max_message_size" : "half ring less 128 bytes"));
    if (peer_gone())
        throw_peer_gone();
    const std::uint64_t pos = ring.write_position();
    const std::uint64_t payload = loan_payload_at(pos, size, ring.capacity());
    // The frame and the next frame's header word, which the commit clears.
    if (!await_room(payload - pos + frame_bytes(size), deadline))
        return false;
    claim = PipeClaim{payload - kHeaderBytes, {ring.data_at(payload), size}, {}};
    ring.set_held(true);
    return true;
}

void PipeCore::publish_loan(const PipeClaim& claim, std::size_t size) {
    SpscRing& ring = *m_send_ring;
    const std::uint64_t pos = ring.write_position();
    const std::uint64_t end = claim.frame + frame_bytes(size);
    ring.clear_word(end);
    ring.publish_to(end);
    ring.commit_word(claim.frame, frame_header(FrameKind::whole, size));
    if (claim.frame != pos)
        // After the frame: a reader that skips the padding finds the frame committed.
        ring.commit_word(pos, frame_header(FrameKind::padding, claim.frame - pos - kHeaderBytes));
    ring.count_message_written();
    ring.set_held(false);
    notify_without_fence(m_state->channels[1 - m_end].data, fence_free());
}

void PipeCore::drop_loan() {
    m_send_ring->set_held(false);
}

void PipeCore::borrow(PipeClaim& claim, Deadline deadline) {
    if (!m_recv_ring)
        throw UsageError("borrow on the send-only end of a one-way pipe");
    require_open();
    require_not_held(m_recv_ring);
    const std::uint64_t header = await_header(deadline);
    const std::uint32_t length = frame_length(header);
    SpscRing& ring = *m_recv_ring;
    // A streamed frame is published whole only when the next frame's header word fits too.
    if (frame_bytes(length) + kHeaderBytes > ring.capacity())
        throw MessageTooLarge("a message of " + std::to_string(length) +
                              " bytes is bigger than the pipe's ring and cannot be borrowed; it "
                              "stays in the pipe (recv it)");
    if (frame_kind(header) == FrameKind::streamed)
        await_frame(frame_bytes(length));
    const std::uint64_t frame = ring.read_position();
    const auto [bytes, rest] = ring.bytes_at(frame + kHeaderBytes, length);
    claim = PipeClaim{frame, bytes, rest};
    ring.set_held(true);
}

void PipeCore::release(const PipeClaim& claim) {
    SpscRing& ring = *m_recv_ring;
    ring.advance(frame_bytes(claim.bytes.size() + claim.rest.size()));
    ring.count_message_read();
    ring.set_held(false);
    notify_without_fence(m_state->channels[m_end].space, fence_free());
}

} // namespace shmbus::detail

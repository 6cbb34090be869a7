// SPDX-License-Identifier: Apache-2.0
// PipeCore's reader side: finding a frame's header word committed in band, reading a whole
// frame at once or a streamed one piece by piece (the frame format is in pipe_state.hpp).
#include "messaging/pipe_checks.hpp"
#include "messaging/pipe_state.hpp"
#include "messaging/pipe_wait.hpp"
#include "ring/spsc_ring.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "shmbus/errors.hpp"

#include <string>
#include <vector>

namespace shmbus::detail {

bool PipeCore::header_ready() const {
    const SpscRing& ring = *m_recv_ring;
    const std::uint64_t next = ring.read_position();
    if (ring.word_at(next) != 0)
        return true;
    // Waiting for the next frame, polling its header's line: ask for the line after it now, so
    // that a payload that reaches it is on its way when the word is committed.
    __builtin_prefetch(ring.data_at(next + kCacheLine));
    return false;
}

// Waits until a frame's header word is committed or the stream has ended (true), or the
// deadline passed (false). Throws nothing for either, so that poll() and the try_ forms cost no
// exception.
bool PipeCore::header_or_end(Deadline deadline) {
    const bool arrived = wait_until(
        false, [&] { return header_ready() || peer_gone() || closed(); }, deadline);
    require_open();
    return arrived || header_ready();
}

// The header word at the read position, 0 while none is committed. Consumes padding frames on
// the way: the writer commits one after the frame behind it, and after publishing write_pos
// past both, which the check of a padding's extent reads.
std::uint64_t PipeCore::ready_header() {
    SpscRing& ring = *m_recv_ring;
    for (;;) {
        const std::uint64_t header = ring.word_at(ring.read_position());
        if (frame_kind(header) != FrameKind::padding)
            return header;
        const std::uint64_t skip = kHeaderBytes + std::uint64_t{frame_length(header)};
        if (skip % kHeaderBytes != 0 || ring.readable(skip + kHeaderBytes) < skip + kHeaderBytes)
            throw CorruptSegment("pipe: a padding frame of " + std::to_string(skip) +
                                 " bytes is not followed by a frame");
        ring.advance(skip);
    }
}

namespace {

// Why `header`, at the read position, is not a frame this pipe can take. Out of line, so that
// building the message costs await_header nothing.
[[noreturn, gnu::cold, gnu::noinline]] void
throw_bad_header(std::uint64_t header, std::size_t max_message, std::uint64_t capacity) {
    const FrameKind kind = frame_kind(header);
    const std::uint32_t length = frame_length(header);
    if (kind != FrameKind::whole && kind != FrameKind::streamed)
        throw CorruptSegment("pipe: a frame header of unknown kind " +
                             std::to_string(static_cast<std::uint32_t>(kind)));
    if (length > max_message)
        throw CorruptSegment("pipe: a frame announces " + std::to_string(length) +
                             " bytes, more than max_message_size");
    throw CorruptSegment("pipe: a frame of " + std::to_string(length) + " bytes announced whole (" +
                         std::to_string(frame_bytes(length)) + " on the ring) is bigger than " +
                         "the ring of " + std::to_string(capacity));
}

} // namespace

// Waits until a frame's header word is committed and returns it, without consuming it.
// EndOfStream when the stream ended first, Timeout when the deadline passed. A frame already
// there costs one load and no wait.
std::uint64_t PipeCore::await_header(Deadline deadline) {
    std::uint64_t header = ready_header();
    if (header == 0)
        header = wait_for_header(deadline);
    const FrameKind kind = frame_kind(header);
    const std::uint32_t length = frame_length(header);
    if ((kind != FrameKind::whole && kind != FrameKind::streamed) || length > max_message_size() ||
        (kind == FrameKind::whole && frame_bytes(length) + kHeaderBytes > m_recv_ring->capacity()))
        [[unlikely]]
        throw_bad_header(header, max_message_size(), m_recv_ring->capacity());
    return header;
}

// await_header's wait, apart from its common path.
std::uint64_t PipeCore::wait_for_header(Deadline deadline) {
    if (!header_or_end(deadline))
        throw Timeout("no message");
    const std::uint64_t header = ready_header();
    if (header == 0)
        throw EndOfStream("the other end of the pipe is closed (or its process died) and "
                          "the pipe is drained");
    return header;
}

// Waits, without a limit, until the first `bytes` bytes of the frame at the read position are
// all published (its sender may still be streaming it). EndOfStream when the sender went away.
void PipeCore::await_frame(std::size_t bytes) {
    SpscRing& ring = *m_recv_ring;
    const auto whole = [&] { return ring.readable(bytes) >= bytes; };
    wait_until(
        false, [&] { return whole() || peer_gone() || closed(); }, Deadline::never());
    require_open();
    if (!whole())
        throw EndOfStream("the other end of the pipe closed in the middle of a message");
}

// Reads and consumes the frame whose header await_header returned.
void PipeCore::read_payload(std::byte* to, std::uint64_t header) {
    SpscRing& ring = *m_recv_ring;
    const std::uint32_t length = frame_length(header);
    if (frame_kind(header) == FrameKind::whole) {
        ring.read_at(ring.read_position() + kHeaderBytes, {to, length});
        ring.advance(frame_bytes(length));
    } else {
        read_streamed(to, length);
    }
    frame_read();
}

// A streamed payload, piece by piece as write_pos publishes it; then the padding to the next
// frame, which follows the last piece.
void PipeCore::read_streamed(std::byte* to, std::size_t length) {
    SpscRing& ring = *m_recv_ring;
    ParkingSpot& space = m_state->channels[m_end].space;
    // The header word was read (await_header): consumed with the first bytes of the payload.
    for (std::size_t done = 0, header = kHeaderBytes;; header = 0) {
        done += ring.skip_and_read(header, {to + done, length - done});
        if (done == length)
            break;
        notify_without_fence(space, fence_free());
        const bool arrived = wait_until(
            false, [&] { return ring.readable() != 0 || peer_gone() || closed(); },
            Deadline::never());
        require_open();
        if (arrived && ring.readable() == 0)
            throw EndOfStream("the other end of the pipe closed in the middle of a message");
    }
    const std::size_t padding = frame_bytes(length) - kHeaderBytes - length;
    if (padding != 0) {
        await_frame(padding);
        ring.advance(padding);
    }
}

void PipeCore::recv(ByteBuffer& out, std::size_t max_length, Deadline deadline) {
    const std::uint64_t header = begin_recv(deadline);
    const std::uint32_t length = frame_length(header);
    if (length > max_length)
        throw MessageTooLarge("a message of " + std::to_string(length) +
                              " bytes is longer than the " + std::to_string(max_length) +
                              " allowed; it stays in the pipe");
    read_payload(out.resize_for_overwrite(length), header);
}

// A whole frame is handed over where it lies: its header word was committed after every byte
// of it, and the writer reuses none of them before advance() below. A streamed one (bigger
// than kStreamFrom, or than the ring) arrives piece by piece, so it is gathered first.
void PipeCore::recv(FrameSink sink, Deadline deadline) {
    const std::uint64_t header = begin_recv(deadline);
    const std::uint32_t length = frame_length(header);
    if (frame_kind(header) != FrameKind::whole) {
        ByteBuffer& gathered = codec_scratch();
        read_payload(gathered.resize_for_overwrite(length), header);
        sink(FrameView(gathered.bytes(), {}));
        return;
    }
    SpscRing& ring = *m_recv_ring;
    const auto [bytes, rest] = ring.bytes_at(ring.read_position() + kHeaderBytes, length);
    sink(FrameView(bytes, rest));
    ring.advance(frame_bytes(length));
    frame_read();
}

std::size_t PipeCore::recv_into(std::span<std::byte> buffer) {
    const std::uint64_t header = begin_recv(Deadline::never());
    const std::uint32_t length = frame_length(header);
    if (length > buffer.size()) [[unlikely]]
        throw_too_short(header, buffer.size());
    read_payload(buffer.data(), header);
    return length;
}

// As Python: the message is consumed and handed over in the exception.
void PipeCore::throw_too_short(std::uint64_t header, std::size_t buffer_size) {
    std::vector<std::byte> message(frame_length(header));
    read_payload(message.data(), header);
    throw BufferTooShort(std::move(message), buffer_size);
}

bool PipeCore::poll(Deadline deadline) {
    if (!m_recv_ring)
        throw UsageError("poll on the send-only end of a one-way pipe");
    require_open();
    return header_or_end(deadline);
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// The untyped core behind Connection: one end of a pipe whose directions are SPSC byte rings
// (core/ring/spsc_ring.hpp) carrying frames, each led by a header word committed in band
// (core/messaging/pipe_state.hpp).
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/export.hpp"
#include "shmbus/wait.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace shmbus {

struct PipeOptions; // shmbus/pipe.hpp, which includes this header

namespace detail {

class SpscRing;
struct PipeState;
class PipeEndHold;
struct FrameSink; // shmbus/detail/frame_codec.hpp

/// A message's room in a pipe's ring, written in place (loan), or a message read in place
/// (borrow): its frame header's position and its bytes (a borrowed message that wraps the
/// ring's end comes in two pieces, `bytes` then `rest`).
struct PipeClaim {
    std::uint64_t frame = 0;    ///< where the frame's header word is
    std::span<std::byte> bytes; ///< the payload (its first piece)
    std::span<std::byte> rest;  ///< the payload's wrapped piece, else empty
};

class SHMBUS_EXPORT PipeCore {
public:
    /// Creates a pipe in `segment`, named `name` (empty: anonymous); returns its two ends,
    /// both held by this process.
    static std::pair<PipeCore, PipeCore> create(const Segment& segment, std::string_view name,
                                                bool duplex, const PipeOptions& options);
    /// End `end` (0 or 1) of the pipe named `name`, with a hold of this process's own on it.
    /// NotFound, KindMismatch (not a pipe), Closed when no process holds that end any more,
    /// UsageError for another `end`.
    static PipeCore open(const Segment& segment, std::string_view name, int end,
                         const WaitOptions& wait);

    /// Blocks while the ring is full. Closed when this end or the peer's is closed (or the
    /// peer's receiver died), MessageTooLarge, UsageError on a receive-only end. With a
    /// deadline, first waits until the whole frame fits (a frame bigger than the ring: until
    /// the ring is empty) and returns false, having written nothing, when the deadline passes
    /// first; the rest of a frame bigger than the ring then streams without a limit.
    bool send(std::span<const std::byte> message, Deadline deadline);
    /// send() of the message made of `first` and then `second` (a typed value's length word
    /// and bytes, shmbus/detail/frame_codec.hpp), each copied straight into the ring.
    bool send(std::span<const std::byte> first, std::span<const std::byte> second,
              Deadline deadline);
    /// Blocks until a whole message is in `out`. EndOfStream once the pipe is drained and the
    /// peer end is closed (or its sender died); Closed when this end is closed; MessageTooLarge
    /// (message left in the pipe) when it is longer than `max_length`; Timeout when no message
    /// began by the deadline (the payload of one that began is then read without a limit).
    void recv(ByteBuffer& out, std::size_t max_length, Deadline deadline);
    /// Like recv without a length limit, handing the message to `sink` where it lies in the
    /// ring (a message that was streamed, through a buffer); consumed once `sink` returns.
    void recv(FrameSink sink, Deadline deadline);
    /// Like recv, into `buffer`; returns the message length. BufferTooShort, carrying the
    /// message (consumed), when it is longer than `buffer`.
    std::size_t recv_into(std::span<std::byte> buffer);
    /// True when recv would not block (a message is there, or end of stream); waits up to the
    /// deadline for that.
    bool poll(Deadline deadline);
    /// Reserves room for a message of `size` bytes in place, its payload 64-byte aligned and
    /// contiguous (Connection::loan): true, or false when the deadline passed first. Errors as
    /// send(); MessageTooLarge beyond half the ring less 128 bytes; UsageError while a loan is
    /// held.
    bool loan(std::size_t size, PipeClaim& claim, Deadline deadline);
    /// Sends the loaned message: its first `size` bytes.
    void publish_loan(const PipeClaim& claim, std::size_t size);
    /// Gives a loan back: nothing was sent.
    void drop_loan();
    /// Waits for the next message and holds it in the ring to be read in place
    /// (Connection::borrow); errors as recv(); MessageTooLarge (left in the pipe) when it is
    /// bigger than the ring; UsageError while a borrow is held.
    void borrow(PipeClaim& claim, Deadline deadline);
    /// Ends a borrow: the message is consumed.
    void release(const PipeClaim& claim);
    /// How shmbus::wait waits until recv would not block (what poll() waits for). UsageError
    /// on a send-only end.
    WaitTarget wait_target() const;
    /// Gives back this process's hold on the end (every handle of this process on it is then
    /// closed); the end closes for the peer once no process holds it.
    void close();
    /// This process closed the end, or no process holds it any more.
    bool closed() const;
    bool readable() const { return m_recv_ring != nullptr; }
    bool writable() const { return m_send_ring != nullptr; }
    std::size_t max_message_size() const { return m_max_message_size; }
    void set_wait_options(const WaitOptions& wait) { m_wait = wait; }
    const WaitOptions& wait_options() const { return m_wait; }

private:
    /// `slot`: where the hold this process already has on the end is named (-1: untracked).
    PipeCore(ObjectRef object, int end, const WaitOptions& wait, int slot);
    template <class Try>
    bool wait_until(bool for_space, Try try_once, Deadline deadline);
    bool await_room(std::size_t frame, Deadline deadline);
    bool header_ready() const;
    bool header_or_end(Deadline deadline);
    std::uint64_t await_header(Deadline deadline);
    [[gnu::noinline]] std::uint64_t wait_for_header(Deadline deadline);
    std::uint64_t ready_header();
    void await_frame(std::size_t bytes);
    // The checks of every send and recv: inline in core/messaging/pipe_checks.hpp.
    bool end_closed() const;
    void require_open() const;
    bool peer_gone() const;
    void require_not_held(const std::shared_ptr<SpscRing>& ring) const;
    [[noreturn]] void throw_closed_end() const;
    [[noreturn]] void throw_held(const std::shared_ptr<SpscRing>& ring) const;
    [[noreturn]] void throw_peer_gone() const;
    [[noreturn]] void throw_too_large(std::size_t size) const;
    [[noreturn, gnu::cold, gnu::noinline]] void throw_too_short(std::uint64_t header,
                                                                std::size_t buffer_size);
    std::uint64_t begin_recv(Deadline deadline);
    void read_payload(std::byte* to, std::uint64_t header);
    void read_streamed(std::byte* to, std::size_t length);
    void frame_read();
    // A message in one piece or two (core/messaging/pipe_core.cpp): each its own copy of the
    // path, so that a message in one piece pays nothing for the second.
    template <class Message>
    bool send_message(const Message& message, Deadline deadline);
    template <class Message>
    void write_whole(const Message& message);
    template <class Message>
    void write_streamed(const Message& message);
    bool fence_free() const { return m_fence_free; }

    ObjectRef m_object;
    /// Validated once at attach (core/segment/state_ref.hpp).
    PipeState* m_state;
    int m_end;
    std::shared_ptr<SpscRing> m_recv_ring; ///< null on a send-only end
    std::shared_ptr<SpscRing> m_send_ring; ///< null on a receive-only end
    WaitOptions m_wait;
    /// Read once at attach, as validated: a peer's later write to the state cannot move it.
    std::size_t m_max_message_size;
    /// The pipe's wakers skip their fence (core/wait/notify.hpp, notify_without_fence).
    bool m_fence_free;
    /// This process's hold on the end, shared by its copies (core/messaging/pipe_ends.hpp).
    std::shared_ptr<PipeEndHold> m_hold;
};

} // namespace detail
} // namespace shmbus

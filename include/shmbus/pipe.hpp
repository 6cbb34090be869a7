// SPDX-License-Identifier: Apache-2.0
/// @file
/// Pipe(duplex) -> two Connections, like Python's multiprocessing.Pipe, over shared-memory
/// SPSC byte rings (core/ring/spsc_ring.hpp).
///
/// @code
///   auto [parent, child] = shmbus::Pipe();
///   shmbus::Process p([&] { child.send(std::string("hello")); child.close(); });
///   p.start();
///   std::string s = parent.recv<std::string>();   // then EndOfStream once drained
/// @endcode
///
/// send/recv carry typed values (codec.hpp); send_bytes/recv_bytes carry raw bytes; both go
/// through one stream of messages, so recv_bytes returns the encoding of a value sent with send.
/// Messages of any size up to PipeOptions::max_message_size; those larger than the ring stream
/// through it in chunks.
///
/// One writer and one reader per direction at a time, as with Python's Connection ("data may
/// become corrupted if two processes try to read from or write to the same end at once").
///
/// Ends are held per process, as file descriptors are: a process holds an end while it has a
/// handle (a Connection or a copy of one) on it, and a forked child holds every end its parent
/// held at the fork. close() gives back the caller's process's hold (every handle of that
/// process on the end is closed), and so does destroying the last handle of a process, as
/// Python closes a Connection when it is collected. The end closes for the peer (EndOfStream
/// once drained, Closed on send) when no process holds it any more: so, as with pipe(2), the
/// parent closes its copy of the child's end and the child keeps working. A holder that died
/// without closing is found by the peer's probe (~50 ms) and its hold given back; up to 14
/// holders per end are named for that, further ones are counted only (a dead one among them
/// keeps the end open). Independently, a recv parked on an empty pipe ends with EndOfStream
/// once the process that last sent through the other end has died (before the first send the
/// creator is recorded), and a blocked send with Closed once the last receiver died.
///
/// A pipe made with a name reaches processes that are not forks of its creator, like a FIFO:
/// @code
///   auto [mine, theirs] = shmbus::Pipe(segment, "control");           // this process
///   auto end = shmbus::Connection::open(segment, "control", 1);       // another process
/// @endcode
/// The creator holds both ends, as after Pipe(); Connection::open takes a hold of its own on
/// the end it opens. So the creator closes its copy of the end another process took (once that
/// process has opened it: a message from it says so) before it can see that end close.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"
#include "shmbus/pipe_loan.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmbus {

/// How a pipe is created.
struct PipeOptions {
    /// Bytes of ring per direction, rounded up to a power of two. Larger messages stream
    /// through in chunks. Rings that do not fit in the segment are OutOfSpace, and nothing is
    /// left in the segment.
    std::size_t capacity_bytes = std::size_t{256} << 10;
    /// Largest message; send of a bigger one is MessageTooLarge. At most 2^32 - 2.
    std::size_t max_message_size = std::size_t{64} << 20;
    /// How the two ends first wait; each handle may change its own (set_wait_options).
    WaitOptions wait = {};
};

/// One end of a pipe. Copies are handles to the same end; the end closes in a process when
/// that process's last handle is destroyed (or close() is called).
class SHMBUS_EXPORT Connection {
public:
    /// End `end` (0: the first of the pair Pipe returned, 1: the second) of the pipe `name`
    /// in `segment`, held by this process on its own: close() of this handle (and its copies)
    /// gives back this hold only. NotFound, KindMismatch when the object is not a pipe, Closed
    /// when no process holds that end any more (a closed end never opens again), UsageError
    /// for an `end` other than 0 and 1.
    static Connection open(const Segment& segment, std::string_view name, int end,
                           const WaitOptions& wait = {}) {
        return Connection(detail::PipeCore::open(segment, name, end, wait));
    }

    /// Sends one value; blocks while the pipe is full. Closed when this end or the other is
    /// closed (or the receiving process died), MessageTooLarge, UsageError on a receive-only
    /// end. @concurrent one sending process (thread) per end at a time.
    template <class T>
    void send(const T& value) {
        send_by(value, detail::Deadline::never());
    }
    /// False, having sent nothing, when the message still does not fit after `timeout`;
    /// errors as send(). The limit applies before the first byte is written: a message that
    /// fits in the pipe's ring (PipeOptions::capacity_bytes) is sent whole or not at all; a
    /// bigger one waits (with the limit) for an empty ring and then streams on without one.
    template <class T, class Rep, class Period>
    [[nodiscard]] bool send_for(const T& value, std::chrono::duration<Rep, Period> timeout) {
        // The clock is read only when the message does not fit at once.
        return try_send(value) || send_by(value, detail::Deadline::after(timeout));
    }
    /// As send_for, with the limit at `deadline`.
    template <class T, class C, class D>
    [[nodiscard]] bool send_until(const T& value, std::chrono::time_point<C, D> deadline) {
        return send_by(value, detail::Deadline::at(deadline));
    }
    /// As send_for, without waiting: false when the message does not fit now.
    template <class T>
    [[nodiscard]] bool try_send(const T& value) {
        return send_by(value, detail::Deadline::immediate());
    }

    /// Receives one value. EndOfStream when the pipe is drained and the other end closed (or
    /// its sender died); Closed when this end is closed; DecodeError when the message is not
    /// a T (it is consumed). @concurrent one receiving process (thread) per end at a time.
    template <class T>
    T recv() {
        return recv_by<T>(detail::Deadline::never());
    }
    /// Timeout when no message has begun to arrive after `timeout` (nothing is consumed);
    /// other errors as recv(). The limit applies to the start of a message: one bigger than
    /// the ring, whose sender is still streaming it, is then read whole without a limit.
    template <class T, class Rep, class Period>
    T recv_for(std::chrono::duration<Rep, Period> timeout) {
        // The clock is read only when nothing is ready; the value is not moved through an
        // optional, which for a plain T is a copy of all its bytes.
        return recv_by<T>(try_poll() ? detail::Deadline::immediate()
                                     : detail::Deadline::after(timeout));
    }
    /// As recv_for, with the limit at `deadline`.
    template <class T, class C, class D>
    T recv_until(std::chrono::time_point<C, D> deadline) {
        return recv_by<T>(detail::Deadline::at(deadline));
    }
    /// nullopt when no message is ready; never waits for one to begin. EndOfStream, Closed
    /// and DecodeError as recv().
    template <class T>
    [[nodiscard]] std::optional<T> try_recv() {
        // One reader per end: a message that try_poll() saw is still there for recv_by.
        if (!try_poll())
            return std::nullopt;
        return recv_by<T>(detail::Deadline::immediate());
    }

    /// Sends `data` as one message, blocking as send() does.
    void send_bytes(std::span<const std::byte> data) {
        m_core.send(data, detail::Deadline::never());
    }
    /// Sends data[offset, offset + size); UsageError when that lies outside `data`.
    void send_bytes(std::span<const std::byte> data, std::size_t offset, std::size_t size) {
        if (offset > data.size() || size > data.size() - offset)
            throw UsageError("send_bytes: offset and size lie outside the buffer");
        send_bytes(data.subspan(offset, size));
    }
    /// Sends the bytes of `text` as one message (no terminating NUL).
    void send_bytes(std::string_view text) { send_bytes(std::as_bytes(std::span(text))); }
    /// Sends `data` as one message; false, having sent nothing, when it still does not fit
    /// after `timeout` (the limit applies as for send_for).
    template <class Rep, class Period>
    [[nodiscard]] bool send_bytes_for(std::span<const std::byte> data,
                                      std::chrono::duration<Rep, Period> timeout) {
        // The clock is read only when the message does not fit at once.
        return try_send_bytes(data) || m_core.send(data, detail::Deadline::after(timeout));
    }
    /// As send_bytes_for, with the limit at `deadline`.
    template <class C, class D>
    [[nodiscard]] bool send_bytes_until(std::span<const std::byte> data,
                                        std::chrono::time_point<C, D> deadline) {
        return m_core.send(data, detail::Deadline::at(deadline));
    }
    /// As send_bytes_for, without waiting: false when the message does not fit now.
    [[nodiscard]] bool try_send_bytes(std::span<const std::byte> data) {
        return m_core.send(data, detail::Deadline::immediate());
    }
    /// One whole message. MessageTooLarge when it is longer than `max_length`; the message
    /// then stays in the pipe.
    std::vector<std::byte>
    recv_bytes(std::size_t max_length = std::numeric_limits<std::size_t>::max()) {
        return recv_bytes_by(max_length, detail::Deadline::never());
    }
    /// recv_bytes with a limit: Timeout when no message has begun to arrive after `timeout`
    /// (as recv_for).
    template <class Rep, class Period>
    std::vector<std::byte>
    recv_bytes_for(std::chrono::duration<Rep, Period> timeout,
                   std::size_t max_length = std::numeric_limits<std::size_t>::max()) {
        // The clock is read only when no message is ready.
        if (std::optional<std::vector<std::byte>> message = try_recv_bytes(max_length))
            return std::move(*message);
        return recv_bytes_by(max_length, detail::Deadline::after(timeout));
    }
    /// As recv_bytes_for, with the limit at `deadline`.
    template <class C, class D>
    std::vector<std::byte>
    recv_bytes_until(std::chrono::time_point<C, D> deadline,
                     std::size_t max_length = std::numeric_limits<std::size_t>::max()) {
        return recv_bytes_by(max_length, detail::Deadline::at(deadline));
    }
    /// recv_bytes without waiting for a message to begin: nullopt when none is ready.
    [[nodiscard]] std::optional<std::vector<std::byte>>
    try_recv_bytes(std::size_t max_length = std::numeric_limits<std::size_t>::max()) {
        // One reader per end: a message that try_poll() saw is still there for recv_bytes_by.
        if (!try_poll())
            return std::nullopt;
        return recv_bytes_by(max_length, detail::Deadline::immediate());
    }
    /// Reads one message into buffer[offset, ...) and returns its length. BufferTooShort when
    /// it does not fit: as in Python, the message is consumed and the exception's message()
    /// holds all of it. UsageError when offset is past the end.
    std::size_t recv_bytes_into(std::span<std::byte> buffer, std::size_t offset = 0) {
        if (offset > buffer.size())
            throw UsageError("recv_bytes_into: offset lies past the end of the buffer");
        return m_core.recv_into(buffer.subspan(offset));
    }

    /// Lends `bytes` bytes of the pipe's ring, 64-byte aligned, to write one message in place
    /// (zero copy); publish() sends it. Blocks while the ring lacks room. Errors as send();
    /// MessageTooLarge beyond half the ring less 128 bytes; UsageError while a loan is held.
    PipeLoan<std::byte> loan(std::size_t bytes) {
        return loan_by<std::byte>(bytes, detail::Deadline::never());
    }
    /// A loan of a value-initialised trivially copyable U, constructed in place; recv\<U\>()
    /// reads it.
    template <class U>
    requires detail::kCodecByMemcpy<U> PipeLoan<U> loan() {
        return loan_by<U>(sizeof(U), detail::Deadline::never());
    }
    /// loan(bytes), or Timeout when there is still no room after `timeout`.
    template <class Rep, class Period>
    PipeLoan<std::byte> loan_for(std::size_t bytes, std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<PipeLoan<std::byte>> slot = try_loan(bytes)) // the clock: if no room
            return std::move(*slot);
        return loan_by<std::byte>(bytes, detail::Deadline::after(timeout));
    }
    /// loan(bytes), or Timeout when there is still no room at `deadline`.
    template <class C, class D>
    PipeLoan<std::byte> loan_until(std::size_t bytes, std::chrono::time_point<C, D> deadline) {
        return loan_by<std::byte>(bytes, detail::Deadline::at(deadline));
    }
    /// loan(bytes), or nullopt when there is no room now.
    [[nodiscard]] std::optional<PipeLoan<std::byte>> try_loan(std::size_t bytes) {
        detail::PipeClaim claim;
        if (!m_core.loan(bytes, claim, detail::Deadline::immediate()))
            return std::nullopt;
        return std::optional<PipeLoan<std::byte>>(std::in_place, m_core, claim);
    }
    /// Receives the next message to read in place in the pipe's ring (zero copy); it is
    /// consumed when the PipeBorrowed is released. Errors as recv(); MessageTooLarge (the
    /// message stays) when it is bigger than the ring; UsageError while a borrow is held.
    PipeBorrowed borrow() { return borrow_by(detail::Deadline::never()); }
    /// borrow(), or Timeout when no message has begun to arrive after `timeout`.
    template <class Rep, class Period>
    PipeBorrowed borrow_for(std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<PipeBorrowed> message = try_borrow()) // the clock: only if none is ready
            return std::move(*message);
        return borrow_by(detail::Deadline::after(timeout));
    }
    /// borrow(), or Timeout when no message has begun to arrive by `deadline`.
    template <class C, class D>
    PipeBorrowed borrow_until(std::chrono::time_point<C, D> deadline) {
        return borrow_by(detail::Deadline::at(deadline));
    }
    /// borrow(), or nullopt when no message is ready; never waits for one to begin.
    [[nodiscard]] std::optional<PipeBorrowed> try_borrow() {
        if (!try_poll())
            return std::nullopt;
        return std::optional<PipeBorrowed>(borrow_by(detail::Deadline::immediate()));
    }
    /// Blocks until recv would not block: a message is ready or the stream has ended.
    void poll() { m_core.poll(detail::Deadline::never()); }
    /// Waits up to `timeout` for a message (or the end of the stream); false when none came.
    template <class Rep, class Period>
    [[nodiscard]] bool poll_for(std::chrono::duration<Rep, Period> timeout) {
        return try_poll() || m_core.poll(detail::Deadline::after(timeout));
    }
    /// Waits until `deadline` for a message (or the end of the stream); false when none came.
    template <class C, class D>
    [[nodiscard]] bool poll_until(std::chrono::time_point<C, D> deadline) {
        return m_core.poll(detail::Deadline::at(deadline));
    }
    /// True when recv would not block now (Python's poll() without a timeout); never blocks.
    [[nodiscard]] bool try_poll() { return m_core.poll(detail::Deadline::immediate()); }

    /// Closes this end in this process: every handle of this process on it then raises
    /// Closed; the peer sees the end closed once no other process holds it (top of this file).
    void close() { m_core.close(); }
    /// How shmbus::wait (multi_wait.hpp) waits until recv would not block.
    detail::WaitTarget wait_target() const { return m_core.wait_target(); }
    /// True once this process closed the end, or no process holds it any more.
    bool closed() const { return m_core.closed(); }
    /// False for the sending end of a one-way pipe (Pipe(duplex = false)).
    bool readable() const { return m_core.readable(); }
    /// False for the receiving end of a one-way pipe.
    bool writable() const { return m_core.writable(); }
    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& wait) { m_core.set_wait_options(wait); }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_core.wait_options(); }

private:
    friend std::pair<Connection, Connection> Pipe(const Segment&, std::string_view, bool,
                                                  const PipeOptions&);
    template <class U>
    PipeLoan<U> loan_by(std::size_t bytes, detail::Deadline deadline) {
        detail::PipeClaim claim;
        if (!m_core.loan(bytes, claim, deadline))
            throw Timeout("no room in the pipe for a loan of " + std::to_string(bytes) + " bytes");
        return PipeLoan<U>(m_core, claim);
    }
    PipeBorrowed borrow_by(detail::Deadline deadline) {
        detail::PipeClaim claim;
        m_core.borrow(claim, deadline);
        return PipeBorrowed(m_core, claim);
    }
    explicit Connection(detail::PipeCore core) : m_core(std::move(core)) {}

    // Trivially copyable values and strings/vectors of them go straight into and out of the
    // ring (detail/frame_codec.hpp: the bytes encode() makes); the rest through a per-thread
    // scratch buffer.
    template <class T>
    bool send_by(const T& value, detail::Deadline deadline) {
        if constexpr (detail::kFrameInPlace<T>) {
            const detail::FrameParts<T> parts(value);
            return m_core.send(parts.first(), parts.second(), deadline);
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            buffer.clear();
            encode(value, buffer);
            return m_core.send(buffer.bytes(), deadline);
        }
    }
    std::vector<std::byte> recv_bytes_by(std::size_t max_length, detail::Deadline deadline) {
        detail::ByteBuffer buffer;
        m_core.recv(buffer, max_length, deadline);
        return {buffer.data(), buffer.data() + buffer.size()};
    }
    template <class T>
    T recv_by(detail::Deadline deadline) {
        if constexpr (detail::kCodecByMemcpy<T> && std::is_default_constructible_v<T>) {
            return recv_into_item<T>(deadline);
        } else if constexpr (detail::kFrameInPlace<T>) {
            detail::InPlaceDecoder<T> decoder;
            m_core.recv(decoder.sink(), deadline);
            return decoder.take();
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            m_core.recv(buffer, std::numeric_limits<std::size_t>::max(), deadline);
            return decode<T>(buffer.bytes());
        }
    }
    // Apart from recv_by's other branches: g++ 12 elides the copy of a named return value only
    // when every return of the function returns it, discarded `if constexpr` branches included.
    template <class T>
    T recv_into_item(detail::Deadline deadline) {
        T item;
        detail::DecoderInto<T> decoder(item);
        m_core.recv(decoder.sink(), deadline);
        decoder.check();
        return item;
    }

    detail::PipeCore m_core;
};

/// A new pipe named `name` in `segment` (anonymous when empty); other processes open its ends
/// with Connection::open. AlreadyExists when the name is taken. duplex: both ends send and
/// receive; otherwise the first end only receives and the second only sends (Python's
/// Pipe(duplex=False)).
inline std::pair<Connection, Connection> Pipe(const Segment& segment, std::string_view name,
                                              bool duplex = true, const PipeOptions& options = {}) {
    auto [first, second] = detail::PipeCore::create(segment, name, duplex, options);
    return {Connection(std::move(first)), Connection(std::move(second))};
}

/// As above: a string literal is a name, not `duplex`.
inline std::pair<Connection, Connection> Pipe(const Segment& segment, const char* name,
                                              bool duplex = true, const PipeOptions& options = {}) {
    return Pipe(segment, std::string_view(name), duplex, options);
}

/// A new anonymous pipe in `segment`: its ends reach forked children only.
inline std::pair<Connection, Connection> Pipe(const Segment& segment, bool duplex = true,
                                              const PipeOptions& options = {}) {
    return Pipe(segment, std::string_view(), duplex, options);
}

/// A new pipe in the default segment; forked children inherit it.
inline std::pair<Connection, Connection> Pipe(bool duplex = true) {
    return Pipe(Segment::default_segment(), duplex);
}

} // namespace shmbus

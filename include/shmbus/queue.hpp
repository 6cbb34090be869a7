// SPDX-License-Identifier: Apache-2.0
/// @file
/// Queue<T> and SimpleQueue<T>: Python's multiprocessing.Queue / SimpleQueue over a lock-free
/// shared-memory ring (core/ring/mpmc_ring.hpp).
///
/// @code
///   shmbus::Queue<std::string> q;                 // anonymous, default segment: fork children
///   q.put("hello");                                //   inherit it, as with Python's Queue()
///   std::string s = q.get();
///   shmbus::Queue<Order> orders(segment, "orders"); // named: an unrelated program opens it
/// @endcode
///
/// Guarantees: any number of producer and consumer processes (and threads); every message is
/// delivered exactly once; messages from one producer arrive in the order it sent them.
/// Messages are encoded by codec.hpp; one may take up to QueueOptions::max_message_size bytes
/// encoded (MessageTooLarge beyond, and the queue stays usable). Small messages (64 bytes
/// encoded or less) take one ring slot.
///
/// Waits come in three forms (wait.hpp): try_x never blocks, x_for / x_until block with a limit
/// (Full / Empty when it passes, as Python's put(timeout=) / get(timeout=)), x blocks without one.
///
/// close(): further puts raise Closed; gets drain what is left, then raise Closed. Unlike
/// Python, close() closes the queue for every process, not only the caller's feeding end, so
/// empty(), qsize() and full() keep answering after it (the other processes are still
/// draining), where Python's closed handle raises.
///
/// shutdown(immediate) is Python 3.13's: puts raise ShutDown (a Closed), gets drain what is
/// queued and then raise ShutDown; blocked putters and getters wake and raise. With immediate,
/// what is queued is dropped too, and a JoinableQueue counts each dropped item as done (so its
/// joiners return once the items already got are done). The state lives in the queue, so a
/// shutdown in one process applies to every process; it costs put and get nothing until then.
///
/// The codec (second template argument, CerealCodec by default) is recorded in the queue with
/// the element type: `Queue<Order, MsgpackCodec>` (shmbus/msgpack_codec.hpp) carries MessagePack
/// that a Python process reads; opening a queue with another codec is KindMismatch.
///
/// Dead peers: a process killed inside put or get leaves a claim in the ring; a blocked put or
/// get of a survivor repairs it within ~50 ms (a dead producer's claim becomes padding, a dead
/// consumer's message is lost with it), so the survivors go on. What is not repaired: with a
/// maxsize, a producer killed in the few instructions between taking an item token and recording
/// its claim leaks that token (the queue holds one item less); a JoinableQueue item taken by a
/// consumer that died is never task_done (join waits for it, as in Python).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/queue_loan.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>
#include <type_traits>

namespace shmbus {

/// How a queue is created. Opening an existing queue ignores everything but `wait`. Creating a
/// queue whose ring does not fit in the segment is OutOfSpace; nonsense options are UsageError.
/// Either way nothing is left in the segment.
struct QueueOptions {
    /// Most items the queue holds, at most 2^63 - 1; 0: bounded only by capacity_bytes (Python's
    /// maxsize <= 0).
    std::size_t maxsize = 0;
    /// Largest encoded message; put of a bigger one is MessageTooLarge.
    std::size_t max_message_size = std::size_t{1} << 20;
    /// Bytes of ring; 0 picks twice max_message_size, or room for maxsize messages of 64 bytes
    /// when that is more. Rounded up to a power of two of 64-byte slots; it must hold at least
    /// one message of max_message_size (else UsageError).
    std::size_t capacity_bytes = 0;
    /// How this handle waits; each process (and each handle) may choose its own.
    WaitOptions wait = {};
};

/// A FIFO queue of T shared by any number of producer and consumer processes (Python's
/// multiprocessing.Queue). Copies are handles to the same queue. See the top of this file for
/// the guarantees and for what happens when a process dies inside a call.
template <class T, class Codec = CerealCodec>
class Queue {
public:
    /// The element type.
    using value_type = T;
    /// How elements are encoded (CerealCodec, MsgpackCodec).
    using codec_type = Codec;
    /// Items go straight into the ring and out of it, with no scratch buffer between
    /// (detail/frame_codec.hpp writes exactly the bytes of CerealCodec).
    static constexpr bool kInPlace = std::is_same_v<Codec, CerealCodec> && detail::kFrameInPlace<T>;
    /// loan() constructs a T in place: T is trivially copyable and encoded as its bytes.
    static constexpr bool kLoanable =
        std::is_same_v<Codec, CerealCodec> && detail::kCodecByMemcpy<T>;
    /// get() copies a T out of the ring straight into the T it returns.
    static constexpr bool kDecodedInto = kLoanable && std::is_default_constructible_v<T>;

    /// An anonymous queue in the default segment (maxsize 0: bounded only by its capacity).
    Queue() : Queue(QueueOptions{}) {}
    /// An anonymous queue in the default segment, made with `options`.
    explicit Queue(const QueueOptions& options)
        : Queue(Segment::default_segment(), "", options, detail::OpenMode::create) {}
    /// Opens the queue `name` in `segment`, creating it with `options` when it is missing (an
    /// existing queue keeps the options it was made with). An empty name makes an anonymous one.
    Queue(const Segment& segment, std::string_view name, const QueueOptions& options = {})
        : Queue(segment, name, options, detail::OpenMode::open_or_create) {}
    /// AlreadyExists when the name is taken.
    static Queue create(const Segment& segment, std::string_view name,
                        const QueueOptions& options = {}) {
        return Queue(segment, name, options, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it holds another element type.
    static Queue open(const Segment& segment, std::string_view name, const WaitOptions& wait = {}) {
        return Queue(segment, name, QueueOptions{.wait = wait}, detail::OpenMode::open);
    }

    /// Blocks while full. Closed (ShutDown after shutdown()), MessageTooLarge.
    /// @concurrent any thread / any process.
    void put(const T& item) { put_by(item, detail::Deadline::never()); }
    /// Full when still full after `timeout`.
    template <class Rep, class Period>
    void put_for(const T& item, std::chrono::duration<Rep, Period> timeout) {
        if (!try_put(item)) // the clock is read only when the queue is full (or closed)
            put_by(item, detail::Deadline::after(timeout));
    }
    /// Full when still full at `deadline`.
    template <class C, class D>
    void put_until(const T& item, std::chrono::time_point<C, D> deadline) {
        put_by(item, detail::Deadline::at(deadline));
    }
    /// Full at once when full.
    void put_nowait(const T& item) { put_by(item, detail::Deadline::immediate()); }
    /// False when full or closed; never blocks. MessageTooLarge still throws: the item can
    /// never fit.
    [[nodiscard]] bool try_put(const T& item) {
        if constexpr (kInPlace) {
            const detail::FrameParts<T> parts(item);
            return m_core.try_put(parts.first(), parts.second()) == detail::QueueStatus::ok;
        } else {
            return m_core.try_put(encoded(item)) == detail::QueueStatus::ok;
        }
    }

    /// Blocks while empty. Closed once closed and drained (ShutDown after shutdown()).
    /// DecodeError when the message does not decode as T (the message is consumed).
    T get() { return get_by(detail::Deadline::never()); }
    /// Empty when still empty after `timeout`.
    template <class Rep, class Period>
    T get_for(std::chrono::duration<Rep, Period> timeout) {
        const auto deadline = [timeout] { return detail::Deadline::after(timeout); };
        if constexpr (kDecodedInto) {
            return get_into(deadline);
        } else {
            if (std::optional<T> item = try_get()) // the clock is read only when there is none yet
                return std::move(*item);
            return get_by(deadline());
        }
    }
    /// Empty when still empty at `deadline`.
    template <class C, class D>
    T get_until(std::chrono::time_point<C, D> deadline) {
        return get_by(detail::Deadline::at(deadline));
    }
    /// Empty at once when empty.
    T get_nowait() { return get_by(detail::Deadline::immediate()); }
    /// nullopt when empty, or closed and drained; never blocks.
    [[nodiscard]] std::optional<T> try_get() {
        if constexpr (kDecodedInto) {
            return try_get_into();
        } else if constexpr (kInPlace) {
            detail::InPlaceDecoder<T> decoder;
            if (m_core.try_get(decoder.sink()) != detail::QueueStatus::ok)
                return std::nullopt;
            return decoder.take();
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            if (m_core.try_get(buffer) != detail::QueueStatus::ok)
                return std::nullopt;
            return Codec::template decode<T>(buffer.bytes());
        }
    }

    /// Lends room for one T, constructed in place in shared memory: write it, then publish()
    /// (zero copy). Blocks while full. Closed; UsageError while this thread holds a loan here.
    QueueLoan<T> loan() requires kLoanable {
        return loan_by<T>(sizeof(T), detail::Deadline::never());
    }
    /// loan(), or Full when still full after `timeout`.
    template <class Rep, class Period>
    QueueLoan<T> loan_for(std::chrono::duration<Rep, Period> timeout) requires kLoanable {
        if (std::optional<QueueLoan<T>> slot = try_loan()) // the clock: only when full
            return std::move(*slot);
        return loan_by<T>(sizeof(T), detail::Deadline::after(timeout));
    }
    /// loan(), or Full when still full at `deadline`.
    template <class C, class D>
    QueueLoan<T> loan_until(std::chrono::time_point<C, D> deadline) requires kLoanable {
        return loan_by<T>(sizeof(T), detail::Deadline::at(deadline));
    }
    /// loan(), or nullopt when full or closed; never blocks.
    [[nodiscard]] std::optional<QueueLoan<T>> try_loan() requires kLoanable {
        detail::RingClaim claim;
        if (m_core.try_loan(sizeof(T), claim) != detail::QueueStatus::ok)
            return std::nullopt;
        return std::optional<QueueLoan<T>>(std::in_place, m_core, claim, sizeof(T));
    }
    /// Lends `bytes` bytes of room, 64-byte aligned, for T's encoding written in place (get()
    /// and borrow() read it as a T). Blocks while full. MessageTooLarge beyond
    /// max_message_size or half the ring.
    QueueLoan<std::byte> loan(std::size_t bytes) {
        return loan_by<std::byte>(bytes, detail::Deadline::never());
    }
    /// loan(bytes), or Full when still full after `timeout`.
    template <class Rep, class Period>
    QueueLoan<std::byte> loan_for(std::size_t bytes, std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<QueueLoan<std::byte>> slot = try_loan(bytes)) // the clock: when full
            return std::move(*slot);
        return loan_by<std::byte>(bytes, detail::Deadline::after(timeout));
    }
    /// loan(bytes), or Full when still full at `deadline`.
    template <class C, class D>
    QueueLoan<std::byte> loan_until(std::size_t bytes, std::chrono::time_point<C, D> deadline) {
        return loan_by<std::byte>(bytes, detail::Deadline::at(deadline));
    }
    /// loan(bytes), or nullopt when full or closed; never blocks.
    [[nodiscard]] std::optional<QueueLoan<std::byte>> try_loan(std::size_t bytes) {
        detail::RingClaim claim;
        if (m_core.try_loan(bytes, claim) != detail::QueueStatus::ok)
            return std::nullopt;
        return std::optional<QueueLoan<std::byte>>(std::in_place, m_core, claim, bytes);
    }

    /// Takes the next message to read in place in shared memory (zero copy) until the
    /// QueueBorrowed is released. Blocks while empty. Closed once closed and drained;
    /// UsageError while this thread holds a borrow here.
    QueueBorrowed<T, Codec> borrow() { return borrow_by(detail::Deadline::never()); }
    /// borrow(), or Empty when still empty after `timeout`.
    template <class Rep, class Period>
    QueueBorrowed<T, Codec> borrow_for(std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<QueueBorrowed<T, Codec>> message = try_borrow()) // the clock: if none
            return std::move(*message);
        return borrow_by(detail::Deadline::after(timeout));
    }
    /// borrow(), or Empty when still empty at `deadline`.
    template <class C, class D>
    QueueBorrowed<T, Codec> borrow_until(std::chrono::time_point<C, D> deadline) {
        return borrow_by(detail::Deadline::at(deadline));
    }
    /// borrow(), or nullopt when empty, or closed and drained; never blocks.
    [[nodiscard]] std::optional<QueueBorrowed<T, Codec>> try_borrow() {
        detail::RingClaim claim;
        if (m_core.try_borrow(claim) != detail::QueueStatus::ok)
            return std::nullopt;
        return std::optional<QueueBorrowed<T, Codec>>(std::in_place, m_core, claim);
    }

    /// Items in the queue, also after close(). @concurrent result may be stale.
    std::size_t qsize() const { return m_core.qsize(); }
    /// No item in the queue. Answers after close() too (see the top of this file).
    /// @concurrent result may be stale.
    bool empty() const { return m_core.empty(); }
    /// maxsize reached, or no ring space for even a one-slot message. @concurrent may be stale.
    bool full() const { return m_core.full(); }
    /// For every process: puts raise Closed, gets drain then raise Closed.
    void close() { m_core.close(); }
    /// True once close() or shutdown() was called by any process.
    bool closed() const { return m_core.closed(); }
    /// For every process (Python 3.13's Queue.shutdown): puts raise ShutDown at once; gets
    /// drain what is queued, then raise ShutDown; parked putters and getters wake. With
    /// `immediate`, what is queued is dropped first, each dropped item of a JoinableQueue
    /// counted as done. Calling it again (or after close()) is harmless.
    void shutdown(bool immediate = false) { m_core.shutdown(immediate); }
    /// True once shutdown() was called by any process (Python's is_shutdown).
    bool is_shutdown() const { return m_core.is_shutdown(); }
    /// QueueOptions::maxsize it was created with; 0: bounded by its ring only.
    std::size_t maxsize() const { return m_core.maxsize(); }
    /// QueueOptions::max_message_size it was created with: the largest encoded item.
    std::size_t max_message_size() const { return m_core.max_message_size(); }

    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_core.wait_options(); }
    /// How this handle waits (spin / hybrid / block); other handles keep theirs.
    void set_wait_options(const WaitOptions& wait) { m_core.set_wait_options(wait); }
    /// Repairs claims of dead processes now (blocked calls also do it by themselves); returns
    /// the messages lost with dead consumers.
    std::size_t recover_dead() { return m_core.recover_dead(); }
    /// How shmbus::wait (multi_wait.hpp) waits until a get would not block.
    detail::WaitTarget wait_target() { return m_core.wait_target(); }
    /// The segment the queue lives in.
    const Segment& segment() const { return m_core.object().segment(); }

protected:
    /// For JoinableQueue: `kind` tells the two kinds apart in the segment.
    Queue(const Segment& segment, std::string_view name, const QueueOptions& options,
          detail::OpenMode mode, ObjectKind kind = ObjectKind::queue)
        : m_core(segment, name, options, mode, kind, Codec::template type_tag<T>()) {}

    /// The untyped queue; JoinableQueue adds task counting through it.
    detail::QueueCore m_core;

private:
    template <class U>
    QueueLoan<U> loan_by(std::size_t bytes, detail::Deadline deadline) {
        detail::RingClaim claim;
        if (!m_core.loan(bytes, claim, deadline))
            throw Full("queue is full");
        return QueueLoan<U>(m_core, claim, bytes);
    }
    QueueBorrowed<T, Codec> borrow_by(detail::Deadline deadline) {
        detail::RingClaim claim;
        if (!m_core.borrow(claim, deadline))
            throw Empty("queue is empty");
        return QueueBorrowed<T, Codec>(m_core, claim);
    }
    static std::span<const std::byte> encoded(const T& item) {
        detail::ByteBuffer& buffer = detail::codec_scratch();
        buffer.clear();
        Codec::encode(item, buffer);
        return buffer.bytes();
    }
    // Trivially copyable items and strings/vectors of them go straight into and out of the
    // ring (frame_codec.hpp); the rest through a per-thread scratch buffer.
    void put_by(const T& item, detail::Deadline deadline) {
        bool queued = false;
        if constexpr (kInPlace) {
            const detail::FrameParts<T> parts(item);
            queued = m_core.put(parts.first(), parts.second(), deadline);
        } else {
            queued = m_core.put(encoded(item), deadline);
        }
        if (!queued)
            throw Full("queue is full");
    }
    // Apart from their callers' other branches: g++ 12 elides the copy of a named return value
    // only when every return of the function returns it, discarded `if constexpr` branches
    // included. get_into tries once before it makes its deadline (which may read the clock).
    template <class MakeDeadline>
    T get_into(MakeDeadline deadline) {
        T item;
        detail::DecoderInto<T> decoder(item);
        if (m_core.try_get(decoder.sink()) != detail::QueueStatus::ok &&
            !m_core.get(decoder.sink(), deadline()))
            throw Empty("queue is empty");
        decoder.check();
        return item;
    }
    std::optional<T> try_get_into() {
        std::optional<T> item = detail::item_to_fill<T>();
        detail::DecoderInto<T> decoder(*item);
        if (m_core.try_get(decoder.sink()) != detail::QueueStatus::ok)
            item.reset();
        else
            decoder.check();
        return item;
    }
    T get_by(detail::Deadline deadline) {
        if constexpr (kDecodedInto) {
            return get_into([deadline] { return deadline; });
        } else if constexpr (kInPlace) {
            detail::InPlaceDecoder<T> decoder;
            if (!m_core.get(decoder.sink(), deadline))
                throw Empty("queue is empty");
            return decoder.take();
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            if (!m_core.get(buffer, deadline))
                throw Empty("queue is empty");
            return Codec::template decode<T>(buffer.bytes());
        }
    }
};

/// Python's SimpleQueue: put, get, empty and close of an unbounded Queue.
template <class T, class Codec = CerealCodec>
class SimpleQueue {
public:
    /// An anonymous queue in the default segment, inherited by forked children.
    SimpleQueue() = default;
    /// Opens the queue `name` in `segment`, creating it with `options` when it is missing, as
    /// Queue does.
    SimpleQueue(const Segment& segment, std::string_view name, const QueueOptions& options = {})
        : m_queue(segment, name, options) {}

    /// Queue::put(): blocks while full.
    void put(const T& item) { m_queue.put(item); }
    /// Queue::get(): blocks while empty.
    T get() { return m_queue.get(); }
    /// Queue::empty(): answers after close() too. @concurrent result may be stale.
    bool empty() const { return m_queue.empty(); }
    /// Queue::close(): for every process.
    void close() { m_queue.close(); }
    /// True once close() was called by any process.
    bool closed() const { return m_queue.closed(); }
    /// How shmbus::wait (multi_wait.hpp) waits until a get would not block.
    detail::WaitTarget wait_target() { return m_queue.wait_target(); }

private:
    Queue<T, Codec> m_queue;
};

} // namespace shmbus

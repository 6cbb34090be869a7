// SPDX-License-Identifier: Apache-2.0
// The untyped core behind Queue<T>, SimpleQueue<T> and JoinableQueue<T>: it moves byte frames
// through an MPMC ring in a segment and blocks on futex words. The typed views encode and
// decode (codec.hpp) around it.
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/ring_claim.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/export.hpp"
#include "shmbus/wait.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace shmbus {

struct QueueOptions; // shmbus/queue.hpp, which includes this header

namespace detail {

class MpmcRing;
struct QueueState;

/// Outcome of a non-blocking step.
enum class QueueStatus : std::uint8_t { ok, full, empty, closed };

class SHMBUS_EXPORT QueueCore {
public:
    /// `kind` is queue or joinable_queue; `type_tag` tells element types apart (KindMismatch).
    QueueCore(const Segment& segment, std::string_view name, const QueueOptions& options,
              OpenMode mode, ObjectKind kind, std::uint64_t type_tag);

    /// ok, full or closed; MessageTooLarge beyond max_message_size. Never blocks. The
    /// message is `first` then `second`, gathered into the ring.
    QueueStatus try_put(std::span<const std::byte> first, std::span<const std::byte> second = {});
    /// ok (message in `out`), empty, or closed (closed and drained). Never blocks.
    QueueStatus try_get(ByteBuffer& out);
    /// try_get that hands the message, in place, to `sink`.
    QueueStatus try_get(FrameSink sink);
    /// Blocks until queued (true) or the deadline passes (false). Closed, MessageTooLarge.
    bool put(std::span<const std::byte> message, Deadline deadline) {
        return put(message, {}, deadline);
    }
    /// put of `first` then `second`, gathered.
    bool put(std::span<const std::byte> first, std::span<const std::byte> second,
             Deadline deadline);
    /// Blocks until a message is in `out` (true) or the deadline passes (false). Closed once
    /// the queue is closed and drained.
    bool get(ByteBuffer& out, Deadline deadline);
    /// get that hands the message, in place, to `sink`.
    bool get(FrameSink sink, Deadline deadline);

    /// Lends `claim` room for a message of `size` bytes, written in place (Queue::loan): ok,
    /// full or closed. MessageTooLarge; UsageError while this thread holds a loan here.
    QueueStatus try_loan(std::size_t size, RingClaim& claim);
    /// try_loan that blocks while full (true) or until the deadline passes (false). Closed.
    bool loan(std::size_t size, RingClaim& claim, Deadline deadline);
    /// Queues the loaned message: its first `size` bytes.
    void put_loan(RingClaim& claim, std::size_t size);
    /// Gives a loan back unqueued.
    void drop_loan(RingClaim& claim);
    /// Claims the next message into `claim`, to be read in place (Queue::borrow): ok, empty,
    /// or closed (closed and drained). UsageError while this thread holds a borrow here.
    QueueStatus try_borrow(RingClaim& claim);
    /// try_borrow that blocks while empty (true) or until the deadline passes (false). Closed.
    bool borrow(RingClaim& claim, Deadline deadline);
    /// Ends a borrow: the message's room comes free.
    void release(RingClaim& claim);

    /// @concurrent result may be stale.
    std::size_t qsize() const;
    bool empty() const { return qsize() == 0; }
    bool full() const;
    void close();
    bool closed() const;
    /// Closes the queue (as close()) and makes its errors ShutDown; with `immediate`, also
    /// drops what is queued, counting each dropped item of a JoinableQueue as done.
    void shutdown(bool immediate);
    /// True once shutdown() was called by any process.
    bool is_shutdown() const;
    std::size_t maxsize() const;
    std::size_t max_message_size() const;
    /// Slots of 64 bytes in the ring.
    std::size_t capacity_slots() const;

    /// JoinableQueue: marks one item done (UsageError when none is outstanding).
    void task_done();
    /// JoinableQueue: blocks until every item put was marked done (true) or the deadline.
    bool join(Deadline deadline);
    /// JoinableQueue: items put and not yet marked done. @concurrent result may be stale.
    std::size_t unfinished_tasks() const;

    /// Undoes claims of dead processes that block the queue (waiters do this by themselves
    /// every kProbePeriod). Returns how many messages died with a consumer.
    std::size_t recover_dead();

    /// Tagged puts and gets (shmbus::nats's bridges; see "Tagged claims" in
    /// core/ring/mpmc_ring.hpp): `tag` is nonzero, below 2^62 and never used twice on this
    /// queue. put_tagged is put, recorded so that after this thread's death put_committed(tag)
    /// tells whether the message is in the queue (recover_dead() then publishes it if the dead
    /// thread had not).
    bool put_tagged(std::span<const std::byte> message, std::uint64_t tag, Deadline deadline);
    bool put_committed(std::uint64_t tag);
    /// try_get whose claim, should this thread die before `sink` returned, is kept for
    /// adopt_taken(tag, ...), which hands its message to another sink: true, or false when the
    /// dead get had claimed nothing or had finished.
    QueueStatus try_get_tagged(FrameSink sink, std::uint64_t tag);
    bool adopt_taken(std::uint64_t tag, FrameSink sink);

    /// How shmbus::wait waits until a get would not block (a message, or closed and drained).
    WaitTarget wait_target();

    const WaitOptions& wait_options() const { return m_wait; }
    void set_wait_options(const WaitOptions& wait) { m_wait = wait; }
    const ObjectRef& object() const { return m_object; }

private:
    /// Waits for room for a frame of *frame_size bytes, or for a message when nullopt.
    QueueStatus try_put(std::span<const std::byte> first, std::span<const std::byte> second,
                        std::uint64_t tag);
    bool put_with_tag(std::span<const std::byte> first, std::span<const std::byte> second,
                      std::uint64_t tag, Deadline deadline);
    template <class Try>
    bool wait_until(std::optional<std::size_t> frame_size, Try try_once, Deadline deadline);
    void require_joinable() const;
    /// Closed, or ShutDown when the ring was closed by shutdown().
    [[noreturn]] void throw_closed(const char* what) const;
    /// Takes every queued message (waiting for puts claimed before the close) and drops it.
    void drop_queued();

    ObjectRef m_object;
    /// Validated once at attach (core/segment/state_ref.hpp).
    QueueState* m_state;
    /// The ring geometry, validated once at attach and kept here, out of reach of peers.
    std::shared_ptr<MpmcRing> m_ring;
    WaitOptions m_wait;
};

} // namespace detail
} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
#include "shmbus/detail/queue_core.hpp"

#include "messaging/queue_items.hpp"
#include "messaging/queue_state.hpp"
#include "os/membarrier.hpp"
#include "ring/mpmc_ring.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/queue.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <new>
#include <optional>
#include <string>

namespace shmbus::detail {
namespace {

void check_options(const QueueOptions& options) {
    if (options.max_message_size == 0 || options.max_message_size > kMaxFrameSize)
        throw UsageError("max_message_size must lie in [1, " + std::to_string(kMaxFrameSize) + "]");
    // free_items counts maxsize down as a signed word.
    if (options.maxsize > static_cast<std::uint64_t>(INT64_MAX))
        throw UsageError("maxsize must be at most 2^63 - 1");
}

// The ring bytes asked for: capacity_bytes, or by default room for two largest messages or for
// maxsize one-slot items, whichever is more (a Python user of Queue(maxsize) expects those to
// fit).
std::uint64_t wanted_bytes(const QueueOptions& options) {
    if (options.capacity_bytes != 0)
        return options.capacity_bytes;
    return std::max(2 * std::uint64_t{options.max_message_size},
                    mul_size(options.maxsize, kSlotBytes, "a Queue of maxsize items"));
}

std::uint64_t ring_slots(const QueueOptions& options) {
    check_options(options);
    const std::uint64_t bytes = wanted_bytes(options);
    const std::uint64_t slots = bit_ceil_size(
        std::max<std::uint64_t>(bytes / kSlotBytes + (bytes % kSlotBytes != 0 ? 1 : 0), 2),
        "a Queue ring of " + std::to_string(bytes) + " bytes");
    if (options.capacity_bytes == 0)
        return std::max(slots, std::bit_ceil(MpmcRing::slots_for(options.max_message_size)));
    if (MpmcRing::slots_for(options.max_message_size) > slots)
        throw UsageError("capacity_bytes " + std::to_string(options.capacity_bytes) +
                         " cannot hold a message of max_message_size " +
                         std::to_string(options.max_message_size) + " bytes");
    return slots;
}

void init_state(void* at, const QueueOptions& options, std::uint64_t slots, bool joinable) {
    auto* state = new (at) QueueState{};
    state->magic = kQueueStateMagic;
    state->version = kQueueStateVersion;
    state->joinable = joinable ? 1 : 0;
    state->maxsize = options.maxsize;
    state->max_message_size = options.max_message_size;
    state->ring_offset = sizeof(QueueState);
    state->ring_bytes = MpmcRing::bytes_for(slots);
    // relaxed is enough: the object directory publishes the initialised state.
    state->free_items.store(static_cast<std::int64_t>(options.maxsize), std::memory_order_relaxed);
    // Biased sides need a heavy barrier from every parked waiter: worth it unless waiters park
    // on every message (the block policy; the Pipe decides its fence-free wakers alike).
    MpmcRing::init(static_cast<char*>(at) + sizeof(QueueState), slots,
                   options.wait.policy != WaitPolicy::block && heavy_barrier_ready());
}

ObjectRef attach_queue(const Segment& segment, std::string_view name, const QueueOptions& options,
                       OpenMode mode, ObjectKind kind, std::uint64_t type_tag) {
    if (mode == OpenMode::open)
        return attach_object(segment, name, ObjectSpec{kind, 0, kCacheLine, type_tag}, mode,
                             [](void*) {});
    if (mode == OpenMode::open_or_create && !name.empty()) {
        // Open whatever exists, whatever options it was made with; create only when missing.
        return open_or_create_object(
            [&] { return attach_queue(segment, name, options, OpenMode::open, kind, type_tag); },
            [&] { return attach_queue(segment, name, options, OpenMode::create, kind, type_tag); });
    }
    const std::uint64_t slots = ring_slots(options);
    const std::uint64_t size = add_size(sizeof(QueueState), MpmcRing::bytes_for(slots), "a Queue");
    const bool joinable = kind == ObjectKind::joinable_queue;
    return attach_object(segment, name, ObjectSpec{kind, size, kCacheLine, type_tag},
                         OpenMode::create,
                         [&](void* at) { init_state(at, options, slots, joinable); });
}

QueueState& checked_state(const ObjectRef& object, ObjectKind kind) {
    QueueState& state = *StateRef<QueueState>(object);
    if (state.joinable != (kind == ObjectKind::joinable_queue ? 1U : 0U))
        throw CorruptSegment("queue state at offset " + std::to_string(object.offset()) +
                             (state.joinable != 0 ? " is" : " is not") +
                             " joinable, its directory entry says otherwise");
    return state;
}

} // namespace

QueueCore::QueueCore(const Segment& segment, std::string_view name, const QueueOptions& options,
                     OpenMode mode, ObjectKind kind, std::uint64_t type_tag)
    : m_object(attach_queue(segment, name, options, mode, kind, type_tag)),
      m_state(&checked_state(m_object, kind)),
      m_ring(std::make_shared<MpmcRing>(reinterpret_cast<char*>(m_state) + m_state->ring_offset,
                                        m_state->ring_bytes)),
      m_wait(options.wait) {}

QueueStatus QueueCore::try_put(std::span<const std::byte> first,
                               std::span<const std::byte> second) {
    return try_put(first, second, 0);
}

QueueStatus QueueCore::try_put(std::span<const std::byte> first, std::span<const std::byte> second,
                               std::uint64_t tag) {
    QueueState& state = *m_state;
    check_message_size(state, first.size() + second.size());
    if (m_ring->closed())
        return QueueStatus::closed;
    if (state.maxsize != 0 && !take_item(state))
        return QueueStatus::full;
    if (state.joinable != 0)
        // relaxed is enough: the ring's publish (release) orders it before any get of the item.
        state.unfinished.fetch_add(1, std::memory_order_relaxed);
    const RingStatus status = m_ring->try_put(first, second, tag);
    if (status != RingStatus::ok) {
        return_items(state, 1);
        if (state.joinable != 0)
            finish_task(state);
        // Only a returned maxsize token can let a parked putter on: waking them for a ring
        // that is just as full made blocked putters wake each other in a busy loop.
        if (state.maxsize != 0)
            notify_all(state.space);
        return to_status(status);
    }
    wake_after_claim(state.items);
    return QueueStatus::ok;
}

QueueStatus QueueCore::try_get(ByteBuffer& out) {
    return try_get(sink_into(out));
}

QueueStatus QueueCore::try_get(FrameSink sink) {
    return try_get_tagged(sink, 0);
}

QueueStatus QueueCore::try_get_tagged(FrameSink sink, std::uint64_t tag) {
    QueueState& state = *m_state;
    const RingStatus status = m_ring->try_get(sink, tag);
    if (status == RingStatus::ok) {
        return_items(state, 1);
        wake_after_claim(state.space);
    }
    return to_status(status);
}

bool QueueCore::put_tagged(std::span<const std::byte> message, std::uint64_t tag,
                           Deadline deadline) {
    return put_with_tag(message, {}, tag, deadline);
}

bool QueueCore::put_committed(std::uint64_t tag) {
    return m_ring->put_committed(tag);
}

bool QueueCore::adopt_taken(std::uint64_t tag, FrameSink sink) {
    if (!m_ring->adopt_taken(tag, sink))
        return false;
    QueueState& state = *m_state;
    return_items(state, 1);
    // Not wake_after_claim: the claim was the dead thread's, made long before (the top of
    // wait/notify.hpp); a fenced notify is cheap on this rare path.
    notify_all(state.space);
    return true;
}

// One try before the wait's machinery is set up: most puts find room.
bool QueueCore::put(std::span<const std::byte> first, std::span<const std::byte> second,
                    Deadline deadline) {
    const QueueStatus status = try_put(first, second, 0);
    if (status == QueueStatus::closed)
        throw_closed("put on a");
    return status == QueueStatus::ok || put_with_tag(first, second, 0, deadline);
}

bool QueueCore::put_with_tag(std::span<const std::byte> first, std::span<const std::byte> second,
                             std::uint64_t tag, Deadline deadline) {
    QueueStatus status = QueueStatus::full;
    const auto try_once = [&] {
        status = try_put(first, second, tag);
        return status != QueueStatus::full;
    };
    if (!wait_until(first.size() + second.size(), try_once, deadline))
        return false;
    if (status == QueueStatus::closed)
        throw_closed("put on a");
    return true;
}

bool QueueCore::get(ByteBuffer& out, Deadline deadline) {
    return get(sink_into(out), deadline);
}

// One try before the wait's machinery is set up, as for put.
bool QueueCore::get(FrameSink sink, Deadline deadline) {
    QueueStatus status = try_get(sink);
    if (status == QueueStatus::ok)
        return true;
    const auto try_once = [&] {
        status = try_get(sink);
        return status != QueueStatus::empty;
    };
    if (!wait_until(std::nullopt, try_once, deadline))
        return false;
    if (status == QueueStatus::closed)
        throw_closed("get on a drained");
    return true;
}

std::size_t QueueCore::qsize() const {
    return m_ring->size_guess();
}

bool QueueCore::full() const {
    const QueueState& state = *m_state;
    if (state.maxsize != 0)
        // relaxed is enough: the result may be stale by definition.
        return state.free_items.load(std::memory_order_relaxed) <= 0;
    const MpmcRing& ring = *m_ring;
    return ring.slots_used_guess() >= ring.slot_count();
}

void QueueCore::close() {
    QueueState& state = *m_state;
    m_ring->close();
    notify_all(state.items);
    notify_all(state.space);
}

bool QueueCore::closed() const {
    return m_ring->closed();
}

// The flag goes up before the ring closes, so whoever sees the ring closed (acquire) sees it.
// Once shut down the queue stays closed: every put and get that follows reads the ring's
// closed flag on its own path, and the close below wakes the parked (as close() does); no load
// is added to a put or get that succeeds.
void QueueCore::shutdown(bool immediate) {
    QueueState& state = *m_state;
    // SYNC seq_cst: sequenced before the ring's seq_cst close store, whose acquire readers
    // (throw_closed, is_shutdown) then see these bits.
    state.shut_down.fetch_or(kShutDown | (immediate ? kShutDownImmediate : 0),
                             std::memory_order_seq_cst);
    close();
    if (immediate)
        drop_queued();
}

bool QueueCore::is_shutdown() const {
    // SYNC acquire: pairs with the seq_cst fetch_or in shutdown().
    return (m_state->shut_down.load(std::memory_order_acquire) & kShutDown) != 0;
}

void QueueCore::throw_closed(const char* what) const {
    // The acquire load of the ring's closed flag orders shutdown()'s bits before our read.
    if (closed() && is_shutdown())
        throw ShutDown(std::string(what) + " queue that was shut down");
    throw Closed(std::string(what) + " closed queue");
}

// Python's shutdown(immediate=True) empties the queue under its lock; here gets racing with the
// drop may still take a message (they complete before the shutdown, as far as anyone can tell),
// but once shutdown() returns the queue is closed and empty for everyone.
void QueueCore::drop_queued() {
    QueueState& state = *m_state;
    const FrameSink discard{nullptr, [](void*, const FrameView&) {}};
    for (;;) {
        QueueStatus status = QueueStatus::empty;
        wait_until(
            std::nullopt,
            [&] {
                status = try_get(discard);
                return status != QueueStatus::empty;
            },
            Deadline::never());
        if (status != QueueStatus::ok)
            return;
        if (state.joinable != 0)
            finish_outstanding_task(state);
    }
}
std::size_t QueueCore::maxsize() const {
    return m_state->maxsize;
}
std::size_t QueueCore::max_message_size() const {
    return m_state->max_message_size;
}
std::size_t QueueCore::capacity_slots() const {
    return m_ring->slot_count();
}

void QueueCore::require_joinable() const {
    if (m_state->joinable == 0)
        throw UsageError("task_done/join on a queue that is not a JoinableQueue");
}

void QueueCore::task_done() {
    require_joinable();
    if (!finish_outstanding_task(*m_state))
        throw UsageError("task_done() called more times than items were put");
}

bool QueueCore::join(Deadline deadline) {
    require_joinable();
    QueueState& state = *m_state;
    return park_at(
        state.done,
        // SYNC acquire: pairs with the seq_cst decrement in task_done: the consumers' work
        // on the items is visible once join returns.
        [&] { return state.unfinished.load(std::memory_order_acquire) == 0; }, deadline, m_wait);
}

std::size_t QueueCore::unfinished_tasks() const {
    // relaxed is enough: the result may be stale by definition.
    return m_state->unfinished.load(std::memory_order_relaxed);
}

WaitTarget QueueCore::wait_target() {
    QueueState& state = *m_state;
    WaitTarget target;
    target.word = &state.items.word;
    target.waiters = &state.items.waiters;
    target.ready = [ring = m_ring] { return ring->get_ready(); };
    // Puts wake after their claim, without a fence: the getter's may_sleep (wait/notify.hpp).
    target.may_sleep = [ring = m_ring] { return ring->getter_may_sleep(); };
    target.barrier_after_registering = m_ring->getter_needs_barrier();
    target.probe = [this] {
        recover_dead();
        return false;
    };
    target.identity = &state.items;
    return target;
}

std::size_t QueueCore::recover_dead() {
    QueueState& state = *m_state;
    const RecoveryReport report = m_ring->recover_dead();
    // A dead producer took an item token before its claim; a dead consumer's message held one.
    // A claim recovery published keeps its token: the message is queued.
    return_items(state, report.messages_lost + report.claims_padded);
    if (report.messages_lost + report.claims_padded + report.claims_published != 0) {
        notify_all(state.items);
        notify_all(state.space);
    }
    return report.messages_lost;
}

} // namespace shmbus::detail

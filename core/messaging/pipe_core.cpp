// SPDX-License-Identifier: Apache-2.0
#include "shmbus/detail/pipe_core.hpp"

#include "messaging/pipe_ends.hpp"
#include "messaging/pipe_state.hpp"
#include "os/membarrier.hpp"
#include "os/owner.hpp"
#include "ring/spsc_ring.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/pipe.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace shmbus::detail {
namespace {

// How often a parked send or recv checks whether the peer process is still alive.
constexpr auto kProbePeriod = std::chrono::milliseconds(50);

int channel_count(bool duplex) {
    return duplex ? 2 : 1;
}

void init_state(void* at, bool duplex, std::uint64_t capacity, std::uint64_t max_message,
                bool fence_free) {
    auto* state = new (at) PipeState{};
    state->magic = kPipeStateMagic;
    state->version = kPipeStateVersion;
    state->duplex = duplex ? 1 : 0;
    state->fence_free_wakers = fence_free ? 1 : 0;
    state->capacity = capacity;
    state->max_message_size = max_message;
    for (PipeEndState& end : state->ends) {
        // relaxed is enough: the object directory publishes the initialised state.
        end.sender.store(this_process_owner(), std::memory_order_relaxed);
        end.receiver.store(this_process_owner(), std::memory_order_relaxed);
    }
    init_holders(*state);
    std::uint64_t offset = sizeof(PipeState);
    for (int c = 0; c < channel_count(duplex); ++c) {
        state->channels[c].ring_offset = offset;
        state->channels[c].ring_bytes = SpscRing::bytes_for(capacity);
        SpscRing::init(static_cast<char*>(at) + offset, capacity);
        offset += SpscRing::bytes_for(capacity);
    }
}

// The ring capacity per direction: capacity_bytes rounded up to a power of two of at least a
// cache line. OutOfSpace when that power of two is past 2^63.
std::uint64_t ring_capacity(const PipeOptions& options) {
    return bit_ceil_size(std::max<std::uint64_t>(options.capacity_bytes, kCacheLine),
                         "a Pipe ring of capacity_bytes " + std::to_string(options.capacity_bytes));
}

std::uint64_t state_bytes(bool duplex, std::uint64_t capacity) {
    const std::uint64_t rings =
        mul_size(channel_count(duplex), SpscRing::bytes_for(capacity), "a Pipe's rings");
    return add_size(sizeof(PipeState), rings, "a Pipe");
}

// The ring of a channel that validate(PipeState) accepted; null when the channel does not exist.
std::shared_ptr<SpscRing> channel_ring(PipeState& state, const PipeChannelState& channel) {
    if (channel.ring_offset == 0)
        return nullptr;
    return std::make_shared<SpscRing>(reinterpret_cast<char*>(&state) + channel.ring_offset,
                                      channel.ring_bytes);
}

// Remembers which process uses an end, for the peer's liveness probe. Costs one load of a
// line this side owns when nothing changed.
void record(std::atomic<OwnerId>& who) {
    const OwnerId me = this_process_owner();
    // relaxed is enough: a single word read only by the peer's liveness probe.
    if (who.load(std::memory_order_relaxed) != me)
        who.store(me, std::memory_order_relaxed);
}

} // namespace

std::pair<PipeCore, PipeCore> PipeCore::create(const Segment& segment, std::string_view name,
                                               bool duplex, const PipeOptions& options) {
    if (options.max_message_size == 0 || options.max_message_size >= kPaddingFrame)
        throw UsageError("max_message_size must lie in [1, 2^32 - 2]");
    const std::uint64_t capacity = ring_capacity(options);
    const std::uint64_t size = state_bytes(duplex, capacity);
    // A block-policy pipe parks on every wait, where the waiter's barrier would cost ~2.5 us.
    // Forks of this process inherit the registration; a process that opens the pipe by name
    // registers in open() (the PipeCore constructor), before it can wait or wake.
    const bool fence_free = options.wait.policy != WaitPolicy::block && heavy_barrier_ready();
    ObjectRef object = attach_object(
        segment, name, ObjectSpec{ObjectKind::pipe, size, kCacheLine, 0}, OpenMode::create,
        [&](void* at) { init_state(at, duplex, capacity, options.max_message_size, fence_free); });
    // The creator's holds are in slot 0 of both ends (init_holders).
    return {PipeCore(object, 0, options.wait, 0), PipeCore(object, 1, options.wait, 0)};
}

PipeCore PipeCore::open(const Segment& segment, std::string_view name, int end,
                        const WaitOptions& wait) {
    if (end != 0 && end != 1)
        throw UsageError("a pipe's ends are 0 and 1, not " + std::to_string(end));
    ObjectRef object = attach_object(segment, name, ObjectSpec{ObjectKind::pipe, 0, kCacheLine, 0},
                                     OpenMode::open, [](void*) {});
    PipeState& state = *StateRef<PipeState>(object).get();
    return PipeCore(object, end, wait, take_hold(state, end));
}

PipeCore::PipeCore(ObjectRef object, int end, const WaitOptions& wait, int slot)
    : m_object(std::move(object)), m_state(StateRef<PipeState>(m_object).get()), m_end(end),
      m_recv_ring(channel_ring(*m_state, m_state->channels[m_end])),
      m_send_ring(channel_ring(*m_state, m_state->channels[1 - m_end])), m_wait(wait),
      m_max_message_size(m_state->max_message_size),
      m_fence_free(m_state->fence_free_wakers == 1 && heavy_barrier_ready()),
      // A forked child takes a hold of its own in the fork handler (pipe_ends.cpp).
      m_hold(std::make_shared<PipeEndHold>(m_object, *m_state, m_end, slot)) {}

bool PipeCore::closed() const {
    // SYNC acquire: pairs with the seq_cst store in close_end().
    return m_hold->released() || m_state->ends[m_end].closed.load(std::memory_order_acquire) != 0;
}

void PipeCore::require_open() const {
    if (closed())
        throw Closed("operation on a closed connection");
}

// The peer end was closed: no process holds it. Its data written before is visible afterwards:
// the acquire pairs with the seq_cst closed store, which follows the holders' last writes.
bool PipeCore::peer_gone() const {
    // SYNC acquire: pairs with the seq_cst store in close_end().
    return m_state->ends[1 - m_end].closed.load(std::memory_order_acquire) != 0;
}

// Parks on the channel's data word (a reader) or space word (a writer) until try_once()
// succeeds or the deadline passes; every kProbePeriod it gives back the holds of the peer end's
// dead holders, and ends the wait (true) when the peer end closed or the process that last used
// it died.
template <class Try>
bool PipeCore::wait_until(bool for_space, Try try_once, Deadline deadline) {
    PipeState& state = *m_state;
    PipeChannelState& channel = state.channels[for_space ? 1 - m_end : m_end];
    ParkingSpot& spot = for_space ? channel.space : channel.data;
    const auto& peer = for_space ? state.ends[1 - m_end].receiver : state.ends[1 - m_end].sender;
    return park_at(spot, try_once, deadline, m_wait,
                   probe_every(kProbePeriod,
                               [&] {
                                   // relaxed is enough: a single word; a stale identity only
                                   // delays the verdict a period.
                                   return reap_dead_holders(state, 1 - m_end) ||
                                          !owner_alive(peer.load(std::memory_order_relaxed));
                               }),
                   BarrierWakers{fence_free()});
}

void PipeCore::write_all(std::span<const std::byte> header, std::span<const std::byte> payload) {
    SpscRing& ring = *m_send_ring;
    PipeChannelState& channel = m_state->channels[1 - m_end];
    for (;;) {
        const std::size_t taken = ring.write_some(header, payload);
        const std::size_t from_header = std::min(taken, header.size());
        header = header.subspan(from_header);
        payload = payload.subspan(taken - from_header);
        if (taken != 0)
            notify_without_fence(channel.data, fence_free());
        if (header.empty() && payload.empty())
            return;
        wait_until(
            true, [&] { return ring.writable() != 0 || peer_gone() || closed(); },
            Deadline::never());
        require_open();
        if (peer_gone() || ring.writable() == 0)
            throw Closed("the other end of the pipe is closed or its process died");
    }
}

// Waits until `frame` bytes fit in the send ring (as many as the ring holds, for a bigger
// frame), so that a send with a limit writes all of a frame that fits, or nothing. False when
// the deadline passed first; Closed when either end is closed or the receiving process died.
bool PipeCore::await_room(std::size_t frame, Deadline deadline) {
    SpscRing& ring = *m_send_ring;
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(frame, ring.capacity()));
    const auto fits = [&] { return ring.writable(wanted) >= wanted; };
    const bool ended = wait_until(
        true, [&] { return fits() || peer_gone() || closed(); }, deadline);
    require_open();
    if (peer_gone())
        throw Closed("the other end of the pipe is closed");
    if (fits())
        return true;
    if (ended)
        throw Closed("the process at the other end of the pipe died");
    return false;
}

bool PipeCore::send(std::span<const std::byte> message, Deadline deadline) {
    if (!m_send_ring)
        throw UsageError("send on the receive-only end of a one-way pipe");
    require_open();
    require_not_held(m_send_ring);
    if (message.size() > max_message_size())
        throw MessageTooLarge("a message of " + std::to_string(message.size()) +
                              " bytes exceeds this pipe's max_message_size of " +
                              std::to_string(max_message_size()));
    if (peer_gone())
        throw Closed("the other end of the pipe is closed");
    record(m_state->ends[m_end].sender);
    // Without a limit, write what fits at once: the reader starts on a big frame sooner.
    if (!deadline.is_never() && !await_room(kHeaderBytes + message.size(), deadline))
        return false;
    const auto length = static_cast<std::uint32_t>(message.size());
    std::byte header[kHeaderBytes];
    std::memcpy(header, &length, kHeaderBytes);
    write_all(header, message);
    m_send_ring->count_message_written();
    return true;
}

bool PipeCore::header_ready() const {
    const SpscRing& ring = *m_recv_ring;
    if (ring.readable(kHeaderBytes) >= kHeaderBytes)
        return true;
    // Waiting for the next frame: ask for its first lines now, so that they are on their way
    // (or here) when write_pos moves, rather than fetched only after.
    const std::uint64_t next = ring.read_position();
    __builtin_prefetch(ring.data_at(next));
    __builtin_prefetch(ring.data_at(next + kCacheLine));
    return false;
}

// Waits until a whole header is readable or the stream has ended (true), or the deadline passed
// (false). Throws nothing for either, so that poll() and the try_ forms cost no exception.
bool PipeCore::header_or_end(Deadline deadline) {
    const bool arrived = wait_until(
        false, [&] { return header_ready() || peer_gone() || closed(); }, deadline);
    require_open();
    return arrived || header_ready();
}

// The length announced by the frame at the read position, or nullopt while no whole header is
// readable. Consumes padding frames on the way: they are published with the frame that follows
// them, so that frame's header is readable too. One peek reads a header and, when it starts a
// padding frame, the padding's size.
std::optional<std::uint32_t> PipeCore::ready_length() {
    SpscRing& ring = *m_recv_ring;
    for (;;) {
        std::uint32_t words[2] = {0, 0};
        const std::size_t seen = ring.peek(std::as_writable_bytes(std::span(words)));
        if (seen < kHeaderBytes)
            return std::nullopt;
        if (words[0] != kPaddingFrame)
            return words[0];
        const std::uint64_t skip = kPaddingHeaderBytes + std::uint64_t{words[1]};
        if (seen < kPaddingHeaderBytes || ring.readable(skip + kHeaderBytes) < skip + kHeaderBytes)
            throw CorruptSegment("pipe: a padding frame of " + std::to_string(skip) +
                                 " bytes is not followed by a frame");
        (void)ring.skip_and_read(skip, {});
    }
}

// Waits until a whole header is readable and returns the length it announces, without
// consuming it. EndOfStream when the stream ended first, Timeout when the deadline passed.
// A header already there costs one peek and no wait.
std::uint32_t PipeCore::await_header(Deadline deadline) {
    std::optional<std::uint32_t> length = ready_length();
    if (!length) {
        if (!header_or_end(deadline))
            throw Timeout("no message");
        length = ready_length();
        if (!length)
            throw EndOfStream("the other end of the pipe is closed (or its process died) and "
                              "the pipe is drained");
    }
    if (*length > max_message_size())
        throw CorruptSegment("pipe: a frame announces " + std::to_string(*length) +
                             " bytes, more than max_message_size");
    return *length;
}

// Waits, without a limit, until the first `bytes` bytes of the frame at the read position are
// all readable (its sender may still be streaming it). EndOfStream when the sender went away.
void PipeCore::await_frame(std::size_t bytes) {
    SpscRing& ring = *m_recv_ring;
    const auto whole = [&] { return ring.readable(bytes) >= bytes; };
    wait_until(
        false, [&] { return whole() || peer_gone() || closed(); }, Deadline::never());
    require_open();
    if (!whole())
        throw EndOfStream("the other end of the pipe closed in the middle of a message");
}

void PipeCore::read_payload(std::byte* to, std::size_t length) {
    SpscRing& ring = *m_recv_ring;
    PipeChannelState& channel = m_state->channels[m_end];
    // The header was peeked (await_header): consumed with the first bytes of the payload.
    for (std::size_t done = 0, header = kHeaderBytes;; header = 0) {
        done += ring.skip_and_read(header, {to + done, length - done});
        notify_without_fence(channel.space, fence_free());
        if (done == length) {
            ring.count_message_read();
            return;
        }
        const bool arrived = wait_until(
            false, [&] { return ring.readable() != 0 || peer_gone() || closed(); },
            Deadline::never());
        require_open();
        if (arrived && ring.readable() == 0)
            throw EndOfStream("the other end of the pipe closed in the middle of a message");
    }
}

void PipeCore::recv(ByteBuffer& out, std::size_t max_length, Deadline deadline) {
    if (!m_recv_ring)
        throw UsageError("recv on the send-only end of a one-way pipe");
    require_open();
    require_not_held(m_recv_ring);
    record(m_state->ends[m_end].receiver);
    const std::uint32_t length = await_header(deadline);
    if (length > max_length)
        throw MessageTooLarge("a message of " + std::to_string(length) +
                              " bytes is longer than the " + std::to_string(max_length) +
                              " allowed; it stays in the pipe");
    read_payload(out.resize_for_overwrite(length), length);
}

std::size_t PipeCore::recv_into(std::span<std::byte> buffer) {
    if (!m_recv_ring)
        throw UsageError("recv on the send-only end of a one-way pipe");
    require_open();
    require_not_held(m_recv_ring);
    record(m_state->ends[m_end].receiver);
    const std::uint32_t length = await_header(Deadline::never());
    if (length > buffer.size()) {
        // As Python: the message is consumed and handed over in the exception.
        std::vector<std::byte> message(length);
        read_payload(message.data(), length);
        throw BufferTooShort(std::move(message), buffer.size());
    }
    read_payload(buffer.data(), length);
    return length;
}

bool PipeCore::poll(Deadline deadline) {
    if (!m_recv_ring)
        throw UsageError("poll on the send-only end of a one-way pipe");
    require_open();
    return header_or_end(deadline);
}

WaitTarget PipeCore::wait_target() const {
    if (!m_recv_ring)
        throw UsageError("wait on the send-only end of a one-way pipe");
    PipeState& state = *m_state;
    ParkingSpot& spot = state.channels[m_end].data;
    const auto& sender = state.ends[1 - m_end].sender;
    WaitTarget target;
    target.word = &spot.word;
    target.waiters = &spot.waiters;
    target.ready = [this] { return header_ready() || peer_gone() || closed(); };
    target.probe = [&sender] {
        // relaxed is enough: as in wait_until's probe, a stale identity delays a period.
        return !owner_alive(sender.load(std::memory_order_relaxed));
    };
    target.barrier_after_registering = fence_free();
    target.identity = &spot;
    return target;
}

// The end closes for every process when ours was the last hold (close_end wakes everyone);
// otherwise only our own threads parked on it must wake, to find it closed here.
void PipeCore::close() {
    m_hold->release();
    for (PipeChannelState& channel : m_state->channels) {
        notify_all(channel.data);
        notify_all(channel.space);
    }
}

} // namespace shmbus::detail

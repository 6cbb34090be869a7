// SPDX-License-Identifier: Apache-2.0
// PipeCore: a pipe's state and ends, and the writer's side of the frames (pipe_state.hpp). The
// reader's side is in pipe_reads.cpp, loans and borrows in pipe_loans.cpp.
#include "shmbus/detail/pipe_core.hpp"

#include "messaging/pipe_checks.hpp"
#include "messaging/pipe_ends.hpp"
#include "messaging/pipe_state.hpp"
#include "messaging/pipe_wait.hpp"
#include "os/membarrier.hpp"
#include "os/owner.hpp"
#include "ring/spsc_ring.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/pipe.hpp"
#include "wait/notify.hpp"

#include <algorithm>
#include <new>
#include <string>

namespace shmbus::detail {
namespace {

// A frame (with the next header word) above this many bytes that does not fit at once is
// streamed when sent without a limit, so that the reader copies while the writer still writes;
// a smaller one waits for its room and is committed whole, which the reader sees in one line.
constexpr std::uint64_t kStreamFrom = 4096;

// A message in one piece: send_bytes, or a value encoded into a buffer.
struct OnePiece {
    std::span<const std::byte> bytes;
    std::size_t size() const { return bytes.size(); }
    // Writes bytes [from, from + count) of the message at ring position `at`.
    void write(SpscRing& ring, std::uint64_t at, std::size_t from, std::size_t count) const {
        ring.write_at(at, bytes.subspan(from, count));
    }
};

// A value's length word and then its elements' bytes (shmbus/detail/frame_codec.hpp), each
// copied straight into the ring.
struct TwoPieces {
    std::span<const std::byte> first;
    std::span<const std::byte> second;
    std::size_t size() const { return first.size() + second.size(); }
    void write(SpscRing& ring, std::uint64_t at, std::size_t from, std::size_t count) const {
        if (from < first.size()) {
            const std::size_t head = std::min(count, first.size() - from);
            ring.write_at(at, first.subspan(from, head));
            at += head;
            from += head;
            count -= head;
        }
        if (count != 0)
            ring.write_at(at, second.subspan(from - first.size(), count));
    }
};

// A writer that finds the ring full first waits, while the reader keeps reading, until this
// share of the ring is free (await_burst).
constexpr std::uint64_t kBurstShare = 8;
// Pauses between two looks at the reader's position during that wait.
constexpr unsigned kPausesPerLook = 16;

// A writer that resumed as soon as one frame fits would reload the reader's position after
// every frame it writes, and the reader's next store of it would wait for the line to come
// back: a stream whose writer outruns its reader ran at half the rate of one whose writer lets
// the reader free a burst first (docs/design/rings.md, "A full ring"). Returns once kBurstShare
// of the ring (or `wanted`) is free, or at the first look that finds the reader no further on:
// a reader that stopped (it waits for something else, or died) is not waited for. The room
// only grows while we wait, so each look that goes on finds more of it, up to the whole ring.
void await_burst(const SpscRing& ring, std::uint64_t wanted) {
    const std::uint64_t burst = std::max(wanted, ring.capacity() / kBurstShare);
    std::uint64_t room = ring.writable(burst);
    while (room < burst) {
        for (unsigned i = 0; i < kPausesPerLook; ++i)
            cpu_relax();
        const std::uint64_t now = ring.writable(burst);
        if (now <= room)
            return;
        room = now;
    }
}

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

} // namespace

std::pair<PipeCore, PipeCore> PipeCore::create(const Segment& segment, std::string_view name,
                                               bool duplex, const PipeOptions& options) {
    if (options.max_message_size == 0 || options.max_message_size > kMaxFrameLength)
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
    return end_closed();
}

void PipeCore::throw_closed_end() const {
    throw Closed("operation on a closed connection");
}

void PipeCore::throw_held(const std::shared_ptr<SpscRing>& ring) const {
    throw UsageError(ring == m_send_ring
                         ? "this end holds a loan: publish or drop it before sending"
                         : "this end holds a borrowed message: release it before receiving");
}

void PipeCore::throw_peer_gone() const {
    throw Closed("the other end of the pipe is closed");
}

void PipeCore::throw_too_large(std::size_t size) const {
    throw MessageTooLarge("a message of " + std::to_string(size) +
                          " bytes exceeds this pipe's max_message_size of " +
                          std::to_string(max_message_size()));
}

// Waits until `frame` bytes fit in the send ring (as many as the ring holds, for a bigger
// frame), so that a send with a limit writes all of a frame that fits, or nothing. False when
// the deadline passed first; Closed when either end is closed or the receiving process died.
bool PipeCore::await_room(std::size_t frame, Deadline deadline) {
    SpscRing& ring = *m_send_ring;
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(frame, ring.capacity()));
    const auto fits = [&] { return ring.writable(wanted) >= wanted; };
    if (m_wait.policy != WaitPolicy::block && !deadline.is_immediate())
        await_burst(ring, wanted);
    const bool ended = wait_until(
        true, [&] { return fits() || peer_gone() || closed(); }, deadline);
    require_open();
    if (peer_gone())
        throw_peer_gone();
    if (fits())
        return true;
    if (ended)
        throw Closed("the process at the other end of the pipe died");
    return false;
}

bool PipeCore::send(std::span<const std::byte> message, Deadline deadline) {
    return send_message(OnePiece{message}, deadline);
}

bool PipeCore::send(std::span<const std::byte> first, std::span<const std::byte> second,
                    Deadline deadline) {
    if (first.empty()) // a plain value: its bytes alone
        return send_message(OnePiece{second}, deadline);
    return send_message(TwoPieces{first, second}, deadline);
}

template <class Message>
bool PipeCore::send_message(const Message& message, Deadline deadline) {
    if (!m_send_ring)
        throw UsageError("send on the receive-only end of a one-way pipe");
    require_open();
    require_not_held(m_send_ring);
    const std::size_t size = message.size();
    if (size > max_message_size()) [[unlikely]]
        throw_too_large(size);
    if (peer_gone()) [[unlikely]]
        throw_peer_gone();
    record_user(m_state->ends[m_end].sender);
    // The frame and the next frame's header word, which the commit clears.
    const std::uint64_t needed = frame_bytes(size) + kHeaderBytes;
    SpscRing& ring = *m_send_ring;
    bool streamed = false;
    if (ring.writable(needed) < needed) {
        if (!deadline.is_never() && !await_room(needed, deadline))
            return false;
        // Without a limit, a big frame starts with what fits: the reader starts on it sooner.
        streamed = needed > ring.capacity() || (deadline.is_never() && needed > kStreamFrom);
        if (!streamed)
            (void)await_room(needed, Deadline::never());
    }
    if (streamed)
        write_streamed(message);
    else
        write_whole(message);
    ring.count_message_written();
    return true;
}

// Writes a frame that fits, then commits its header word: the reader polls that word only.
template <class Message>
void PipeCore::write_whole(const Message& message) {
    SpscRing& ring = *m_send_ring;
    const std::uint64_t pos = ring.write_position();
    const std::size_t size = message.size();
    const std::uint64_t end = pos + frame_bytes(size);
    message.write(ring, pos + kHeaderBytes, 0, size);
    ring.clear_word(end);
    // write_pos first, so that the reader's position never passes it (shmbus inspect).
    ring.publish_to(end);
    ring.commit_word(pos, frame_header(FrameKind::whole, size));
    notify_without_fence(m_state->channels[1 - m_end].data, fence_free());
}

// Commits a `streamed` header word, then streams the payload as room appears, each piece
// published by write_pos. The next frame's header word is cleared before the last piece is
// published, so every piece leaves room for it.
template <class Message>
void PipeCore::write_streamed(const Message& message) {
    SpscRing& ring = *m_send_ring;
    ParkingSpot& data = m_state->channels[1 - m_end].data;
    const std::uint64_t pos = ring.write_position();
    const std::size_t size = message.size();
    const std::uint64_t end = pos + frame_bytes(size);
    (void)await_room(kHeaderBytes, Deadline::never());
    // write_pos first: a reader that sees the word reads the payload's extent from it.
    ring.publish_to(pos + kHeaderBytes);
    ring.commit_word(pos, frame_header(FrameKind::streamed, size));
    notify_without_fence(data, fence_free());
    for (std::uint64_t at = pos + kHeaderBytes; at != end;) {
        const std::uint64_t want =
            std::min<std::uint64_t>(end - at + kHeaderBytes, ring.capacity());
        std::uint64_t room = ring.writable(want);
        if (room <= kHeaderBytes) {
            (void)await_room(kHeaderBytes + 1, Deadline::never());
            room = ring.writable(want);
        }
        const std::uint64_t step = std::min<std::uint64_t>(room - kHeaderBytes, end - at);
        const std::uint64_t done = at - pos - kHeaderBytes;
        if (done < size)
            message.write(ring, at, done, std::min<std::uint64_t>(step, size - done));
        at += step;
        if (at == end)
            ring.clear_word(end);
        ring.publish_to(at);
        notify_without_fence(data, fence_free());
    }
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

// SPDX-License-Identifier: Apache-2.0
// The state of a Pipe in a segment: this struct, then one SpscRing per direction.
// channels[e] carries the bytes that end e receives, written by end 1 - e. A one-way pipe
// (duplex = false) has only channels[0]: end 0 receives, end 1 sends.
//
// Ends are held per process, as file descriptors are (version 4): holders[e] counts the
// processes that hold end e and names up to kPipeEndHolderSlots of them. The creator holds
// both ends; a fork adds a hold for the child on each end its parent holds (pipe_ends.cpp);
// a process gives its hold back on close() or when its last handle on the end is destroyed,
// and a prober gives back the hold of a named holder found dead. The end closes (`closed`)
// when the count reaches zero.
#pragma once

#include "os/owner.hpp"
#include "ring/spsc_ring.hpp"
#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "wait/notify.hpp"

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

inline constexpr std::uint64_t kPipeStateMagic = 0x3145'5049'5053'4253ULL; // "SBSPIPE1"
inline constexpr std::uint32_t kPipeStateVersion = 5;

/// A frame on a channel starts 8-byte aligned with one header word, committed in band
/// (version 5): [u64 length | kind << 32][payload][padded to 8 bytes]. The writer clears the
/// next frame's header word before it commits a frame, so a zero word at the read position
/// means that no frame is there yet. A `whole` frame's word is stored, with release, after its
/// payload: the reader polls the word and reads no write position. A `streamed` frame (one that
/// did not fit at once) has its word stored first, and its payload follows as the ring's write
/// position publishes it. A `padding` frame [word][length bytes] is skipped by every reader: a
/// loan writes one so that its payload starts 64-byte aligned and does not wrap.
inline constexpr std::size_t kHeaderBytes = sizeof(std::uint64_t);
inline constexpr std::uint64_t kMaxFrameLength = UINT32_MAX - 1;

enum class FrameKind : std::uint32_t { none = 0, whole = 1, streamed = 2, padding = 3 };

inline constexpr std::uint64_t frame_header(FrameKind kind, std::uint64_t length) {
    return std::uint64_t{static_cast<std::uint32_t>(kind)} << 32 | length;
}
inline constexpr FrameKind frame_kind(std::uint64_t header) {
    return static_cast<FrameKind>(header >> 32);
}
inline constexpr std::uint32_t frame_length(std::uint64_t header) {
    return static_cast<std::uint32_t>(header);
}
/// The bytes a frame whose payload has `length` bytes takes on the ring, header included.
inline constexpr std::uint64_t frame_bytes(std::uint64_t length) {
    return kHeaderBytes + (length + kHeaderBytes - 1) / kHeaderBytes * kHeaderBytes;
}

inline constexpr std::uint32_t kPipeEndHolderSlots = 14;

struct alignas(kCacheLine) PipeEndState {
    /// 1 once no process holds this end any more (holders).
    std::atomic<std::uint32_t> closed;
    /// The process that last sent from this end (the creator before any send): a reader parked
    /// on an empty channel probes it, and reads end-of-stream once it is dead.
    std::atomic<OwnerId> sender;
    /// The process that last received at this end: a writer parked on a full channel probes it.
    std::atomic<OwnerId> receiver;
};

struct alignas(kCacheLine) PipeChannelState {
    std::uint64_t ring_offset; ///< from the start of PipeState; 0 when the channel does not exist
    std::uint64_t ring_bytes;
    /// The receiving end parks here; bumped after a write when it is registered.
    ParkingSpot data;
    /// The sending end parks here; bumped after a read when it is registered.
    ParkingSpot space;
};

/// The processes that hold one end. Written only when a process takes or gives back a hold.
struct alignas(kCacheLine) PipeEndHolders {
    /// Holds in all: the named ones, the untracked ones, and those a fork in progress gave a
    /// child that has not yet taken its slot. The end closes when this reaches zero.
    std::atomic<std::uint32_t> holds;
    /// Holds of processes that found every slot taken: given back by them only, never found
    /// dead (the peer's probe of the last sender still ends a wait on a dead one).
    std::atomic<std::uint32_t> untracked;
    /// A process holding the end, kNoOwner when free.
    std::atomic<OwnerId> slots[kPipeEndHolderSlots];
};

struct alignas(kCacheLine) PipeState {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t duplex;
    std::uint64_t capacity; ///< bytes of each ring
    std::uint64_t max_message_size;
    /// 1: wakers skip their fence and waiters pass heavy_barrier() (wait/notify.hpp,
    /// notify_without_fence); 0: the fenced notify_all.
    std::uint32_t fence_free_wakers;
    PipeEndState ends[2];
    PipeChannelState channels[2];
    PipeEndHolders holders[2];
};

static_assert(sizeof(PipeEndState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(PipeChannelState) == 3 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(PipeState, ends) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(PipeState, channels) == 3 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(PipeEndHolders) == 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(PipeState, holders) == 9 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(PipeState) == 13 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");

/// Why channel `channel` of `state` (`size` bytes) is not a ring inside it, or nullopt.
inline std::optional<std::string> channel_problem(const PipeState& state, std::uint64_t size,
                                                  int channel) {
    const PipeChannelState& c = state.channels[channel];
    if (c.ring_offset < sizeof(PipeState) || c.ring_offset % kCacheLine != 0 ||
        c.ring_offset > size || c.ring_bytes > size - c.ring_offset)
        return "pipe state: the ring of channel " + std::to_string(channel) +
               " lies outside the object";
    return state_problem<SpscRingHeader>(reinterpret_cast<const char*>(&state) + c.ring_offset,
                                         c.ring_bytes);
}

/// Why the `size` bytes at `state` are not a Pipe of this build, its rings included, or nullopt
/// (segment/state_ref.hpp).
inline std::optional<std::string> validate(const PipeState& state, std::uint64_t size) {
    if (auto problem =
            stamp_problem("pipe", state.magic, kPipeStateMagic, state.version, kPipeStateVersion))
        return problem;
    if (state.duplex > 1)
        return "pipe state: duplex is " + std::to_string(state.duplex);
    if (state.fence_free_wakers > 1)
        return "pipe state: fence_free_wakers is " + std::to_string(state.fence_free_wakers);
    if (state.max_message_size > kMaxFrameLength)
        return "pipe state: max_message_size " + std::to_string(state.max_message_size) +
               " does not fit a frame header";
    if (auto problem = channel_problem(state, size, 0))
        return problem;
    if (state.duplex != 0)
        return channel_problem(state, size, 1);
    if (state.channels[1].ring_offset != 0)
        return std::string("pipe state: a one-way pipe has a second channel");
    return std::nullopt;
}

} // namespace shmbus::detail

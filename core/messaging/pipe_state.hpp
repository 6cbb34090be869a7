// SPDX-License-Identifier: Apache-2.0
// The state of a Pipe in a segment: this struct, then one SpscRing per direction.
// channels[e] carries the bytes that end e receives, written by end 1 - e. A one-way pipe
// (duplex = false) has only channels[0]: end 0 receives, end 1 sends.
#pragma once

#include "os/owner.hpp"
#include "segment/layout.hpp"
#include "wait/notify.hpp"

#include <atomic>
#include <cstdint>

namespace shmbus::detail {

inline constexpr std::uint64_t kPipeMagic = 0x3145'5049'5053'4253ULL; // "SBSPIPE1"
inline constexpr std::uint32_t kPipeVersion = 2;

struct alignas(kCacheLine) PipeEndState {
    /// 1 once close() was called on this end, by any process.
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

struct alignas(kCacheLine) PipeState {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t duplex;
    std::uint64_t capacity; ///< bytes of each ring
    std::uint64_t max_message_size;
    PipeEndState ends[2];
    PipeChannelState channels[2];
};

static_assert(sizeof(PipeEndState) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(PipeChannelState) == 3 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(PipeState, ends) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(PipeState, channels) == 3 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(PipeState) == 9 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");

} // namespace shmbus::detail

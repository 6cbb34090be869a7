// SPDX-License-Identifier: Apache-2.0
// The shared-memory layout of an MPMC ring (ring/mpmc_ring.hpp): header, leases, slot controls
// and data, with the constants and static_asserts that pin it.
//
// Layout (each line is one 64-byte cache line unless noted):
//
//   MpmcRingHeader  immutable geometry, closed flag, recovery lock   (line 0)
//                   tail, reclaim, put_bias   producers only         (line 2, line 1 padding)
//                   head, get_bias            consumers only         (line 4, line 3 padding)
//   RingLease[160]  a thread's claim in flight and its message counts: 128 owned (one per
//                   thread that used the ring, kept until it dies), then 32 shared (borrowed
//                   for one put or get by a thread that found every owned lease held by a live
//                   thread)
//   RingControl[N]  one line per slot: [seq u64][meta u64], then padding; N a power of two
//   data[N * 64]    the payload: slot i's 64 bytes; a frame's bytes are contiguous (modulo
//                   the wrap), so a large message is one or two memcpy calls
//
// One control per line (layout 8). Layouts 3 to 7 packed four 16-byte controls in a line,
// spread so that neighbouring slots did not share one; but any two slots in one line have the
// producer and the consumer write the same line while the producer runs ahead. A throwaway SPSC
// stream over this layout measured 0.6 of the one-line-per-control rate with the sharers 16
// slots apart, 0.75 with them a quarter of the ring apart, and the Queue streamed 0.50-0.55 of
// the plain ring's rate before, 0.57-0.68 after (docs/design/rings.md, "One control per
// line"). It costs 48 bytes of padding per slot: a ring takes twice its data's bytes.
#pragma once

#include "os/owner.hpp"
#include "ring/side_bias.hpp"
#include "segment/layout.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shmbus::detail {

inline constexpr std::uint64_t kMpmcRingHeaderMagic = 0x3143'504d'5253'4253ULL; // "SBSRMPC1"
inline constexpr std::uint32_t kMpmcRingHeaderVersion = 8;
inline constexpr std::uint32_t kOwnedLeases = 128;
inline constexpr std::uint32_t kSharedLeases = 32;
inline constexpr std::uint32_t kRingLeases = kOwnedLeases + kSharedLeases;
inline constexpr std::size_t kSlotBytes = kCacheLine;
inline constexpr std::uint64_t kNoPosition = ~std::uint64_t{0};
inline constexpr std::uint32_t kPaddingFlag = 0x8000'0000U;
/// A tagged claim's record in its lease (lease_tag): the operation's bit, then the caller's tag
/// below 2^62; 0 for an untagged claim (tag 0).
inline constexpr std::uint64_t kTaggedPut = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kTaggedGet = std::uint64_t{1} << 62;
constexpr std::uint64_t lease_tag(std::uint64_t operation, std::uint64_t tag) {
    tag &= kTaggedGet - 1;
    return tag == 0 ? 0 : operation | tag;
}
/// Frames carry a 31-bit size.
inline constexpr std::size_t kMaxFrameSize = kPaddingFlag - 1;

struct alignas(kCacheLine) RingControl {
    std::atomic<std::uint64_t> seq;
    std::atomic<std::uint64_t> meta;
};

/// The claim a thread has in flight (kNoPosition when none), and the messages put and got
/// through this lease since the ring was made (whoever held it).
struct alignas(kCacheLine) RingLease {
    std::atomic<OwnerId> owner; ///< kNoOwner: free
    std::atomic<std::uint64_t> put_pos;
    std::atomic<std::uint64_t> get_pos;
    std::atomic<std::uint32_t> put_slots;
    /// A loan's padding: slots at the claim's start, up to the ring's end (0 for other puts).
    std::atomic<std::uint32_t> put_pad;
    std::atomic<std::uint64_t> puts;
    std::atomic<std::uint64_t> gets;
    /// The tagged put or get this lease made last (kTaggedPut or kTaggedGet | its tag), 0: none.
    std::atomic<std::uint64_t> tag;
    /// `tag`'s value once that put's frame was written whole (see "Tagged claims").
    std::atomic<std::uint64_t> committed;
};

struct alignas(kCacheLine) MpmcRingHeader {
    // Immutable once initialised.
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t lease_count;
    std::uint64_t slot_count;
    std::uint64_t leases_offset; ///< from the start of this header
    std::uint64_t control_offset;
    std::uint64_t data_offset;
    // Read-mostly.
    std::atomic<std::uint32_t> closed;
    std::atomic<OwnerId> recovery_owner; ///< the thread running recover_dead(), kNoOwner: none
    // Two lines between the producers' and the consumers' index: the adjacent-line prefetcher
    // pulls 128-byte pairs.
    alignas(kCacheLine) unsigned char pad_producers[kCacheLine];
    std::atomic<std::uint64_t> tail;
    /// Positions below it are free for producers: the previous lap's frames up to it were
    /// released (see "Reclaim" at the top of this file). Producers only.
    std::atomic<std::uint64_t> reclaim;
    /// Whether one producer moves tail and reclaim with plain stores (ring/side_bias.hpp).
    SideBias put_bias;
    alignas(kCacheLine) unsigned char pad_consumers[kCacheLine];
    std::atomic<std::uint64_t> head;
    /// Totals of every recover_dead() so far (see RecoveryReport), for `shmbus inspect`.
    std::atomic<std::uint64_t> lost_count;
    std::atomic<std::uint64_t> padded_count;
    /// Whether one consumer moves head with plain stores.
    SideBias get_bias;
};

static_assert(sizeof(RingControl) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(RingLease) == kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, closed) == 48,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, tail) == 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, reclaim) == 2 * kCacheLine + 8,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, head) == 4 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, put_bias) == 2 * kCacheLine + 16,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, get_bias) == 4 * kCacheLine + 24,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(MpmcRingHeader, padded_count) < 5 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(MpmcRingHeader) == 5 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

} // namespace shmbus::detail

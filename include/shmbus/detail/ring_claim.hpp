// SPDX-License-Identifier: Apache-2.0
// A claim on a Queue's ring kept between calls: the slots a loan writes in place, or a frame a
// borrow reads in place. Opaque to the typed views: core/ring/mpmc_ring.cpp fills it in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace shmbus::detail {

struct RingLease;

/// The claim behind a Queue's Loan or Borrowed (queue_loan.hpp).
struct RingClaim {
    RingLease* lease = nullptr; ///< null: no claim
    bool shared_lease = false;  ///< a shared lease, given back when the claim ends
    std::uint64_t pos = 0;      ///< the frame's first position
    std::uint64_t slots = 0;    ///< the frame's slots
    std::uint64_t pad = 0;      ///< a loan's padding slots before pos (the claim began there)
    /// The frame's bytes when they are contiguous; a borrowed frame that wraps the ring's end
    /// comes in two pieces, `bytes` then `rest`.
    std::span<std::byte> bytes;
    std::span<std::byte> rest; ///< the wrapped part of a borrowed frame, else empty
};

} // namespace shmbus::detail

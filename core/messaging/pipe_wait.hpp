// SPDX-License-Identifier: Apache-2.0
// What the two halves of PipeCore (pipe_core.cpp, pipe_reads.cpp) share: the wait
// on a channel's parking spot with the peer's liveness probe, and the record of which process
// uses an end.
#pragma once

#include "messaging/pipe_ends.hpp"
#include "messaging/pipe_state.hpp"
#include "os/owner.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <atomic>
#include <chrono>

namespace shmbus::detail {

// How often a parked send or recv checks whether the peer process is still alive.
inline constexpr auto kProbePeriod = std::chrono::milliseconds(50);

// Remembers which process uses an end, for the peer's liveness probe. Costs one load of a
// line this side owns when nothing changed.
inline void record_user(std::atomic<OwnerId>& who) {
    const OwnerId me = this_process_owner();
    // relaxed is enough: a single word read only by the peer's liveness probe.
    if (who.load(std::memory_order_relaxed) != me)
        who.store(me, std::memory_order_relaxed);
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

} // namespace shmbus::detail

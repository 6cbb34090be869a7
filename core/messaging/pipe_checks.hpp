// SPDX-License-Identifier: Apache-2.0
// The checks every send and recv of a Pipe makes, and what every recv does before and after a
// frame, inline in their paths (pipe_core.cpp, pipe_reads.cpp, pipe_loans.cpp): each check is a
// load or two and a branch; the throws are out of line (pipe_core.cpp), so that they do not
// weigh on the common path's code.
#pragma once

#include "messaging/pipe_ends.hpp"
#include "messaging/pipe_state.hpp"
#include "messaging/pipe_wait.hpp"
#include "ring/spsc_ring.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "shmbus/errors.hpp"
#include "wait/notify.hpp"

#include <atomic>

namespace shmbus::detail {

inline bool PipeCore::end_closed() const {
    // SYNC acquire: pairs with the seq_cst store in close_end().
    return m_hold->released() || m_state->ends[m_end].closed.load(std::memory_order_acquire) != 0;
}

inline void PipeCore::require_open() const {
    if (end_closed()) [[unlikely]]
        throw_closed_end();
}

// The peer end was closed: no process holds it. Its data written before is visible afterwards:
// the acquire pairs with the seq_cst closed store, which follows the holders' last writes.
inline bool PipeCore::peer_gone() const {
    // SYNC acquire: pairs with the seq_cst store in close_end().
    return m_state->ends[1 - m_end].closed.load(std::memory_order_acquire) != 0;
}

inline void PipeCore::require_not_held(const std::shared_ptr<SpscRing>& ring) const {
    if (ring && ring->held()) [[unlikely]]
        throw_held(ring);
}

// The checks of every recv, then the wait for a frame's header word.
inline std::uint64_t PipeCore::begin_recv(Deadline deadline) {
    if (!m_recv_ring) [[unlikely]]
        throw UsageError("recv on the send-only end of a one-way pipe");
    require_open();
    require_not_held(m_recv_ring);
    record_user(m_state->ends[m_end].receiver);
    return await_header(deadline);
}

// After a frame is consumed: its room may let a parked writer on.
inline void PipeCore::frame_read() {
    notify_without_fence(m_state->channels[m_end].space, fence_free());
    m_recv_ring->count_message_read();
}

} // namespace shmbus::detail

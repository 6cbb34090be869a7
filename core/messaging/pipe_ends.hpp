// SPDX-License-Identifier: Apache-2.0
// Per-process ends of a Pipe (the holders in pipe_state.hpp): a process holds an end while it
// has a handle on it, as with a file descriptor; the end closes for every process when the last
// holder gives its hold back or is found dead.
#pragma once

#include "messaging/pipe_state.hpp"
#include "shmbus/detail/object.hpp"

#include <atomic>

namespace shmbus::detail {

/// The creator's hold on both ends; called while the state is built, before anyone sees it.
void init_holders(PipeState& state);

/// Takes a hold on `end` for this process (a process that opens the pipe by name) and returns
/// the slot that names it, -1 when it is untracked. Closed when no process holds the end any
/// more: a closed end never opens again.
int take_hold(PipeState& state, int end);

/// Closes `end` for every process and wakes every waiter on the pipe.
void close_end(PipeState& state, int end);

/// Gives back the holds of named holders of `end` that died; true when the end is closed (now
/// or before).
bool reap_dead_holders(PipeState& state, int end);

/// This process's hold on one end, shared by all its handles (Connections) on that end. A fork
/// gives the child a hold of its own on every end its parent holds at that moment.
class PipeEndHold {
public:
    /// The hold this process already has in `slot` (the creator's, from init_holders, or one
    /// from take_hold; -1: an untracked one).
    PipeEndHold(ObjectRef object, PipeState& state, int end, int slot);
    /// Gives the hold back unless release() did.
    ~PipeEndHold();
    PipeEndHold(const PipeEndHold&) = delete;
    PipeEndHold& operator=(const PipeEndHold&) = delete;

    /// Gives the hold back, once; the end closes when it was the last.
    void release();
    /// True once this process gave its hold back.
    bool released() const {
        // relaxed is enough: a flag of this process; the shared state is ordered by drop_hold.
        return m_released.load(std::memory_order_relaxed);
    }

    /// Before a fork: counts the hold the child will take.
    void add_for_child();
    /// In the child of a fork: takes the hold add_for_child() counted, in a slot of its own.
    void take_in_child();

private:
    ObjectRef m_object; ///< keeps the segment mapped while the hold lives
    PipeState& m_state;
    int m_end;
    int m_slot; ///< -1: an untracked hold
    std::atomic<bool> m_released{false};
};

} // namespace shmbus::detail

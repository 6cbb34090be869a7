// SPDX-License-Identifier: Apache-2.0
#include "messaging/pipe_ends.hpp"

#include "os/owner.hpp"
#include "shmbus/errors.hpp"
#include "wait/notify.hpp"

#include <algorithm>
#include <mutex>
#include <pthread.h>
#include <string>
#include <utility>
#include <vector>

namespace shmbus::detail {
namespace {

// Every live hold of this process, for the fork handlers.
struct HoldRegistry {
    std::mutex mutex;
    std::vector<PipeEndHold*> holds;
};

HoldRegistry& registry();

// Before fork: the mutex stays taken until both sides have run their handler, so no hold is
// made or dropped in between; every hold the child inherits is counted for it first, so the
// end cannot close while the child has yet to take its slot.
void before_fork() {
    HoldRegistry& r = registry();
    r.mutex.lock();
    for (PipeEndHold* hold : r.holds)
        if (!hold->released())
            hold->add_for_child();
}

void after_fork_in_parent() {
    registry().mutex.unlock();
}

void after_fork_in_child() {
    HoldRegistry& r = registry();
    r.mutex.unlock();
    for (PipeEndHold* hold : r.holds)
        if (!hold->released())
            hold->take_in_child();
}

HoldRegistry& registry() {
    static HoldRegistry* const made = [] {
        // Our child handler names the child with this_process_owner(), whose own handler
        // (registered on first use, and child handlers run in registration order) must run first.
        (void)this_process_owner();
        auto* r = new HoldRegistry; // never destroyed: holds may outlive static destructors
        pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
        return r;
    }();
    return *made;
}

// Gives back one hold of `end`; closes the end when it was the last.
void drop_hold(PipeState& state, int end) {
    // SYNC seq_cst: the holds of every process form one modification order; whoever takes it to
    // zero closes the end, after the writes of every holder that gave its hold back.
    if (state.holders[end].holds.fetch_sub(1, std::memory_order_seq_cst) == 1)
        close_end(state, end);
}

// A free slot of `end` taken for `me`, or -1 when every slot is taken.
int take_slot(PipeEndHolders& holders, OwnerId me) {
    for (std::uint32_t i = 0; i < kPipeEndHolderSlots; ++i) {
        OwnerId expected = kNoOwner;
        // SYNC seq_cst: pairs with the acquire load of the slot in reap_dead_holders; relaxed
        // on failure (the slot is taken, try the next).
        if (holders.slots[i].compare_exchange_strong(expected, me, std::memory_order_seq_cst,
                                                     std::memory_order_relaxed))
            return static_cast<int>(i);
    }
    return -1;
}

// Names this process, which has just been counted in `end`'s holds, in a slot: the slot, or -1
// when every slot is taken by a live holder (then counted as untracked).
int name_holder(PipeState& state, int end) {
    PipeEndHolders& holders = state.holders[end];
    const OwnerId me = this_process_owner();
    int slot = take_slot(holders, me);
    if (slot < 0 && !reap_dead_holders(state, end))
        slot = take_slot(holders, me);
    if (slot < 0)
        // SYNC seq_cst: as every holder update.
        holders.untracked.fetch_add(1, std::memory_order_seq_cst);
    return slot;
}

} // namespace

int take_hold(PipeState& state, int end) {
    std::atomic<std::uint32_t>& holds = state.holders[end].holds;
    // SYNC seq_cst: one modification order with every other holder update (drop_hold).
    std::uint32_t held = holds.load(std::memory_order_seq_cst);
    do {
        // Zero holds: the end closed, and whoever took it there has closed it for good.
        if (held == 0)
            throw Closed("end " + std::to_string(end) +
                         " of the pipe is closed: no process holds it any more");
        // SYNC seq_cst: as above; on failure `held` is reloaded and checked again.
    } while (!holds.compare_exchange_weak(held, held + 1, std::memory_order_seq_cst));
    return name_holder(state, end);
}

void init_holders(PipeState& state) {
    for (PipeEndHolders& holders : state.holders) {
        // relaxed is enough (both): the object directory publishes the initialised state.
        holders.holds.store(1, std::memory_order_relaxed);
        holders.slots[0].store(this_process_owner(), std::memory_order_relaxed);
    }
}

void close_end(PipeState& state, int end) {
    // SYNC seq_cst: pairs with the acquire in PipeCore::peer_gone()/closed(); after the last
    // holder's writes (drop_hold).
    state.ends[end].closed.store(1, std::memory_order_seq_cst);
    for (PipeChannelState& channel : state.channels) {
        notify_all(channel.data);
        notify_all(channel.space);
    }
}

bool reap_dead_holders(PipeState& state, int end) {
    PipeEndHolders& holders = state.holders[end];
    for (std::atomic<OwnerId>& slot : holders.slots) {
        // SYNC acquire: pairs with the seq_cst CAS in take_slot.
        OwnerId holder = slot.load(std::memory_order_acquire);
        // SYNC seq_cst: only one prober (or the holder itself) frees the slot and drops its
        // hold; relaxed on failure (someone else did).
        if (holder != kNoOwner && !owner_alive(holder) &&
            slot.compare_exchange_strong(holder, kNoOwner, std::memory_order_seq_cst,
                                         std::memory_order_relaxed))
            drop_hold(state, end);
    }
    // SYNC acquire: pairs with the seq_cst store in close_end.
    return state.ends[end].closed.load(std::memory_order_acquire) != 0;
}

PipeEndHold::PipeEndHold(ObjectRef object, PipeState& state, int end, int slot)
    : m_object(std::move(object)), m_state(state), m_end(end), m_slot(slot) {
    HoldRegistry& r = registry();
    const std::lock_guard lock(r.mutex);
    r.holds.push_back(this);
}

PipeEndHold::~PipeEndHold() {
    {
        HoldRegistry& r = registry();
        const std::lock_guard lock(r.mutex);
        std::erase(r.holds, this);
    }
    release();
}

// The slot goes before the count: a process killed between the two leaks its hold (the end
// stays open), where the other order would let a prober drop it a second time.
void PipeEndHold::release() {
    // relaxed is enough: only decides which caller gives the hold back.
    if (m_released.exchange(true, std::memory_order_relaxed))
        return;
    PipeEndHolders& holders = m_state.holders[m_end];
    if (m_slot < 0) {
        // SYNC seq_cst: ordered before drop_hold's decrement, like every holder update.
        holders.untracked.fetch_sub(1, std::memory_order_seq_cst);
    } else {
        OwnerId me = this_process_owner();
        // SYNC seq_cst: as in take_slot; failure (relaxed) means a prober took us for dead
        // and dropped our hold already.
        if (!holders.slots[m_slot].compare_exchange_strong(me, kNoOwner, std::memory_order_seq_cst,
                                                           std::memory_order_relaxed))
            return;
    }
    drop_hold(m_state, m_end);
}

void PipeEndHold::add_for_child() {
    // SYNC seq_cst: before the fork, while this process still holds the end.
    m_state.holders[m_end].holds.fetch_add(1, std::memory_order_seq_cst);
}

void PipeEndHold::take_in_child() {
    m_slot = name_holder(m_state, m_end);
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// A side of a ring (its producers or its consumers) biased to one thread. While one thread
// alone puts (or gets), it moves the side's positions with plain stores instead of a locked
// compare-and-swap: a locked instruction drains the store buffer, so a put waited for the
// previous put's stores to reach the consumer's lines, and one-way streaming ran at a third of
// a plain ring's rate (docs/design/rings.md, "The biased side").
//
// The side is biased to the first thread that uses it, in a process registered for
// heavy_barrier(). The owner brackets each operation with `busy` (its plain window) and reads
// `mode` inside it; any other thread revokes the bias before it touches the positions:
//
//   owner:    busy = 1; (compiler fence) mode == open ? plain stores : CAS; busy = 0 (release)
//   revoker:  mode = revoking; heavy_barrier(); wait until busy == 0 (acquire); mode = shared
//
// The asymmetric Dekker pair: heavy_barrier() makes the owner pass a full barrier at some point
// B of its instruction stream. An owner whose load of mode comes after B sees `revoking` and
// uses CAS; one whose load came before B stored busy = 1 before B, and the revoker, loading
// busy after the barrier, waits for the window to close; its acquire of busy = 0 then sees
// every plain store the window made. Once `shared`, the side stays shared: every thread uses
// CAS. A thread that finds the bias held by a dead thread (while still open) takes it over: a
// dead owner makes no more stores. A revoker stops waiting for a window whose owner died in it.
//
// A store that is not a locked RMW is not ordered before a later load, so the two protocols
// that leaned on the tail and head CAS being seq_cst (close, and a parked waiter's may_sleep:
// wait/notify.hpp) add the same barrier on their rare side while the bias may be in force:
// bias_may_be_in_force().
#pragma once

#include "os/owner.hpp"

#include <atomic>
#include <cstdint>

namespace shmbus::detail {

/// SideBias::mode. `off`: never biased (a ring made for the block policy, or without
/// membarrier); `open`: biased to `owner` (or to the first thread when there is none yet).
enum class BiasMode : std::uint32_t { open = 0, revoking = 1, shared = 2, off = 3 };

struct SideBias {
    std::atomic<OwnerId> owner; ///< kNoOwner until the first put (or get)
    std::atomic<BiasMode> mode;
    std::atomic<std::uint32_t> busy; ///< 1 while the owner is inside its plain window
};

static_assert(sizeof(SideBias) == 16,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<BiasMode>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

/// True unless the side has settled on CAS for good: a waiter that relies on the side's
/// claims being seq_cst must call heavy_barrier() after it registered.
inline bool bias_may_be_in_force(const SideBias& bias) {
    // SYNC acquire: pairs with the release of `shared` in revoke: the plain stores of the last
    // window are visible once we read it.
    const BiasMode mode = bias.mode.load(std::memory_order_acquire);
    return mode == BiasMode::open || mode == BiasMode::revoking;
}

/// Makes `me` the side's owner (true) when the bias is open and unowned or its owner is dead,
/// or revokes it (false: use CAS). Out of line: once per thread and side, or on every call of
/// a thread of a shared side that finds no window of its own.
bool settle_bias(SideBias& bias, OwnerId me);

/// The owner's plain window around one put (or get); plain() says whether the caller may move
/// the side's positions with plain stores. Other threads, and the owner once the bias is
/// revoked, get plain() == false and use CAS.
class BiasWindow {
public:
    BiasWindow(SideBias& bias, OwnerId me) : m_bias(bias) {
        // relaxed is enough: a hint; the window's own load of mode decides.
        const BiasMode mode = bias.mode.load(std::memory_order_relaxed);
        if (mode != BiasMode::open) {
            // A revocation under way must be complete before this thread uses CAS.
            if (mode == BiasMode::revoking) [[unlikely]]
                settle_bias(bias, me);
            return;
        }
        // relaxed is enough: only this thread writes its own identity as the owner.
        if (bias.owner.load(std::memory_order_relaxed) != me && !settle_bias(bias, me))
            return;
        // relaxed is enough: the revoker's heavy_barrier() orders it before our load of mode.
        bias.busy.store(1, std::memory_order_relaxed);
        // The load of mode must follow the store of busy in the instruction stream, which is
        // what the revoker's barrier splits.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        // SYNC relaxed: pairs with the revoker's heavy_barrier() (the top of this file).
        m_plain = bias.mode.load(std::memory_order_relaxed) == BiasMode::open;
        if (!m_plain)
            close();
    }
    ~BiasWindow() {
        if (m_plain)
            close();
    }
    BiasWindow(const BiasWindow&) = delete;
    BiasWindow& operator=(const BiasWindow&) = delete;

    bool plain() const { return m_plain; }

private:
    void close() {
        // SYNC release: pairs with the revoker's acquire of busy: our plain stores come first.
        m_bias.busy.store(0, std::memory_order_release);
    }

    SideBias& m_bias;
    bool m_plain = false;
};

} // namespace shmbus::detail

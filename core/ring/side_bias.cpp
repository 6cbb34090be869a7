// SPDX-License-Identifier: Apache-2.0
// The slow path of a biased ring side (ring/side_bias.hpp): taking the bias, and revoking it.
#include "ring/side_bias.hpp"

#include "os/membarrier.hpp"
#include "shmbus/errors.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace shmbus::detail {
namespace {

using Clock = std::chrono::steady_clock;

// An owner's window is a few dozen instructions: a revoker yields this often before it starts
// checking that the owner still lives, and gives up after kRevokeWait (the owner would have to
// be stopped, SIGSTOP, inside a put that long, or the segment is forged).
constexpr unsigned kYieldRounds = 64;
constexpr auto kRevokePoll = std::chrono::microseconds(100);
constexpr auto kRevokeWait = std::chrono::seconds(10);

void await_window_closed(const SideBias& bias, OwnerId me) {
    // SYNC acquire: as below. A window of our own cannot be open while we are here: a busy
    // word set in our name is forged, not a window to wait for.
    if (bias.owner.load(std::memory_order_acquire) == me)
        return;
    Clock::time_point give_up{};
    for (unsigned round = 0;; ++round) {
        // SYNC acquire: pairs with the release in BiasWindow::close: the window's plain stores
        // are visible to us, and to whoever acquires the `shared` we store next.
        if (bias.busy.load(std::memory_order_acquire) == 0)
            return;
        if (round < kYieldRounds) {
            std::this_thread::yield();
            continue;
        }
        // SYNC acquire: pairs with a takeover's CAS: a new owner's window counts as well.
        const OwnerId owner = bias.owner.load(std::memory_order_acquire);
        if (!owner_alive(owner))
            return; // it died inside its window: it makes no more stores
        if (round == kYieldRounds)
            give_up = Clock::now() + kRevokeWait;
        else if (Clock::now() >= give_up)
            throw CorruptSegment("ring: thread " + std::to_string(owner_tid(owner)) +
                                 " stayed inside one put or get for " +
                                 std::to_string(kRevokeWait.count()) +
                                 " s (stopped, or a forged ring header)");
        std::this_thread::sleep_for(kRevokePoll);
    }
}

// Whether `me` may take the side from `owner`: nobody holds it, or its holder died. Only a
// thread whose process a heavy_barrier() reaches may hold it.
bool may_take(OwnerId owner) {
    return (owner == kNoOwner || !owner_alive(owner)) && heavy_barrier_ready();
}

} // namespace

bool settle_bias(SideBias& bias, OwnerId me) {
    for (;;) {
        // SYNC acquire: pairs with the release of `shared` below.
        const BiasMode mode = bias.mode.load(std::memory_order_acquire);
        if (mode == BiasMode::shared || mode == BiasMode::off)
            return false;
        if (mode == BiasMode::open) {
            // SYNC acquire: pairs with the CAS below in the thread that took the side.
            OwnerId owner = bias.owner.load(std::memory_order_acquire);
            if (owner == me)
                return true;
            if (may_take(owner)) {
                // SYNC acq_rel: one thread takes the side. A dead owner's last stores are
                // visible: its process has exited, and owner_alive read /proc (syscalls are
                // full barriers). Failure: acquire, as the load above.
                if (bias.owner.compare_exchange_strong(owner, me, std::memory_order_acq_rel,
                                                       std::memory_order_acquire))
                    return true;
                continue;
            }
            BiasMode expected = BiasMode::open;
            // SYNC seq_cst: the store the owner's window must see; heavy_barrier() below
            // orders it before the owner's load of mode or the owner's busy before our load.
            if (!bias.mode.compare_exchange_strong(expected, BiasMode::revoking,
                                                   std::memory_order_seq_cst,
                                                   std::memory_order_relaxed))
                continue;
        }
        // Revoking, by us or by a thread that may have died doing it: finish it.
        heavy_barrier();
        await_window_closed(bias, me);
        BiasMode expected = BiasMode::revoking;
        // SYNC release: pairs with the acquire loads of mode (bias_may_be_in_force, above): the
        // last window's stores come first. relaxed on failure: another revoker finished it.
        bias.mode.compare_exchange_strong(expected, BiasMode::shared, std::memory_order_release,
                                          std::memory_order_relaxed);
        return false;
    }
}

} // namespace shmbus::detail

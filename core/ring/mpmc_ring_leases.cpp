// SPDX-License-Identifier: Apache-2.0
// MpmcRing's lease table (see "Leases" at the top of ring/mpmc_ring.hpp): the lease this thread
// has cached for a ring, and the slow path when it has none: its own, a free one, one freed
// from a dead thread, or a shared one lent for a single put or get.
#include "ring/mpmc_ring.hpp"
#include "shmbus/errors.hpp"

#include <array>
#include <chrono>
#include <string>
#include <thread>

namespace shmbus::detail {
namespace {

using Clock = std::chrono::steady_clock;

// How long a thread waits for a lease before OutOfSpace: the recovery lock's holder or the
// borrowers of every shared lease would have to be stopped (SIGSTOP) that long.
constexpr auto kLeaseWait = std::chrono::seconds(10);
// A thread waiting for another's sweep of dead leases, or for a shared lease, polls this often
// once yielding has not helped.
constexpr auto kLeasePoll = std::chrono::microseconds(100);
constexpr unsigned kYieldRounds = 16;
// A borrower that waits this many rounds for a shared lease frees those of dead threads.
constexpr unsigned kSweepRounds = 800;

void wait_a_little(unsigned round) {
    if (round < kYieldRounds)
        std::this_thread::yield();
    else
        std::this_thread::sleep_for(kLeasePoll);
}

// How often a borrower looks for an owned lease again (one may have been freed since).
constexpr auto kOwnRetryPeriod = std::chrono::milliseconds(100);
constexpr unsigned kSweepEvery = 50;
thread_local unsigned t_lease_victim = 0;

// Into `stale`, the ring's entry that no longer names this thread's lease (one inherited
// through fork, or of a thread that died in the lease's place), else into the next victim: one
// entry per ring, or my_lease would keep stopping at the stale one and read another thread's
// lease line on every put and get.
void remember_lease(LeaseCacheEntry* stale, const void* ring, std::uint32_t index,
                    Clock::time_point next_own_try = {}) {
    LeaseCacheEntry& entry =
        stale != nullptr ? *stale : t_lease_cache[t_lease_victim++ % t_lease_cache.size()];
    entry = {ring, index, 0, next_own_try};
}

// A borrower looks for a free owned lease every kOwnRetryPeriod, and every kSweepEvery-th time
// also frees the leases of dead owners (which reads /proc for each owner).
bool time_to_look_again(LeaseCacheEntry& entry) {
    const auto now = Clock::now();
    if (now < entry.next_own_try)
        return false;
    entry.next_own_try = now + kOwnRetryPeriod;
    ++entry.own_tries;
    return true;
}

} // namespace

// ---- this thread's cached lease (the hit is inline: MpmcRing::my_lease) ---------------

void MpmcRing::LeaseUse::give_back() {
    // A claim left in flight (an exception mid-way) keeps the lease: recovery undoes the claim
    // once this thread is dead and then frees the lease. relaxed is enough (both): our own stores.
    if (m_lease.put_pos.load(std::memory_order_relaxed) != kNoPosition ||
        m_lease.get_pos.load(std::memory_order_relaxed) != kNoPosition)
        return;
    // SYNC release: pairs with the acq_rel CAS in claim_free_lease: the next borrower's
    // position stores come after ours.
    m_lease.owner.store(kNoOwner, std::memory_order_release);
}

MpmcRing::LeaseUse MpmcRing::find_lease(OwnerId me) {
    LeaseCacheEntry* stale = nullptr;
    for (LeaseCacheEntry& entry : t_lease_cache) {
        if (entry.ring != m_header)
            continue;
        if (entry.index == kBorrowing) {
            if (!time_to_look_again(entry))
                return {*borrow_lease(me), true};
            if (entry.own_tries % kSweepEvery == 0)
                free_dead_leases(me);
            RingLease* lease = claim_free_lease(me, 0, kOwnedLeases);
            if (lease == nullptr)
                return {*borrow_lease(me), true};
            entry.index = static_cast<std::uint32_t>(lease - m_leases);
            return {*lease, false};
        }
        // relaxed is enough: only this thread writes its own identity into a lease.
        if (m_leases[entry.index].owner.load(std::memory_order_relaxed) == me)
            return {m_leases[entry.index], false};
        stale = &entry;
    }
    if (RingLease* lease = own_lease(me)) {
        remember_lease(stale, m_header, static_cast<std::uint32_t>(lease - m_leases));
        return {*lease, false};
    }
    remember_lease(stale, m_header, kBorrowing, Clock::now() + kOwnRetryPeriod);
    return {*borrow_lease(me), true};
}

RingLease* MpmcRing::claim_free_lease(OwnerId me, std::uint32_t first, std::uint32_t count) {
    for (std::uint32_t j = 0; j < count; ++j) {
        RingLease& lease = m_leases[first + j];
        OwnerId expected = kNoOwner;
        // relaxed is enough: a hint; the CAS below decides.
        if (lease.owner.load(std::memory_order_relaxed) == kNoOwner &&
            // SYNC acq_rel: the winner alone holds the lease; acquire pairs with the release
            // that freed it (its positions are clear). relaxed on failure, we move on.
            lease.owner.compare_exchange_strong(expected, me, std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
            return &lease;
    }
    return nullptr;
}

RingLease* MpmcRing::own_lease(OwnerId me) {
    // A thread that uses more rings than its cache holds still owns its lease here: reuse it,
    // or every cache miss would take one more lease until none is left.
    for (std::uint32_t i = 0; i < kOwnedLeases; ++i) {
        // relaxed is enough: only this thread writes its own identity into a lease.
        if (m_leases[i].owner.load(std::memory_order_relaxed) == me)
            return &m_leases[i];
    }
    const auto give_up = Clock::now() + kLeaseWait;
    bool swept = false;
    for (unsigned round = 0;; ++round) {
        if (RingLease* lease = claim_free_lease(me, 0, kOwnedLeases))
            return lease;
        if (swept || Clock::now() >= give_up)
            return nullptr; // every owned lease belongs to a live thread: borrow
        // One thread sweeps at a time; the others wait for it and take what it freed.
        swept = free_dead_leases(me);
        if (!swept)
            wait_a_little(round);
    }
}

RingLease* MpmcRing::borrow_lease(OwnerId me) {
    const auto start = static_cast<std::uint32_t>(owner_tid(me)) % kSharedLeases;
    const auto give_up = Clock::now() + kLeaseWait;
    for (unsigned round = 0;; ++round) {
        if (RingLease* lease = claim_free_lease(me, kOwnedLeases + start, kSharedLeases - start))
            return lease;
        if (RingLease* lease = claim_free_lease(me, kOwnedLeases, start))
            return lease;
        // A borrower holds its lease for one put or get; one that holds it longer may be dead.
        if (round % kSweepRounds == kSweepRounds - 1)
            free_dead_leases(me);
        if (Clock::now() >= give_up)
            throw OutOfSpace("ring: no shared lease came free in " +
                             std::to_string(kLeaseWait.count()) +
                             " s: " + std::to_string(kOwnedLeases) +
                             " live threads own a lease and " + std::to_string(kSharedLeases) +
                             " others held the shared ones all along (stopped processes?)");
        wait_a_little(round);
    }
}

// Free: no claim, or one that no longer blocks the ring (made before a CAS that never came,
// or completed but for clearing the record).
bool MpmcRing::lease_idle(const RingLease& lease) const {
    // SYNC acquire (both): pair with the release stores of positions.
    const std::uint64_t got = lease.get_pos.load(std::memory_order_acquire);
    const std::uint64_t put = lease.put_pos.load(std::memory_order_acquire);
    return (got == kNoPosition || !get_stuck(got)) && (put == kNoPosition || !put_stuck(put));
}

// Under the recovery lock, so that no recoverer reads a lease while it changes hands. Leases
// of dead threads change only here: no live thread writes them and a CAS takes only free ones.
bool MpmcRing::free_dead_leases(OwnerId me) {
    if (!lock_recovery(me))
        return false;
    recover_dead_locked(me);
    for (std::uint32_t i = 0; i < kRingLeases; ++i) {
        RingLease& lease = m_leases[i];
        // SYNC acquire: pairs with the CAS or release store that last changed hands.
        const OwnerId owner = lease.owner.load(std::memory_order_acquire);
        if (owner == kNoOwner || owner == me || !lease_idle(lease) || owner_alive(owner))
            continue;
        // SYNC release (all three): pair with the acquire in claim_free_lease: the next
        // holder starts from clear positions.
        lease.get_pos.store(kNoPosition, std::memory_order_release);
        lease.put_pos.store(kNoPosition, std::memory_order_release);
        lease.owner.store(kNoOwner, std::memory_order_release);
    }
    unlock_recovery();
    return true;
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// Who holds a claim in shared memory, packed into one 64-bit word so that it is read and
// written atomically (a torn pid/start-time pair could make a live owner look dead).
//
//   bits 63..42  tid (Linux caps pid_max at 2^22)      bits 41..0  low 42 bits of its start
//                                                                  time (clock ticks: 1393
//                                                                  years at 100 Hz)
//
// The tid of a process's main thread is its pid, so the same word names a process
// (this_process_owner) or a thread (this_thread_owner); /proc/<tid>/stat exists for both.
// 0 names nobody. Liveness is the shared check of detail::process_start_time: a zombie or a
// tid reused by a later thread counts as dead.
#pragma once

#include <atomic>
#include <cstdint>

namespace shmbus::detail {

using OwnerId = std::uint64_t;

inline constexpr OwnerId kNoOwner = 0;
inline constexpr unsigned kOwnerTimeBits = 42;
inline constexpr std::uint64_t kOwnerTimeMask = (std::uint64_t{1} << kOwnerTimeBits) - 1;

inline OwnerId make_owner(std::int32_t tid, std::uint64_t start_time) {
    return (static_cast<std::uint64_t>(tid) << kOwnerTimeBits) | (start_time & kOwnerTimeMask);
}
inline std::int32_t owner_tid(OwnerId owner) {
    return static_cast<std::int32_t>(owner >> kOwnerTimeBits);
}
/// The low kOwnerTimeBits of the owner's start time.
inline std::uint64_t owner_start_time(OwnerId owner) {
    return owner & kOwnerTimeMask;
}

/// Bumped in the child of every fork: only the forking thread lives on there, with a new tid,
/// and its cached identity must be read again.
extern std::atomic<std::uint32_t> g_fork_generation;

/// A thread's owner word and the fork generation it was read in (0: never read).
struct ThreadOwnerCache {
    std::uint32_t generation = 0;
    OwnerId owner = kNoOwner;
};
/// Inline, so that the message paths (two lookups per put and get) read it without a call.
inline constinit thread_local ThreadOwnerCache t_thread_owner{};

/// Reads the calling thread's identity into t_thread_owner and returns it.
OwnerId refresh_thread_owner();

/// The calling thread; cached per thread and refreshed in the child after fork().
inline OwnerId this_thread_owner() {
    // relaxed is enough: the generation only changes in a single-threaded fork child.
    if (t_thread_owner.generation != g_fork_generation.load(std::memory_order_relaxed)) [[unlikely]]
        return refresh_thread_owner();
    return t_thread_owner.owner;
}
/// The process's owner word once computed; kNoOwner again in the child of a fork.
extern std::atomic<OwnerId> g_process_owner;
/// Computes the calling process's owner word into g_process_owner and returns it.
OwnerId refresh_process_owner();

/// The calling process (its main thread); refreshed after fork(). Inline: a Pipe records its
/// sender and receiver on every message.
inline OwnerId this_process_owner() {
    // relaxed is enough: every thread that computes the word computes the same value.
    const OwnerId owner = g_process_owner.load(std::memory_order_relaxed);
    if (owner == kNoOwner) [[unlikely]]
        return refresh_process_owner();
    return owner;
}
/// True while the thread or process `owner` names still runs.
bool owner_alive(OwnerId owner);

} // namespace shmbus::detail

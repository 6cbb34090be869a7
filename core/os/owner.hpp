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

/// The calling thread; cached per thread and refreshed in the child after fork().
OwnerId this_thread_owner();
/// The calling process (its main thread); refreshed after fork().
OwnerId this_process_owner();
/// True while the thread or process `owner` names still runs.
bool owner_alive(OwnerId owner);

} // namespace shmbus::detail

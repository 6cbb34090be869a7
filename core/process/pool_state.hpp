// SPDX-License-Identifier: Apache-2.0
// The state block of a Pool in its segment (the object "pool", kind pool): counters and one
// slot per worker, for `shmbus inspect`. Only the parent's result handler and the workers
// write it; nothing reads it to make a decision, so every access is relaxed.
#pragma once

#include "segment/layout.hpp"
#include "segment/state_ref.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace shmbus::detail {

inline constexpr std::uint64_t kPoolStateMagic = 0x314c'4f4f'5053'4253ULL; // "SBSPOOL1"
inline constexpr std::uint32_t kPoolStateVersion = 1;

struct PoolWorkerSlot {
    std::atomic<std::int32_t> pid;         ///< the worker in this slot now; 0 before the first
    std::atomic<std::uint32_t> busy;       ///< 1 while it runs a chunk
    std::atomic<std::uint64_t> chunk_id;   ///< the chunk it runs or ran last
    std::atomic<std::uint64_t> tasks_done; ///< by every worker that held the slot
    std::atomic<std::uint64_t> replaced;   ///< workers that ended in this slot
};

struct alignas(kCacheLine) PoolState {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t slot_count; ///< PoolWorkerSlot entries right after this struct
    std::atomic<std::uint64_t> tasks_submitted;
    std::atomic<std::uint64_t> tasks_done;   ///< results delivered, failed ones included
    std::atomic<std::uint64_t> tasks_failed; ///< RemoteError, WorkerLost, terminated
    std::atomic<std::uint64_t> workers_lost; ///< ended while running a task
    std::atomic<std::uint32_t> closed;
    std::uint32_t reserved;

    PoolWorkerSlot& slot(std::size_t index) {
        return reinterpret_cast<PoolWorkerSlot*>(this + 1)[index];
    }
    const PoolWorkerSlot& slot(std::size_t index) const {
        return reinterpret_cast<const PoolWorkerSlot*>(this + 1)[index];
    }
    static std::size_t bytes_for(std::size_t slots) {
        return sizeof(PoolState) + slots * sizeof(PoolWorkerSlot);
    }
};

static_assert(sizeof(PoolState) % alignof(PoolWorkerSlot) == 0,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

/// Why the `size` bytes at `state` are not a Pool state block of this build, or nullopt
/// (segment/state_ref.hpp).
inline std::optional<std::string> validate(const PoolState& state, std::uint64_t size) {
    if (auto problem =
            stamp_problem("pool", state.magic, kPoolStateMagic, state.version, kPoolStateVersion))
        return problem;
    // slot_count is 32 bits: bytes_for cannot wrap.
    if (PoolState::bytes_for(state.slot_count) > size)
        return "pool state: " + std::to_string(state.slot_count) + " worker slots exceed " +
               std::to_string(size) + " bytes";
    return std::nullopt;
}

} // namespace shmbus::detail

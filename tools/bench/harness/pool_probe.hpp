// SPDX-License-Identifier: Apache-2.0
// Pool dispatch overhead, as rows of a Report: Pool.map of trivial tasks (tasks/s, in the
// throughput tables) and the apply_async round trip (in the latency tables), both at 8 B, the
// size of the task's argument. With --python, Python's Pool.map of the same tasks beside them.
#pragma once

#include "suite.hpp"

namespace shmbus::bench {

inline constexpr const char* kPoolMapKey = "shmbus.pool.map";
inline constexpr const char* kPythonPoolKey = "python.pool.map";

/// Tasks per Pool.map round, shmbus's and Python's alike: 10^6 (10^5 with --quick).
std::uint64_t pool_map_tasks(bool quick);

/// The Pool rows, `rounds` rounds each (no paired baseline: no second process to pin).
void run_pool(const SuiteOptions& options, Report& report);

} // namespace shmbus::bench

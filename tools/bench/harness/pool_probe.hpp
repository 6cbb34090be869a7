// SPDX-License-Identifier: Apache-2.0
// Pool dispatch overhead, as rows of a Report: Pool.map of trivial tasks (tasks/s, in the
// throughput tables) and the apply_async round trip (in the latency tables), both at 8 B, the
// size of the task's argument.
#pragma once

#include "suite.hpp"

namespace shmbus::bench {

void run_pool(const SuiteOptions& options, Report& report);

} // namespace shmbus::bench

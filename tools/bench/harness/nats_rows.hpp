// SPDX-License-Identifier: Apache-2.0
// What leaving the host costs, as rows of a Report (`shmbus bench --nats`): a Queue's message
// through bridge out -> nats-server -> bridge in, and a Pool's apply and map over NATS, at 8 B
// beside the in-host Queue, Pool and pipe(2) of the same run. The harness starts nats-server
// (127.0.0.1, a free port, a temporary store) and stops it; each round runs shmbus-nats-bench
// --json as a child, so that neither the CLI nor the harness links the NATS client.
#pragma once

#include "suite.hpp"

namespace shmbus::bench {

inline constexpr const char* kNatsQueueKey = "nats.queue.bridge";
inline constexpr const char* kNatsApplyKey = "nats.pool.apply";
inline constexpr const char* kNatsMapKey = "nats.pool.map";

/// The NATS rows, each round paired with the floor and the ring like any other row; a note
/// instead when nats-server or shmbus-nats-bench is missing.
void run_nats(const SuiteOptions& options, Report& report);

} // namespace shmbus::bench

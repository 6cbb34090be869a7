// SPDX-License-Identifier: Apache-2.0
// Decoders for the message-carrying kinds (Queue, JoinableQueue, Pipe, Pool), split from
// inspect.cpp because their states nest rings: each checks every offset against the directory's
// size before it follows it.
#pragma once

#include "cli.hpp"

namespace shmbus::cli {

/// Fills report.state and report.summary from the queue state at `state` (report.size bytes);
/// false when the bytes do not describe a queue of this layout version.
bool decode_queue(ObjectReport& report, const void* state);
/// The same for a pipe.
bool decode_pipe(ObjectReport& report, const void* state);
/// The same for a Pool's state block: workers, tasks submitted / done / pending / failed.
bool decode_pool(ObjectReport& report, const void* state);

/// Adds "in_per_s" / "out_per_s" to every object of `now` that counts messages, from the
/// same object (same offset) in `before`, `seconds` earlier.
void add_rates(SegmentReport& now, const SegmentReport& before, double seconds);

} // namespace shmbus::cli

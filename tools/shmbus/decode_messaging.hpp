// SPDX-License-Identifier: Apache-2.0
// Decoders for the message-carrying kinds (Queue, JoinableQueue, Pipe, Pool, Topic), split from
// inspect.cpp because their states nest rings. They read only states that validate()
// (segment/state_ref.hpp) accepted, the check the library runs: every offset followed here was
// checked against the directory's size there.
#pragma once

#include "cli.hpp"

namespace shmbus::detail {
struct QueueState;
struct PipeState;
struct PoolState;
struct TopicState;
} // namespace shmbus::detail

namespace shmbus::cli {

/// Fills report.state and report.summary from a queue state (report.size bytes) that
/// validate() accepted (segment/state_ref.hpp): its ring is then inside the object.
void decode_queue(ObjectReport& report, const detail::QueueState& queue);
/// The same for a pipe.
void decode_pipe(ObjectReport& report, const detail::PipeState& pipe);
/// The same for a Pool's state block: workers, tasks submitted / done / pending / failed.
void decode_pool(ObjectReport& report, const detail::PoolState& pool);

/// The same for a Topic: publishers, subscribers with their lag and drops, messages in.
void decode_topic(ObjectReport& report, const detail::TopicState& topic);

/// Adds "in_per_s" / "out_per_s" to every object of `now` that counts messages, from the
/// same object (same offset) in `before`, `seconds` earlier.
void add_rates(SegmentReport& now, const SegmentReport& before, double seconds);

} // namespace shmbus::cli

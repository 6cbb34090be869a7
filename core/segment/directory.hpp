// SPDX-License-Identifier: Apache-2.0
// Reading a segment's object directory from outside attach_object: Segment::objects() and the
// CLI's inspect list the same entries through ready_entries().
#pragma once

#include "segment/layout.hpp"
#include "shmbus/segment.hpp"

#include <vector>

namespace shmbus::detail {

/// The directory's ready entries, each validated against the segment (CorruptSegment when one
/// is not). Lock-free: a list taken while another process creates objects may miss the newest.
std::vector<const DirEntry*> ready_entries(const Segment& segment);

} // namespace shmbus::detail

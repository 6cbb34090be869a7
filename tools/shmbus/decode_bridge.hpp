// SPDX-License-Identifier: Apache-2.0
// The NATS bridges' records in a segment, for `ls` and `inspect`: decoded from shared memory
// through their layout (core/messaging/bridge_record_layout.hpp), so that the CLI never links
// the NATS client. A record of another layout or version, or one that does not fit its object,
// is shown with the reason, never read past its bounds.
#pragma once

#include "cli.hpp"

#include <vector>

namespace shmbus::cli {

/// Every bridge record in `segment` (Array<std::uint64_t> objects named as records).
std::vector<BridgeRow> bridge_rows(const Segment& segment);

nlohmann::json to_json(const BridgeRow& bridge);
/// "out topic ticks -> prices: forwarded 3, in flight 0, errors 1, last error: ..." and, when
/// the stream has limits, "; stream keeps at most 60000 ms old, 1000 messages".
std::string bridge_line(const BridgeRow& bridge);

} // namespace shmbus::cli

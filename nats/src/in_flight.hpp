// SPDX-License-Identifier: Apache-2.0
// The outbound bridges' in-flight record: the one message taken locally and not yet
// acknowledged by the server, kept in the segment (a Record's fields and an Array<std::byte>
// beside it) so that a restarted bridge republishes it under the same Nats-Msg-Id.
#pragma once

#include "bridge_record.hpp"
#include "shmbus/detail/frame_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace shmbus::nats::bridge {

class InFlight {
public:
    /// `record` outlives this; the payload array holds messages up to `largest` bytes.
    InFlight(const Segment& segment, Record& record, const std::string& record_name,
             std::size_t largest);
    /// Gives the record its random epoch (nonzero) on the bridge's first run.
    void start_epoch();
    /// Copies `message` into the record under id number `id`, then marks it in flight.
    void hold(std::span<const std::byte> message, std::uint64_t id) {
        hold(detail::FrameView(message, {}), id);
    }
    void hold(const detail::FrameView& message, std::uint64_t id);
    bool holding() const { return m_record.load(state) == in_flight; }
    /// Publishes the held message with its id and the type tag header, then clears the record
    /// once the server acknowledged it. NatsError leaves it held.
    void publish(JetStream& js, const std::string& subject, std::uint64_t tag);

private:
    Record& m_record;
    Array<std::byte> m_payload;
};

} // namespace shmbus::nats::bridge

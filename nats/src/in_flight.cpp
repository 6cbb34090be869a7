// SPDX-License-Identifier: Apache-2.0
#include "in_flight.hpp"

#include <random>

namespace shmbus::nats::bridge {

InFlight::InFlight(const Segment& segment, Record& record, const std::string& record_name,
                   std::size_t largest)
    : m_record(record), m_payload(segment, record_name + ".payload", largest) {}

void InFlight::start_epoch() {
    if (m_record.load(epoch) != 0)
        return;
    std::random_device random;
    const std::uint64_t value = (std::uint64_t{random()} << 32) | random();
    m_record.store(epoch, value | 1);
}

// The state is stored last: a kill before it leaves the previous (idle) record untouched.
void InFlight::hold(const detail::FrameView& message, std::uint64_t id) {
    if (message.size() > m_payload.size())
        throw MessageTooLarge("message larger than the bridge's in-flight record");
    message.copy_to(0, m_payload.data(), message.size());
    m_record.store(in_flight_length, message.size());
    m_record.store(in_flight_id, id);
    m_record.store(last_id, id);
    m_record.store(state, in_flight);
}

void InFlight::publish(JetStream& js, const std::string& subject, std::uint64_t tag) {
    const std::span<const std::byte> payload(
        m_payload.data(), static_cast<std::size_t>(m_record.load(in_flight_length)));
    Message message(subject, payload);
    message.set_header(kTypeTagHeader, hex(tag));
    PublishOptions options;
    options.msg_id = hex(m_record.load(epoch)) + "-" + std::to_string(m_record.load(in_flight_id));
    const PubAck ack = js.publish(message, options);
    if (ack.duplicate)
        m_record.increment(duplicates_dropped);
    m_record.increment(forwarded);
    m_record.store(state, idle);
}

} // namespace shmbus::nats::bridge

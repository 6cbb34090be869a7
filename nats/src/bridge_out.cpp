// SPDX-License-Identifier: Apache-2.0
// The outbound bridge: local Queue -> JetStream stream (shmbus/nats/bridge.hpp). Each message
// goes queue -> in-flight record (segment) -> publish -> acknowledged -> record cleared; a
// restart finds an uncleared record and republishes it under the same Nats-Msg-Id.
#include "bridge_record.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/queue.hpp"

#include <algorithm>
#include <cstring>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

namespace shmbus::nats {
namespace {

using bridge::Field;
using bridge::Record;

// The element type tag the queue was created with: the bridge moves frames of any Queue<T>.
std::uint64_t existing_queue_tag(const Segment& segment, std::string_view queue) {
    if (const std::optional<std::uint64_t> tag = bridge::queue_type_tag(segment, queue))
        return *tag;
    throw NotFound("no queue '" + std::string(queue) + "' in segment " + segment.name());
}

std::string hex(std::uint64_t value) {
    std::ostringstream out;
    out << std::hex << value;
    return out.str();
}

class OutboundBridge {
public:
    OutboundBridge(const BridgeOptions& options, std::ostream& log)
        : m_options(options), m_log(log), m_segment(Segment::open(options.segment)),
          m_tag(existing_queue_tag(m_segment, options.queue)),
          m_queue(m_segment, options.queue, QueueOptions{}, detail::OpenMode::open,
                  ObjectKind::queue, m_tag),
          m_record(m_segment, bridge::Direction::out, options.queue),
          m_payload(m_segment,
                    bridge::record_name(bridge::Direction::out, options.queue) + ".payload",
                    m_queue.max_message_size()) {}

    void run(const std::atomic<bool>& stop) {
        m_record.lock_exclusively("outbound");
        start_epoch();
        account_for_interrupted_take();
        bridge::Backoff backoff(m_options.max_backoff);
        // relaxed: a plain flag set by a signal handler; nothing is published through it
        while (!stop.load(std::memory_order_relaxed) && !m_drained) {
            try {
                Connection connection(bridge::connect_options(m_options, "shmbus-bridge-out"));
                JetStream js(connection);
                js.add_stream(bridge::stream_options(m_options));
                forward(js, stop, backoff);
            } catch (const NatsError& error) {
                m_record.increment(bridge::errors);
                m_log << "shmbus-bridge out: " << error.what() << "; retrying" << std::endl;
                bridge::sleep_unless_stopped(backoff.next(), stop);
            }
        }
    }

private:
    void start_epoch() {
        if (m_record.load(bridge::epoch) != 0)
            return;
        std::random_device random;
        const std::uint64_t value = (std::uint64_t{random()} << 32) | random();
        m_record.store(bridge::epoch, value | 1);
    }

    // Killed inside try_get: the message it was copying out is gone with it (the queue's own
    // rule for a dead consumer), unless the kill came before the claim or after the copy.
    // Its claim is released now, so that the queue does not wait for a blocked getter to do it.
    void account_for_interrupted_take() {
        if (m_record.load(bridge::state) != bridge::taking)
            return;
        m_record.increment(bridge::possibly_lost);
        m_record.store(bridge::state, bridge::idle);
        m_queue.recover_dead();
    }

    void forward(JetStream& js, const std::atomic<bool>& stop, bridge::Backoff& backoff) {
        if (m_record.load(bridge::state) == bridge::in_flight) {
            m_record.increment(bridge::republished);
            publish_in_flight(js);
        }
        backoff.reset();
        while (!stop.load(std::memory_order_relaxed) && !m_drained)
            if (take())
                publish_in_flight(js);
    }

    // Moves one message from the queue into the in-flight record; false when none came within
    // ~200 ms. The queue is polled with try_get, not waited on with get, so that the taking
    // mark covers only a real take: a kill while waiting for a message is not counted.
    bool take() {
        constexpr std::chrono::microseconds kLongestPause{2000};
        std::chrono::microseconds pause{50};
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (!m_drained && std::chrono::steady_clock::now() < until) {
            m_record.store(bridge::state, bridge::taking);
            const detail::QueueStatus status = m_queue.try_get(m_buffer);
            if (status == detail::QueueStatus::ok) {
                record_in_flight();
                return true;
            }
            m_record.store(bridge::state, bridge::idle);
            m_drained = status == detail::QueueStatus::closed;
            if (m_queue.qsize() != 0 && pause == kLongestPause)
                m_queue.recover_dead(); // a dead process's claim may hold up the messages
            std::this_thread::sleep_for(pause);
            pause = std::min(kLongestPause, pause * 2);
        }
        return false;
    }

    void record_in_flight() {
        std::memcpy(m_payload.data(), m_buffer.data(), m_buffer.size());
        m_record.store(bridge::in_flight_length, m_buffer.size());
        const std::uint64_t id = m_record.load(bridge::last_id) + 1;
        m_record.store(bridge::in_flight_id, id);
        m_record.store(bridge::last_id, id);
        m_record.store(bridge::state, bridge::in_flight);
    }

    void publish_in_flight(JetStream& js) {
        const std::span<const std::byte> payload(
            m_payload.data(), static_cast<std::size_t>(m_record.load(bridge::in_flight_length)));
        Message message(m_options.subject, payload);
        message.set_header(bridge::kTypeTagHeader, hex(m_tag));
        PublishOptions publish;
        publish.msg_id = hex(m_record.load(bridge::epoch)) + "-" +
                         std::to_string(m_record.load(bridge::in_flight_id));
        const PubAck ack = js.publish(message, publish);
        if (ack.duplicate)
            m_record.increment(bridge::duplicates_dropped);
        m_record.increment(bridge::forwarded);
        m_record.store(bridge::state, bridge::idle);
    }

    BridgeOptions m_options;
    std::ostream& m_log;
    Segment m_segment;
    std::uint64_t m_tag;
    detail::QueueCore m_queue;
    Record m_record;
    Array<std::byte> m_payload;
    detail::ByteBuffer m_buffer;
    bool m_drained = false;
};

} // namespace

void run_bridge_out(const BridgeOptions& options, const std::atomic<bool>& stop,
                    std::ostream& log) {
    OutboundBridge(options, log).run(stop);
}

} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
// The outbound bridge: local Queue -> JetStream stream (shmbus/nats/bridge.hpp). Each message
// goes queue -> in-flight record (segment) -> publish -> acknowledged -> record cleared; a
// restart finds an uncleared record and republishes it under the same Nats-Msg-Id. The queue's
// get is tagged (QueueCore::try_get_tagged) and copies straight into the in-flight record, so
// a bridge killed inside it leaves its claim to the next run, which adopts the message.
#include "bridge_record.hpp"
#include "in_flight.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/queue.hpp"

#include <algorithm>
#include <ostream>
#include <thread>

namespace shmbus::nats {
namespace {

using bridge::Field;
using bridge::Record;

class OutboundBridge {
public:
    OutboundBridge(const BridgeOptions& options, std::ostream& log)
        : m_options(options), m_log(log), m_segment(Segment::open(options.segment)),
          // The tag the queue was created with: the bridge moves frames of any Queue<T>.
          m_tag(bridge::existing_type_tag(m_segment, Bridged::queue, options.queue)),
          m_queue(m_segment, options.queue, QueueOptions{}, detail::OpenMode::open,
                  ObjectKind::queue, m_tag),
          m_record(m_segment, bridge::Direction::out, Bridged::queue, options.queue),
          m_in_flight(m_segment, m_record,
                      bridge::record_name(bridge::Direction::out, Bridged::queue, options.queue),
                      m_queue.max_message_size()) {}

    void run(const std::atomic<bool>& stop) {
        m_record.lock_exclusively("outbound");
        m_record.set_subject(m_options.subject);
        m_in_flight.start_epoch();
        finish_interrupted_take();
        bridge::Backoff backoff(m_options.max_backoff);
        // relaxed: a plain flag set by a signal handler; nothing is published through it
        while (!stop.load(std::memory_order_relaxed) && !m_drained) {
            try {
                Connection connection(bridge::connect_options(m_options, "shmbus-bridge-out"));
                JetStream js(connection);
                bridge::ensure_stream(js, m_options, m_record);
                forward(js, stop, backoff);
            } catch (const NatsError& error) {
                m_record.increment(bridge::errors);
                m_record.set_last_error(error.what());
                m_log << "shmbus-bridge out: " << error.what() << "; retrying" << std::endl;
                bridge::sleep_unless_stopped(backoff.next(), stop);
            }
        }
    }

private:
    // Killed inside the tagged get: its claim, if it made one, still holds the message (the
    // queue keeps a dead thread's tagged claim for its successor). Before the copy into the
    // in-flight record (taking), the message goes there now, ahead of every later one; without
    // a claim nothing was taken. After it (in flight), the claim is only freed.
    void finish_interrupted_take() {
        const std::uint64_t tag = m_record.load(bridge::claim_tag);
        const std::uint64_t state = m_record.load(bridge::state);
        if (state == bridge::in_flight) {
            m_queue.adopt_taken(tag, {nullptr, [](void*, const detail::FrameView&) {}});
        } else if (state == bridge::taking) {
            if (m_queue.adopt_taken(tag, hold_sink(m_record.load(bridge::last_id) + 1)))
                m_record.increment(bridge::kills_settled);
            else
                m_record.store(bridge::state, bridge::idle);
        }
    }

    // A sink that copies the message into the in-flight record under id number `id`.
    detail::FrameSink hold_sink(std::uint64_t id) {
        m_sink_id = id;
        return {this, [](void* self, const detail::FrameView& frame) {
                    auto& bridge = *static_cast<OutboundBridge*>(self);
                    bridge.m_in_flight.hold(frame, bridge.m_sink_id);
                }};
    }

    void forward(JetStream& js, const std::atomic<bool>& stop, bridge::Backoff& backoff) {
        if (m_in_flight.holding()) {
            m_record.increment(bridge::republished);
            m_in_flight.publish(js, m_options.subject, m_tag);
        }
        backoff.reset();
        while (!stop.load(std::memory_order_relaxed) && !m_drained)
            if (take())
                m_in_flight.publish(js, m_options.subject, m_tag);
    }

    // Moves one message from the queue into the in-flight record; false when none came within
    // ~200 ms. Each try is a new tag: an adoption then never finds an older claim.
    bool take() {
        constexpr std::chrono::microseconds kLongestPause{2000};
        std::chrono::microseconds pause{50};
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (!m_drained && std::chrono::steady_clock::now() < until) {
            const std::uint64_t tag = m_record.load(bridge::claim_tag) + 1;
            m_record.store(bridge::claim_tag, tag);
            m_record.store(bridge::state, bridge::taking);
            const detail::QueueStatus status =
                m_queue.try_get_tagged(hold_sink(m_record.load(bridge::last_id) + 1), tag);
            if (status == detail::QueueStatus::ok)
                return true;
            m_record.store(bridge::state, bridge::idle);
            m_drained = status == detail::QueueStatus::closed;
            if (m_queue.qsize() != 0 && pause == kLongestPause)
                m_queue.recover_dead(); // a dead process's claim may hold up the messages
            std::this_thread::sleep_for(pause);
            pause = std::min(kLongestPause, pause * 2);
        }
        return false;
    }

    BridgeOptions m_options;
    std::ostream& m_log;
    Segment m_segment;
    std::uint64_t m_tag;
    detail::QueueCore m_queue;
    Record m_record;
    bridge::InFlight m_in_flight;
    std::uint64_t m_sink_id = 0;
    bool m_drained = false;
};

} // namespace

void run_bridge_out(const BridgeOptions& options, const std::atomic<bool>& stop,
                    std::ostream& log) {
    if (bridge::bridged(options) == Bridged::topic)
        bridge::run_topic_bridge_out(options, stop, log);
    else
        OutboundBridge(options, log).run(stop);
}

} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
// The outbound topic bridge: local Topic -> JetStream stream of limits retention
// (shmbus/nats/bridge.hpp). It is one more subscriber of the topic. A message's id number is its
// position in the topic + 1, so that a restarted bridge, whose new subscriber starts with the
// topic's history, can tell the messages it forwarded already (id <= last_id) from those it
// has not, and count a gap (messages gone from the ring while it was down) as missed.
#include "bridge_record.hpp"
#include "in_flight.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/topic.hpp"

#include <memory>
#include <ostream>

namespace shmbus::nats::bridge {
namespace {

class OutboundTopicBridge {
public:
    OutboundTopicBridge(const BridgeOptions& options, std::ostream& log)
        : m_options(options), m_log(log), m_segment(Segment::open(options.segment)),
          // The tag the topic was created with: the bridge moves frames of any Topic<T>.
          m_tag(existing_type_tag(m_segment, Bridged::topic, options.topic)),
          m_topic(std::make_shared<detail::TopicCore>(m_segment, options.topic, TopicOptions{},
                                                      detail::OpenMode::open, m_tag)),
          m_record(m_segment, Direction::out, Bridged::topic, options.topic),
          m_in_flight(m_segment, m_record,
                      record_name(Direction::out, Bridged::topic, options.topic),
                      m_topic->max_message_size()) {}

    void run(const std::atomic<bool>& stop) {
        m_record.lock_exclusively("outbound");
        m_record.set_subject(m_options.subject);
        // Subscribed before anything else: what is published from now on is received.
        detail::TopicSubscriberCore subscriber(m_topic);
        start(subscriber);
        Backoff backoff(m_options.max_backoff);
        // relaxed: a plain flag set by a signal handler; nothing is published through it
        while (!stop.load(std::memory_order_relaxed)) {
            try {
                Connection connection(connect_options(m_options, "shmbus-bridge-out"));
                JetStream js(connection);
                ensure_stream(js, m_options, m_record);
                forward(js, subscriber, stop, backoff);
            } catch (const NatsError& error) {
                m_record.increment(errors);
                m_record.set_last_error(error.what());
                m_log << "shmbus-bridge out: " << error.what() << "; retrying" << std::endl;
                sleep_unless_stopped(backoff.next(), stop);
            }
        }
    }

private:
    // On the first run the topic's messages before the subscriber's first one are not owed:
    // last_id starts just below it. The epoch is made then too (nonzero from then on).
    void start(const detail::TopicSubscriberCore& subscriber) {
        if (m_record.load(epoch) != 0)
            return;
        m_record.store(last_id, subscriber.next_position());
        m_in_flight.start_epoch();
    }

    void forward(JetStream& js, detail::TopicSubscriberCore& subscriber,
                 const std::atomic<bool>& stop, Backoff& backoff) {
        if (m_in_flight.holding()) {
            m_record.increment(republished);
            m_in_flight.publish(js, m_options.subject, m_tag);
        }
        backoff.reset();
        while (!stop.load(std::memory_order_relaxed))
            if (receive(subscriber))
                m_in_flight.publish(js, m_options.subject, m_tag);
    }

    // Moves the next message not forwarded yet into the in-flight record; false when none came
    // within 200 ms. While the bridge waits in the NATS publish, a subscriber under
    // SlowSubscriber::block holds the topic's publishers back: the bridge never loses a
    // message it subscribed to, at the cost of the topic's pace.
    bool receive(detail::TopicSubscriberCore& subscriber) {
        const detail::TopicStatus status =
            subscriber.recv(m_buffer, detail::Deadline::after(std::chrono::milliseconds(200)));
        if (status == detail::TopicStatus::empty)
            return false;
        if (status == detail::TopicStatus::lagged) {
            m_record.store(missed, m_record.load(missed) + subscriber.last_lag());
            return false;
        }
        const std::uint64_t id = subscriber.next_position(); // the message's position + 1
        const std::uint64_t last = m_record.load(last_id);
        if (id <= last)
            return false; // forwarded before a restart: the new subscriber's history repeats it
        // Only a new subscriber can start past a gap: within a run, a lost message is lagged
        // and a skipped position never held one (its publisher returned or died with it).
        if (m_resuming && id > last + 1)
            m_record.store(missed, m_record.load(missed) + (id - last - 1));
        m_resuming = false;
        m_in_flight.hold(m_buffer.bytes(), id);
        return true;
    }

    BridgeOptions m_options;
    std::ostream& m_log;
    Segment m_segment;
    std::uint64_t m_tag;
    std::shared_ptr<detail::TopicCore> m_topic;
    Record m_record;
    InFlight m_in_flight;
    detail::ByteBuffer m_buffer;
    bool m_resuming = true;
};

} // namespace

void run_topic_bridge_out(const BridgeOptions& options, const std::atomic<bool>& stop,
                          std::ostream& log) {
    OutboundTopicBridge(options, log).run(stop);
}

} // namespace shmbus::nats::bridge

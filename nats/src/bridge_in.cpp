// SPDX-License-Identifier: Apache-2.0
// The inbound bridge: JetStream stream -> local Queue or Topic (shmbus/nats/bridge.hpp). One
// message in hand at a time: put it, record its stream sequence, then acknowledge; a redelivery
// whose sequence is not above the recorded one was put already and is only acknowledged. A
// queue's put is tagged (QueueCore::put_tagged): a restart after a kill inside it asks the
// queue whether the put got past its point of no return, so that it is never made twice.
#include "bridge_record.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/topic.hpp"

#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>

namespace shmbus::nats {
namespace {

using bridge::Record;

std::uint64_t parse_tag(const Message& message) {
    const std::optional<std::string> text = message.header(bridge::kTypeTagHeader);
    if (!text)
        throw DecodeError("message without the " + std::string(bridge::kTypeTagHeader) +
                          " header: not sent by a shmbus bridge");
    return std::stoull(*text, nullptr, 16);
}

// Opens the segment, creating it only when missing: a stale one (every attached process dead,
// say the bridge was killed while no consumer ran) still holds queued messages and the record
// of the last sequence put, so it is kept, unlike Segment::open_or_create.
Segment open_keeping_stale(const std::string& name) {
    for (;;) {
        try {
            return Segment::open(name);
        } catch (const NotFound&) {
        }
        try {
            return Segment::create(name);
        } catch (const AlreadyExists&) {
        }
    }
}

// The outbound bridge and message number a message came from, read from its Nats-Msg-Id
// ("<epoch hex>-<number>", bridge_out.cpp). An outbound bridge publishes its messages in
// number order, so a number not above the last one put from that bridge is a copy: the
// republish of a message the server forgot it had (a work-queue stream deletes a message once
// acknowledged, and a restarted server rebuilds its duplicate window from the messages it still
// stores). Messages without such an id (not from a bridge) have none.
struct Origin {
    std::uint64_t epoch;
    std::uint64_t id;
};

std::optional<Origin> origin_of(const Message& message) {
    const std::optional<std::string> text = message.header("Nats-Msg-Id");
    if (!text)
        return std::nullopt;
    const std::size_t dash = text->find('-');
    if (dash == std::string::npos)
        return std::nullopt;
    try {
        return Origin{std::stoull(text->substr(0, dash), nullptr, 16),
                      std::stoull(text->substr(dash + 1))};
    } catch (const std::logic_error&) { // not a bridge's id
        return std::nullopt;
    }
}

// Where the inbound bridge puts: the local queue, or a publisher of the local topic.
class Sink {
public:
    virtual ~Sink() = default;
    /// False when the deadline passed first (the queue full, a topic subscriber behind).
    /// `tag` names the put for put_committed.
    virtual bool put(std::span<const std::byte> message, std::uint64_t tag,
                     detail::Deadline deadline) = 0;
    /// Whether the put tagged `tag` of a dead bridge is in (or on its way into) the queue;
    /// nullopt when that cannot be known (a topic).
    virtual std::optional<bool> put_committed(std::uint64_t tag) = 0;
    virtual void recover_dead() = 0;
};

class QueueSink final : public Sink {
public:
    QueueSink(const Segment& segment, std::string_view name, std::uint64_t tag)
        : m_queue(segment, name, QueueOptions{}, detail::OpenMode::open_or_create,
                  ObjectKind::queue, tag) {}
    bool put(std::span<const std::byte> message, std::uint64_t tag,
             detail::Deadline deadline) override {
        return m_queue.put_tagged(message, tag, deadline);
    }
    std::optional<bool> put_committed(std::uint64_t tag) override {
        return m_queue.put_committed(tag);
    }
    void recover_dead() override { m_queue.recover_dead(); }

private:
    detail::QueueCore m_queue;
};

class TopicSink final : public Sink {
public:
    TopicSink(const Segment& segment, std::string_view name, std::uint64_t tag)
        : m_topic(std::make_shared<detail::TopicCore>(segment, name, TopicOptions{},
                                                      detail::OpenMode::open_or_create, tag)),
          m_publisher(m_topic) {}
    bool put(std::span<const std::byte> message, std::uint64_t,
             detail::Deadline deadline) override {
        return m_publisher.publish(message, deadline);
    }
    std::optional<bool> put_committed(std::uint64_t) override { return std::nullopt; }
    void recover_dead() override { m_topic->recover_dead(); }

private:
    std::shared_ptr<detail::TopicCore> m_topic;
    detail::TopicPublisherCore m_publisher;
};

std::unique_ptr<Sink> make_sink(const Segment& segment, Bridged kind, std::string_view name,
                                std::uint64_t tag) {
    if (kind == Bridged::queue)
        return std::make_unique<QueueSink>(segment, name, tag);
    return std::make_unique<TopicSink>(segment, name, tag);
}

class InboundBridge {
public:
    InboundBridge(const BridgeOptions& options, std::ostream& log)
        : m_options(options), m_log(log), m_segment(open_keeping_stale(options.segment)),
          m_kind(bridge::bridged(options)), m_name(bridge::bridged_name(options)),
          m_record(m_segment, bridge::Direction::in, m_kind, m_name) {}

    void run(const std::atomic<bool>& stop) {
        m_record.lock_exclusively("inbound");
        m_record.set_subject(m_options.subject);
        finish_interrupted_put();
        bridge::Backoff backoff(m_options.max_backoff);
        // relaxed: a plain flag set by a signal handler; nothing is published through it
        while (!stop.load(std::memory_order_relaxed)) {
            try {
                Connection connection(bridge::connect_options(m_options, "shmbus-bridge-in"));
                JetStream js(connection);
                const StreamInfo stream = bridge::ensure_stream(js, m_options, m_record);
                forget_sequence_of_other_stream(stream.created_ns);
                ConsumerOptions consumer;
                consumer.durable = bridge::durable_of(m_options);
                consumer.stream = bridge::stream_of(m_options);
                consumer.ack_wait = m_options.ack_wait;
                consumer.max_ack_pending = 1; // redeliveries then come in stream order
                Subscription subscription = js.pull_subscribe(m_options.subject, consumer);
                backoff.reset();
                receive(subscription, stop);
            } catch (const NatsError& error) {
                m_record.increment(bridge::errors);
                m_record.set_last_error(error.what());
                m_log << "shmbus-bridge in: " << error.what() << "; retrying" << std::endl;
                bridge::sleep_unless_stopped(backoff.next(), stop);
            }
        }
    }

private:
    // A kill inside the put. A queue tells whether the put got past its point of no return:
    // then it is recorded as done (its redelivery will be skipped), else its redelivery puts
    // it. A topic cannot tell: the redelivery is put, perhaps twice (possibly_duplicated).
    // A claim the kill left in the ring is undone (or published) now rather than when a
    // getter has waited on it.
    void finish_interrupted_put() {
        if (m_record.load(bridge::state) != bridge::putting)
            return;
        const std::optional<std::uint64_t> type_tag =
            bridge::object_type_tag(m_segment, m_kind, m_name);
        if (!type_tag) { // nothing was put: the object it would go to does not exist
            m_record.store(bridge::state, bridge::idle);
            return;
        }
        Sink& sink = sink_for(*type_tag);
        const std::optional<bool> committed = sink.put_committed(m_record.load(bridge::claim_tag));
        if (!committed)
            m_record.increment(bridge::possibly_duplicated);
        else if (*committed) {
            m_record.increment(bridge::kills_settled);
            record_put(
                m_record.load(bridge::putting_sequence),
                Origin{m_record.load(bridge::putting_epoch), m_record.load(bridge::putting_id)});
        }
        m_record.store(bridge::state, bridge::idle);
        sink.recover_dead();
    }

    // The message of stream sequence `sequence` (from `origin`, epoch 0: none) is in place.
    void record_put(std::uint64_t sequence, const Origin& origin) {
        m_record.store(bridge::last_sequence, sequence);
        if (origin.epoch != 0)
            m_record.set_last_id_from(origin.epoch, origin.id);
        m_record.increment(bridge::forwarded);
    }

    // Sequences restart when the stream is deleted and made again.
    void forget_sequence_of_other_stream(std::int64_t created_ns) {
        const auto created = static_cast<std::uint64_t>(created_ns);
        if (m_record.load(bridge::stream_created) == created)
            return;
        m_record.store(bridge::last_sequence, 0);
        m_record.store(bridge::stream_created, created);
    }

    void receive(Subscription& subscription, const std::atomic<bool>& stop) {
        while (!stop.load(std::memory_order_relaxed))
            for (Message& message : subscription.fetch(1, std::chrono::milliseconds(500)))
                apply(message, stop);
    }

    void apply(Message& message, const std::atomic<bool>& stop) {
        const std::uint64_t sequence = message.stream_sequence();
        const std::uint64_t last = m_record.load(bridge::last_sequence);
        if (sequence <= last) {
            m_record.increment(bridge::redeliveries_skipped);
            message.ack();
            return;
        }
        count_discarded(last, sequence);
        const std::optional<Origin> origin = origin_of(message);
        if (origin && origin->id <= m_record.last_id_from(origin->epoch)) {
            m_record.store(bridge::last_sequence, sequence); // handled: a gap is not counted
            m_record.increment(bridge::redeliveries_skipped);
            message.ack();
            return;
        }
        Sink& sink = sink_for(parse_tag(message));
        const std::uint64_t tag = m_record.load(bridge::claim_tag) + 1;
        m_record.store(bridge::claim_tag, tag);
        m_record.store(bridge::putting_sequence, sequence);
        m_record.store(bridge::putting_epoch, origin ? origin->epoch : 0);
        m_record.store(bridge::putting_id, origin ? origin->id : 0);
        m_record.store(bridge::state, bridge::putting);
        const auto step = m_options.ack_wait / 3;
        while (!sink.put(message.data(), tag, detail::Deadline::after(step))) {
            if (stop.load(std::memory_order_relaxed)) { // not put: redelivered to the next run
                m_record.store(bridge::state, bridge::idle);
                return;
            }
            message.in_progress(); // back-pressure: keep it ours, fetch nothing more
        }
        record_put(sequence, origin.value_or(Origin{0, 0}));
        m_record.store(bridge::state, bridge::idle);
        message.ack();
    }

    // A topic's stream keeps every message until its limits discard the oldest, and its consumer
    // is delivered each one in sequence order: a gap is what the limits discarded before this
    // host received it (a host that starts late included). A queue's work-queue stream
    // discards nothing unreceived.
    void count_discarded(std::uint64_t last, std::uint64_t sequence) {
        if (m_kind == Bridged::topic && sequence > last + 1)
            m_record.store(bridge::missed, m_record.load(bridge::missed) + (sequence - last - 1));
    }

    Sink& sink_for(std::uint64_t tag) {
        if (!m_sink || m_tag != tag) {
            m_sink = make_sink(m_segment, m_kind, m_name, tag);
            m_tag = tag;
        }
        return *m_sink;
    }

    BridgeOptions m_options;
    std::ostream& m_log;
    Segment m_segment;
    Bridged m_kind;
    std::string m_name;
    Record m_record;
    std::unique_ptr<Sink> m_sink;
    std::uint64_t m_tag = 0;
};

} // namespace

void run_bridge_in(const BridgeOptions& options, const std::atomic<bool>& stop, std::ostream& log) {
    InboundBridge(options, log).run(stop);
}

} // namespace shmbus::nats

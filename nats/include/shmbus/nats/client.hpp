// SPDX-License-Identifier: Apache-2.0
/// @file
/// A small RAII layer over the NATS C client (nats.c, <nats/nats.h>): a Connection, its
/// JetStream context, pull Subscriptions and Messages. Every natsStatus is checked; a failure
/// throws NatsError (shmbus/nats/error.hpp) with NATS's text. Handles are move-only and free
/// their C object in their destructor.
///
/// @code
///   shmbus::nats::ConnectOptions options;
///   options.url = "nats://127.0.0.1:4222";
///   shmbus::nats::Connection connection(options);
///   shmbus::nats::JetStream js(connection);
///   js.add_stream(stream_options);        // StreamOptions: name "ORDERS", subject "orders"
///   js.publish("orders", bytes, publish_options); // PublishOptions: msg_id "order-1"
///   auto sub = js.pull_subscribe("orders", consumer_options); // durable "shipping", stream

///   for (auto& message : sub.fetch(10, std::chrono::seconds(1)))
///       message.ack();
/// @endcode
#pragma once

#include "shmbus/nats/error.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nats/nats.h>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::nats {

/// Throws NatsError unless `status` is NATS_OK; `what` names the call that failed.
void check(natsStatus status, std::string_view what, jsErrCode js_code = static_cast<jsErrCode>(0));

/// How a Connection connects and reconnects.
struct ConnectOptions {
    /// nats://host:port (comma-separated for several servers).
    std::string url = NATS_DEFAULT_URL;
    /// The connection name the server shows (monitoring, logs); empty: none.
    std::string name;
    /// Limit for establishing the TCP connection and the handshake.
    std::chrono::milliseconds timeout{2000};
    /// Pause between reconnect attempts after the connection was lost.
    std::chrono::milliseconds reconnect_wait{200};
    /// Reconnect attempts after a loss; -1: for ever.
    int max_reconnect = -1;
};

class Message;
class Subscription;

/// A connection to a NATS server. Lost connections are re-established by the client in the
/// background (ConnectOptions::reconnect_wait, max_reconnect); calls made meanwhile fail or
/// time out with NatsError.
class Connection {
public:
    /// Connects; NatsError (NATS_NO_SERVER, ...) when no server answers.
    explicit Connection(const ConnectOptions& options);
    /// True while connected (false while reconnecting or after close).
    bool connected() const;
    /// Round trip to the server: everything sent before has been processed.
    void flush(std::chrono::milliseconds timeout);
    /// Publishes `message` on core NATS: at most once, to the subscribers of the moment.
    void publish(Message& message);
    /// A synchronous subscription to `subject` (wildcards allowed): Subscription::next().
    Subscription subscribe(std::string_view subject);
    /// The C handle, for calls this layer does not wrap; owned by this object.
    natsConnection* get() const { return m_handle.get(); }

private:
    struct Destroy {
        void operator()(natsConnection* connection) const;
    };
    std::unique_ptr<natsConnection, Destroy> m_handle;
};

/// A message received from or to be sent to NATS.
class Message {
public:
    /// A new message to `subject` carrying `data`.
    Message(std::string_view subject, std::span<const std::byte> data);
    /// Takes ownership of a message the C client returned.
    explicit Message(natsMsg* message) : m_handle(message) {}

    /// The subject.
    std::string_view subject() const;
    /// The payload.
    std::span<const std::byte> data() const;
    /// The value of header `key`, nullopt when absent.
    std::optional<std::string> header(std::string_view key) const;
    /// Sets header `key` to `value` (replacing it).
    void set_header(std::string_view key, std::string_view value);
    /// JetStream messages: the message's sequence in its stream.
    std::uint64_t stream_sequence() const;
    /// JetStream messages: how many times it was delivered (1 the first time).
    std::uint64_t delivery_count() const;
    /// JetStream: acknowledges the message (done; the server may delete it).
    void ack();
    /// JetStream: tells the server the message is still being worked on (resets its ack timer).
    void in_progress();
    /// The C handle; owned by this object.
    natsMsg* get() const { return m_handle.get(); }

private:
    struct Destroy {
        void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
    };
    std::unique_ptr<natsMsg, Destroy> m_handle;
};

/// A subscription: to a JetStream pull consumer (fetch), or a core synchronous one (next).
class Subscription {
public:
    /// Takes ownership of a subscription the C client returned.
    explicit Subscription(natsSubscription* subscription) : m_handle(subscription) {}
    /// Pull subscriptions: up to `batch` messages; fewer (possibly none) when `timeout` passes
    /// first.
    std::vector<Message> fetch(int batch, std::chrono::milliseconds timeout);
    /// Synchronous subscriptions: the next message, nullopt when `timeout` passes first.
    std::optional<Message> next(std::chrono::milliseconds timeout);
    /// The C handle; owned by this object.
    natsSubscription* get() const { return m_handle.get(); }

private:
    struct Destroy {
        void operator()(natsSubscription* subscription) const;
    };
    std::unique_ptr<natsSubscription, Destroy> m_handle;
};

/// How a stream keeps its messages.
enum class Retention {
    limits,     ///< until a limit (count, bytes, age) removes them: every consumer sees all
    work_queue, ///< until one consumer acknowledges each
};

/// The limits of a limits-retention stream: past one, the oldest messages are discarded (the
/// server's DiscardOld). Zero: no limit.
struct StreamLimits {
    std::chrono::milliseconds max_age{0}; ///< messages older than this are removed
    std::int64_t max_bytes = 0;           ///< the stream's size in bytes
    std::int64_t max_messages = 0;        ///< how many messages it keeps
    /// True when at least one limit is set.
    bool any() const { return max_age.count() != 0 || max_bytes != 0 || max_messages != 0; }
    /// The same three limits.
    bool operator==(const StreamLimits&) const = default;
};

/// A JetStream stream to create (or find).
struct StreamOptions {
    /// Stream name: no '.', '*', '>' or whitespace.
    std::string name;
    /// The one subject it captures.
    std::string subject;
    /// How long the server remembers a Nats-Msg-Id to drop a republished copy.
    std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
    /// work_queue (a queue) or limits (a log every consumer reads).
    Retention retention = Retention::work_queue;
    /// File storage survives a server restart; memory storage does not.
    bool file_storage = true;
    /// Limits retention only: when the oldest messages are discarded.
    StreamLimits limits;
};

/// A durable pull consumer to create (or bind to).
struct ConsumerOptions {
    /// Durable name: no '.', '*', '>' or whitespace.
    std::string durable;
    /// Stream to bind to; required (pull_subscribe raises UsageError without it).
    std::string stream;
    /// Unacknowledged messages are redelivered after this.
    std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
    /// Most messages delivered and not yet acknowledged; 1 keeps redeliveries in order.
    std::int64_t max_ack_pending = 1;
    /// Deliveries of one message before the server gives up on it (and sends the advisory
    /// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.STREAM.DURABLE); -1: no limit.
    std::int64_t max_deliver = -1;
};

/// What the server answered to a publish.
struct PubAck {
    std::string stream;     ///< the stream that stored it
    std::uint64_t sequence; ///< its sequence there
    bool duplicate;         ///< true when the Nats-Msg-Id was already stored: this copy dropped
};

/// How a message is published.
struct PublishOptions {
    /// Sent as Nats-Msg-Id: the server drops a message whose id it stored within the stream's
    /// duplicate window. Empty: none.
    std::string msg_id;
    /// Wait for the acknowledgement at most this long (NatsError, timed_out(), after).
    std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

/// Basic information about a stream.
struct StreamInfo {
    std::int64_t created_ns;     ///< creation time, ns since the epoch: tells a re-created stream
    std::uint64_t messages;      ///< messages stored now
    std::uint64_t last_sequence; ///< sequence of the last message stored
    StreamLimits limits;         ///< its limits now
};

/// The JetStream context of a Connection (which must outlive it).
class JetStream {
public:
    /// `wait`: default limit for JetStream API requests.
    explicit JetStream(const Connection& connection,
                       std::chrono::milliseconds wait = std::chrono::seconds(5));
    /// Creates the stream, or leaves an existing one of that name as it is.
    void add_stream(const StreamOptions& options);
    /// Gives an existing stream these limits (its other settings unchanged).
    void set_limits(std::string_view name, const StreamLimits& limits);
    /// The stream's information; NatsError (status NATS_NOT_FOUND) when there is none.
    StreamInfo stream_info(std::string_view name);
    /// Deletes a stream; false when there was none.
    bool delete_stream(std::string_view name);
    /// Publishes `message` and waits for the server's acknowledgement.
    PubAck publish(Message& message, const PublishOptions& options = {});
    /// Publishes `data` to `subject`, as above.
    PubAck publish(std::string_view subject, std::span<const std::byte> data,
                   const PublishOptions& options = {});
    /// A pull subscription on a durable consumer of the stream capturing `subject`, created
    /// with `options` when it does not exist.
    Subscription pull_subscribe(std::string_view subject, const ConsumerOptions& options);
    /// The C handle; owned by this object.
    jsCtx* get() const { return m_handle.get(); }

private:
    struct Destroy {
        void operator()(jsCtx* context) const { jsCtx_Destroy(context); }
    };
    std::unique_ptr<jsCtx, Destroy> m_handle;
};

} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Bridges between a local shmbus Queue or Topic and a NATS JetStream stream, with no change to
/// the programs that use them: the outbound bridge drains the queue into the stream, the
/// inbound bridge (on another host) feeds a local queue from it. They move the encoded frames
/// untouched; the element type travels in a header, so both ends use the same T.
///
/// Topic bridges (BridgeOptions::topic): the outbound bridge is one more subscriber of the
/// local topic and publishes every message it receives to a stream of limits retention; each
/// host's inbound bridge reads the whole stream through a durable consumer of its own and
/// publishes it into its local topic. Message ids are the topic's positions, so a restarted
/// outbound bridge re-reads the topic's history and republishes nothing twice (README "Beyond
/// one host" states what a topic bridge can miss).
///
/// Crash safety (README "Beyond one host" states the guarantee):
/// - outbound: a message taken from the queue is first copied into the bridge's in-flight
///   record in the segment, then published with a Nats-Msg-Id unique to it (the bridge's random
///   epoch and a number that grows by one per message); the record is cleared only when the
///   server acknowledged it. A restarted bridge republishes a pending record with the same id,
///   and the stream's duplicate window drops the copy.
/// - inbound: one message is delivered at a time (max_ack_pending 1, so redeliveries keep
///   the stream's order); it is acknowledged only after the local put, and the stream sequence
///   of the last message put (and, per sending bridge, the last id number put) is recorded in
///   the segment, so a redelivery, or a copy the server stored twice because it forgot the id
///   (after a restart, or past the window), is recognised and not put twice.
/// - Kills inside the queue's get or put: both are tagged (QueueCore::try_get_tagged,
///   put_tagged), and the tag is recorded in the segment first. Outbound, the get copies
///   straight into the in-flight record, and the claim of a bridge killed before that copy is
///   kept by the queue for the next run, which adopts its message. Inbound, the next run asks
///   the queue whether the put got past its point of no return (the frame written whole), and
///   records it as put if so. A topic's publish is not tagged: a kill between it and the
///   sequence record may publish twice, counted in possibly_duplicated.
#pragma once

#include "shmbus/nats/client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace shmbus::nats {

/// Where a bridge reads and writes.
struct BridgeOptions {
    /// The local segment; the outbound bridge needs it to exist, the inbound one creates it
    /// when missing (and keeps a stale one: it holds messages not yet taken).
    std::string segment;
    /// The local queue; the inbound bridge creates it (default QueueOptions) when missing.
    /// Exactly one of queue and topic is set.
    std::string queue;
    /// The local topic; the inbound bridge creates it (default TopicOptions) when missing.
    std::string topic;
    /// The NATS server(s), nats://host:port.
    std::string url;
    /// The subject messages travel on.
    std::string subject;
    /// The JetStream stream (file storage; work-queue retention for a queue, limits for a
    /// topic), created when missing; empty: default_stream_name(subject).
    std::string stream;
    /// The inbound bridge's durable consumer; empty: default_durable_name(segment, queue), or
    /// for a topic default_topic_durable_name(segment, topic): one consumer per host.
    std::string durable;
    /// Inbound: the server redelivers a message not acknowledged within this time.
    std::chrono::milliseconds ack_wait{std::chrono::seconds(5)};
    /// The stream's de-duplication window: a republish after a crash is dropped only within it.
    std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
    /// Outbound: the longest pause between attempts while the server is unreachable.
    std::chrono::milliseconds max_backoff{std::chrono::seconds(2)};
    /// Topic, outbound: the stream's limits (discarding the oldest messages), set on the stream
    /// whether the bridge creates it or finds it; none set: a stream found keeps its own.
    /// UsageError for a queue, whose work-queue stream must never discard a message.
    StreamLimits stream_limits;
};

/// "SHMBUS_" and `subject` with every character a stream name may not hold replaced by '_'.
std::string default_stream_name(std::string_view subject);
/// "shmbus_<segment>_<queue>" made a valid consumer name in the same way.
std::string default_durable_name(std::string_view segment, std::string_view queue);
/// "shmbus_<host name>_<segment>_<topic>" made a valid consumer name in the same way: every
/// host reads the whole stream through its own consumer.
std::string default_topic_durable_name(std::string_view segment, std::string_view topic);

/// What a bridge recorded in its segment (shmbus-bridge status).
struct BridgeStatus {
    /// Messages forwarded: published and acknowledged (out), put locally (in).
    std::uint64_t forwarded = 0;
    /// Outbound: 1 while a message waits in the in-flight record for its acknowledgement.
    std::uint64_t in_flight = 0;
    /// Outbound: in-flight messages republished after a restart or an error.
    std::uint64_t republished = 0;
    /// Outbound: republished copies the server reported as duplicates (dropped).
    std::uint64_t duplicates_dropped = 0;
    /// Inbound: redeliveries and stored copies recognised (stream sequence, sender's id number)
    /// and not put again.
    std::uint64_t redeliveries_skipped = 0;
    /// Queue bridges: restarts that found the last run killed inside the queue's get (out:
    /// its claimed message adopted) or put (in: found done, so not put again).
    std::uint64_t kills_settled = 0;
    /// Topic bridges, outbound: messages published on the topic that it never received (it was
    /// down longer than the topic's history lasts, or lagged under SlowSubscriber::overwrite).
    /// Inbound: messages of the stream that it never received (the stream's limits discarded
    /// them first: gaps in the stream sequences it was delivered).
    std::uint64_t missed = 0;
    /// Inbound to a topic: restarts after a kill inside the put window (see the top of this
    /// file).
    std::uint64_t possibly_duplicated = 0;
    /// Inbound: stream sequence of the last message put.
    std::uint64_t last_sequence = 0;
    /// Failed attempts to reach or use the server so far.
    std::uint64_t errors = 0;
    /// The subject it forwards on.
    std::string subject;
    /// The text of its last error (empty when none).
    std::string last_error;
    /// The stream's limits as the bridge found them when it last connected (zero: none).
    StreamLimits stream_limits;
};

/// Drains the queue into the stream until `stop` becomes true or the queue is closed and
/// drained. Reconnects with back-off while the server is unreachable (logging each error to
/// `log`); the messages wait in the local queue meanwhile. UsageError when another outbound
/// bridge runs on the queue; NotFound when the segment or queue is missing. With a topic:
/// forwards every message published on it until `stop` (a topic is never drained).
void run_bridge_out(const BridgeOptions& options, const std::atomic<bool>& stop, std::ostream& log);
/// Feeds the queue from the stream until `stop` becomes true. Fetches the next message only
/// once the previous one was put: while the local queue is full, nothing more is fetched
/// (the message in hand is kept alive on the server with in-progress acknowledgements).
/// UsageError when another inbound bridge runs on the queue. With a topic: publishes into it,
/// waiting (in the same way) while a subscriber is behind under SlowSubscriber::block.
void run_bridge_in(const BridgeOptions& options, const std::atomic<bool>& stop, std::ostream& log);

/// What a bridge moves.
enum class Bridged : std::uint8_t { queue, topic };

/// The outbound bridge's record for `name` in `segment`; NotFound when it never ran.
BridgeStatus bridge_out_status(std::string_view segment, std::string_view name,
                               Bridged kind = Bridged::queue);
/// The inbound bridge's record for `name` in `segment`; NotFound when it never ran.
BridgeStatus bridge_in_status(std::string_view segment, std::string_view name,
                              Bridged kind = Bridged::queue);

} // namespace shmbus::nats

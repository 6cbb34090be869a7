// SPDX-License-Identifier: Apache-2.0
// shmbus-bridge: `out` drains a local Queue (or forwards a local Topic) into a NATS JetStream
// stream, `in` feeds a local Queue (or Topic) from one, `status` prints a bridge's record
// (shmbus/nats/bridge.hpp). `shmbus bridge
// ...` runs this program. SIGINT / SIGTERM stop a bridge between two messages.
#include "shmbus/errors.hpp"
#include "shmbus/nats/bridge.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <map>

namespace {

std::atomic<bool> g_stop{false};

extern "C" void request_stop(int) {
    g_stop.store(true, std::memory_order_relaxed); // relaxed: read by the bridge loops only
}

// --queue or --topic, exactly one.
void add_bridged_options(CLI::App& command, shmbus::nats::BridgeOptions& options) {
    command.add_option("--segment", options.segment, "local segment")->required();
    CLI::Option* queue = command.add_option("--queue", options.queue, "local queue");
    CLI::Option* topic = command.add_option("--topic", options.topic, "local topic");
    queue->excludes(topic);
}

void add_bridge_options(CLI::App& command, shmbus::nats::BridgeOptions& options, int& ack_wait_ms) {
    add_bridged_options(command, options);
    command.add_option("--url", options.url, "NATS server, nats://host:port")->required();
    command.add_option("--subject", options.subject, "NATS subject")->required();
    command.add_option("--stream", options.stream, "JetStream stream (default SHMBUS_<subject>)");
    command.add_option("--durable,--consumer", options.durable,
                       "inbound: durable consumer (default shmbus_<segment>_<queue>; a topic's: "
                       "shmbus_<host>_<segment>_<topic>, one per host)");
    command.add_option("--ack-wait-ms", ack_wait_ms, "inbound: redelivery after (ms)");
}

// Outbound topic bridges: the limits of the stream (limits retention, oldest discarded first).
void add_limit_options(CLI::App& command, std::int64_t& max_age_ms,
                       shmbus::nats::StreamLimits& limits) {
    const std::map<std::string, std::int64_t> to_ms{
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    command
        .add_option("--max-age", max_age_ms,
                    "topic: the stream drops messages older than this (e.g. 90s, 12h, 7d)")
        ->transform(CLI::AsNumberWithUnit(to_ms, CLI::AsNumberWithUnit::UNIT_REQUIRED));
    command
        .add_option("--max-bytes", limits.max_bytes,
                    "topic: the stream keeps at most this many bytes (e.g. 512MiB)")
        ->transform(CLI::AsSizeValue(false));
    command.add_option("--max-messages", limits.max_messages,
                       "topic: the stream keeps at most this many messages");
}

void print(const char* direction, const shmbus::nats::BridgeStatus& status) {
    std::cout << direction << " forwarded=" << status.forwarded << " in_flight=" << status.in_flight
              << " republished=" << status.republished
              << " duplicates_dropped=" << status.duplicates_dropped
              << " redeliveries_skipped=" << status.redeliveries_skipped
              << " kills_settled=" << status.kills_settled
              << " possibly_duplicated=" << status.possibly_duplicated
              << " missed=" << status.missed << " last_sequence=" << status.last_sequence
              << " errors=" << status.errors
              << " max_age_ms=" << status.stream_limits.max_age.count()
              << " max_bytes=" << status.stream_limits.max_bytes
              << " max_messages=" << status.stream_limits.max_messages
              << " subject=" << status.subject << " last_error=\"" << status.last_error << "\"\n";
}

// Prints the record of each direction that has one; returns how many it printed.
int print_records(const shmbus::nats::BridgeOptions& options) {
    const auto kind =
        options.topic.empty() ? shmbus::nats::Bridged::queue : shmbus::nats::Bridged::topic;
    const std::string& name = options.topic.empty() ? options.queue : options.topic;
    int printed = 0;
    try {
        print("out", shmbus::nats::bridge_out_status(options.segment, name, kind));
        ++printed;
    } catch (const shmbus::NotFound&) {
    }
    try {
        print("in", shmbus::nats::bridge_in_status(options.segment, name, kind));
        ++printed;
    } catch (const shmbus::NotFound&) {
    }
    return printed;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"shmbus-bridge: a local shmbus Queue or Topic to and from NATS JetStream"};
    app.require_subcommand(1);
    shmbus::nats::BridgeOptions options;
    int ack_wait_ms = 5000;
    CLI::App* out = app.add_subcommand(
        "out", "drain a local queue into a JetStream stream (or forward a local topic)");
    add_bridge_options(*out, options, ack_wait_ms);
    std::int64_t max_age_ms = 0;
    add_limit_options(*out, max_age_ms, options.stream_limits);
    CLI::App* in = app.add_subcommand("in", "feed a local queue or topic from a JetStream stream");
    add_bridge_options(*in, options, ack_wait_ms);
    CLI::App* status =
        app.add_subcommand("status", "print the bridges' records of a queue or topic");
    add_bridged_options(*status, options);
    CLI11_PARSE(app, argc, argv);
    options.ack_wait = std::chrono::milliseconds(ack_wait_ms);
    options.stream_limits.max_age = std::chrono::milliseconds(max_age_ms);
    if (options.queue.empty() == options.topic.empty()) {
        std::cerr << "shmbus-bridge: give --queue or --topic\n";
        return 2;
    }

    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    try {
        if (out->parsed())
            shmbus::nats::run_bridge_out(options, g_stop, std::cerr);
        else if (in->parsed())
            shmbus::nats::run_bridge_in(options, g_stop, std::cerr);
        else if (print_records(options) == 0) {
            std::cerr << "shmbus-bridge: no bridge has run on "
                      << (options.topic.empty() ? "queue " + options.queue
                                                : "topic " + options.topic)
                      << " of segment " << options.segment << '\n';
            return 1;
        }
    } catch (const shmbus::Error& error) {
        std::cerr << "shmbus-bridge: " << error.what() << '\n';
        return 1;
    }
    return 0;
}

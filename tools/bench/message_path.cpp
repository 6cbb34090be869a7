// SPDX-License-Identifier: Apache-2.0
// message_path: moves N messages of 64 B through one Pipe (send_bytes + recv_bytes_into, or
// typed: send + recv of a std::array<std::byte, 64>), one Queue<std::array<std::byte, 64>>
// (put + get) or one Topic with one subscriber (publish + recv), in one process and one
// thread, so that an instruction counter sees the message path and nothing else: no peer, no
// wait, no clock. tools/scripts/count-instructions.sh runs it under callgrind at two counts
// and divides the difference, which cancels the set-up.
//
//   bench_message_path pipe|pipe-typed|queue|topic COUNT
#include <CLI/CLI.hpp>
#include <array>
#include <cstddef>
#include <cstdint>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/segment.hpp>
#include <shmbus/topic.hpp>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

using Message = std::array<std::byte, 64>;

// A private segment: unlinked at once, so nothing lingers in /dev/shm whatever happens.
shmbus::Segment private_segment() {
    const std::string name = "message-path-" + std::to_string(::getpid());
    shmbus::Segment segment = shmbus::Segment::create(name, std::size_t{8} << 20);
    shmbus::Segment::unlink(name);
    return segment;
}

// Sends `count` messages with `send` and takes each back with `receive` at once, checking it.
template <class Send, class Receive>
void each_message(std::uint64_t count, const std::string& what, Send send, Receive receive) {
    Message in{};
    for (std::uint64_t i = 0; i < count; ++i) {
        in[0] = static_cast<std::byte>(i);
        send(in);
        if (receive()[0] != in[0])
            throw std::runtime_error(what + ": the message came back changed");
    }
}

void through_pipe(const shmbus::Segment& segment, std::uint64_t count) {
    auto [left, right] = shmbus::Pipe(segment, false, {.max_message_size = sizeof(Message)});
    Message out{};
    each_message(
        count, "pipe", [&](const Message& in) { right.send_bytes(in); },
        [&] {
            if (left.recv_bytes_into(out) != out.size())
                throw std::runtime_error("pipe: a message of another size came back");
            return out;
        });
}

void through_typed_pipe(const shmbus::Segment& segment, std::uint64_t count) {
    auto [left, right] = shmbus::Pipe(segment, false, {.max_message_size = sizeof(Message)});
    each_message(
        count, "pipe-typed", [&](const Message& in) { right.send(in); },
        [&] { return left.recv<Message>(); });
}

void through_queue(const shmbus::Segment& segment, std::uint64_t count) {
    auto queue =
        shmbus::Queue<Message>::create(segment, "q", {.max_message_size = sizeof(Message)});
    each_message(
        count, "queue", [&](const Message& in) { queue.put(in); }, [&] { return queue.get(); });
}

void through_topic(const shmbus::Segment& segment, std::uint64_t count) {
    shmbus::Topic<Message> topic(segment, "t", {.max_message_size = sizeof(Message)});
    auto subscriber = topic.subscribe();
    auto publisher = topic.publisher();
    each_message(
        count, "topic", [&](const Message& in) { publisher.publish(in); },
        [&] { return subscriber.recv(); });
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Moves COUNT messages of 64 B through one Pipe, Queue or Topic in one process, "
                 "for an instruction counter (tools/scripts/count-instructions.sh)"};
    std::string kind;
    std::uint64_t count = 0;
    app.add_option("kind", kind, "pipe, pipe-typed, queue or topic")
        ->required()
        ->check(CLI::IsMember({"pipe", "pipe-typed", "queue", "topic"}));
    app.add_option("count", count, "Messages")->required();
    CLI11_PARSE(app, argc, argv);
    const shmbus::Segment segment = private_segment();
    if (kind == "pipe")
        through_pipe(segment, count);
    else if (kind == "pipe-typed")
        through_typed_pipe(segment, count);
    else if (kind == "queue")
        through_queue(segment, count);
    else
        through_topic(segment, count);
    return 0;
}

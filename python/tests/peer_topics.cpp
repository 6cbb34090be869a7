// SPDX-License-Identifier: Apache-2.0
// The topic parts of the C++ peer (test_topic.py): a C++ subscriber and a C++ publisher on a
// topic Python made (Topic<T, MsgpackCodec>), and the codec checked from both sides.
#include "peer.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <vector>

namespace shmbus::peer {

namespace {

using namespace std::chrono_literals;

/// Orders until a None (an empty optional) ends the stream.
using OrderTopic = Topic<std::optional<Order>, MsgpackCodec>;

/// The order numbered `quantity` in a stream, as test_topic.py's order(i) makes it.
Order numbered(std::int64_t quantity) {
    Order order = kOrder;
    order.quantity = quantity;
    return order;
}

// Subscribes to `name`, says so by releasing Semaphore "subscribed", then expects the orders
// numbered `first`, `first` + 1, ... until a None, and then the raw message kBytes (a borrow,
// not a decode); prints how many orders it got.
void subscribe(const Segment& segment, const std::string& name, std::int64_t first) {
    auto subscriber = OrderTopic::open(segment, name).subscribe();
    Semaphore::open(segment, "subscribed").release();
    std::int64_t expected = first;
    while (const std::optional<Order> order = subscriber.recv_for(60s)) {
        expect_equal(*order, numbered(expected), "order " + std::to_string(expected));
        ++expected;
    }
    auto raw = subscriber.borrow_for(60s);
    expect_equal(std::vector<std::byte>(raw.bytes().begin(), raw.bytes().end()), kBytes,
                 "raw message");
    raw.release();
    std::cout << expected - first << std::endl;
}

// Publishes the orders numbered 0 .. count - 1 to `name`, a None, then kBytes through a raw loan.
void publish(const Segment& segment, const std::string& name, std::int64_t count) {
    auto topic = OrderTopic::open(segment, name);
    for (std::int64_t i = 0; i < count; ++i)
        topic.publish(numbered(i));
    topic.publish(std::nullopt);
    auto slot = topic.loan(kBytes.size());
    std::memcpy(slot.bytes().data(), kBytes.data(), kBytes.size());
    slot.publish();
}

// Python's topic `name` opens neither as a cereal Topic nor as a Queue.
void wrong_kinds(const Segment& segment, const std::string& name) {
    expect_kind_mismatch([&] { (void)Topic<int>::open(segment, name); }, "a cereal Topic<int>");
    expect_kind_mismatch([&] { (void)Topic<std::string>(segment, name); },
                         "a cereal Topic<std::string>");
    expect_kind_mismatch([&] { (void)Queue<int, MsgpackCodec>::open(segment, name); },
                         "a msgpack Queue");
}

} // namespace

void run_topic_part(const Segment& segment, const std::string& part,
                    const std::vector<std::string>& args) {
    if (part == "topic-subscribe")
        subscribe(segment, args.at(3), std::stoll(args.at(4)));
    else if (part == "topic-publish")
        publish(segment, args.at(3), std::stoll(args.at(4)));
    else if (part == "topic-wrong-kinds")
        wrong_kinds(segment, args.at(3));
    else if (part == "topic-make-cereal")
        Topic<int>::create(segment, args.at(3)).publish(1);
    else
        throw CheckFailed{"no part named " + part};
}

} // namespace shmbus::peer

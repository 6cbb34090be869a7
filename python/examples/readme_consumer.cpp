// SPDX-License-Identifier: Apache-2.0
// README "From Python": a C++ consumer of the orders readme_producer.py puts.
#include <cstdint>
#include <iostream>
#include <optional>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/queue.hpp>
#include <string>

struct Order {
    std::string symbol;
    std::int64_t quantity = 0;
    double price = 0;
    MSGPACK_DEFINE_MAP(symbol, quantity, price) // a dict with these keys in Python
};

int main() {
    const auto segment = shmbus::Segment::open_or_create("orders-demo");
    shmbus::Queue<std::optional<Order>, shmbus::MsgpackCodec> orders(segment, "orders");
    double total = 0;
    while (const std::optional<Order> order = orders.get()) { // None ends the stream
        std::cout << order->symbol << " " << order->quantity << " @ " << order->price << "\n";
        total += static_cast<double>(order->quantity) * order->price;
    }
    std::cout << "total " << total << "\n";
    shmbus::Segment::unlink("orders-demo");
}

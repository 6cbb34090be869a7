// SPDX-License-Identifier: Apache-2.0
// A named segment an operator can watch: two producer processes put orders on a JoinableQueue,
// one consumer prices them and sends receipts back through a Pipe. Runs for the seconds given
// (default 1), so that `shmbus inspect orders-demo` and `shmbus watch orders-demo` have a live
// segment to look at (the README's CLI session comes from it).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <thread>

namespace {

struct Order {
    int producer;
    int number;
    double quantity;
};

constexpr const char* kSegment = "orders-demo";

void produce(shmbus::JoinableQueue<Order>& orders, const shmbus::Event& stop, int producer) {
    for (int number = 0; !stop.is_set(); ++number) {
        while (!orders.try_put({producer, number, 1.5 * number}) && !stop.is_set())
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

void consume(shmbus::JoinableQueue<Order>& orders, shmbus::Connection& receipts) {
    long priced = 0;
    try {
        for (;;) {
            orders.get();
            ++priced;
            orders.task_done();
        }
    } catch (const shmbus::Closed&) { // closed and drained: the day is over
    }
    receipts.send(priced);
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
    shmbus::Segment::unlink(kSegment);
    const shmbus::Segment segment = shmbus::Segment::create(kSegment, 16 << 20);
    shmbus::JoinableQueue<Order> orders(segment, "orders",
                                        {.maxsize = 256, .max_message_size = 1024});
    shmbus::Event stop(segment, "stop");
    auto [receipts_in, receipts_out] = shmbus::Pipe(segment, false);

    shmbus::Process first([&] { produce(orders, stop, 1); });
    shmbus::Process second([&] { produce(orders, stop, 2); });
    // Named in the capture: clang 14 cannot capture a structured binding implicitly.
    shmbus::Process consumer([&, &receipts = receipts_out] { consume(orders, receipts); });
    for (shmbus::Process* process : {&first, &second, &consumer})
        process->start();

    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop.set();
    first.join();
    second.join();
    orders.join(); // every order put has been priced
    orders.close();
    const long priced = receipts_in.recv<long>();
    consumer.join();
    std::cout << "priced " << priced << " orders from 2 producers, unfinished "
              << orders.unfinished_tasks() << std::endl;
    shmbus::Segment::unlink(kSegment);
    return priced > 0 && consumer.exitcode() == 0 ? 0 : 1;
}

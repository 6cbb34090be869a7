// SPDX-License-Identifier: Apache-2.0
// A producer process puts work items on a Queue and then a "no more work" marker; a consumer
// process handles items until it sees the marker. One producer: items arrive in order.
#include <iostream>
#include <optional>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>

int main() {
    shmbus::Queue<std::optional<int>> q;
    shmbus::Process producer([&] {
        for (int item = 0; item < 10; ++item)
            q.put(item);
        q.put(std::nullopt); // like Python's q.put(None)
    });
    shmbus::Process consumer([&] {
        int total = 0;
        while (const std::optional<int> item = q.get()) {
            std::cout << "consumed " << *item << std::endl;
            total += *item;
        }
        std::cout << "consumer done, total " << total << std::endl;
    });
    producer.start();
    consumer.start();
    producer.join();
    consumer.join();
    return consumer.exitcode() == 0 && producer.exitcode() == 0 ? 0 : 1;
}

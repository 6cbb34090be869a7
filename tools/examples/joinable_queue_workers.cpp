// SPDX-License-Identifier: Apache-2.0
// Daemon consumer processes take items from a JoinableQueue and mark each done; two producer
// processes put items and then join the queue, which returns once every item put (by either
// producer) was marked done. The parent then exits and its daemons go with it.
#include <iostream>
#include <memory>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/process.hpp>
#include <vector>

int main() {
    shmbus::JoinableQueue<int> tasks;
    shmbus::Queue<long> results;
    std::vector<std::unique_ptr<shmbus::Process>> consumers;
    for (int c = 0; c < 2; ++c) {
        consumers.push_back(std::make_unique<shmbus::Process>([&] {
            for (;;) {
                const int item = tasks.get();
                results.put(long{item} * item);
                tasks.task_done();
            }
        }));
        consumers.back()->set_daemon(true);
        consumers.back()->start();
    }
    std::vector<std::unique_ptr<shmbus::Process>> producers;
    for (int p = 0; p < 2; ++p) {
        producers.push_back(std::make_unique<shmbus::Process>([&, p] {
            for (int item = p * 10; item < p * 10 + 10; ++item)
                tasks.put(item);
            tasks.join();
            std::cout << "producer " << p << ": every item it put is done" << std::endl;
        }));
        producers.back()->start();
    }
    for (auto& producer : producers)
        producer->join();
    long sum = 0;
    for (int i = 0; i < 20; ++i)
        sum += results.get();
    std::cout << "sum of squares: " << sum << std::endl;
    std::cout << "unfinished tasks: " << tasks.unfinished_tasks() << std::endl;
    return sum == 2470 ? 0 : 1;
}

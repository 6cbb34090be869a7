// SPDX-License-Identifier: Apache-2.0
// Two processes each compute a sum and put it on a Queue; the parent adds the two results
// (Python: q = Queue(); Process(target=f, args=(q,)).start(); q.get() + q.get()).
#include <iostream>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>

int main() {
    shmbus::Queue<long> results;
    shmbus::Process sum_of_numbers([&] {
        long sum = 0;
        for (long i = 1; i <= 100; ++i)
            sum += i;
        results.put(sum);
    });
    shmbus::Process sum_of_squares([&] {
        long sum = 0;
        for (long i = 1; i <= 100; ++i)
            sum += i * i;
        results.put(sum);
    });
    sum_of_numbers.start();
    sum_of_squares.start();
    const long total = results.get() + results.get();
    sum_of_numbers.join();
    sum_of_squares.join();
    std::cout << "1 + ... + 100 = 5050 and 1^2 + ... + 100^2 = 338350 were computed in two "
                 "processes"
              << std::endl;
    std::cout << "total: " << total << std::endl;
    return total == 5050 + 338350 ? 0 : 1;
}

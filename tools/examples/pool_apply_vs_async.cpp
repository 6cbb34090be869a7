// SPDX-License-Identifier: Apache-2.0
// apply blocks until its task is done, so a loop of apply runs one task at a time; apply_async
// returns an AsyncResult at once, so a loop of apply_async keeps every worker busy, and get()
// collects the results in submission order.
#include <chrono>
#include <iostream>
#include <shmbus/pool.hpp>
#include <thread>
#include <vector>

namespace {

int slow_square(int x) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return x * x;
}

void print(const char* label, const std::vector<int>& values) {
    std::cout << label << ":";
    for (int v : values)
        std::cout << " " << v;
    std::cout << std::endl;
}

} // namespace

int main() {
    shmbus::Pool pool(4);
    std::vector<int> blocking;
    for (int i = 0; i < 8; ++i)
        blocking.push_back(pool.apply(slow_square, i));
    print("apply", blocking);

    std::vector<shmbus::AsyncResult<int>> pending;
    for (int i = 0; i < 8; ++i)
        pending.push_back(pool.apply_async(slow_square, i));
    std::vector<int> asynchronous;
    for (auto& result : pending)
        asynchronous.push_back(result.get_for(std::chrono::seconds(30)));
    print("apply_async + get", asynchronous);

    pool.close();
    pool.join();
    return blocking == asynchronous ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// Two worker processes run side by side; the main process joins both before it goes on.
#include <chrono>
#include <iostream>
#include <shmbus/process.hpp>
#include <thread>

namespace {

void worker(int number) {
    std::cout << "worker " << number << " start" << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::cout << "worker " << number << " done" << std::endl;
}

} // namespace

int main() {
    shmbus::Process first(worker, 1);
    shmbus::Process second(worker, 2);
    first.start();
    second.start();
    first.join();
    second.join();
    std::cout << "main done" << std::endl;
    return first.exitcode() == 0 && second.exitcode() == 0 ? 0 : 1;
}

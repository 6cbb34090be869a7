// SPDX-License-Identifier: Apache-2.0
// A writer process puts three values on a Queue; a reader process loops forever getting them.
// The parent joins the writer, then terminates the endless reader (Python: pr.terminate()).
#include <chrono>
#include <iostream>
#include <shmbus/process.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <thread>

using namespace std::chrono_literals;

int main() {
    shmbus::Queue<std::string> q;
    shmbus::Process writer([&] {
        for (const std::string value : {"A", "B", "C"}) {
            std::cout << "Put " << value << " to queue..." << std::endl;
            q.put(value);
            std::this_thread::sleep_for(200ms);
        }
    });
    shmbus::Process reader([&] {
        for (;;)
            std::cout << "Get " << q.get() << " from queue." << std::endl;
    });
    writer.start();
    reader.start();
    writer.join();
    reader.terminate();
    reader.join();
    std::cout << "reader terminated, exitcode " << reader.exitcode().value_or(0) << std::endl;
    return 0;
}

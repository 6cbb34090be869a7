// SPDX-License-Identifier: Apache-2.0
// An outside program: uses the installed headers and library only.
#include <iostream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>

int main() {
    const std::string name = "shmbus-consumer-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, 1 << 20);
    shmbus::Semaphore semaphore(segment, "slots", 3);
    semaphore.acquire();
    std::cout << "consumer: semaphore value " << semaphore.get_value() << "\n";
    shmbus::Segment::unlink(name);
}

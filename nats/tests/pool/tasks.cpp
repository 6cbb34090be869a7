// SPDX-License-Identifier: Apache-2.0
#include "tasks.hpp"

#include "shmbus/nats/pool.hpp"

#include <signal.h>
#include <stdexcept>
#include <thread>

namespace shmbus::nats::test {

int square(int x) {
    return x * x;
}

int slow_square(int x, int milliseconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
    return x * x;
}

int add(int a, int b) {
    return a + b;
}

std::string fail(std::string who) {
    throw std::invalid_argument("no orders for " + who);
}

int crash(int x) {
    ::raise(SIGKILL);
    return x;
}

SHMBUS_TASK(square);
SHMBUS_TASK(slow_square);
SHMBUS_TASK(add);
SHMBUS_TASK(fail);
SHMBUS_TASK(crash);

} // namespace shmbus::nats::test

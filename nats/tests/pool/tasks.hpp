// SPDX-License-Identifier: Apache-2.0
// The task functions of the distributed Pool tests, registered (pool/tasks.cpp) in
// both the test binary (the caller) and pool_worker (the workers).
#pragma once

#include <string>

namespace shmbus::nats::test {

int square(int x);
/// x * x after `milliseconds`: long enough to kill its worker meanwhile.
int slow_square(int x, int milliseconds);
int add(int a, int b);
/// Throws std::invalid_argument("no orders for <who>").
std::string fail(std::string who);
/// Kills its own worker with SIGKILL: a task that keeps killing workers.
int crash(int x);

} // namespace shmbus::nats::test

// SPDX-License-Identifier: Apache-2.0
// A distributed Pool worker for the tests: serves the pool named by argv[2] on the server at
// argv[1] with the tasks of pool/tasks.cpp, ack wait argv[3] ms and max_deliver argv[4],
// until SIGTERM.
#include "pool/tasks.hpp"
#include "shmbus/nats/pool.hpp"

#include <csignal>
#include <iostream>
#include <string>

namespace {

std::atomic<bool> g_stop{false};

extern "C" void request_stop(int) {
    g_stop.store(true, std::memory_order_relaxed); // relaxed: read by serve() only
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: pool_worker URL POOL ACK_WAIT_MS MAX_DELIVER\n";
        return 2;
    }
    std::signal(SIGTERM, request_stop);
    shmbus::nats::PoolOptions options;
    options.ack_wait = std::chrono::milliseconds(std::stoi(argv[3]));
    options.max_deliver = std::stoi(argv[4]);
    shmbus::nats::serve(argv[1], argv[2], g_stop, std::cerr, options);
    return 0;
}

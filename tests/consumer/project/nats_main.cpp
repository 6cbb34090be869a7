// SPDX-License-Identifier: Apache-2.0
// An outside program linking the installed shmbus::nats: its headers, library and the NATS C
// client it brings (no server needed).
#include <iostream>
#include <shmbus/nats/bridge.hpp>
#include <shmbus/nats/worker.hpp>

int main() {
    shmbus::nats::WorkerOptions options; // from the worker header, which includes the Pool's
    std::cout << "nats consumer: stream " << shmbus::nats::default_stream_name("orders")
              << ", worker processes " << options.processes << "\n";
}

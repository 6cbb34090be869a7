// SPDX-License-Identifier: Apache-2.0
// A distributed Pool worker for the tests, serving the tasks of pool/tasks.cpp (compiled into
// it) with worker_main: --url, --pool, --ack-wait-ms, --max-deliver; stops on SIGTERM.
#include "shmbus/nats/worker.hpp"

int main(int argc, char** argv) {
    return shmbus::nats::worker_main(argc, argv);
}

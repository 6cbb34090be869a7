// SPDX-License-Identifier: Apache-2.0
// shmbus-worker: serves a Pool across hosts with the tasks of the --tasks libraries
// (shmbus/nats/worker.hpp). `shmbus worker ...` runs this program. It exports its symbols
// (ENABLE_EXPORTS), so that a task library finds shmbus's functions here when loaded.
#include "shmbus/nats/worker.hpp"

int main(int argc, char** argv) {
    return shmbus::nats::worker_main(argc, argv);
}

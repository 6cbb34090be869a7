// SPDX-License-Identifier: Apache-2.0
/// @file
/// Worker programs of the Pool across hosts (pool.hpp): `shmbus worker` (the program
/// shmbus-worker), which loads the task functions from shared libraries, and worker_main(), the
/// whole main of a program that registers its tasks itself:
///
///   int square(int x) { return x * x; }
///   SHMBUS_TASK(square);
///   int main(int argc, char** argv) { return shmbus::nats::worker_main(argc, argv); }
///
///   $ ./my_worker --url nats://nats-host:4222 --pool squares --processes 4
///   $ shmbus worker --url nats://nats-host:4222 --pool squares --tasks ./libmytasks.so
///
/// Either serves the pool until SIGINT or SIGTERM, which let each worker finish its task.
#pragma once

#include "shmbus/nats/pool.hpp"

#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

namespace shmbus::nats {

/// What a worker program serves.
struct WorkerOptions {
    /// The NATS server(s), nats://host:port.
    std::string url;
    /// The pool's name, as given to Pool.
    std::string pool;
    /// Worker processes. 1: this process serves; more: it forks them, starts a new one in place
    /// of one that died (a task that crashed it is redelivered elsewhere), and stops them.
    int processes = 1;
    /// Shared libraries whose SHMBUS_TASK registrations run when loaded (dlopen).
    std::vector<std::string> task_libraries;
    /// The tasks' ack wait and max_deliver: the same as the callers' Pools'.
    PoolOptions pool_options;
};

/// Loads a task library, which registers its tasks as it loads; it resolves the shmbus
/// functions it calls in the loading program. A bare name is a file in the working directory
/// when there is one, else searched like a dependency. UsageError (with dlerror's text) when
/// it cannot be loaded.
void load_task_library(const std::string& path);

/// Loads the task libraries, then serves until `stop` (the children stop on SIGTERM, which
/// their parent sends when `stop` becomes true, or when it dies). UsageError for bad options.
void run_workers(const WorkerOptions& options, const std::atomic<bool>& stop, std::ostream& log);

/// A worker program's main: parses --url, --pool, --processes, --tasks (repeatable),
/// --ack-wait-ms and --max-deliver, stops on SIGINT or SIGTERM. Returns the exit status: 0
/// after a stop, 1 on an error (printed on stderr), 2 on bad arguments.
int worker_main(int argc, char** argv);

} // namespace shmbus::nats

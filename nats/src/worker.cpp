// SPDX-License-Identifier: Apache-2.0
// Worker programs of the Pool across hosts (shmbus/nats/worker.hpp): task libraries loaded with
// dlopen, and a parent that keeps N worker processes serving until it is told to stop.
#include "shmbus/nats/worker.hpp"

#include "shmbus/errors.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <iostream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace shmbus::nats {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void request_stop(int) {
    g_stop.store(true, std::memory_order_relaxed); // relaxed: read by the serving loops only
}

void stop_on_signals() {
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
}

// A worker process: serves until SIGTERM, from its parent or the parent's death (it never
// outlives the parent that would restart and stop it).
pid_t start_worker(const WorkerOptions& options, std::ostream& log) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
        throw SystemError(std::string("fork failed: ") + std::strerror(errno));
    if (pid > 0)
        return pid;
    stop_on_signals();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    int status = 0;
    if (::getppid() == parent) { // else the parent died before prctl: stop at once
        try {
            serve(options.url, options.pool, g_stop, log, options.pool_options);
        } catch (const std::exception& error) {
            log << "shmbus worker " << ::getpid() << ": " << error.what() << std::endl;
            status = 1;
        }
    }
    log.flush();
    ::_exit(status); // the parent's atexit handlers and static objects are not this process's
}

// Replaces a worker that ended (a task crashed it, or it failed) while not told to stop.
void restart_ended(std::vector<pid_t>& workers, const WorkerOptions& options, std::ostream& log) {
    for (pid_t& pid : workers) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) != pid)
            continue;
        log << "shmbus worker: process " << pid << " ended ("
            << (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                    : "exit " + std::to_string(WEXITSTATUS(status)))
            << "); starting another" << std::endl;
        pid = start_worker(options, log);
    }
}

void supervise(const WorkerOptions& options, const std::atomic<bool>& stop, std::ostream& log) {
    std::vector<pid_t> workers;
    for (int i = 0; i < options.processes; ++i)
        workers.push_back(start_worker(options, log));
    // relaxed: a plain flag set by a signal handler; nothing is published through it
    while (!stop.load(std::memory_order_relaxed)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // also paces restarts
        restart_ended(workers, options, log);
    }
    for (const pid_t pid : workers)
        ::kill(pid, SIGTERM);
    for (const pid_t pid : workers) // each finishes its task first
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
}

} // namespace

void load_task_library(const std::string& path) {
    // A bare name is a file in the working directory when there is one (dlopen would search
    // only the library path), else searched like a dependency. RTLD_GLOBAL: a library may use
    // functions of one loaded before it.
    const bool here = path.find('/') == std::string::npos && std::filesystem::exists(path);
    const std::string file = here ? "./" + path : path;
    if (::dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr)
        throw UsageError("cannot load task library " + path + ": " + ::dlerror());
}

void run_workers(const WorkerOptions& options, const std::atomic<bool>& stop, std::ostream& log) {
    if (options.url.empty() || options.pool.empty())
        throw UsageError("a worker needs a server URL and a pool name");
    if (options.processes < 1)
        throw UsageError("a worker needs at least one process");
    for (const std::string& path : options.task_libraries)
        load_task_library(path);
    if (options.processes == 1)
        serve(options.url, options.pool, stop, log, options.pool_options);
    else
        supervise(options, stop, log);
}

int worker_main(int argc, char** argv) {
    CLI::App app{"Serve a shmbus Pool across hosts (README \"A Pool across hosts\") with the tasks "
                 "this program registers and those of the --tasks libraries, until SIGINT or "
                 "SIGTERM"};
    WorkerOptions options;
    int ack_wait_ms = static_cast<int>(options.pool_options.ack_wait.count());
    app.add_option("--url", options.url, "NATS server, nats://host:port")->required();
    app.add_option("--pool", options.pool, "the pool's name, as the callers' Pool's")->required();
    app.add_option("--processes", options.processes, "worker processes (default 1)")
        ->check(CLI::PositiveNumber);
    app.add_option("--tasks", options.task_libraries,
                   "shared library registering tasks (SHMBUS_TASK), loaded at start; repeatable");
    app.add_option("--ack-wait-ms", ack_wait_ms,
                   "a task unacknowledged this long runs again (the callers' PoolOptions)");
    app.add_option("--max-deliver", options.pool_options.max_deliver,
                   "deliveries of a task before it fails with WorkerLost (the callers')");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    options.pool_options.ack_wait = std::chrono::milliseconds(ack_wait_ms);
    stop_on_signals();
    try {
        run_workers(options, g_stop, std::cerr);
    } catch (const Error& error) {
        std::cerr << "shmbus worker: " << error.what() << '\n';
        return 1;
    }
    return 0;
}

} // namespace shmbus::nats

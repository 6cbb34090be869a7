// SPDX-License-Identifier: Apache-2.0
// A real nats-server for the tests, with JetStream on file storage in a temporary directory,
// listening on 127.0.0.1 only, on a port found free by binding port 0 first. One per test binary
// (NatsEnvironment); tests may SIGKILL and restart it on the same port and store.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace shmbus::nats::test {

/// A program run by fork + exec, its stderr in a file; killed and reaped by the destructor.
class Spawned {
public:
    Spawned(const std::vector<std::string>& argv, const std::filesystem::path& log);
    ~Spawned();
    Spawned(const Spawned&) = delete;
    Spawned& operator=(const Spawned&) = delete;
    pid_t pid() const { return m_pid; }
    /// Sends `signal` and reaps the process; returns its wait status.
    int stop(int signal);
    /// True while it has not exited (reaps it when it has).
    bool running();

private:
    pid_t m_pid;
    bool m_reaped = false;
    int m_status = 0;
};

class NatsServer {
public:
    NatsServer();
    ~NatsServer();
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;

    /// nats://127.0.0.1:<port>
    std::string url() const;
    /// Its temporary directory (store, logs), removed by the destructor: spawned programs may
    /// write their logs here.
    const std::filesystem::path& directory() const { return m_directory; }
    /// SIGKILL, as a crash: the store keeps what was synced.
    void kill();
    /// Starts it again on the same port and store; waits until it accepts connections.
    void start();

private:
    std::filesystem::path m_directory;
    int m_port = 0;
    std::unique_ptr<Spawned> m_process;
};

/// The server of this test binary (started by the gtest environment in nats_server.cpp).
NatsServer& server();

} // namespace shmbus::nats::test

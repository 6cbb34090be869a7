// SPDX-License-Identifier: Apache-2.0
#include "nats_server.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <memory>
#include <netinet/in.h>
#include <signal.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace shmbus::nats::test {
namespace {

namespace fs = std::filesystem;

class Socket {
public:
    Socket() : m_fd(::socket(AF_INET, SOCK_STREAM, 0)) {
        if (m_fd < 0)
            throw std::runtime_error("socket() failed");
    }
    ~Socket() { ::close(m_fd); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return m_fd; }

private:
    int m_fd;
};

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// A port nobody listens on now: the kernel's pick for port 0. Another program could take it
// before the server binds; start() then fails to connect and the environment tries again.
int free_port() {
    Socket socket;
    sockaddr_in address = loopback(0);
    if (::bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        throw std::runtime_error("bind(127.0.0.1:0) failed");
    socklen_t length = sizeof address;
    ::getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

bool accepts(int port) {
    Socket socket;
    sockaddr_in address = loopback(port);
    return ::connect(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

fs::path make_temporary_directory(const char* prefix) {
    std::string pattern = (fs::temp_directory_path() / prefix).string() + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed");
    return pattern;
}

const char* server_program() {
    const char* configured = std::getenv("SHMBUS_NATS_SERVER");
    return configured != nullptr ? configured : SHMBUS_NATS_SERVER_DEFAULT;
}

class NatsEnvironment : public ::testing::Environment {
public:
    void SetUp() override { m_server = std::make_unique<NatsServer>(); }
    void TearDown() override { m_server.reset(); }
    NatsServer& server() { return *m_server; }

private:
    std::unique_ptr<NatsServer> m_server;
};

NatsEnvironment* g_environment =
    static_cast<NatsEnvironment*>(::testing::AddGlobalTestEnvironment(new NatsEnvironment));

} // namespace

Spawned::Spawned(const std::vector<std::string>& argv, const fs::path& log) {
    std::vector<char*> args;
    for (const std::string& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    m_pid = ::fork();
    if (m_pid < 0)
        throw std::runtime_error("fork failed");
    if (m_pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
}

Spawned::~Spawned() {
    if (!m_reaped)
        stop(SIGKILL);
}

int Spawned::stop(int signal) {
    if (!m_reaped) {
        ::kill(m_pid, signal);
        ::waitpid(m_pid, &m_status, 0);
        m_reaped = true;
    }
    return m_status;
}

bool Spawned::running() {
    if (m_reaped)
        return false;
    m_reaped = ::waitpid(m_pid, &m_status, WNOHANG) == m_pid;
    return !m_reaped;
}

NatsServer::NatsServer() : m_directory(make_temporary_directory("shmbus-nats")) {
    constexpr int kAttempts = 5;
    for (int attempt = 0; attempt < kAttempts && !m_process; ++attempt) {
        m_port = free_port();
        try {
            start();
        } catch (const std::runtime_error&) {
            m_process.reset();
        }
    }
    if (!m_process)
        throw std::runtime_error("nats-server did not start; see " + m_directory.string());
}

NatsServer::~NatsServer() {
    m_process.reset();
    std::error_code ignored;
    fs::remove_all(m_directory, ignored);
}

std::string NatsServer::url() const {
    return "nats://127.0.0.1:" + std::to_string(m_port);
}

void NatsServer::kill() {
    m_process->stop(SIGKILL);
    m_process.reset();
}

void NatsServer::start() {
    m_process = std::make_unique<Spawned>(
        std::vector<std::string>{server_program(), "-js", "-sd", (m_directory / "store").string(),
                                 "-a", "127.0.0.1", "-p", std::to_string(m_port)},
        m_directory / "server.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(m_port)) {
        if (!m_process->running() || std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("nats-server did not start on port " + std::to_string(m_port));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

NatsServer& server() {
    return g_environment->server();
}

} // namespace shmbus::nats::test

// SPDX-License-Identifier: Apache-2.0
// shmbus-nats-bench: what leaving the host costs. Starts its own nats-server (JetStream, a
// temporary store, 127.0.0.1, a free port) and measures, in one run, a message's latency
// (p50/p99, one in flight) and throughput (a burst) through a local Queue and through
// bridge out -> server -> bridge in between two segments, and the round trip of a Pool apply
// and the throughput of map, locally and over NATS (a worker thread running serve()).
//   shmbus-nats-bench [--server /usr/sbin/nats-server] [--messages 2000] [--samples 300]
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/pool.hpp"
#include "shmbus/pool.hpp"
#include "shmbus/queue.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <netinet/in.h>
#include <signal.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int bench_square(int x) {
    return x * x;
}
SHMBUS_TASK(bench_square);

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

// The server, killed and its store removed when the bench ends.
class Server {
public:
    Server(const std::string& program, int port) {
        std::string pattern = (std::filesystem::temp_directory_path() / "shmbus-nats-bench-XXXXXX");
        m_store = ::mkdtemp(pattern.data());
        m_pid = ::fork();
        if (m_pid == 0) {
            std::freopen("/dev/null", "w", stderr);
            std::freopen("/dev/null", "w", stdout);
            const std::string port_text = std::to_string(port);
            ::execl(program.c_str(), program.c_str(), "-js", "-sd", m_store.c_str(), "-a",
                    "127.0.0.1", "-p", port_text.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(500ms);
    }
    ~Server() {
        ::kill(m_pid, SIGTERM);
        ::waitpid(m_pid, nullptr, 0);
        std::filesystem::remove_all(m_store);
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

private:
    std::string m_store;
    pid_t m_pid;
};

struct Figures {
    double p50_us;
    double p99_us;
    double per_second;
};

double percentile(std::vector<double> samples, double fraction) {
    std::sort(samples.begin(), samples.end());
    return samples[static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1))];
}

double micros(Clock::duration duration) {
    return std::chrono::duration<double, std::micro>(duration).count();
}

// Latency with one message in flight, then a burst of `messages`.
Figures measure_queue(shmbus::Queue<std::int64_t>& in, shmbus::Queue<std::int64_t>& out,
                      int samples, int messages) {
    std::vector<double> latencies;
    for (int i = 0; i < samples; ++i) {
        const auto start = Clock::now();
        in.put(i);
        out.get_for(30s);
        latencies.push_back(micros(Clock::now() - start));
    }
    const auto start = Clock::now();
    for (int i = 0; i < messages; ++i)
        in.put(i);
    for (int i = 0; i < messages; ++i)
        out.get_for(60s);
    const double seconds = micros(Clock::now() - start) / 1e6;
    return {percentile(latencies, 0.5), percentile(latencies, 0.99), messages / seconds};
}

template <class PoolT>
Figures measure_pool(PoolT& pool, int samples, int messages) {
    std::vector<double> latencies;
    for (int i = 0; i < samples; ++i) {
        const auto start = Clock::now();
        pool.apply(bench_square, i);
        latencies.push_back(micros(Clock::now() - start));
    }
    std::vector<int> inputs(static_cast<std::size_t>(messages));
    for (int i = 0; i < messages; ++i)
        inputs[static_cast<std::size_t>(i)] = i;
    const auto start = Clock::now();
    pool.map(bench_square, inputs);
    const double seconds = micros(Clock::now() - start) / 1e6;
    return {percentile(latencies, 0.5), percentile(latencies, 0.99), messages / seconds};
}

void print(const char* what, const Figures& figures) {
    std::printf("| %-34s | %10.1f | %10.1f | %12.0f |\n", what, figures.p50_us, figures.p99_us,
                figures.per_second);
    std::fflush(stdout); // before the local Pool's workers fork or exit with a copy of it
}

std::string unique(const char* prefix) {
    return std::string(prefix) + "-" + std::to_string(::getpid());
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"shmbus-nats-bench: a local Queue and Pool next to the same over NATS"};
    std::string program = "/usr/sbin/nats-server";
    int messages = 2000;
    int samples = 300;
    app.add_option("--server", program, "nats-server to start");
    app.add_option("--messages", messages, "messages (tasks) per throughput run");
    app.add_option("--samples", samples, "round trips per latency run");
    CLI11_PARSE(app, argc, argv);

    std::printf("| %-34s | %10s | %10s | %12s |\n", "path", "p50 (us)", "p99 (us)", "per second");
    std::printf("|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(12, '-').c_str(),
                std::string(12, '-').c_str(), std::string(14, '-').c_str());
    // Local first: the local Pool forks, before any NATS client thread exists.
    {
        shmbus::Queue<std::int64_t> queue;
        print("Queue, local (put, then get)", measure_queue(queue, queue, samples, messages));
        std::fflush(stdout);
        shmbus::Pool pool(2);
        print("Pool apply / map, local", measure_pool(pool, samples, messages));
        pool.close();
        pool.join();
    }
    const int port = free_port();
    Server server(program, port);
    const std::string url = "nats://127.0.0.1:" + std::to_string(port);
    const std::string here_name = unique("nats-bench-here");
    const std::string there_name = unique("nats-bench-there");
    {
        shmbus::Segment here = shmbus::Segment::create(here_name);
        shmbus::Segment there = shmbus::Segment::create(there_name);
        shmbus::Queue<std::int64_t> in(here, "q");
        shmbus::Queue<std::int64_t> out(there, "q");
        std::atomic<bool> stop{false};
        std::ostringstream log;
        shmbus::nats::BridgeOptions options;
        options.queue = "q";
        options.url = url;
        options.subject = "bench";
        options.segment = here_name;
        std::thread outbound([&, options] { shmbus::nats::run_bridge_out(options, stop, log); });
        shmbus::nats::BridgeOptions inbound_options = options;
        inbound_options.segment = there_name;
        std::thread inbound(
            [&, inbound_options] { shmbus::nats::run_bridge_in(inbound_options, stop, log); });
        print("Queue, bridge out -> NATS -> in", measure_queue(in, out, samples, messages));
        stop = true;
        outbound.join();
        inbound.join();
    }
    shmbus::Segment::unlink(here_name);
    shmbus::Segment::unlink(there_name);
    {
        std::atomic<bool> stop{false};
        std::ostringstream log;
        std::thread worker([&] { shmbus::nats::serve(url, "bench", stop, log); });
        shmbus::nats::Pool pool(url, "bench");
        print("Pool apply / map, NATS (1 worker)", measure_pool(pool, samples, messages));
        stop = true;
        worker.join();
    }
    return 0;
}

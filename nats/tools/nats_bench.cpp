// SPDX-License-Identifier: Apache-2.0
// shmbus-nats-bench: what leaving the host costs. Starts its own nats-server (JetStream, a
// temporary store, 127.0.0.1, a free port) and measures, in one run, a message's latency
// (p50/p99, one in flight) and throughput (a burst) through a local Queue and through
// bridge out -> server -> bridge in between two segments, and the round trip of a Pool apply
// and the throughput of map, locally and over NATS (a worker thread running serve()).
//   shmbus-nats-bench [--server /usr/sbin/nats-server] [--messages 2000] [--samples 300]
// With --json --url URL --row bridge|pool --metric latency|throughput it measures one row against
// a running server and prints it as JSON: what `shmbus bench --nats` runs in each round
// (tools/bench/harness/nats_rows.cpp), so that the CLI never links the NATS client.
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/client.hpp"
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
    double p50_us, p99_us, per_second;
    double p90_us, p999_us, max_us; // for --json
};

double percentile(std::vector<double> samples, double fraction) {
    std::sort(samples.begin(), samples.end());
    return samples[static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1))];
}

double micros(Clock::duration duration) {
    return std::chrono::duration<double, std::micro>(duration).count();
}

Figures figures_of(const std::vector<double>& latencies, double seconds, int messages) {
    Figures figures{};
    figures.p50_us = percentile(latencies, 0.5);
    figures.p90_us = percentile(latencies, 0.9);
    figures.p99_us = percentile(latencies, 0.99);
    figures.p999_us = percentile(latencies, 0.999);
    figures.max_us = percentile(latencies, 1.0);
    figures.per_second = messages / seconds;
    return figures;
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
    return figures_of(latencies, micros(Clock::now() - start) / 1e6, messages);
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
    return figures_of(latencies, micros(Clock::now() - start) / 1e6, messages);
}

// A Queue's messages through bridge out -> server -> bridge in, the bridges in two threads.
Figures through_bridges(const std::string& url, const std::string& subject,
                        const std::string& here_name, const std::string& there_name,
                        shmbus::Queue<std::int64_t>& in, shmbus::Queue<std::int64_t>& out,
                        int samples, int messages) {
    std::atomic<bool> stop{false};
    std::ostringstream log;
    shmbus::nats::BridgeOptions options;
    options.queue = "q";
    options.url = url;
    options.subject = subject;
    options.segment = here_name;
    std::thread outbound([&, options] { shmbus::nats::run_bridge_out(options, stop, log); });
    shmbus::nats::BridgeOptions inbound_options = options;
    inbound_options.segment = there_name;
    std::thread inbound(
        [&, inbound_options] { shmbus::nats::run_bridge_in(inbound_options, stop, log); });
    const Figures figures = measure_queue(in, out, samples, messages);
    stop = true;
    outbound.join();
    inbound.join();
    return figures;
}

// A Pool over NATS with one worker thread running serve().
Figures through_pool(const std::string& url, const std::string& name, int samples, int messages) {
    std::atomic<bool> stop{false};
    std::ostringstream log;
    std::thread worker([&] { shmbus::nats::serve(url, name, stop, log); });
    Figures figures{};
    {
        shmbus::nats::Pool pool(url, name);
        figures = measure_pool(pool, samples, messages);
    }
    stop = true;
    worker.join();
    return figures;
}

void print(const char* what, const Figures& figures) {
    std::printf("| %-34s | %10.1f | %10.1f | %12.0f |\n", what, figures.p50_us, figures.p99_us,
                figures.per_second);
    std::fflush(stdout); // before the local Pool's workers fork or exit with a copy of it
}

std::string unique(const char* prefix) {
    return std::string(prefix) + "-" + std::to_string(::getpid());
}

// One row for `shmbus bench --nats`: latency (one in flight, `samples` round trips) or
// throughput (a burst of `messages`), through the bridges or the Pool, against `url`.
struct JsonRow {
    std::string url, row, metric;
    int samples, messages;
};

// The harness's row item (tools/bench/harness, measurement_from_json), in nanoseconds.
std::string figures_json(const JsonRow& plan, const Figures& figures) {
    std::ostringstream out;
    if (plan.metric == "latency")
        out << R"({"metric": "latency", "count": )" << plan.samples << R"(, "p50_ns": )"
            << static_cast<std::uint64_t>(figures.p50_us * 1e3) << R"(, "p90_ns": )"
            << static_cast<std::uint64_t>(figures.p90_us * 1e3) << R"(, "p99_ns": )"
            << static_cast<std::uint64_t>(figures.p99_us * 1e3) << R"(, "p999_ns": )"
            << static_cast<std::uint64_t>(figures.p999_us * 1e3) << R"(, "max_ns": )"
            << static_cast<std::uint64_t>(figures.max_us * 1e3) << "}";
    else
        out << R"({"metric": "throughput", "messages": )" << plan.messages << R"(, "seconds": )"
            << plan.messages / figures.per_second << "}";
    return out.str();
}

// Removes a stream the row made, so that rounds leave the server's store as they found it.
void delete_stream(const std::string& url, const std::string& stream) {
    shmbus::nats::ConnectOptions connect;
    connect.url = url;
    shmbus::nats::Connection connection(connect);
    shmbus::nats::JetStream(connection).delete_stream(stream);
}

Figures bridge_row(const JsonRow& plan, int samples, int messages) {
    const std::string here_name = unique("nats-bench-here");
    const std::string there_name = unique("nats-bench-there");
    const std::string subject = unique("bench");
    Figures figures{};
    {
        shmbus::Segment here = shmbus::Segment::create(here_name);
        shmbus::Segment there = shmbus::Segment::create(there_name);
        shmbus::Queue<std::int64_t> in(here, "q");
        shmbus::Queue<std::int64_t> out(there, "q");
        figures =
            through_bridges(plan.url, subject, here_name, there_name, in, out, samples, messages);
    }
    shmbus::Segment::unlink(here_name); // the bridges opened them by name
    shmbus::Segment::unlink(there_name);
    delete_stream(plan.url, shmbus::nats::default_stream_name(subject));
    return figures;
}

int print_json_row(const JsonRow& plan) {
    // Latency rows skip the burst and throughput rows the round trips (one each, to warm up).
    const bool latency = plan.metric == "latency";
    const int samples = latency ? plan.samples : 1;
    const int messages = latency ? 1 : plan.messages;
    Figures figures{};
    if (plan.row == "bridge") {
        figures = bridge_row(plan, samples, messages);
    } else {
        const std::string name = unique("bench");
        figures = through_pool(plan.url, name, samples, messages);
        delete_stream(plan.url, shmbus::nats::default_stream_name("pool." + name));
    }
    std::cout << figures_json(plan, figures) << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"shmbus-nats-bench: a local Queue and Pool next to the same over NATS"};
    std::string program = "/usr/sbin/nats-server";
    JsonRow plan{"", "bridge", "latency", 300, 2000};
    bool json = false;
    app.add_option("--server", program, "nats-server to start");
    app.add_option("--messages", plan.messages, "messages (tasks) per throughput run");
    app.add_option("--samples", plan.samples, "round trips per latency run");
    app.add_flag("--json", json, "measure one row (--row, --metric) on --url, print it as JSON");
    app.add_option("--url", plan.url, "--json: the running server");
    app.add_option("--row", plan.row, "--json: bridge or pool")
        ->check(CLI::IsMember({"bridge", "pool"}));
    app.add_option("--metric", plan.metric, "--json: latency or throughput")
        ->check(CLI::IsMember({"latency", "throughput"}));
    CLI11_PARSE(app, argc, argv);
    if (json) {
        if (plan.url.empty()) {
            std::cerr << "shmbus-nats-bench: --json needs --url\n";
            return 2;
        }
        return print_json_row(plan);
    }
    const int samples = plan.samples;
    const int messages = plan.messages;

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
    plan.url = "nats://127.0.0.1:" + std::to_string(port);
    print("Queue, bridge out -> NATS -> in", bridge_row(plan, samples, messages));
    print("Pool apply / map, NATS (1 worker)",
          through_pool(plan.url, unique("bench"), samples, messages));
    return 0;
}

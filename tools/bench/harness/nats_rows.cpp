// SPDX-License-Identifier: Apache-2.0
#include "nats_rows.hpp"

#include "pool_probe.hpp"
#include "processes.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::size_t kSize = sizeof(std::int64_t); // the rows move Queue<int64_t> messages
constexpr const char* kQueueKey = "shmbus.queue.hybrid";

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!bound)
        throw std::runtime_error("no free port on 127.0.0.1");
    return ntohs(address.sin_port);
}

bool accepts_connections(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool connected =
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

// nats-server with JetStream on 127.0.0.1 at a free port, its store in a temporary directory;
// stopped and the store removed by the destructor.
class NatsServer {
public:
    explicit NatsServer(const std::string& program) : m_port(free_port()) {
        std::string pattern = (fs::temp_directory_path() / "shmbus-bench-nats-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("cannot make a temporary directory for nats-server");
        m_store = pattern;
        m_pid = ::fork();
        if (m_pid == 0) {
            std::freopen("/dev/null", "w", stdout);
            std::freopen("/dev/null", "w", stderr);
            const std::string port = std::to_string(m_port);
            ::execl(program.c_str(), program.c_str(), "-js", "-sd", m_store.c_str(), "-a",
                    "127.0.0.1", "-p", port.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int attempt = 0; attempt < 200 && !accepts_connections(m_port); ++attempt) {
            if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) {
                m_pid = -1;
                stop();
                throw std::runtime_error(program + " exited at start");
            }
            std::this_thread::sleep_for(50ms);
        }
    }
    ~NatsServer() { stop(); }
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(m_port); }

private:
    void stop() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);
            ::waitpid(m_pid, nullptr, 0);
        }
        std::error_code ignored;
        fs::remove_all(m_store, ignored);
    }
    int m_port;
    std::string m_store;
    pid_t m_pid = -1;
};

// The program given, else the first of the usual places and PATH; empty when none exists.
std::string locate(const std::string& given, const std::string& name,
                   std::vector<std::string> places) {
    if (!given.empty())
        return fs::exists(given) ? given : "";
    if (const char* path = std::getenv("PATH")) {
        std::istringstream dirs(path);
        for (std::string dir; std::getline(dirs, dir, ':');)
            places.push_back(dir + "/" + name);
    }
    for (const std::string& place : places)
        if (fs::exists(place))
            return place;
    return "";
}

struct Plan {
    std::string program, url;
    int samples, messages;
    bool quick, pin;
};

Measurement nats_round(const Plan& plan, const std::string& row, Metric metric) {
    const nlohmann::json item = nlohmann::json::parse(run_command(
        shell_quote(plan.program) + " --json --url " + shell_quote(plan.url) + " --row " + row +
        " --metric " + (metric == Metric::latency ? "latency" : "throughput") + " --samples " +
        std::to_string(plan.samples) + " --messages " + std::to_string(plan.messages)));
    return measurement_from_json(item);
}

// The in-host channel `key` at 8 B, measured in each round right before the NATS row.
Baseline in_host(const std::string& key, Metric metric, const Plan& plan) {
    const Mechanism mechanism = find_mechanism(key);
    const auto time =
        metric == Metric::latency ? (plan.quick ? 25ms : 150ms) : (plan.quick ? 100ms : 250ms);
    return {key, [=]() -> Measurement {
                const auto channel = mechanism.open(kSize);
                if (metric == Metric::latency)
                    return {measure_latency(*channel, {kSize, 20000, 1000, plan.pin, time}), {}};
                return {{},
                        measure_throughput(*channel,
                                           {kSize, std::uint64_t{1} << 50, plan.pin, time, 1000})};
            }};
}

std::string times(const Report& report, const Row& row, const std::string& baseline, Figure figure,
                  const std::string& what) {
    const auto ratio = ratio_to(report, row, baseline, figure);
    if (!ratio)
        return "";
    // A rate far below the in-host one reads better as a fraction.
    char text[64];
    if (ratio->median >= 1 || ratio->median <= 0)
        std::snprintf(text, sizeof text, "%.0fx ", ratio->median);
    else
        std::snprintf(text, sizeof text, "1/%.0f of ", 1 / ratio->median);
    return text + what;
}

// "<row>: N x the Queue, M x pipe(2)", for the notes.
std::string ratios_note(const Report& report, const std::string& key, Metric metric,
                        const std::string& label, const std::string& local_key,
                        const std::string& local) {
    const Row* row = report.find(key, metric, kSize);
    if (row == nullptr || !row->available())
        return "";
    const Figure figure = metric == Metric::latency ? Figure::p50 : Figure::rate;
    std::string parts;
    const bool pool = key != kNatsQueueKey; // tasks, not messages: no pipe(2) to compare
    for (const auto& part : {times(report, *row, local_key, figure, local),
                             pool ? "" : times(report, *row, kPipeKey, figure, "pipe(2)'s")})
        if (!part.empty())
            parts += (parts.empty() ? "" : ", ") + part;
    return label + " " + (parts.empty() ? "(no in-host row in this run)" : parts);
}

void add_ratio_notes(Report& report) {
    std::string note = "NATS / in-host, this run:";
    for (const std::string& part :
         {ratios_note(report, kNatsQueueKey, Metric::latency, "Queue bridge round trip p50",
                      kQueueKey, "the Queue's (hybrid, paired)"),
          ratios_note(report, kNatsQueueKey, Metric::throughput, "Queue bridge msg/s", kQueueKey,
                      "the Queue's (hybrid, paired)"),
          ratios_note(report, kNatsApplyKey, Metric::latency, "Pool apply p50",
                      "shmbus.pool.apply_async", "the local apply_async's"),
          ratios_note(report, kNatsMapKey, Metric::throughput, "Pool map tasks/s", kPoolMapKey,
                      "the local Pool.map's")})
        if (!part.empty())
            note += " " + part + ";";
    report.notes.push_back(note);
}

void measure_nats_rows(const SuiteOptions& options, const std::string& server,
                       const std::string& program, Report& report) {
    if (options.progress)
        options.progress("NATS: starting nats-server");
    const NatsServer nats(server);
    const Plan plan{
        program,       nats.url(), options.quick ? 200 : 1000, options.quick ? 500 : 2000,
        options.quick, options.pin};
    const int rounds = options.rounds > 0 ? options.rounds : options.quick ? 3 : 5;
    report.mechanisms.push_back({kNatsQueueKey, "Queue, bridge out -> NATS -> bridge in"});
    report.mechanisms.push_back({kNatsApplyKey, "NATS Pool.apply (1 worker)"});
    report.mechanisms.push_back({kNatsMapKey, "NATS Pool.map (1 worker)"});
    const struct {
        const char* key;
        const char* row;
        Metric metric;
    } rows[] = {{kNatsQueueKey, "bridge", Metric::latency},
                {kNatsQueueKey, "bridge", Metric::throughput},
                {kNatsApplyKey, "pool", Metric::latency},
                {kNatsMapKey, "pool", Metric::throughput}};
    for (const auto& row : rows) {
        if (options.progress)
            options.progress(std::string(row.key) + " over NATS");
        std::vector<Baseline> baselines{in_host(kPipeKey, row.metric, plan)};
        if (std::string(row.row) == "bridge")
            baselines.push_back(in_host(kQueueKey, row.metric, plan));
        report.rows.push_back(measure_rounds(
            row.key, row.metric, kSize, rounds,
            after_baselines([&] { return nats_round(plan, row.row, row.metric); }, baselines)));
    }
    report.notes.push_back("NATS rows: " + server + " started on " + nats.url() +
                           " (temporary store) and stopped after; each round runs " + program +
                           " --json (" + std::to_string(plan.samples) + " round trips, " +
                           std::to_string(plan.messages) +
                           " messages or tasks), beside pipe(2) and the Queue of the same round");
    add_ratio_notes(report);
}

} // namespace

void run_nats(const SuiteOptions& options, Report& report) {
    const std::string server = locate(options.nats_server, "nats-server",
                                      {"/usr/sbin/nats-server", "/usr/bin/nats-server"});
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    const std::string program = locate(options.nats_program, "shmbus-nats-bench",
                                       {(self.parent_path() / "shmbus-nats-bench").string()});
    if (server.empty() || program.empty()) {
        report.notes.push_back(
            std::string("NATS: not available (no ") +
            (server.empty() ? "nats-server" : "shmbus-nats-bench, built with libnats-dev") +
            "), so there are no NATS rows");
        return;
    }
    try {
        measure_nats_rows(options, server, program, report);
    } catch (const std::exception& e) { // the server did not start
        report.notes.push_back(std::string("NATS rows missing: ") + e.what());
    }
}

} // namespace shmbus::bench

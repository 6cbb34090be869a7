// SPDX-License-Identifier: Apache-2.0
// topic_bench: one publisher to 1, 2 and 4 subscriber processes of a Topic, at 64 B, 64 KiB and
// 1 MiB: round-trip time (publish, every subscriber answers on a reply topic) p50 / p99 and
// one-way throughput, copying (publish / recv) and zero copy (loan / borrow), with Queue's
// 1 producer / 1 consumer round trip at the same size in the same run for the ratio. On a
// 2-core machine waits spin with one subscriber and park at once (block) beyond: with more
// processes than cores, hybrid's 20 us of spinning only takes the CPU the others need.
// Self-contained (fork, steady_clock): it does not use the shared harness.
//
//   bench_topic_bench [--trips N] [--quick] [--sizes 64,65536,1048576] [--subscribers 1,2,4]
//                     [--many-wait block|hybrid] [--no-iceoryx]
//   bench_topic_bench --iceoryx-serve [--quick]
// iceoryx rows (built when libiceoryx-posh-dev is installed): iox-roudi is started and stopped
// by the bench; its readers poll with one subscriber and wait in a WaitSet beyond.
// --iceoryx-serve measures only iceoryx's rows (round trips, then one-way messages), one round
// per request on stdin, as JSON lines (serve_iceoryx below): `shmbus bench` keeps it as a child
// through its topic table.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifdef SHMBUS_BENCH_ICEORYX
#include <csignal>
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#include <iceoryx_versions.hpp>
#include <processes.hpp>
#include <pwd.h>
#include <sys/mman.h>
#include <thread>
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count());
}

struct Summary {
    std::uint64_t p50 = 0;
    std::uint64_t p90 = 0;
    std::uint64_t p99 = 0;
    std::uint64_t p999 = 0;
    std::uint64_t max = 0;
    std::uint64_t count = 0;
};

Summary summarise(std::vector<std::uint64_t> samples) {
    std::sort(samples.begin(), samples.end());
    const auto at = [&](std::size_t per_mille) {
        return samples[samples.size() * per_mille / 1000];
    };
    return {at(500), at(900), at(990), at(999), samples.back(), samples.size()};
}

// A forked child running `body`, reaped (killed first if need be) by the destructor.
class Child {
public:
    explicit Child(const std::function<void()>& body) : m_pid((std::fflush(nullptr), fork())) {
        if (m_pid == 0) {
            int code = 0;
            try {
                body();
            } catch (const std::exception& e) {
                std::fprintf(stderr, "child: %s\n", e.what());
                code = 1;
            }
            _exit(code);
        }
    }
    ~Child() {
        if (m_pid > 0 && !m_reaped) {
            kill(m_pid, SIGKILL);
            wait();
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    int wait() {
        int status = 0;
        waitpid(m_pid, &status, 0);
        m_reaped = true;
        return status;
    }

private:
    pid_t m_pid;
    bool m_reaped = false;
};

// Spin with one subscriber (a core each); beyond, the policy --many-wait names.
shmbus::WaitPolicy g_many_wait = shmbus::WaitPolicy::block;

shmbus::WaitOptions wait_for(int subscribers) {
    return {subscribers == 1 ? shmbus::WaitPolicy::spin : g_many_wait};
}

struct Setup {
    std::size_t size;
    int subscribers;
    bool loans;
    std::uint64_t trips;
    std::uint64_t messages;
};

struct Result {
    Summary rtt;
    double messages_per_s;
    double bytes_per_s;
};

// The ping topic carries `size` raw bytes (the first 8 its number); the reply topic the number.
Result run_topic(const shmbus::Segment& segment, const Setup& setup, int round) {
    const std::string tag = std::to_string(round);
    using Bytes = std::string;
    shmbus::TopicOptions ping_options{.capacity = setup.size > (64U << 10) ? 4U : 64U,
                                      .max_message_size = setup.size + 16,
                                      .wait = wait_for(setup.subscribers)};
    auto ping = shmbus::Topic<Bytes>::create(segment, "ping" + tag, ping_options);
    auto pong = shmbus::Topic<std::uint64_t>::create(
        segment, "pong" + tag,
        {.capacity = 64, .max_message_size = 8, .wait = wait_for(setup.subscribers)});
    shmbus::Semaphore joined(segment, "joined" + tag, 0);
    auto replies = pong.subscribe();
    const std::uint64_t rounds = setup.trips + setup.messages;
    std::vector<std::unique_ptr<Child>> children;
    for (int s = 0; s < setup.subscribers; ++s)
        children.push_back(std::make_unique<Child>([&] {
            auto sub = ping.subscribe();
            auto answer = pong.publisher();
            joined.release();
            Bytes copy;
            for (std::uint64_t i = 0; i < rounds; ++i) {
                std::uint64_t id = 0;
                if (setup.loans) {
                    auto message = sub.borrow();
                    std::memcpy(&id, message.bytes().data(), sizeof id);
                } else {
                    copy = sub.recv();
                    std::memcpy(&id, copy.data(), sizeof id);
                }
                if (i < setup.trips || i + 1 == rounds)
                    answer.publish(id);
            }
        }));
    for (int s = 0; s < setup.subscribers; ++s)
        (void)joined.acquire_for(30s);
    auto publisher = ping.publisher();
    Bytes payload(setup.size, 'x');
    const auto send = [&](std::uint64_t id) {
        if (setup.loans) {
            auto slot = publisher.loan(setup.size);
            std::memcpy(slot.bytes().data(), &id, sizeof id);
            slot.publish();
        } else {
            std::memcpy(payload.data(), &id, sizeof id);
            publisher.publish(payload);
        }
    };
    std::vector<std::uint64_t> samples;
    for (std::uint64_t id = 0; id < setup.trips; ++id) {
        const std::uint64_t start = now_ns();
        send(id);
        for (int s = 0; s < setup.subscribers; ++s)
            (void)replies.recv();
        samples.push_back(now_ns() - start);
    }
    const std::uint64_t start = now_ns();
    for (std::uint64_t id = 0; id < setup.messages; ++id)
        send(setup.trips + id);
    for (int s = 0; s < setup.subscribers; ++s)
        (void)replies.recv();
    const double seconds = static_cast<double>(now_ns() - start) / 1e9;
    for (auto& child : children)
        child->wait();
    const double rate = static_cast<double>(setup.messages) / seconds;
    return {summarise(samples), rate, rate * static_cast<double>(setup.size)};
}

#ifdef SHMBUS_BENCH_ICEORYX
// iox-roudi, started for the iceoryx rows and stopped after them.
class RouDi {
public:
    RouDi() : m_pid(fork()) {
        if (m_pid == 0) {
            std::freopen("/dev/null", "w", stdout);
            std::freopen("/dev/null", "w", stderr);
            execl(SHMBUS_IOX_ROUDI, "iox-roudi", "--monitoring-mode", "off", "--log-level", "error",
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        std::this_thread::sleep_for(1s); // it has no readiness signal; runtimes wait for it too
    }
    // Stops it; should it fail to remove its shared memory, removes it (ours: it started).
    ~RouDi() {
        kill(m_pid, SIGTERM);
        waitpid(m_pid, nullptr, 0);
        if (m_started) {
            shm_unlink("iceoryx_mgmt");
            if (const passwd* user = getpwuid(getuid()))
                shm_unlink(user->pw_name); // its payload segment is named after the user
        }
    }
    RouDi(const RouDi&) = delete;
    RouDi& operator=(const RouDi&) = delete;
    // False when it exited at once (another RouDi runs, or it failed).
    bool running() {
        int status = 0;
        m_started = waitpid(m_pid, &status, WNOHANG) == 0;
        return m_started;
    }

private:
    pid_t m_pid;
    bool m_started = false;
};

void quiet_iceoryx() {
    iox::log::LogManager::GetLogManager().SetDefaultLogLevel(
        iox::log::LogLevel::kError, iox::log::LogLevelOutput::kHideLogLevel);
}

// How an iceoryx reader waits for data: polling with one subscriber (a core each), as shmbus
// spins; with more processes than cores, iceoryx's WaitSet (it blocks on a semaphore), as
// shmbus parks.
class IdleWait {
public:
    IdleWait(iox::popo::UntypedSubscriber& subscriber, int subscribers) {
        if (subscribers > 1) {
            m_waitset = std::make_unique<iox::popo::WaitSet<>>();
            (void)m_waitset->attachState(subscriber, iox::popo::SubscriberState::HAS_DATA);
        }
    }
    void wait() {
        if (m_waitset)
            (void)m_waitset->wait();
    }

private:
    std::unique_ptr<iox::popo::WaitSet<>> m_waitset;
};

// iceoryx's publish/subscribe, polled (one subscriber) or through a WaitSet: the parent loans a
// chunk, writes the number, publishes; each subscriber polls take(), answers on a reply service,
// releases. Zero copy, as loans. A single subscriber and the publisher are pinned to two CPUs,
// as shmbus bench pins its own (two pollers left to the scheduler may share one CPU).
// Then `messages` one-way: the publisher waits for a full subscriber queue (as shmbus's block
// policy does), so none is lost, and the last one is answered.
struct IceoryxResult {
    Summary rtt;
    std::uint64_t messages = 0;
    double seconds = 0;
};

// Chunks a publisher may have out at once: iox-roudi's default pools hold only 10 chunks of
// 4 MiB (where 1 MiB payloads go), so large messages get a short subscriber queue.
std::uint64_t iceoryx_queue_capacity(std::size_t size) {
    return size > (std::size_t{64} << 10) ? 4 : 64;
}

void* iceoryx_loan(iox::popo::UntypedPublisher& publisher, std::size_t size) {
    for (;;) {
        auto chunk = publisher.loan(static_cast<std::uint32_t>(size));
        if (!chunk.has_error())
            return chunk.value();
        std::this_thread::yield(); // every chunk of the pool is out: the subscribers hold them
    }
}

// One subscriber: answers `trips` round trips, then takes `messages` and answers the last.
void iceoryx_subscriber(const iox::capro::IdString_t& ping_event,
                        const iox::capro::IdString_t& pong_event, std::size_t size, int subscribers,
                        std::uint64_t trips, std::uint64_t messages, shmbus::Semaphore& joined) {
    iox::popo::SubscriberOptions options;
    options.queueCapacity = iceoryx_queue_capacity(size);
    options.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
    iox::popo::UntypedSubscriber ping({"bench", "topic", ping_event}, options);
    iox::popo::UntypedPublisher pong({"bench", "reply", pong_event});
    IdleWait idle(ping, subscribers);
    while (ping.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED || !pong.hasSubscribers())
        std::this_thread::sleep_for(1ms);
    joined.release();
    for (std::uint64_t i = 0; i < trips + messages;) {
        auto taken = ping.take();
        if (taken.has_error()) {
            idle.wait();
            continue;
        }
        std::uint64_t id = 0;
        std::memcpy(&id, taken.value(), sizeof id);
        ping.release(taken.value());
        if (++i <= trips || i == trips + messages) {
            void* chunk = iceoryx_loan(pong, sizeof id);
            std::memcpy(chunk, &id, sizeof id);
            pong.publish(chunk);
        }
    }
}

IceoryxResult iceoryx_round_trips(const shmbus::Segment& segment, std::size_t size, int subscribers,
                                  std::uint64_t trips, std::uint64_t messages, int round) {
    const std::string tag = std::to_string(round);
    shmbus::Semaphore joined(segment, "iox-joined" + tag, 0);
    const iox::capro::IdString_t ping_event(iox::cxx::TruncateToCapacity, "ping" + tag);
    const iox::capro::IdString_t pong_event(iox::cxx::TruncateToCapacity, "pong" + tag);
    std::vector<std::unique_ptr<Child>> children;
    for (int s = 0; s < subscribers; ++s)
        children.push_back(std::make_unique<Child>([&, s] {
            const shmbus::bench::CpuPin cpu(1, subscribers == 1);
            const std::string runtime = "topicbench-sub-" + tag + "-" + std::to_string(s);
            quiet_iceoryx();
            iox::runtime::PoshRuntime::initRuntime(
                iox::RuntimeName_t(iox::cxx::TruncateToCapacity, runtime));
            iceoryx_subscriber(ping_event, pong_event, size, subscribers, trips, messages, joined);
            std::exit(0); // runs the runtime's destructor, which deregisters from RouDi
        }));
    quiet_iceoryx();
    iox::runtime::PoshRuntime::initRuntime(
        iox::RuntimeName_t(iox::cxx::TruncateToCapacity, "topicbench-pub-" + tag));
    iox::popo::PublisherOptions options;
    options.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    iox::popo::UntypedPublisher ping({"bench", "topic", ping_event}, options);
    iox::popo::UntypedSubscriber pong({"bench", "reply", pong_event});
    IdleWait idle(pong, subscribers);
    const shmbus::bench::CpuPin cpu(0, subscribers == 1);
    for (int s = 0; s < subscribers; ++s)
        if (!joined.acquire_for(30s))
            return {};
    const auto send = [&](std::uint64_t id) {
        void* chunk = iceoryx_loan(ping, size);
        std::memcpy(chunk, &id, sizeof id);
        ping.publish(chunk);
    };
    const auto await_answers = [&] {
        for (int answered = 0; answered < subscribers;) {
            auto taken = pong.take();
            if (taken.has_error()) {
                idle.wait();
                continue;
            }
            pong.release(taken.value());
            ++answered;
        }
    };
    std::vector<std::uint64_t> samples;
    for (std::uint64_t id = 0; id < trips; ++id) {
        const std::uint64_t start = now_ns();
        send(id);
        await_answers();
        samples.push_back(now_ns() - start);
    }
    const std::uint64_t start = now_ns();
    for (std::uint64_t id = 0; id < messages; ++id)
        send(trips + id);
    await_answers();
    const double seconds = static_cast<double>(now_ns() - start) / 1e9;
    for (auto& child : children)
        child->wait();
    return {summarise(samples), messages, seconds};
}

// A process has one iceoryx runtime for good, so each configuration runs in a fresh child.
IceoryxResult run_iceoryx(const shmbus::Segment& segment, std::size_t size, int subscribers,
                          std::uint64_t trips, int round) {
    auto results = shmbus::Queue<IceoryxResult>::create(
        segment, "iox-result" + std::to_string(round), {.max_message_size = 128});
    Child measuring([&] {
        results.put(iceoryx_round_trips(segment, size, subscribers, trips, trips * 4, round));
        std::exit(0); // runs the runtime's destructor, which deregisters from RouDi
    });
    measuring.wait();
    return results.try_get().value_or(IceoryxResult{});
}
#endif

Summary run_queue(const shmbus::Segment& segment, std::size_t size, std::uint64_t trips,
                  int round) {
    const std::string tag = std::to_string(round);
    const shmbus::QueueOptions options{.max_message_size = size + 16, .wait = wait_for(1)};
    auto ping = shmbus::Queue<std::string>::create(segment, "qping" + tag, options);
    auto pong = shmbus::Queue<std::uint64_t>::create(segment, "qpong" + tag,
                                                     {.max_message_size = 64, .wait = wait_for(1)});
    Child echo([&] {
        for (std::uint64_t i = 0; i < trips; ++i) {
            const std::string message = ping.get();
            std::uint64_t id = 0;
            std::memcpy(&id, message.data(), sizeof id);
            pong.put(id);
        }
    });
    std::string payload(size, 'x');
    std::vector<std::uint64_t> samples;
    for (std::uint64_t id = 0; id < trips; ++id) {
        const std::uint64_t start = now_ns();
        std::memcpy(payload.data(), &id, sizeof id);
        ping.put(payload);
        (void)pong.get();
        samples.push_back(now_ns() - start);
    }
    echo.wait();
    return summarise(samples);
}

// How many round trips a row at `size` takes: `trips` up to 64 B, fewer for larger messages.
std::uint64_t trips_for(std::size_t size, std::uint64_t trips) {
    const std::uint64_t scaled =
        std::max<std::uint64_t>(trips * 64 / std::max<std::size_t>(size, 64) * 16, 200);
    return std::min(trips, scaled);
}

#ifdef SHMBUS_BENCH_ICEORYX
// One round of iceoryx's row at `size` with `subscribers`, as a JSON line: "rounds" holds the
// round trips' figures and "throughput_rounds" the one-way rate of the same round.
nlohmann::json iceoryx_round(const shmbus::Segment& segment, std::size_t size, int subscribers,
                             std::uint64_t trips, int round) {
    nlohmann::json row = {{"size", size},
                          {"subscribers", subscribers},
                          {"wait", subscribers == 1 ? "polling" : "waitset"},
                          {"rounds", nlohmann::json::array()},
                          {"throughput_rounds", nlohmann::json::array()}};
    const IceoryxResult r = run_iceoryx(segment, size, subscribers, trips_for(size, trips), round);
    const Summary& s = r.rtt;
    if (s.count == 0) {
        row["note"] = "failed: a round took no sample";
        return row;
    }
    row["rounds"].push_back({{"metric", "latency"},
                             {"p50_ns", s.p50},
                             {"p90_ns", s.p90},
                             {"p99_ns", s.p99},
                             {"p999_ns", s.p999},
                             {"max_ns", s.max},
                             {"count", s.count}});
    row["throughput_rounds"].push_back(
        {{"metric", "throughput"}, {"messages", r.messages}, {"seconds", r.seconds}});
    return row;
}
#endif

// --iceoryx-serve: starts iox-roudi once, answers with one JSON line whether iceoryx runs, then
// measures one round per request line "SIZE SUBSCRIBERS" on stdin, one JSON line each, until
// stdin ends. `shmbus bench` keeps it as a child, so that each iceoryx round runs right beside
// the Topic rows it is compared with, and neither libshmbus nor the CLI links iceoryx.
int serve_iceoryx([[maybe_unused]] std::uint64_t trips) {
#ifdef SHMBUS_BENCH_ICEORYX
    const std::string name = "shmbus-topic-bench-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, std::size_t{16} << 20);
    shmbus::Segment::unlink(name);
    RouDi roudi;
    if (!roudi.running()) {
        std::printf("%s\n",
                    nlohmann::json{{"iceoryx", false},
                                   {"note", "iox-roudi did not start (another one running?)"}}
                        .dump()
                        .c_str());
        return 0;
    }
    std::printf("%s\n", nlohmann::json{{"iceoryx", true},
                                       {"version",
                                        std::string("iceoryx ") + ICEORYX_LATEST_RELEASE_VERSION}}
                            .dump()
                            .c_str());
    std::fflush(stdout);
    std::size_t size = 0;
    int subscribers = 0;
    for (int round = 0; std::scanf("%zu %d", &size, &subscribers) == 2; ++round) {
        std::printf("%s\n", iceoryx_round(segment, size, subscribers, trips, round).dump().c_str());
        std::fflush(stdout);
    }
#else
    std::printf("%s\n", nlohmann::json{{"iceoryx", false},
                                       {"note", "bench_topic_bench was built without "
                                                "libiceoryx-posh-dev"}}
                            .dump()
                            .c_str());
#endif
    return 0;
}

std::string human(std::size_t size) {
    if (size >= (1U << 20))
        return std::to_string(size >> 20) + " MiB";
    if (size >= (1U << 10))
        return std::to_string(size >> 10) + " KiB";
    return std::to_string(size) + " B";
}

// Messages per second; for copies also the bytes copied per second (a loan copies no payload,
// so its bytes per second would mean nothing).
std::string rate_text(const Result& result, bool loans) {
    char text[64];
    if (loans)
        std::snprintf(text, sizeof text, "%.3f M msg/s", result.messages_per_s / 1e6);
    else
        std::snprintf(text, sizeof text, "%.3f M msg/s %6.2f GB/s", result.messages_per_s / 1e6,
                      result.bytes_per_s / 1e9);
    return text;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app("Topic: 1 publisher to 1, 2, 4 subscriber processes; RTT and throughput");
    std::uint64_t trips = 20000;
    bool quick = false;
    std::vector<std::size_t> sizes{64, 64 << 10, 1 << 20};
    std::vector<int> subscriber_counts{1, 2, 4};
    app.add_option("--trips", trips, "round trips at 64 B (fewer for larger sizes)");
    app.add_flag("--quick", quick, "a tenth of the round trips and messages");
    app.add_option("--sizes", sizes, "message sizes in bytes")->delimiter(',');
    app.add_option("--subscribers", subscriber_counts, "subscriber counts")->delimiter(',');
    std::string many_wait = "block";
    app.add_option("--many-wait", many_wait, "wait policy with more than one subscriber")
        ->check(CLI::IsMember({"hybrid", "block"}));
    bool iceoryx = true;
    app.add_flag("!--no-iceoryx", iceoryx, "leave out iceoryx's publish/subscribe");
    bool iceoryx_serve = false;
    app.add_flag("--iceoryx-serve", iceoryx_serve,
                 "measure iceoryx's rows one round per stdin line \"SIZE SUBSCRIBERS\", as JSON "
                 "lines (what shmbus bench runs)");
    CLI11_PARSE(app, argc, argv);
    g_many_wait = many_wait == "block" ? shmbus::WaitPolicy::block : shmbus::WaitPolicy::hybrid;
    if (quick)
        trips = std::max<std::uint64_t>(trips / 10, 100);
    if (iceoryx_serve)
        return serve_iceoryx(trips);

    const std::string name = "shmbus-topic-bench-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, std::size_t{512} << 20);
    shmbus::Segment::unlink(name); // forked children inherit the mapping; nothing is left behind
#ifdef SHMBUS_BENCH_ICEORYX
    std::unique_ptr<RouDi> roudi;
    if (iceoryx) {
        roudi = std::make_unique<RouDi>();
        if (!roudi->running()) {
            std::printf("iox-roudi did not start (another one running?): no iceoryx rows\n");
            iceoryx = false;
        }
    }
#else
    if (iceoryx)
        std::printf("built without iceoryx (libiceoryx-posh-dev): no iceoryx rows\n");
#endif
    int round = 0;
    std::printf("%-8s %-5s %-6s %12s %12s %26s\n", "size", "subs", "mode", "RTT p50", "RTT p99",
                "one-way");
    for (std::size_t size : sizes) {
        const std::uint64_t size_trips = trips_for(size, trips);
        const Summary queue = run_queue(segment, size, size_trips, round++);
        std::printf("%-8s %-5s %-6s %9llu ns %9llu ns %26s\n", human(size).c_str(), "1", "Queue",
                    static_cast<unsigned long long>(queue.p50),
                    static_cast<unsigned long long>(queue.p99), "-");
        for (int subscribers : subscriber_counts)
            for (bool loans : {false, true}) {
                const Setup setup{size, subscribers, loans, size_trips, size_trips * 4};
                const Result result = run_topic(segment, setup, round++);
                std::printf("%-8s %-5d %-6s %9llu ns %9llu ns %26s\n", human(size).c_str(),
                            subscribers, loans ? "loan" : "copy",
                            static_cast<unsigned long long>(result.rtt.p50),
                            static_cast<unsigned long long>(result.rtt.p99),
                            rate_text(result, loans).c_str());
                std::fflush(stdout);
            }
#ifdef SHMBUS_BENCH_ICEORYX
        for (int subscribers : subscriber_counts) {
            if (!iceoryx)
                break;
            const IceoryxResult iox = run_iceoryx(segment, size, subscribers, size_trips, round++);
            const double rate = static_cast<double>(iox.messages) / iox.seconds;
            std::printf("%-8s %-5d %-6s %9llu ns %9llu ns %26s\n", human(size).c_str(), subscribers,
                        "iox", static_cast<unsigned long long>(iox.rtt.p50),
                        static_cast<unsigned long long>(iox.rtt.p99),
                        rate_text({iox.rtt, rate, 0}, true).c_str());
            std::fflush(stdout);
        }
#endif
    }
}

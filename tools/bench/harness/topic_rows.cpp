// SPDX-License-Identifier: Apache-2.0
// The topic table of `shmbus bench`: one publisher to 1, 2, 4 subscribers of a Topic, copying
// and lending, each round beside the plain ring and a one-consumer Queue at the same size; and
// iceoryx's publish/subscribe from bench_topic_bench, run as a child process so that neither
// libshmbus nor the CLI links iceoryx.
#include "processes.hpp"
#include "suite.hpp"
#include "topics.hpp"

#include <filesystem>
#include <unistd.h>

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;

/// One round of one row: round trips for at most `latency_time` (after `warmup` trips), and
/// `throughput_time` of one-way messages (after `warmup` messages).
struct TopicBudget {
    std::uint64_t round_trips, warmup;
    std::chrono::nanoseconds latency_time, throughput_time;
};

TopicBudget topic_budget(std::size_t size, bool quick) {
    const bool large = size >= (std::size_t{64} << 10);
    if (quick)
        return {20000, large ? 10u : 200u, 25ms, 50ms};
    return {100000, large ? 50u : 1000u, 150ms, 250ms};
}

std::string size_text(std::size_t size) {
    if (size >= (std::size_t{1} << 20))
        return std::to_string(size >> 20) + " MiB";
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

/// A row that keeps its rounds until one fails; then it keeps only the reason.
void record(Row& row, const std::function<Measurement()>& measure) {
    if (row.failed)
        return;
    try {
        row.rounds.push_back(measure());
    } catch (const std::exception& e) {
        row.note = std::string("failed: ") + e.what();
        row.failed = true;
        row.rounds.clear();
        row.paired.clear();
    }
}

TopicRow empty_row(const std::string& key, std::size_t size, int subscribers, std::string wait) {
    return {subscribers,
            std::move(wait),
            {key, Metric::latency, size, {}, {}, {}, false},
            {key, Metric::throughput, size, {}, {}, {}, false}};
}

Measurement fanout_latency(FanoutKind kind, std::size_t size, int subscribers,
                           const TopicBudget& budget, bool pin) {
    return {measure_fanout_latency({kind, size, subscribers, pin, budget.round_trips, budget.warmup,
                                    budget.latency_time}),
            {}};
}

Measurement fanout_throughput(FanoutKind kind, std::size_t size, int subscribers,
                              const TopicBudget& budget, bool pin) {
    return {{},
            measure_fanout_throughput(
                {kind, size, subscribers, pin, 0, budget.warmup, budget.throughput_time})};
}

/// The row's rounds paired with the baseline's rounds of the same index, when the baseline has
/// all of them (a failed baseline pairs with nothing).
void pair_row(TopicRow& row, const TopicRow& baseline, const char* key) {
    for (auto [own, base] : {std::pair{&row.latency, &baseline.latency},
                             std::pair{&row.throughput, &baseline.throughput}})
        if (own->available() && base->rounds.size() == own->rounds.size())
            own->paired[key] = base->rounds;
}

void pair_with(std::vector<TopicRow>& rows, const TopicRow& baseline, const char* key) {
    for (TopicRow& row : rows)
        pair_row(row, baseline, key);
}

/// iceoryx's rows, from `bench_topic_bench --iceoryx-serve`, kept as a child through the topic
/// table (it starts iox-roudi once and stops it when its input ends): each of its rounds runs
/// right after the Topic rows of the same size and subscriber count.
class IceoryxRounds {
public:
    IceoryxRounds(const SuiteOptions& options, Report& report)
        : m_options(options), m_report(report) {
        const std::string& program = options.iceoryx_program;
        if (!options.iceoryx)
            stop("iceoryx: left out (--no-iceoryx)");
        else if (program.empty() || access(program.c_str(), X_OK) != 0)
            stop("iceoryx: not installed (no " +
                 (program.empty() ? std::string("bench_topic_bench") : program) +
                 "), so the topic table has no iceoryx rows");
    }

    /// One round at `size` with `subscribers`, appended to `rows` (made at the first round, one
    /// per subscriber count). After a failure no further round runs, and a note says why.
    void measure(std::size_t size, int subscribers, std::vector<TopicRow>& rows) {
        if (!m_running || !started())
            return;
        if (m_options.progress)
            m_options.progress("topic, " + size_text(size) + ", iceoryx, " +
                               std::to_string(subscribers) + " subscribers");
        try {
            m_server->write_line(std::to_string(size) + " " + std::to_string(subscribers));
            const nlohmann::json item = nlohmann::json::parse(m_server->read_line());
            add_round(item, row_for(rows, item));
        } catch (const std::exception& e) {
            stop(std::string("iceoryx rows missing: ") + e.what());
        }
    }

    /// The mechanism and the note, once the rows are measured.
    void finish() {
        m_server.reset();
        if (!m_version.empty()) {
            m_report.topic_mechanisms.push_back({kIceoryxKey, "iceoryx publish/subscribe (loan)"});
            m_report.notes.push_back(
                "iceoryx rows: " + m_version + ", iox-roudi started and stopped by " +
                m_options.iceoryx_program +
                " --iceoryx-serve for the whole table, each round run right after the Topic rows "
                "of its size and subscriber count; readers poll with one subscriber and wait in "
                "a WaitSet beyond; its publisher waits for full subscriber queues");
        }
    }

private:
    /// Starts the child at the first round; false (with a note) when iceoryx cannot run.
    bool started() {
        if (m_server)
            return true;
        if (m_options.progress)
            m_options.progress("topic, iceoryx (starting iox-roudi)");
        try {
            m_server = std::make_unique<LineChild>(
                shell_quote(m_options.iceoryx_program) + " --iceoryx-serve" +
                (m_options.quick ? " --quick" : "") + " 2>/dev/null");
            const nlohmann::json hello = nlohmann::json::parse(m_server->read_line());
            if (!hello.value("iceoryx", false)) {
                stop("iceoryx: not installed (" + hello.value("note", std::string()) + ")");
                return false;
            }
            m_version = hello.value("version", "");
            return true;
        } catch (const std::exception& e) {
            stop(std::string("iceoryx rows missing: ") + e.what());
            return false;
        }
    }

    void stop(std::string why) {
        m_running = false;
        m_server.reset();
        m_report.notes.push_back(std::move(why));
    }

    static TopicRow& row_for(std::vector<TopicRow>& rows, const nlohmann::json& item) {
        const int subscribers = item.at("subscribers");
        for (TopicRow& row : rows)
            if (row.subscribers == subscribers)
                return row;
        return rows.emplace_back(
            empty_row(kIceoryxKey, item.at("size"), subscribers, item.at("wait")));
    }

    static void add_round(const nlohmann::json& item, TopicRow& row) {
        if (item.contains("note")) {
            for (Row* figures : {&row.latency, &row.throughput}) {
                figures->note = item.at("note");
                figures->failed = true;
                figures->rounds.clear();
            }
            return;
        }
        if (row.latency.failed)
            return;
        for (const auto& round : item.at("rounds"))
            row.latency.rounds.push_back(measurement_from_json(round));
        for (const auto& round : item.at("throughput_rounds"))
            row.throughput.rounds.push_back(measurement_from_json(round));
    }

    const SuiteOptions& m_options;
    Report& m_report;
    bool m_running = true;
    std::string m_version;
    std::unique_ptr<LineChild> m_server;
};

/// Every row at one size: in each round the ring and the Queue (one subscriber), then for each
/// subscriber count the Topic rows and iceoryx's, so that a row and its baselines share the
/// machine's state of that round, and a Topic row and iceoryx's are a second apart at most.
std::vector<TopicRow> measure_size(const SuiteOptions& options, std::size_t size, int rounds,
                                   IceoryxRounds& iceoryx) {
    const TopicBudget budget = topic_budget(size, options.quick);
    const std::string single = wait_policy_name(fanout_wait_policy(1));
    TopicRow ring = empty_row(kRingKey, size, 1, "spin");
    TopicRow queue = empty_row(kTopicQueueKey, size, 1, single);
    std::vector<TopicRow> topics;
    for (int subscribers : options.topic_subscribers)
        for (const char* key : {kTopicCopyKey, kTopicLoanKey})
            topics.push_back(empty_row(key, size, subscribers,
                                       wait_policy_name(fanout_wait_policy(subscribers))));
    std::vector<TopicRow> iceoryx_rows;
    const Mechanism reference = find_mechanism(kRingKey);
    for (int round = 1; round <= rounds; ++round) {
        if (options.progress)
            options.progress("topic, " + size_text(size) + ", round " + std::to_string(round));
        record(ring.latency, [&] {
            return Measurement{
                measure_latency(*reference.open(size), {size, budget.round_trips, budget.warmup,
                                                        options.pin, budget.latency_time}),
                {}};
        });
        record(ring.throughput, [&] {
            return Measurement{{},
                               measure_throughput(*reference.open(size),
                                                  {size, std::uint64_t{1} << 50, options.pin,
                                                   budget.throughput_time, budget.warmup})};
        });
        record(queue.latency,
               [&] { return fanout_latency(FanoutKind::queue, size, 1, budget, options.pin); });
        record(queue.throughput,
               [&] { return fanout_throughput(FanoutKind::queue, size, 1, budget, options.pin); });
        for (int subscribers : options.topic_subscribers) {
            for (TopicRow& row : topics) {
                if (row.subscribers != subscribers)
                    continue;
                const FanoutKind kind = row.mechanism() == kTopicLoanKey ? FanoutKind::topic_loan
                                                                         : FanoutKind::topic_copy;
                record(row.latency, [&] {
                    return fanout_latency(kind, size, subscribers, budget, options.pin);
                });
                record(row.throughput, [&] {
                    return fanout_throughput(kind, size, subscribers, budget, options.pin);
                });
            }
            iceoryx.measure(size, subscribers, iceoryx_rows);
        }
    }
    for (TopicRow& row : topics)
        for (const TopicRow& iox : iceoryx_rows)
            if (iox.subscribers == row.subscribers)
                pair_row(row, iox, kIceoryxKey);
    topics.insert(topics.end(), iceoryx_rows.begin(), iceoryx_rows.end());
    pair_with(topics, ring, kRingKey);
    pair_with(topics, queue, kTopicQueueKey);
    std::vector<TopicRow> all{std::move(ring), std::move(queue)};
    all.insert(all.end(), topics.begin(), topics.end());
    return all;
}

} // namespace

void run_topics(const SuiteOptions& options, Report& report) {
    const int rounds = report.rounds;
    report.topic_sizes = options.topic_sizes;
    report.topic_subscribers = options.topic_subscribers;
    report.topic_mechanisms = {{kRingKey, "plain SPSC ring (reference)"},
                               {kTopicQueueKey, "shmbus Queue, 1 consumer"},
                               {kTopicCopyKey, "shmbus Topic, copy (publish/recv)"},
                               {kTopicLoanKey, "shmbus Topic, loan (loan/borrow)"}};
    IceoryxRounds iceoryx(options, report);
    for (std::size_t size : options.topic_sizes) {
        std::vector<TopicRow> rows = measure_size(options, size, rounds, iceoryx);
        report.topic.insert(report.topic.end(), rows.begin(), rows.end());
    }
    iceoryx.finish();
    report.notes.push_back(
        "topic table: waits spin while the publisher and its subscribers have a CPU each, block "
        "beyond (" +
        std::to_string(usable_cpus()) + " CPUs); " +
        (report.pinned ? "the publisher and a single subscriber are pinned to two CPUs"
                       : "processes not pinned") +
        "; Queue and Topic carry std::string messages");
}

} // namespace shmbus::bench

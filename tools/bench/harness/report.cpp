// SPDX-License-Identifier: Apache-2.0
// Text tables and JSON for a Report.
#include "suite.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace shmbus::bench {
namespace {

struct NamedFigure {
    const char* name;
    Figure figure;
};
constexpr NamedFigure kPercentiles[] = {{"p50", Figure::p50},
                                        {"p90", Figure::p90},
                                        {"p99", Figure::p99},
                                        {"p999", Figure::p999},
                                        {"max", Figure::max}};

/// The baselines every row is divided by, as "ratio_to_<name>" in the JSON.
struct NamedBaseline {
    const char* name;
    const char* key;
    Metric metric;
};
constexpr NamedBaseline kBaselines[] = {{"floor", kFloorKey, Metric::latency},
                                        {"ring", kRingKey, Metric::latency},
                                        {"pipe", kPipeKey, Metric::latency},
                                        {"ring", kRingKey, Metric::throughput},
                                        {"pipe", kPipeKey, Metric::throughput},
                                        {"memcpy_cache", kMemcpyCacheKey, Metric::throughput},
                                        {"memcpy_dram", kMemcpyDramKey, Metric::throughput},
                                        {"mp_queue", kPythonQueueKey, Metric::latency},
                                        {"mp_queue", kPythonQueueKey, Metric::throughput}};

/// Pool rows measure dispatch, not a channel: no baseline divides them.
bool is_pool(const std::string& key) {
    return key.find(".pool.") != std::string::npos;
}

std::string printf_string(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

std::string format_ns(std::uint64_t ns) {
    const auto v = static_cast<double>(ns);
    if (ns < 1000)
        return std::to_string(ns) + " ns";
    if (ns < 10'000)
        return printf_string("%.2f us", v / 1e3);
    if (ns < 1'000'000)
        return printf_string("%.1f us", v / 1e3);
    return printf_string("%.2f ms", v / 1e6);
}

std::string format_rate(double per_s) {
    if (per_s >= 1e9)
        return printf_string("%.2f G", per_s / 1e9);
    if (per_s >= 1e6)
        return printf_string("%.2f M", per_s / 1e6);
    if (per_s >= 1e3)
        return printf_string("%.1f k", per_s / 1e3);
    return printf_string("%.0f", per_s);
}

std::string format_ratio(std::optional<double> ratio) {
    if (!ratio)
        return "-";
    if (*ratio >= 100)
        return printf_string("%.0fx", *ratio);
    if (*ratio >= 0.1)
        return printf_string("%.2fx", *ratio);
    return printf_string("%.4fx", *ratio);
}

std::string size_name(std::size_t size) {
    if (size >= (std::size_t{1} << 20))
        return std::to_string(size >> 20) + " MiB";
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

/// Left-aligned first column, right-aligned others, two spaces apart.
class Table {
public:
    explicit Table(std::vector<std::string> header) { m_rows.push_back(std::move(header)); }
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string str() const {
        std::vector<std::size_t> width(m_rows.front().size(), 0);
        for (const auto& row : m_rows)
            for (std::size_t i = 0; i < row.size(); ++i)
                width[i] = std::max(width[i], row[i].size());
        std::ostringstream out;
        for (const auto& row : m_rows) {
            for (std::size_t i = 0; i < row.size(); ++i) {
                const std::string pad(width[i] - row[i].size(), ' ');
                out << (i == 0 ? row[i] + pad : "  " + pad + row[i]);
            }
            out << "\n";
        }
        return out.str();
    }

private:
    std::vector<std::vector<std::string>> m_rows;
};

std::string label_of(const Report& report, const std::string& key) {
    for (const MechanismInfo& mechanism : report.mechanisms)
        if (mechanism.key == key)
            return mechanism.label;
    return key;
}

std::string ratio_cell(const Report& report, const Row& row, const char* baseline, Figure figure) {
    const auto ratio = ratio_to(report, row, baseline, figure);
    return format_ratio(ratio ? std::optional<double>(ratio->median) : std::nullopt);
}

std::string ns_range(const Spread& spread) {
    return format_ns(static_cast<std::uint64_t>(spread.min)) + "-" +
           format_ns(static_cast<std::uint64_t>(spread.max));
}

std::string rate_range(const Spread& spread) {
    return format_rate(spread.min) + "-" + format_rate(spread.max);
}

std::string latency_table(const Report& report, std::size_t size) {
    Table table({"round trip, " + size_name(size), "p50", "p50 min-max", "p90", "p99", "p99.9",
                 "max", "p50/floor", "p50/ring", "p50/pipe"});
    for (const MechanismInfo& mechanism : report.mechanisms) {
        const Row* row = report.find(mechanism.key, Metric::latency, size);
        if (row == nullptr)
            continue;
        if (!row->available()) {
            table.add({mechanism.label, "n/a", "", "", "", "", "", "", "", ""});
            continue;
        }
        const LatencySummary l = *row->latency();
        const bool pool = is_pool(row->mechanism);
        table.add({mechanism.label, format_ns(l.p50), ns_range(*row->spread(Figure::p50)),
                   format_ns(l.p90), format_ns(l.p99), format_ns(l.p999), format_ns(l.max),
                   pool ? "-" : ratio_cell(report, *row, kFloorKey, Figure::p50),
                   pool ? "-" : ratio_cell(report, *row, kRingKey, Figure::p50),
                   pool ? "-" : ratio_cell(report, *row, kPipeKey, Figure::p50)});
    }
    return table.str();
}

std::string throughput_table(const Report& report, std::size_t size) {
    Table table({"one way, " + size_name(size), "msg/s", "min-max", "MB/s", "/ring", "/pipe",
                 "/DRAM memcpy"});
    for (const MechanismInfo& mechanism : report.mechanisms) {
        const Row* row = report.find(mechanism.key, Metric::throughput, size);
        if (row == nullptr)
            continue;
        if (!row->available()) {
            table.add({mechanism.label, "n/a", "", "", "", "", ""});
            continue;
        }
        const double rate = *row->messages_per_s();
        const bool pool = is_pool(row->mechanism);
        table.add({mechanism.label, format_rate(rate), rate_range(*row->spread(Figure::rate)),
                   printf_string("%.1f", rate * static_cast<double>(size) / 1e6),
                   pool ? "-" : ratio_cell(report, *row, kRingKey, Figure::rate),
                   pool ? "-" : ratio_cell(report, *row, kPipeKey, Figure::rate),
                   pool ? "-" : ratio_cell(report, *row, kMemcpyDramKey, Figure::rate)});
    }
    return table.str();
}

/// A ratio to a baseline of the topic table, which pairs its rows with the ring, the Queue and
/// iceoryx of the same rounds (never with the main tables' rows).
std::string topic_ratio_cell(const Report& report, const Row& row, const char* baseline,
                             Figure figure) {
    return row.paired.contains(baseline) ? ratio_cell(report, row, baseline, figure) : "-";
}

std::string topic_table(const Report& report, std::size_t size) {
    Table table({"topic, " + size_name(size), "subs", "wait", "RTT p50", "p50 min-max", "RTT p99",
                 "p50/Queue", "p50/ring", "p50/iceoryx", "one-way msg/s", "min-max", "/Queue",
                 "/ring", "/iceoryx"});
    for (int subscribers : report.topic_subscribers)
        for (const MechanismInfo& mechanism : report.topic_mechanisms) {
            const TopicRow* row = report.find_topic(mechanism.key, size, subscribers);
            if (row == nullptr)
                continue;
            std::vector<std::string> cells{mechanism.label, std::to_string(subscribers), row->wait};
            const Row& latency = row->latency;
            if (latency.available()) {
                const LatencySummary l = *latency.latency();
                cells.insert(cells.end(),
                             {format_ns(l.p50), ns_range(*latency.spread(Figure::p50)),
                              format_ns(l.p99),
                              topic_ratio_cell(report, latency, kTopicQueueKey, Figure::p50),
                              topic_ratio_cell(report, latency, kRingKey, Figure::p50),
                              topic_ratio_cell(report, latency, kIceoryxKey, Figure::p50)});
            } else {
                cells.insert(cells.end(), {"n/a", "", "", "", "", ""});
            }
            const Row& throughput = row->throughput;
            if (throughput.available())
                cells.insert(cells.end(),
                             {format_rate(*throughput.messages_per_s()),
                              rate_range(*throughput.spread(Figure::rate)),
                              topic_ratio_cell(report, throughput, kTopicQueueKey, Figure::rate),
                              topic_ratio_cell(report, throughput, kRingKey, Figure::rate),
                              topic_ratio_cell(report, throughput, kIceoryxKey, Figure::rate)});
            else
                cells.insert(cells.end(), {"n/a", "", "", "", ""});
            table.add(std::move(cells));
        }
    return table.str();
}

nlohmann::json range_json(const Spread& spread) {
    return {{"min", spread.min}, {"max", spread.max}};
}

/// {"p50": median ratio, ..., "paired": bool, "spread": {"min", "max"} of the p50 (or rate)
/// ratio over the rounds}; null when the baseline is missing.
nlohmann::json ratio_json(const Report& report, const Row& row, const char* baseline) {
    nlohmann::json out = nlohmann::json::object();
    const bool latency = row.metric == Metric::latency;
    const Figure headline = latency ? Figure::p50 : Figure::rate;
    const auto main = ratio_to(report, row, baseline, headline);
    if (!main)
        return nullptr;
    if (latency) {
        for (const NamedFigure& f : kPercentiles)
            if (const auto ratio = ratio_to(report, row, baseline, f.figure))
                out[f.name] = ratio->median;
    } else {
        out["messages_per_s"] = main->median;
    }
    out["paired"] = row.paired.contains(baseline);
    out["spread"] = range_json(*main);
    return out;
}

/// One round: its count, p50 and p99 (or messages, seconds and rate), and the paired baselines'
/// p50 (or rate) of the same round.
nlohmann::json round_json(const Row& row, std::size_t i) {
    const Measurement& m = row.rounds[i];
    nlohmann::json out;
    if (m.latency) {
        out = {{"count", m.latency->count}, {"p50_ns", m.latency->p50}, {"p99_ns", m.latency->p99}};
    } else if (m.throughput) {
        out = {{"messages", m.throughput->messages},
               {"seconds", m.throughput->seconds},
               {"messages_per_s", m.throughput->messages_per_s()}};
    }
    for (const auto& [key, measurements] : row.paired) {
        if (i >= measurements.size())
            continue;
        if (m.latency)
            out[key + "_p50_ns"] = measurements[i].latency->p50;
        else
            out[key + "_messages_per_s"] = figure_of(measurements[i], Figure::rate);
    }
    return out;
}

nlohmann::json figures_json(const Row& row) {
    nlohmann::json out;
    if (const auto l = row.latency()) {
        out = {{"count", l->count}, {"p50_ns", l->p50},   {"p90_ns", l->p90},
               {"p99_ns", l->p99},  {"p999_ns", l->p999}, {"max_ns", l->max}};
        out["spread"] = {{"p50_ns", range_json(*row.spread(Figure::p50))},
                         {"p99_ns", range_json(*row.spread(Figure::p99))}};
    } else if (const auto rate = row.messages_per_s()) {
        std::uint64_t messages = 0;
        double seconds = 0;
        for (const Measurement& m : row.rounds) {
            messages += m.throughput->messages;
            seconds += m.throughput->seconds;
        }
        out = {{"messages", messages},
               {"seconds", seconds},
               {"messages_per_s", *rate},
               {"bytes_per_s", *rate * static_cast<double>(row.size)}};
        out["spread"] = {{"messages_per_s", range_json(*row.spread(Figure::rate))}};
    }
    return out;
}

nlohmann::json row_json(const Report& report, const Row& row) {
    nlohmann::json out = {{"mechanism", row.mechanism},
                          {"size", row.size},
                          {"available", row.available()},
                          {"rounds", row.rounds.size()}};
    if (!row.note.empty())
        out["note"] = row.note;
    if (!row.available())
        return out;
    out.update(figures_json(row));
    nlohmann::json rounds = nlohmann::json::array();
    for (std::size_t i = 0; i < row.rounds.size(); ++i)
        rounds.push_back(round_json(row, i));
    out["per_round"] = rounds;
    if (is_pool(row.mechanism))
        return out;
    for (const NamedBaseline& baseline : kBaselines)
        if (baseline.metric == row.metric)
            if (nlohmann::json ratio = ratio_json(report, row, baseline.key); !ratio.is_null())
                out[std::string("ratio_to_") + baseline.name] = ratio;
    return out;
}

/// A topic row's latency or throughput: its figures, rounds and the ratios to the baselines
/// it is paired with.
nlohmann::json topic_figures_json(const Report& report, const Row& row) {
    nlohmann::json out = {{"available", row.available()}, {"rounds", row.rounds.size()}};
    if (!row.note.empty())
        out["note"] = row.note;
    if (!row.available())
        return out;
    out.update(figures_json(row));
    nlohmann::json rounds = nlohmann::json::array();
    for (std::size_t i = 0; i < row.rounds.size(); ++i)
        rounds.push_back(round_json(row, i));
    out["per_round"] = rounds;
    for (const auto& [name, key] : {std::pair{"queue", kTopicQueueKey}, std::pair{"ring", kRingKey},
                                    std::pair{"iceoryx", kIceoryxKey}})
        if (row.paired.contains(key))
            out[std::string("ratio_to_") + name] = ratio_json(report, row, key);
    return out;
}

nlohmann::json topic_json(const Report& report) {
    nlohmann::json mechanisms = nlohmann::json::array();
    for (const MechanismInfo& m : report.topic_mechanisms)
        mechanisms.push_back({{"key", m.key}, {"label", m.label}});
    nlohmann::json rows = nlohmann::json::array();
    for (const TopicRow& row : report.topic)
        rows.push_back({{"mechanism", row.mechanism()},
                        {"size", row.size()},
                        {"subscribers", row.subscribers},
                        {"wait", row.wait},
                        {"latency", topic_figures_json(report, row.latency)},
                        {"throughput", topic_figures_json(report, row.throughput)}});
    return {{"sizes", report.topic_sizes},
            {"subscribers", report.topic_subscribers},
            {"mechanisms", mechanisms},
            {"rows", rows}};
}

} // namespace

nlohmann::json to_json(const Report& report) {
    nlohmann::json mechanisms = nlohmann::json::array();
    for (const MechanismInfo& m : report.mechanisms)
        mechanisms.push_back({{"key", m.key}, {"label", m.label}});
    nlohmann::json latency = nlohmann::json::array();
    nlohmann::json throughput = nlohmann::json::array();
    for (const Row& row : report.rows)
        (row.metric == Metric::latency ? latency : throughput).push_back(row_json(report, row));
    return {{"schema", "shmbus.bench"},
            {"version", kSchemaVersion},
            {"mode", report.mode},
            {"rounds", report.rounds},
            {"cpu_model", report.cpu_model},
            {"cpus", report.cpus},
            {"pinned", report.pinned},
            {"llc_bytes", report.llc_bytes},
            {"dram_buffer_bytes", report.dram_bytes},
            {"load_average", {{"before", report.load_before}, {"after", report.load_after}}},
            {"sizes", report.sizes},
            {"mechanisms", mechanisms},
            {"latency", latency},
            {"throughput", throughput},
            {"topic", topic_json(report)},
            {"notes", report.notes}};
}

std::string format_report(const Report& report) {
    std::ostringstream out;
    out << "shmbus bench (" << report.mode << "): " << report.cpu_model << ", " << report.cpus
        << " CPUs, "
        << (report.pinned ? "the two processes pinned to two CPUs" : "processes not pinned")
        << "\nload average before: " << report.load_before << "\n"
        << "load average after:  " << report.load_after << "\n"
        << "Absolute figures vary by machine and load; the ratios within one run are the "
           "claim.\nEvery row: the median of "
        << report.rounds
        << " rounds (min-max beside it). /floor and /ring: the median of each round's\n"
           "ratio to the one-line floor and the plain SPSC ring measured in the same round\n"
           "(round trips interleaved with the row's); /pipe and /DRAM memcpy: the row's median\n"
           "over pipe(2)'s or memcpy's median, except the block rows' round trips, which are\n"
           "interleaved with pipe(2)'s too and divided by them round by round.\n";
    for (std::size_t size : report.sizes)
        out << "\n" << latency_table(report, size);
    for (std::size_t size : report.sizes)
        out << "\n" << throughput_table(report, size);
    if (const std::string speedups = python_speedups(report); !speedups.empty())
        out << "\n" << speedups;
    if (!report.topic.empty())
        out << "\nTopic: 1 publisher to N subscriber processes. RTT: a message out, every "
               "subscriber answers.\n/Queue and /ring: the median of each round's ratio to a "
               "Queue with one consumer and\nthe plain ring measured in the same round; "
               "/iceoryx: the same, with iceoryx's round run\nright after the row's.\n";
    for (std::size_t size : report.topic_sizes)
        out << "\n" << topic_table(report, size);
    bool heading = false;
    std::vector<std::string> row_notes;
    for (const Row& row : report.rows)
        if (!row.note.empty())
            row_notes.push_back(label_of(report, row.mechanism) + ", " + size_name(row.size) +
                                ", " + (row.metric == Metric::latency ? "latency" : "throughput") +
                                ": " + row.note);
    for (const TopicRow& topic : report.topic)
        for (const Row* row : {&topic.latency, &topic.throughput})
            if (!row->note.empty())
                row_notes.push_back("topic " + topic.mechanism() + ", " + size_name(row->size) +
                                    ", " + std::to_string(topic.subscribers) + " subscribers, " +
                                    (row->metric == Metric::latency ? "latency" : "throughput") +
                                    ": " + row->note);
    for (const std::string& note : row_notes) {
        out << (heading ? "" : "\nnotes:\n") << "  " << note << "\n";
        heading = true;
    }
    for (const std::string& note : report.notes)
        out << (std::exchange(heading, true) ? "" : "\nnotes:\n") << "  " << note << "\n";
    return out.str();
}

} // namespace shmbus::bench

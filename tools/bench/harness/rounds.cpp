// SPDX-License-Identifier: Apache-2.0
// Rows measured in rounds: the medians and spreads over the rounds, the baselines pooled from
// every row's pairs, and the ratios (of one round's figures when the baseline is paired).
#include "suite.hpp"

#include <algorithm>
#include <cmath>

namespace shmbus::bench {
namespace {

std::vector<double> figures_of(const std::vector<Measurement>& rounds, Figure figure) {
    std::vector<double> values;
    for (const Measurement& measurement : rounds)
        values.push_back(figure_of(measurement, figure));
    return values;
}

std::uint64_t median_ns(const Row& row, Figure figure) {
    return static_cast<std::uint64_t>(std::llround(row.spread(figure)->median));
}

/// Each round's figure divided by the baseline's figure of the same round.
std::vector<double> paired_ratios(const Row& row, const std::vector<Measurement>& baseline,
                                  Figure figure) {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < row.rounds.size() && i < baseline.size(); ++i)
        if (const double base = figure_of(baseline[i], figure); base > 0)
            ratios.push_back(figure_of(row.rounds[i], figure) / base);
    return ratios;
}

constexpr int kRoundTries = 3;

/// Whether a round trip p50 of the round lies below the floor's beyond the resolution of the
/// histogram (1/32 of a value): the plain ring's 8 B exchange is the floor's own and may land a
/// bucket lower.
bool beats_the_floor(const RoundResult& round, const std::string& floor_key) {
    const auto floor = std::find_if(round.paired.begin(), round.paired.end(),
                                    [&](const auto& paired) { return paired.first == floor_key; });
    if (floor == round.paired.end() || !floor->second.latency)
        return false;
    const double bound =
        static_cast<double>(floor->second.latency->p50) / (1.0 + 1.0 / Histogram::kSubBuckets);
    const auto below = [&](const Measurement& measurement) {
        return measurement.latency && static_cast<double>(measurement.latency->p50) < bound;
    };
    return below(round.own) ||
           std::any_of(round.paired.begin(), round.paired.end(),
                       [&](const auto& paired) { return below(paired.second); });
}

} // namespace

std::function<RoundResult()> until_floor_holds(std::function<RoundResult()> round,
                                               std::string floor_key, int& repeated) {
    return [round = std::move(round), floor_key = std::move(floor_key), &repeated] {
        RoundResult result = round();
        for (int tries = 1; tries < kRoundTries && beats_the_floor(result, floor_key); ++tries) {
            ++repeated;
            result = round();
        }
        return result;
    };
}

double figure_of(const Measurement& measurement, Figure figure) {
    if (figure == Figure::rate)
        return measurement.throughput ? measurement.throughput->messages_per_s() : 0;
    if (!measurement.latency)
        return 0;
    const LatencySummary& l = *measurement.latency;
    switch (figure) {
    case Figure::p50:
        return static_cast<double>(l.p50);
    case Figure::p90:
        return static_cast<double>(l.p90);
    case Figure::p99:
        return static_cast<double>(l.p99);
    case Figure::p999:
        return static_cast<double>(l.p999);
    case Figure::max:
        return static_cast<double>(l.max);
    case Figure::rate:
        break;
    }
    return 0;
}

std::optional<Spread> spread_of(const std::vector<double>& values) {
    if (values.empty())
        return std::nullopt;
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t middle = sorted.size() / 2;
    const double median =
        sorted.size() % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    return Spread{sorted.front(), median, sorted.back()};
}

std::optional<Spread> Row::spread(Figure figure) const {
    return spread_of(figures_of(rounds, figure));
}

std::optional<LatencySummary> Row::latency() const {
    if (rounds.empty() || !rounds.front().latency)
        return std::nullopt;
    LatencySummary median{median_ns(*this, Figure::p50), median_ns(*this, Figure::p90),
                          median_ns(*this, Figure::p99), median_ns(*this, Figure::p999),
                          median_ns(*this, Figure::max), 0};
    for (const Measurement& round : rounds)
        median.count += round.latency->count;
    return median;
}

std::optional<double> Row::messages_per_s() const {
    if (rounds.empty() || !rounds.front().throughput)
        return std::nullopt;
    return spread(Figure::rate)->median;
}

Row measure_rounds(const std::string& key, Metric metric, std::size_t size, int rounds,
                   const std::function<RoundResult()>& round) {
    Row row{key, metric, size, {}, {}, {}, false};
    try {
        for (int i = 0; i < rounds; ++i) {
            RoundResult result = round();
            row.rounds.push_back(result.own);
            for (auto& [baseline, measurement] : result.paired)
                row.paired[baseline].push_back(measurement);
        }
    } catch (const Unsupported& e) {
        row.note = e.what();
    } catch (const std::exception& e) {
        row.note = std::string("failed: ") + e.what();
        row.failed = true;
    }
    if (!row.note.empty()) {
        row.rounds.clear();
        row.paired.clear();
    }
    return row;
}

std::function<RoundResult()> after_baselines(std::function<Measurement()> measure,
                                             std::vector<Baseline> baselines) {
    return [measure = std::move(measure), baselines = std::move(baselines)] {
        RoundResult result;
        for (const Baseline& baseline : baselines)
            result.paired.emplace_back(baseline.key, baseline.measure());
        result.own = measure();
        return result;
    };
}

Row pooled_baseline(const std::vector<Row>& rows, const std::string& key, Metric metric,
                    std::size_t size) {
    Row pooled{key, metric, size, {}, {}, {}, false};
    for (const Row& row : rows) {
        const auto own = row.paired.find(key);
        if (row.metric != metric || row.size != size || own == row.paired.end())
            continue;
        pooled.rounds.insert(pooled.rounds.end(), own->second.begin(), own->second.end());
        for (const auto& [other, measurements] : row.paired)
            if (other != key) {
                std::vector<Measurement>& into = pooled.paired[other];
                into.insert(into.end(), measurements.begin(), measurements.end());
            }
    }
    return pooled;
}

std::optional<Spread> ratio_to(const Report& report, const Row& row, std::string_view baseline,
                               Figure figure) {
    if (!row.available())
        return std::nullopt;
    if (const auto paired = row.paired.find(baseline); paired != row.paired.end())
        return spread_of(paired_ratios(row, paired->second, figure));
    const Row* base = report.find(baseline, row.metric, row.size);
    if (base == nullptr || !base->available())
        return std::nullopt;
    const double divisor = base->spread(figure)->median;
    if (divisor <= 0)
        return std::nullopt;
    const double ratio = row.spread(figure)->median / divisor;
    return Spread{ratio, ratio, ratio};
}

Measurement measurement_from_json(const nlohmann::json& item) {
    if (item.at("metric") == "latency")
        return {LatencySummary{item.at("p50_ns"), item.at("p90_ns"), item.at("p99_ns"),
                               item.at("p999_ns"), item.at("max_ns"), item.at("count")},
                {}};
    return {{}, Throughput{item.at("messages"), item.at("seconds")}};
}

} // namespace shmbus::bench

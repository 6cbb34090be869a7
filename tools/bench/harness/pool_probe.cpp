// SPDX-License-Identifier: Apache-2.0
#include "pool_probe.hpp"

#include <numeric>
#include <shmbus/pool.hpp>
#include <stdexcept>
#include <vector>

namespace shmbus::bench {
namespace {

/// The trivial task: what remains is the cost of dispatching it.
std::int64_t next_of(std::int64_t x) {
    return x + 1;
}

constexpr std::size_t kArgumentSize = sizeof(std::int64_t);

Throughput map_throughput(std::size_t tasks) {
    std::vector<std::int64_t> inputs(tasks);
    std::iota(inputs.begin(), inputs.end(), 0);
    Pool pool;
    const std::uint64_t start = now_ns();
    const std::vector<std::int64_t> results = pool.map(next_of, inputs);
    const std::uint64_t end = now_ns();
    pool.close();
    pool.join();
    for (std::size_t i = 0; i < tasks; ++i)
        if (results.at(i) != inputs[i] + 1)
            throw std::runtime_error("Pool.map returned a wrong result");
    return {tasks, static_cast<double>(end - start) / 1e9};
}

LatencySummary apply_async_latency(std::uint64_t round_trips, std::chrono::nanoseconds budget) {
    Pool pool;
    Histogram histogram;
    const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(budget.count());
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(round_trips); ++i) {
        if (histogram.count() >= kMinimumSamples && now_ns() > deadline)
            break;
        const std::uint64_t start = now_ns();
        const std::int64_t result = pool.apply_async(next_of, i).get();
        const std::uint64_t elapsed = now_ns() - start;
        if (result != i + 1)
            throw std::runtime_error("apply_async returned a wrong result");
        if (i >= 10) // the first calls wake the workers
            histogram.record(elapsed);
    }
    pool.close();
    pool.join();
    return summarize(histogram);
}

int rounds_of(const SuiteOptions& options) {
    return options.rounds > 0 ? options.rounds : options.quick ? 3 : 5;
}

} // namespace

std::uint64_t pool_map_tasks(bool quick) {
    return quick ? 100'000 : 1'000'000;
}

void run_pool(const SuiteOptions& options, Report& report) {
    using namespace std::chrono_literals;
    report.mechanisms.push_back({kPoolMapKey, "shmbus Pool.map, trivial tasks"});
    report.mechanisms.push_back({"shmbus.pool.apply_async", "shmbus Pool.apply_async"});
    if (options.progress)
        options.progress("shmbus Pool");
    const int rounds = rounds_of(options);
    const auto map_round = [&] {
        return Measurement{{}, map_throughput(pool_map_tasks(options.quick))};
    };
    const auto apply_round = [&] {
        return Measurement{
            options.quick ? apply_async_latency(1000, 50ms) : apply_async_latency(5000, 400ms), {}};
    };
    report.rows.push_back(measure_rounds(kPoolMapKey, Metric::throughput, kArgumentSize, rounds,
                                         after_baselines(map_round, {})));
    report.rows.push_back(measure_rounds("shmbus.pool.apply_async", Metric::latency, kArgumentSize,
                                         rounds, after_baselines(apply_round, {})));
    report.notes.push_back("Pool rows: " + std::to_string(kArgumentSize) +
                           " B argument, default worker count; map counts tasks per second, "
                           "results checked");
}

} // namespace shmbus::bench

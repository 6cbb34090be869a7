// SPDX-License-Identifier: Apache-2.0
// Pool throughput and latency, next to Python's multiprocessing.Pool (pool_python.py prints
// the same rows): map of 10^6 trivial tasks, map of 10^3 tasks of ~1 ms of busy work, the
// round trip of one apply(), the per-task cost of 10^4 pipelined apply_async calls, the rate of
// 10^4 apply_async callbacks and the per-task cost of an imap of 10^4.
// Every row is timed `--repeat` times (after one warm-up map) and printed as p50/p99 with a
// baseline measured in the same run (a plain loop in this process).
//
//   bench_pool_bench [--workers N] [--repeat R]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <shmbus/pool.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

long long square(long long x) {
    return x * x;
}

// ~1 ms of CPU, like pool_python.py's busy(): spins on the clock.
long long busy_ms(long long x) {
    const auto end = Clock::now() + std::chrono::milliseconds(1);
    long long spins = 0;
    while (Clock::now() < end)
        ++spins;
    return x + (spins > 0 ? 1 : 0);
}

struct Stats {
    double p50;
    double p99;
};

// Nearest-rank percentiles of the samples (seconds).
Stats stats_of(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto rank = [&](double p) {
        const auto index = static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1));
        return samples[index];
    };
    return {rank(0.50), rank(0.99)};
}

template <class Fn>
Stats time_runs(int repeat, Fn fn) {
    std::vector<double> samples;
    for (int i = 0; i < repeat; ++i) {
        const auto start = Clock::now();
        fn();
        samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    return stats_of(samples);
}

void row(const char* name, Stats measured, Stats baseline, const char* baseline_name) {
    std::printf("%-34s p50 %10.3f ms  p99 %10.3f ms   (%s p50 %.3f ms: x%.2f)\n", name,
                measured.p50 * 1e3, measured.p99 * 1e3, baseline_name, baseline.p50 * 1e3,
                measured.p50 / baseline.p50);
}

std::vector<long long> range(long long n) {
    std::vector<long long> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0LL);
    return v;
}

} // namespace

int main(int argc, char** argv) {
    unsigned workers = shmbus::cpu_count();
    int repeat = 5;
    CLI::App app{"pool_bench: Pool map, apply and apply_async throughput and latency, next to "
                 "a plain loop in this process",
                 "bench_pool_bench"};
    app.add_option("--workers", workers, "Worker processes (default: the CPU count)")
        ->check(CLI::PositiveNumber);
    app.add_option("--repeat", repeat, "Timed runs per row")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    std::printf("shmbus Pool, %u workers, %d runs per row\n", workers, repeat);
    shmbus::Pool pool(workers);
    pool.map(square, range(1'000'000)); // warm-up: first touches of the rings and buffers

    const std::vector<long long> million = range(1'000'000);
    // The baseline allocates its result as map does: fresh pages cost a fault each.
    const Stats sequential = time_runs(repeat, [&] {
        std::vector<long long> out(million.size());
        std::transform(million.begin(), million.end(), out.begin(), square);
        if (out.back() != 999'999LL * 999'999LL)
            std::abort();
    });
    const Stats mapped = time_runs(repeat, [&] {
        if (pool.map(square, million).back() != 999'999LL * 999'999LL)
            std::abort();
    });
    row("map square 10^6", mapped, sequential, "loop");

    const std::vector<long long> thousand = range(1000);
    const Stats busy_loop = time_runs(1, [&] {
        for (long long x : thousand)
            busy_ms(x);
    });
    const Stats busy_mapped = time_runs(repeat, [&] { pool.map(busy_ms, thousand); });
    row("map busy 1 ms x 10^3", busy_mapped, busy_loop, "loop");

    // One apply() at a time: the round trip of a task through a worker.
    std::vector<double> trips;
    for (int i = 0; i < 2000; ++i) {
        const auto start = Clock::now();
        pool.apply(square, static_cast<long long>(i));
        trips.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    const Stats call = time_runs(repeat, [&] {
        for (long long x : thousand)
            square(x);
    });
    const Stats trip = stats_of(trips);
    std::printf("%-34s p50 %10.3f us  p99 %10.3f us\n", "apply round trip", trip.p50 * 1e6,
                trip.p99 * 1e6);

    // Many apply_async in flight, then every get(): the per-task cost when pipelined.
    const Stats pipelined = time_runs(repeat, [&] {
        std::vector<shmbus::AsyncResult<long long>> results;
        results.reserve(10'000);
        for (long long x = 0; x < 10'000; ++x)
            results.push_back(pool.apply_async(square, x));
        for (auto& result : results)
            result.get();
    });
    std::printf("%-34s p50 %10.3f us  p99 %10.3f us per task (local call %.4f us)\n",
                "apply_async x 10^4 pipelined", pipelined.p50 * 1e6 / 10'000,
                pipelined.p99 * 1e6 / 10'000, call.p50 * 1e6 / 1000);
    // Callbacks: 10^4 apply_async with a callback, until the last callback ran on the result
    // handler thread; tasks per second.
    std::vector<double> callback_rates;
    for (int run = 0; run < repeat; ++run) {
        std::atomic<int> called{0};
        const auto start = Clock::now();
        std::vector<shmbus::AsyncResult<long long>> results;
        results.reserve(10'000);
        for (long long x = 0; x < 10'000; ++x)
            results.push_back(
                pool.apply_async_with([&called](long long) { ++called; }, nullptr, square, x));
        for (auto& result : results)
            result.wait();
        if (called.load() != 10'000)
            std::abort();
        callback_rates.push_back(10'000 /
                                 std::chrono::duration<double>(Clock::now() - start).count());
    }
    const Stats callbacks = stats_of(callback_rates);
    std::printf("%-34s p50 %10.0f tasks/s  slowest run %10.0f tasks/s\n",
                "apply_async + callback x 10^4", callbacks.p50,
                *std::min_element(callback_rates.begin(), callback_rates.end()));

    // imap of 10^4 trivial tasks, chunksize 1: results handed to this thread one chunk at a time.
    const std::vector<long long> ten_thousand = range(10'000);
    const Stats imapped = time_runs(repeat, [&] {
        long long sum = 0;
        for (long long value : pool.imap(square, ten_thousand))
            sum += value;
        if (sum == 0)
            std::abort();
    });
    std::printf("%-34s p50 %10.3f us  p99 %10.3f us per task\n", "imap square x 10^4",
                imapped.p50 * 1e6 / 10'000, imapped.p99 * 1e6 / 10'000);
    pool.close();
    pool.join();
    return 0;
}

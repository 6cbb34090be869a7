// SPDX-License-Identifier: Apache-2.0
// The same 100 small jobs run by Pool(5).map and by 100 separate Processes: a pool forks its
// workers once, so it avoids 95 forks and 100 process exits. Prints both wall times; they
// depend on the machine and its load, so nothing checks them.
#include <chrono>
#include <iostream>
#include <memory>
#include <numeric>
#include <shmbus/pool.hpp>
#include <shmbus/process.hpp>
#include <vector>

namespace {

constexpr int kJobs = 100;

long long work(int n) {
    long long sum = 0;
    for (int i = 0; i < 10000; ++i)
        sum += static_cast<long long>(i % (n + 1));
    return sum;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

} // namespace

int main() {
    std::vector<int> inputs(kJobs);
    std::iota(inputs.begin(), inputs.end(), 0);

    auto start = std::chrono::steady_clock::now();
    shmbus::Pool pool(5);
    const std::vector<long long> results = pool.map(work, inputs);
    pool.close();
    pool.join();
    const double pool_ms = milliseconds_since(start);

    start = std::chrono::steady_clock::now();
    std::vector<std::unique_ptr<shmbus::Process>> processes;
    for (int n : inputs)
        processes.push_back(std::make_unique<shmbus::Process>([n] { work(n); }));
    for (auto& process : processes)
        process->start();
    int ok = 0;
    for (auto& process : processes) {
        process->join();
        ok += process->exitcode() == 0 ? 1 : 0;
    }
    const double process_ms = milliseconds_since(start);

    std::cout << "Pool(5).map of " << kJobs << " jobs: " << pool_ms << " ms" << std::endl;
    std::cout << kJobs << " separate Processes: " << process_ms << " ms" << std::endl;
    std::cout << results.size() << " pool results, " << ok << " processes exited with 0"
              << std::endl;
    return results.size() == kJobs && results[99] == work(99) && ok == kJobs ? 0 : 1;
}

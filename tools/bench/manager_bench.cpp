// SPDX-License-Identifier: Apache-2.0
// manager_bench: what a Dict<int> get, set and update cost, alone and with a second process
// updating the same Dict all the time, next to an uncontended shmbus::Lock acquire + release
// measured in the same run (absolute figures vary with the VM's placement; the ratios are the
// claim).
//
//   bench_manager_bench [batches]      default 2000 batches of 200 operations
//
// Each batch is timed as a whole; p50/p99 are over the per-operation mean of each batch.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <shmbus/lock.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/segment.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kOpsPerBatch = 200;

struct Summary {
    double p50;
    double p99;
};

template <class Fn>
Summary measure(int batches, Fn fn) {
    std::vector<double> per_op;
    per_op.reserve(static_cast<std::size_t>(batches));
    for (int b = 0; b < batches; ++b) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kOpsPerBatch; ++i)
            fn();
        const std::chrono::duration<double, std::nano> took =
            std::chrono::steady_clock::now() - start;
        per_op.push_back(took.count() / kOpsPerBatch);
    }
    std::sort(per_op.begin(), per_op.end());
    return {per_op[per_op.size() / 2], per_op[per_op.size() * 99 / 100]};
}

void report(const char* what, Summary s, Summary baseline) {
    std::printf("%-40s p50 %8.1f ns  p99 %8.1f ns  p50 = %6.1fx Lock\n", what, s.p50, s.p99,
                s.p50 / baseline.p50);
}

// A forked process that updates `key` in a loop until killed.
class Contender {
public:
    Contender(shmbus::Dict<int>& dict, const char* key) : m_pid(::fork()) {
        if (m_pid == 0) {
            for (;;)
                dict.update(key, 0, [](int& n) { ++n; });
        }
        // Let it reach its loop before the measurement starts.
        while (dict.get(key, 0) == 0)
            ::usleep(100);
    }
    ~Contender() {
        ::kill(m_pid, SIGKILL);
        ::waitpid(m_pid, nullptr, 0);
    }
    Contender(const Contender&) = delete;
    Contender& operator=(const Contender&) = delete;

private:
    pid_t m_pid;
};

} // namespace

int main(int argc, char** argv) {
    int batches = 2000;
    CLI::App app{"manager_bench: what a Dict<int> get, set and update cost, alone and contended "
                 "by a second process, next to an uncontended Lock acquire + release",
                 "bench_manager_bench"};
    app.add_option("batches", batches, "Batches of 200 operations")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const std::string name = "manager-bench-" + std::to_string(::getpid());
    shmbus::Segment segment = shmbus::Segment::create(name, std::size_t{64} << 20);
    struct Unlink {
        std::string name;
        ~Unlink() { shmbus::Segment::unlink(name); }
    } unlink{name};

    shmbus::Lock lock(segment, "lock");
    shmbus::Manager manager(segment);
    auto dict = manager.dict<int>("dict");
    for (int i = 0; i < 100; ++i)
        dict.set("key" + std::to_string(i), i);
    dict.set("num", 0);

    const Summary base = measure(batches, [&] {
        lock.acquire();
        lock.release();
    });
    report("Lock acquire+release (baseline)", base, base);
    int sink = 0;
    report("Dict get", measure(batches, [&] { sink += dict.get("key42"); }), base);
    report("Dict set", measure(batches, [&] { dict.set("key42", sink); }), base);
    report("Dict update", measure(batches, [&] { dict.update("num", [](int& n) { ++n; }); }), base);
    {
        Contender contender(dict, "other");
        const int before = dict.get("other");
        report("Dict get, 2 processes contended",
               measure(batches, [&] { sink += dict.get("key42"); }), base);
        report("Dict set, 2 processes contended",
               measure(batches, [&] { dict.set("key42", sink); }), base);
        report("Dict update, 2 processes contended",
               measure(batches, [&] { dict.update("num", [](int& n) { ++n; }); }), base);
        std::printf("(the other process made %d updates meanwhile)\n", dict.get("other") - before);
    }
    return sink == -1 ? 1 : 0;
}

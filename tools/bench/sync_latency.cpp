// sync_latency: what Lock, RLock and Semaphore cost, next to a pipe(2) round trip and the raw
// cache-line ping-pong measured in the same run (absolute figures vary with the VM's placement;
// the ratios are the claim).
//
//   bench_sync_latency [round_trips]      default 100000
#include <shmbus/array.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sched.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))), &set);
    sched_setaffinity(0, sizeof set, &set);
}

// Runs `child` in a forked process pinned to CPU 1 while the caller runs on CPU 0.
pid_t fork_pinned(const std::function<void()>& child) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        pin_to_cpu(1);
        child();
        _exit(0);
    }
    pin_to_cpu(0);
    return pid;
}

struct Percentiles {
    double p50, p99;
};

Percentiles percentiles(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
        return samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))];
    };
    return {at(0.50), at(0.99)};
}

void report(const char* what, Percentiles p, Percentiles pipe, Percentiles floor) {
    std::printf("%-44s p50 %9.0f ns  p99 %9.0f ns  p50 = %6.2fx pipe  %7.1fx floor\n", what, p.p50,
                p.p99, p.p50 / pipe.p50, p.p50 / floor.p50);
}

template <class Fn>
double ns_per_op(int iterations, Fn fn) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i)
        fn();
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
}

// Times `trips` round trips; `ping` sends and waits for the answer.
template <class Ping>
std::vector<double> time_round_trips(int trips, Ping ping) {
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(trips));
    for (int i = 0; i < trips; ++i) {
        const auto start = Clock::now();
        ping();
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    }
    return samples;
}

Percentiles pipe_round_trip(int trips) {
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0)
        std::exit(1);
    const pid_t pid = fork_pinned([&] {
        char byte;
        for (int i = 0; i < trips; ++i)
            if (read(to_child[0], &byte, 1) != 1 || write(to_parent[1], &byte, 1) != 1)
                break;
    });
    char byte = 'x';
    auto samples = time_round_trips(trips, [&] {
        if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1)
            std::exit(1);
    });
    waitpid(pid, nullptr, 0);
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]})
        close(fd);
    return percentiles(std::move(samples));
}

Percentiles cache_line_round_trip(int trips, shmbus::Segment& segment) {
    shmbus::Array<std::uint32_t> line(segment, "ping-pong-line", 16);
    std::atomic_ref<std::uint32_t> word(line[0]);
    const pid_t pid = fork_pinned([&] {
        for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(trips); ++i) {
            // SYNC acquire/release: the ping-pong itself; pairs with the parent's store.
            while (word.load(std::memory_order_acquire) != 2 * i + 1)
                ;
            word.store(2 * i + 2, std::memory_order_release);
        }
    });
    std::uint32_t next = 1;
    auto samples = time_round_trips(trips, [&] {
        // SYNC release/acquire: pairs with the child's load/store above.
        word.store(next, std::memory_order_release);
        while (word.load(std::memory_order_acquire) != next + 1)
            ;
        next += 2;
    });
    waitpid(pid, nullptr, 0);
    return percentiles(std::move(samples));
}

Percentiles semaphore_round_trip(int trips, shmbus::Segment& segment, shmbus::WaitPolicy policy,
                                 const std::string& tag) {
    shmbus::Semaphore ping(segment, "ping-" + tag, 0);
    shmbus::Semaphore pong(segment, "pong-" + tag, 0);
    ping.set_wait_options({policy});
    pong.set_wait_options({policy});
    const pid_t pid = fork_pinned([&] {
        for (int i = 0; i < trips; ++i) {
            ping.acquire();
            pong.release();
        }
    });
    auto samples = time_round_trips(trips, [&] {
        ping.release();
        pong.acquire();
    });
    waitpid(pid, nullptr, 0);
    return percentiles(std::move(samples));
}

// Two processes take turns at one lock as fast as they can; returns ns per acquire+release.
template <class LockType>
double contended(int iterations, LockType& lock) {
    const pid_t pid = fork_pinned([&] {
        for (int i = 0; i < iterations; ++i) {
            lock.acquire();
            lock.release();
        }
    });
    const double ns = ns_per_op(iterations, [&] {
        lock.acquire();
        lock.release();
    });
    waitpid(pid, nullptr, 0);
    return ns;
}

} // namespace

int main(int argc, char** argv) {
    const int trips = argc > 1 ? std::atoi(argv[1]) : 100000;
    const std::string name = "shmbus-bench-sync-" + std::to_string(getpid());
    auto segment = shmbus::Segment::create(name, 8 << 20);

    const Percentiles floor = cache_line_round_trip(trips, segment);
    const Percentiles pipe = pipe_round_trip(trips);
    std::printf("round trips between two processes pinned to CPUs 0 and 1 (%d each)\n", trips);
    report("raw cache-line ping-pong (the floor)", floor, pipe, floor);
    report("pipe(2), 1 byte each way", pipe, pipe, floor);
    report("Semaphore pair, policy spin", semaphore_round_trip(trips, segment,
           shmbus::WaitPolicy::spin, "spin"), pipe, floor);
    report("Semaphore pair, policy hybrid (default)", semaphore_round_trip(trips, segment,
           shmbus::WaitPolicy::hybrid, "hybrid"), pipe, floor);
    report("Semaphore pair, policy block (futex wake)", semaphore_round_trip(trips, segment,
           shmbus::WaitPolicy::block, "block"), pipe, floor);

    const int ops = trips * 10;
    shmbus::Lock lock(segment, "lock");
    shmbus::RLock rlock(segment, "rlock");
    shmbus::Semaphore semaphore(segment, "semaphore", 1);
    std::printf("\nacquire + release, ns per pair (%d pairs)\n", ops);
    std::printf("%-44s %8.1f ns\n", "Lock, uncontended",
                ns_per_op(ops, [&] { lock.acquire(); lock.release(); }));
    std::printf("%-44s %8.1f ns\n", "RLock, uncontended",
                ns_per_op(ops, [&] { rlock.acquire(); rlock.release(); }));
    std::printf("%-44s %8.1f ns\n", "Semaphore(1), uncontended",
                ns_per_op(ops, [&] { semaphore.acquire(); semaphore.release(); }));
    std::printf("%-44s %8.1f ns\n", "Lock, 2 processes contending",
                contended(ops / 10, lock));
    std::printf("%-44s %8.1f ns\n", "RLock, 2 processes contending",
                contended(ops / 10, rlock));
    std::printf("%-44s %8.1f ns\n", "Semaphore(1), 2 processes contending",
                contended(ops / 10, semaphore));
    shmbus::Segment::unlink(name);
}

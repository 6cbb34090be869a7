// SPDX-License-Identifier: Apache-2.0
// The in-process thread hand-offs of the Pool (issue 19), each mechanism next to the others in
// one run, rounds interleaved so that a noisy neighbour hurts every mechanism alike:
//
// - completion: one thread makes a result ready, another waits for it (an AsyncResult's state;
//   the NATS Pool's std::promise). Measured as a ping-pong round trip between two threads
//   through two fresh one-shot states per trip, p50/p99.
// - stream: one thread hands items to another that sleeps when there are none (the result
//   handler feeding an imap consumer). Measured as items/s for bursts of 10^5 items, p50/p99
//   over the rounds, and as a one-item ping-pong round trip.
//
// The waiting side of each Boost.Lockfree row sleeps on a futex word with a waiter count (the
// waker skips the syscall when nobody sleeps), as core/os/futex.hpp does: Boost.Lockfree
// never blocks by itself.
//
//   bench_handoff_bench [--rounds R] [--trips N] [--items N]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <linux/futex.h>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// A futex word the consumer sleeps on: the waker makes a syscall only for the first change
// after the sleeper announced itself (it clears the flag), never for every item of a burst.
class FutexWord {
public:
    std::uint32_t load() const { return m_word.load(std::memory_order_acquire); }
    void bump() {
        // seq_cst: pairs with the seq_cst flag store in sleep_while() (Dekker: one of the two
        // sides sees the other's write).
        m_word.fetch_add(1, std::memory_order_seq_cst);
        if (m_sleeping.load(std::memory_order_seq_cst) != 0 &&
            m_sleeping.exchange(0, std::memory_order_seq_cst) != 0)
            ::syscall(SYS_futex, &m_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
    void sleep_while(std::uint32_t seen) {
        for (;;) {
            // seq_cst: pairs with bump()'s flag load.
            m_sleeping.store(1, std::memory_order_seq_cst);
            if (m_word.load(std::memory_order_seq_cst) != seen)
                return;
            ::syscall(SYS_futex, &m_word, FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
            if (m_word.load(std::memory_order_acquire) != seen)
                return;
        }
    }

private:
    std::atomic<std::uint32_t> m_word{0};
    std::atomic<std::uint32_t> m_sleeping{0};
};

// ---- one-shot completions -------------------------------------------------------------------

// The Pool's ResultState before issue 19: a flag under a mutex, a condition variable.
struct MutexCvOnce {
    std::mutex mutex;
    std::condition_variable changed;
    bool ready = false;
    void set() {
        std::lock_guard lock(mutex);
        ready = true;
        changed.notify_all();
    }
    void wait() {
        std::unique_lock lock(mutex);
        changed.wait(lock, [this] { return ready; });
    }
};

// The NATS Pool's AsyncResult: std::promise / std::shared_future.
struct PromiseOnce {
    std::promise<void> promise;
    std::shared_future<void> future = promise.get_future().share();
    void set() { promise.set_value(); }
    void wait() { future.wait(); }
};

// A flag on a futex word with a sleeper count.
struct FutexOnce {
    FutexWord word;
    void set() { word.bump(); }
    void wait() {
        if (word.load() == 0)
            word.sleep_while(0);
    }
};

// libstdc++'s std::atomic::wait / notify_all.
struct AtomicWaitOnce {
    std::atomic<std::uint32_t> ready{0};
    void set() {
        ready.store(1, std::memory_order_release); // pairs with the acquire in wait()
        ready.notify_all();
    }
    void wait() { ready.wait(0, std::memory_order_acquire); }
};

// A one-element boost::lockfree::spsc_queue carrying the value, futex to sleep.
struct SpscOnce {
    boost::lockfree::spsc_queue<std::uint64_t, boost::lockfree::capacity<2>> queue;
    FutexWord word;
    void set() {
        queue.push(1);
        word.bump();
    }
    void wait() {
        std::uint64_t value = 0;
        for (;;) {
            const std::uint32_t seen = word.load();
            if (queue.pop(value))
                return;
            word.sleep_while(seen);
        }
    }
};

// ---- streams ----------------------------------------------------------------------------------

// ImapSink before issue 19: a deque under a mutex, a condition variable.
struct MutexCvStream {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::uint64_t> items;
    void push(std::uint64_t item) {
        std::lock_guard lock(mutex);
        items.push_back(item);
        changed.notify_all();
    }
    std::uint64_t pop() {
        std::unique_lock lock(mutex);
        changed.wait(lock, [this] { return !items.empty(); });
        const std::uint64_t item = items.front();
        items.pop_front();
        return item;
    }
};

// A Boost.Lockfree queue (spsc_queue or queue) and a futex word bumped per push.
template <class Queue>
struct LockfreeStream {
    Queue queue{1 << 16};
    FutexWord word;
    void push(std::uint64_t item) {
        while (!queue.push(item))
            std::this_thread::yield(); // full: the bench's bursts stay below the capacity
        word.bump();
    }
    std::uint64_t pop() {
        std::uint64_t item = 0;
        for (;;) {
            const std::uint32_t seen = word.load();
            if (queue.pop(item))
                return item;
            word.sleep_while(seen);
        }
    }
};
using SpscStream = LockfreeStream<boost::lockfree::spsc_queue<std::uint64_t>>;
using MpmcStream = LockfreeStream<boost::lockfree::queue<std::uint64_t>>;

// ---- measurements -----------------------------------------------------------------------------

struct Stats {
    double p50;
    double p99;
};

Stats stats_of(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto rank = [&](double p) {
        return samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))];
    };
    return {rank(0.50), rank(0.99)};
}

// `trips` round trips A -> B -> A, each through two fresh one-shot states; seconds per trip.
template <class Once>
void completion_trips(int trips, std::vector<double>& samples) {
    std::vector<std::unique_ptr<Once>> there(static_cast<std::size_t>(trips));
    std::vector<std::unique_ptr<Once>> back(static_cast<std::size_t>(trips));
    for (int i = 0; i < trips; ++i) {
        there[static_cast<std::size_t>(i)] = std::make_unique<Once>();
        back[static_cast<std::size_t>(i)] = std::make_unique<Once>();
    }
    std::thread echo([&] {
        for (int i = 0; i < trips; ++i) {
            there[static_cast<std::size_t>(i)]->wait();
            back[static_cast<std::size_t>(i)]->set();
        }
    });
    for (int i = 0; i < trips; ++i) {
        const auto start = Clock::now();
        there[static_cast<std::size_t>(i)]->set();
        back[static_cast<std::size_t>(i)]->wait();
        samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    echo.join();
}

template <class Stream>
void stream_trips(int trips, std::vector<double>& samples) {
    Stream there;
    Stream back;
    std::thread echo([&] {
        for (int i = 0; i < trips; ++i)
            back.push(there.pop());
    });
    for (int i = 0; i < trips; ++i) {
        const auto start = Clock::now();
        there.push(static_cast<std::uint64_t>(i));
        if (back.pop() != static_cast<std::uint64_t>(i))
            std::abort();
        samples.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    echo.join();
}

// Items per second through one stream, producer and consumer on two threads.
template <class Stream>
void stream_burst(int items, std::vector<double>& samples) {
    Stream stream;
    const auto start = Clock::now();
    std::thread producer([&] {
        for (int i = 0; i < items; ++i)
            stream.push(static_cast<std::uint64_t>(i));
    });
    std::uint64_t sum = 0;
    for (int i = 0; i < items; ++i)
        sum += stream.pop();
    producer.join();
    if (sum != static_cast<std::uint64_t>(items) * static_cast<std::uint64_t>(items - 1) / 2)
        std::abort();
    samples.push_back(items / std::chrono::duration<double>(Clock::now() - start).count());
}

struct Row {
    std::string hand_off;
    std::string mechanism;
    std::function<void(std::vector<double>&)> run;
    bool rate = false; ///< samples are items/s, else seconds
    std::vector<double> samples;
};

} // namespace

int main(int argc, char** argv) {
    int rounds = 7;
    int trips = 2000;
    int items = 100'000;
    CLI::App app{"handoff_bench: the Pool's in-process thread hand-offs, mutex + condition "
                 "variable next to Boost.Lockfree and futex flags, rounds interleaved",
                 "bench_handoff_bench"};
    app.add_option("--rounds", rounds, "Interleaved rounds")->check(CLI::PositiveNumber);
    app.add_option("--trips", trips, "Round trips per latency round")->check(CLI::PositiveNumber);
    app.add_option("--items", items, "Items per throughput round (at most 65536 in flight)")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);

    std::vector<Row> rows;
    const auto trip = [&](auto fn) {
        return [fn, trips](std::vector<double>& s) { fn(trips, s); };
    };
    const auto burst = [&](auto fn) {
        return [fn, items](std::vector<double>& s) { fn(items, s); };
    };
    const auto add = [&rows](const char* hand_off, const char* mechanism,
                             std::function<void(std::vector<double>&)> run, bool rate) {
        rows.push_back(Row{hand_off, mechanism, std::move(run), rate, {}});
    };
    add("completion", "mutex + condition_variable (ResultState before)",
        trip(completion_trips<MutexCvOnce>), false);
    add("completion", "std::promise / shared_future (NATS AsyncResult)",
        trip(completion_trips<PromiseOnce>), false);
    add("completion", "atomic flag + futex", trip(completion_trips<FutexOnce>), false);
    add("completion", "atomic flag + std::atomic::wait", trip(completion_trips<AtomicWaitOnce>),
        false);
    add("completion", "boost::lockfree::spsc_queue + futex", trip(completion_trips<SpscOnce>),
        false);
    add("stream trip", "mutex + condition_variable + deque (ImapSink before)",
        trip(stream_trips<MutexCvStream>), false);
    add("stream trip", "boost::lockfree::spsc_queue + futex", trip(stream_trips<SpscStream>),
        false);
    add("stream trip", "boost::lockfree::queue + futex", trip(stream_trips<MpmcStream>), false);
    add("stream burst", "mutex + condition_variable + deque (ImapSink before)",
        burst(stream_burst<MutexCvStream>), true);
    add("stream burst", "boost::lockfree::spsc_queue + futex", burst(stream_burst<SpscStream>),
        true);
    add("stream burst", "boost::lockfree::queue + futex", burst(stream_burst<MpmcStream>), true);

    for (int round = 0; round < rounds; ++round)
        for (Row& row : rows)
            row.run(row.samples);

    std::printf("%u CPUs, %d rounds interleaved; latency rows: %d round trips per round; burst "
                "rows: %d items per round\n",
                std::thread::hardware_concurrency(), rounds, trips, items);
    std::printf("| hand-off | mechanism | p50 | p99 |\n|---|---|--:|--:|\n");
    for (const Row& row : rows) {
        const Stats s = stats_of(row.samples);
        if (row.rate)
            std::printf("| %s | %s | %.2f M items/s | %.2f M items/s (slowest round) |\n",
                        row.hand_off.c_str(), row.mechanism.c_str(), s.p50 / 1e6,
                        *std::min_element(row.samples.begin(), row.samples.end()) / 1e6);
        else
            std::printf("| %s | %s | %.2f us | %.2f us |\n", row.hand_off.c_str(),
                        row.mechanism.c_str(), s.p50 * 1e6, s.p99 * 1e6);
    }
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
// Pool across forked workers: map/starmap/imap/apply results, AsyncResult states, callbacks,
// RemoteError, WorkerLost (a worker SIGKILLed mid-task, from inside and from outside),
// close/terminate/join misuse, maxtasksperchild recycling, size limits, and a destructor that
// never waits for a stuck task.
#include "process/pool_state.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <gtest/gtest.h>
#include <mutex>
#include <new>
#include <numeric>
#include <ranges>
#include <set>
#include <shmbus/event.hpp>
#include <shmbus/pool.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::ScopedSegment;

namespace {

int square(int x) {
    return x * x;
}

int add(int a, int b) {
    return a + b;
}

std::string shout(const std::string& word, int times) {
    std::string out;
    for (int i = 0; i < times; ++i)
        out += word + "!";
    return out;
}

int fail_on_multiples_of_37(int x) {
    if (x != 0 && x % 37 == 0)
        throw std::invalid_argument("bad input " + std::to_string(x));
    return x;
}

int throw_int(int) {
    throw 42;
}

int die(int) {
    ::raise(SIGKILL);
    return 0;
}

int my_pid() {
    return static_cast<int>(::getpid());
}

int g_initialised = 0;
void initialise() {
    g_initialised = 1234;
}
int read_initialised() {
    return g_initialised;
}

// Tasks that block until the test opens the gate: the state of a result is then known
// without any timing assumption. Set before the pool forks its workers.
Event* g_gate = nullptr;
int wait_for_gate(int x) {
    g_gate->wait();
    return x;
}

std::string repeat_x(int size) {
    return std::string(static_cast<std::size_t>(size), 'x');
}

void nothing(int) {}

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int throw_standard(int which) {
    switch (which) {
    case 1:
        return std::vector<int>{}.at(1);
    case 2:
        throw std::overflow_error("too big");
    case 3:
        throw std::bad_alloc();
    case 4:
        throw KeyError("no key 4");
    default:
        throw CustomError("custom " + std::to_string(which));
    }
}

// Encodes only when not negative: a value cereal fails to save (the string keeps it from
// travelling by memcpy).
struct Picky {
    int value = 0;
    std::string label;
    template <class Archive>
    void save(Archive& archive) const {
        archive(label);
        if (value < 0)
            throw std::domain_error("negative Picky " + std::to_string(value));
        archive(value);
    }
    template <class Archive>
    void load(Archive& archive) {
        archive(label, value);
    }
};

Picky make_picky(int value) {
    return Picky{value, ""};
}

int picky_value(Picky picky) {
    return picky.value;
}

// 0, 1, 2, ... counting how many were read, and throwing std::range_error at `fail_at`.
auto counted_input(std::atomic<long>& read, long fail_at = -1) {
    return std::views::iota(0L) | std::views::transform([&read, fail_at](long x) {
               if (x == fail_at)
                   throw std::range_error("input " + std::to_string(x) + " is unreadable");
               ++read;
               return static_cast<int>(x);
           });
}

std::vector<int> iota(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

struct Gate {
    ScopedSegment segment;
    Event event{*segment, "gate"};
    Gate() { g_gate = &event; }
    ~Gate() {
        event.set();
        g_gate = nullptr;
    }
};

// The pool's state block, as `shmbus inspect` finds it.
class PoolStateRef {
public:
    explicit PoolStateRef(const Pool& pool)
        : m_ref(detail::attach_object(Segment::open(pool.segment_name()), "pool",
                                      {ObjectKind::pool, 0, alignof(detail::PoolState), 0},
                                      detail::OpenMode::open, [](void*) {})) {}
    const detail::PoolState* operator->() const { return &m_ref.state<detail::PoolState>(); }
    const detail::PoolState& operator*() const { return m_ref.state<detail::PoolState>(); }

private:
    detail::ObjectRef m_ref;
};

} // namespace

TEST(PoolMultiprocess, MapSquaresInOrder) {
    Pool pool(4);
    EXPECT_EQ(pool.processes(), 4u);
    EXPECT_EQ(pool.map(square, std::vector{1, 2, 3, 4, 5}), (std::vector{1, 4, 9, 16, 25}));
    pool.close();
    pool.join();
}

TEST(PoolMultiprocess, ManyWorkersAndManyRoundsKeepWorking) {
    // The result handler and this thread each use more rings than a thread's lease cache
    // holds (8): many small rounds must not run the rings out of leases.
    Pool pool(10);
    for (int round = 0; round < 200; ++round)
        ASSERT_EQ(pool.map(square, iota(40), 1)[39], 39 * 39);
    pool.close();
    pool.join();
}

TEST(PoolMultiprocess, MapOfNothingIsEmpty) {
    Pool pool(2);
    EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
}

TEST(PoolMultiprocess, MapConvertsInputsAndTakesLambdas) {
    Pool pool(2);
    const std::vector<long> inputs{1, 2, 3};
    const auto doubled = pool.map([](int x) { return 2.0 * x; }, inputs, 1);
    EXPECT_EQ(doubled, (std::vector<double>{2.0, 4.0, 6.0}));
}

TEST(PoolMultiprocess, StarmapUnpacksTuplesAndPairs) {
    Pool pool(3);
    const std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
    EXPECT_EQ(pool.starmap(add, pairs), (std::vector{3, 7, 11}));
    const std::vector<std::tuple<std::string, int>> words{{"a", 1}, {"bc", 2}, {"", 3}};
    EXPECT_EQ(pool.starmap(shout, words, 2), (std::vector<std::string>{"a!", "bc!bc!", "!!!"}));
}

TEST(PoolMultiprocess, ImapYieldsInInputOrder) {
    Pool pool(3);
    std::vector<int> got;
    for (int value : pool.imap(square, iota(50), 3))
        got.push_back(value);
    std::vector<int> want(50);
    std::transform(want.begin(), want.end(), want.begin(), [](int) { return 0; });
    for (int i = 0; i < 50; ++i)
        want[static_cast<std::size_t>(i)] = i * i;
    EXPECT_EQ(got, want);
}

TEST(PoolMultiprocess, ImapUnorderedYieldsEveryResultOnce) {
    Pool pool(3);
    auto results = pool.imap_unordered(square, iota(40));
    std::multiset<int> got;
    while (auto value = results.next_for(30s))
        got.insert(*value);
    std::multiset<int> want;
    for (int i = 0; i < 40; ++i)
        want.insert(i * i);
    EXPECT_EQ(got, want);
}

TEST(PoolMultiprocess, ImapNextTimesOutWhileTheTaskWaits) {
    Gate gate;
    Pool pool(1);
    auto results = pool.imap(wait_for_gate, std::vector{7});
    EXPECT_THROW(results.next_for(20ms), Timeout);
    EXPECT_THROW(results.next_until(std::chrono::steady_clock::now() + 20ms), Timeout);
    gate.event.set();
    EXPECT_EQ(results.next_until(std::chrono::system_clock::now() + 30s), 7);
    EXPECT_EQ(results.next_for(30s), std::nullopt);
}

TEST(PoolMultiprocess, ApplyAndApplyAsync) {
    Pool pool(2);
    EXPECT_EQ(pool.apply(add, 20, 22), 42);
    EXPECT_EQ(pool.apply(shout, std::string("hi"), 2), "hi!hi!");
    auto result = pool.apply_async(square, 9);
    EXPECT_EQ(result.get_for(30s), 81);
    EXPECT_TRUE(result.ready());
    EXPECT_TRUE(result.successful());
    EXPECT_EQ(result.get(), 81); // get() may be called again
    pool.apply(nothing, 1);
    auto done = pool.apply_async(nothing, 2);
    done.get();
    EXPECT_TRUE(done.successful());
}

TEST(PoolMultiprocess, AsyncResultStatesFollowTheTask) {
    Gate gate;
    Pool pool(1);
    auto result = pool.apply_async(wait_for_gate, 5);
    EXPECT_FALSE(result.ready());
    EXPECT_THROW(result.successful(), UsageError);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(result.get_for(100ms), Timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_THROW(result.get_until(std::chrono::steady_clock::now() + 10ms), Timeout);
    EXPECT_FALSE(result.wait_for(10ms));
    EXPECT_FALSE(result.wait_until(std::chrono::system_clock::now() + 10ms));
    gate.event.set();
    EXPECT_EQ(result.get_until(std::chrono::steady_clock::now() + 30s), 5);
    EXPECT_TRUE(result.wait_until(std::chrono::steady_clock::now()));
    EXPECT_TRUE(result.wait_for(30s));
    EXPECT_TRUE(result.ready());
    EXPECT_TRUE(result.successful());
    EXPECT_EQ(result.get(), 5);
}

TEST(PoolMultiprocess, CallbacksRunInTheParent) {
    Pool pool(2);
    const pid_t parent = ::getpid();
    std::mutex mutex;
    std::vector<int> seen;
    std::vector<std::string> errors;
    pid_t callback_pid = 0;
    std::vector<AsyncResult<int>> results;
    for (int i = 0; i < 10; ++i)
        results.push_back(pool.apply_async_with(
            [&](int value) {
                std::lock_guard lock(mutex);
                seen.push_back(value);
                callback_pid = ::getpid();
            },
            [&](const std::exception& e) {
                std::lock_guard lock(mutex);
                errors.emplace_back(e.what());
            },
            fail_on_multiples_of_37, i == 3 ? 74 : i));
    for (auto& result : results)
        result.wait();
    std::lock_guard lock(mutex);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector{0, 1, 2, 4, 5, 6, 7, 8, 9}));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("bad input 74"), std::string::npos);
    EXPECT_EQ(callback_pid, parent);
    EXPECT_FALSE(results[3].successful());
}

TEST(PoolMultiprocess, MapAsyncCallbackGetsTheWholeList) {
    Pool pool(2);
    std::vector<int> delivered;
    auto result =
        pool.map_async(square, iota(10), 3, [&](const std::vector<int>& all) { delivered = all; });
    const std::vector<int> got = result.get_for(30s);
    EXPECT_EQ(delivered, got); // the callback ran before the result became ready
    EXPECT_EQ(got[9], 81);
}

TEST(PoolMultiprocess, TaskExceptionsKeepTheirTypeAndMessage) {
    Pool pool(2);
    try {
        pool.apply(fail_on_multiples_of_37, 37);
        FAIL() << "no std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bad input 37");
    }
    EXPECT_THROW(pool.apply(throw_standard, 1), std::out_of_range);
    EXPECT_THROW(pool.apply(throw_standard, 2), std::overflow_error);
    EXPECT_THROW(pool.apply(throw_standard, 3), std::bad_alloc);
    try {
        pool.apply(throw_standard, 4);
        FAIL() << "no KeyError";
    } catch (const KeyError& e) {
        EXPECT_STREQ(e.what(), "no key 4");
    }
    // Other types (not rebuildable from a name and a message) stay RemoteError.
    try {
        pool.apply(throw_standard, 5);
        FAIL() << "no RemoteError";
    } catch (const RemoteError& e) {
        EXPECT_STREQ(e.what(), "(anonymous namespace)::CustomError: custom 5");
    }
    try {
        pool.apply(throw_int, 1);
        FAIL() << "no RemoteError";
    } catch (const RemoteError& e) {
        EXPECT_STREQ(e.what(), "int");
    }
    // map raises the first failure in input order, whatever order the chunks finish in.
    try {
        pool.map(fail_on_multiples_of_37, iota(100), 5);
        FAIL() << "no std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "bad input 37");
    }
    // The error callback sees the same type.
    std::atomic<int> typed{0};
    auto failed = pool.apply_async_with(
        nullptr,
        [&](const std::exception& e) {
            typed = dynamic_cast<const std::invalid_argument*>(&e) != nullptr ? 1 : 2;
        },
        fail_on_multiples_of_37, 74);
    EXPECT_THROW(failed.get_for(30s), std::invalid_argument);
    EXPECT_EQ(typed.load(), 1);
    EXPECT_EQ(pool.apply(square, 3), 9); // the workers go on
}

TEST(PoolMultiprocess, ImapRaisesAFailedChunkInItsPlaceAndGoesOn) {
    Pool pool(2);
    auto results = pool.imap(fail_on_multiples_of_37, std::vector{1, 37, 2});
    EXPECT_EQ(results.next_for(30s), 1);
    EXPECT_THROW(results.next_for(30s), std::invalid_argument);
    EXPECT_EQ(results.next_for(30s), 2);
    EXPECT_EQ(results.next_for(30s), std::nullopt);
}

TEST(PoolMultiprocess, WorkerKilledInsideATaskFailsItWithWorkerLost) {
    Pool pool(2);
    const std::vector<pid_t> before = pool.worker_pids();
    auto lost = pool.apply_async(die, 0);
    EXPECT_THROW(lost.get_for(60s), WorkerLost);
    // The pool replaced the worker and goes on.
    EXPECT_EQ(pool.map(square, iota(20), 2)[19], 361);
    EXPECT_NE(pool.worker_pids(), before);
    pool.close();
    pool.join();
}

TEST(PoolMultiprocess, WorkerKilledFromOutsideFailsOnlyItsTask) {
    Gate gate;
    Pool pool(2);
    auto first = pool.apply_async(wait_for_gate, 1);
    auto second = pool.apply_async(wait_for_gate, 2);
    const std::vector<pid_t> pids = pool.worker_pids();
    ASSERT_EQ(pids.size(), 2u);
    // Both tasks are running once both workers are busy; kill the first worker.
    const PoolStateRef state(pool);
    ASSERT_TRUE(shmbus::test::eventually(
        [&] { return state->slot(0).busy.load() == 1 && state->slot(1).busy.load() == 1; }));
    ASSERT_EQ(::kill(pids[0], SIGKILL), 0);
    // Exactly one of the two tasks ran in the killed worker.
    bool first_lost = false;
    try {
        first.get_for(60s);
    } catch (const WorkerLost&) {
        first_lost = true;
    }
    gate.event.set();
    if (first_lost)
        EXPECT_EQ(second.get_for(60s), 2);
    else
        EXPECT_THROW(second.get_for(60s), WorkerLost);
    EXPECT_EQ(pool.apply(square, 4), 16);
}

TEST(PoolMultiprocess, SubmittingToAClosedPoolIsClosed) {
    Pool pool(1);
    EXPECT_THROW(pool.join(), UsageError);
    pool.close();
    EXPECT_THROW(pool.apply(square, 1), Closed);
    EXPECT_THROW(pool.map(square, iota(3)), Closed);
    EXPECT_THROW(pool.map(square, std::vector<int>{}), Closed);
    EXPECT_THROW(pool.imap(square, iota(3)), Closed);
    pool.join();
    pool.join(); // joining twice is harmless
}

TEST(PoolMultiprocess, CloseLetsPendingWorkFinish) {
    Pool pool(2);
    auto result = pool.map_async(square, iota(100), 7);
    pool.close();
    pool.join();
    ASSERT_TRUE(result.ready());
    EXPECT_EQ(result.get()[99], 99 * 99);
}

TEST(PoolMultiprocess, TerminateFailsPendingResults) {
    Gate gate;
    Pool pool(1);
    auto stuck = pool.apply_async(wait_for_gate, 1);
    auto queued = pool.map_async(square, iota(10));
    pool.terminate();
    EXPECT_THROW(stuck.get_for(30s), Closed);
    EXPECT_THROW(queued.get_for(30s), Closed);
    EXPECT_THROW(pool.apply(square, 1), Closed);
    pool.join(); // allowed after terminate
}

TEST(PoolMultiprocess, DestructorWithoutCloseDoesNotWaitForTasks) {
    Gate gate;
    std::optional<AsyncResult<int>> outlives;
    {
        Pool pool(2);
        outlives = pool.apply_async(wait_for_gate, 1);
        ASSERT_FALSE(outlives->ready());
    }
    EXPECT_THROW(outlives->get_for(30s), Closed);
}

TEST(PoolMultiprocess, MaxTasksPerChildReplacesWorkers) {
    PoolOptions options;
    options.processes = 1;
    options.maxtasksperchild = 2;
    Pool pool(options);
    std::vector<int> pids;
    for (int i = 0; i < 6; ++i)
        pids.push_back(pool.apply(my_pid));
    // Two tasks per worker: three workers in turn, each running two tasks in a row.
    EXPECT_EQ(pids[0], pids[1]);
    EXPECT_EQ(pids[2], pids[3]);
    EXPECT_EQ(pids[4], pids[5]);
    EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 3u);
    EXPECT_NE(pids[0], static_cast<int>(::getpid()));
    EXPECT_EQ(pool.map(square, iota(30), 1)[29], 29 * 29); // recycling never loses a task
    pool.close();
    pool.join();
}

TEST(PoolMultiprocess, InitializerRunsInEveryWorker) {
    PoolOptions options;
    options.processes = 2;
    options.initializer = initialise;
    options.maxtasksperchild = 1;
    Pool pool(options);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(pool.apply(read_initialised), 1234);
    EXPECT_EQ(g_initialised, 0); // not in the parent
}

TEST(PoolMultiprocess, LargeJobsAreSplitToFitAndOversizeIsRefused) {
    PoolOptions options;
    options.processes = 2;
    options.max_message_size = 1024;
    Pool pool(options);
    // 10000 ints in one requested chunk do not fit 1 KiB: the pool cuts smaller chunks.
    const std::vector<int> squares = pool.map(square, iota(10000), 10000);
    EXPECT_EQ(squares[9999], 9999 * 9999);
    EXPECT_THROW(pool.apply(shout, std::string(4096, 'a'), 1), MessageTooLarge);
    // A result too large fails its task, not the pool.
    try {
        pool.apply(repeat_x, 4096);
        FAIL() << "no error";
    } catch (const MessageTooLarge& e) {
        EXPECT_NE(std::string(e.what()).find("results of a chunk"), std::string::npos);
    }
    EXPECT_EQ(pool.apply(repeat_x, 10), "xxxxxxxxxx");
}

TEST(PoolMultiprocess, StateBlockShowsWorkersAndCounters) {
    Pool pool(2);
    pool.map(square, iota(30), 10);
    const PoolStateRef ref(pool);
    const detail::PoolState& state = *ref;
    EXPECT_EQ(state.magic, detail::kPoolStateMagic);
    EXPECT_EQ(state.slot_count, 2u);
    EXPECT_EQ(state.tasks_submitted.load(), 30u);
    EXPECT_EQ(state.tasks_done.load(), 30u);
    const std::vector<pid_t> pids = pool.worker_pids();
    for (std::size_t i = 0; i < 2; ++i)
        EXPECT_EQ(state.slot(i).pid.load(), pids[i]);
}

TEST(PoolMultiprocess, CountsBelowOneAreRefusedAsPythonDoes) {
    EXPECT_THROW(Pool(0), UsageError);
    EXPECT_THROW(Pool(-1), UsageError);
    PoolOptions options;
    options.processes = 0;
    EXPECT_THROW(Pool{options}, UsageError);
    options.processes = 1;
    options.maxtasksperchild = 0;
    EXPECT_THROW(Pool{options}, UsageError);
    options.maxtasksperchild = -3;
    EXPECT_THROW(Pool{options}, UsageError);
    options.maxtasksperchild.reset();
    options.processes.reset();
    Pool defaults(options);
    EXPECT_EQ(defaults.processes(), cpu_count());
}

TEST(PoolMultiprocess, ImapReadsAnEndlessInputLazily) {
    Pool pool(2);
    std::atomic<long> read{0};
    auto results = pool.imap(square, counted_input(read), 3);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(results.next_for(30s), i * i);
    // Read ahead by a bounded window (64 chunks of 3 here), never the whole input.
    EXPECT_GE(read.load(), 100);
    EXPECT_LE(read.load(), 100 + 65 * 3);
    auto unordered = pool.imap_unordered(square, counted_input(read), 1);
    std::set<int> seen;
    for (int i = 0; i < 50; ++i)
        seen.insert(*unordered.next_for(30s));
    EXPECT_EQ(seen.size(), 50u);
}

TEST(PoolMultiprocess, ImapRaisesAnInputErrorAtItsPosition) {
    Pool pool(2);
    for (const bool ordered : {true, false}) {
        std::atomic<long> read{0};
        auto results = ordered ? pool.imap(square, counted_input(read, 7), 2)
                               : pool.imap_unordered(square, counted_input(read, 7), 2);
        std::vector<int> got;
        for (int i = 0; i < 7; ++i)
            got.push_back(*results.next_for(30s));
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, (std::vector{0, 1, 4, 9, 16, 25, 36}));
        try {
            results.next_for(30s);
            FAIL() << "no std::range_error";
        } catch (const std::range_error& e) {
            EXPECT_STREQ(e.what(), "input 7 is unreadable");
        }
        EXPECT_EQ(results.next_for(30s), std::nullopt);
    }
}

TEST(PoolMultiprocess, ImapBegunBeforeCloseFeedsTheRestAfterIt) {
    Pool pool(2);
    auto results = pool.imap(square, iota(200)); // more than its read-ahead
    pool.close();
    EXPECT_THROW(pool.imap(square, iota(3)), Closed);
    int count = 0;
    for (int value : results) {
        EXPECT_EQ(value, count * count);
        ++count;
    }
    EXPECT_EQ(count, 200);
    pool.join();
}

TEST(PoolMultiprocess, UnencodableValuesAreMaybeEncodingErrorAndTheWorkerGoesOn) {
    Pool pool(1);
    const std::vector<pid_t> workers = pool.worker_pids();
    try {
        pool.apply(make_picky, -5);
        FAIL() << "no MaybeEncodingError";
    } catch (const MaybeEncodingError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("Error sending result"), std::string::npos) << what;
        EXPECT_NE(what.find("Picky"), std::string::npos) << what;
        EXPECT_NE(what.find("negative Picky -5"), std::string::npos) << what;
    }
    EXPECT_EQ(pool.apply(make_picky, 5).value, 5);
    EXPECT_EQ(pool.worker_pids(), workers); // the same worker did both
    try {
        pool.apply(picky_value, Picky{-2, ""});
        FAIL() << "no MaybeEncodingError";
    } catch (const MaybeEncodingError& e) {
        EXPECT_NE(std::string(e.what()).find("Error sending task"), std::string::npos);
    }
    auto results = pool.imap(picky_value, std::vector{Picky{1, ""}, Picky{-1, ""}, Picky{2, ""}});
    EXPECT_EQ(results.next_for(30s), 1);
    EXPECT_THROW(results.next_for(30s), MaybeEncodingError);
    EXPECT_EQ(results.next_for(30s), std::nullopt);
    EXPECT_EQ(pool.worker_pids(), workers);
}

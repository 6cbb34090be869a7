// SPDX-License-Identifier: Apache-2.0
// The distributed Pool (shmbus/nats/pool.hpp) with worker processes (pool_worker) and a real
// nats-server: results (apply, map, imap, map_async), errors, a worker killed mid-task, a task that
// kills every worker.
#include "pool/tasks.hpp"
#include "shmbus/nats/pool.hpp"
#include "support/nats_server.hpp"

#include <algorithm>
#include <csignal>
#include <gtest/gtest.h>
#include <thread>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;
using test::add;
using test::crash;
using test::fail;
using test::slow_square;
using test::square;

constexpr int kAckWaitMs = 2000;
constexpr int kMaxDeliver = 2;

class PoolTest : public ::testing::Test {
protected:
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    PoolOptions options = [] {
        PoolOptions result;
        result.ack_wait = std::chrono::milliseconds(kAckWaitMs);
        result.max_deliver = kMaxDeliver;
        return result;
    }();

    std::unique_ptr<test::Spawned> worker() {
        return std::make_unique<test::Spawned>(
            std::vector<std::string>{SHMBUS_POOL_WORKER_PROGRAM, "--url", test::server().url(),
                                     "--pool", name, "--ack-wait-ms", std::to_string(kAckWaitMs),
                                     "--max-deliver", std::to_string(kMaxDeliver)},
            test::server().directory() / ("worker-" + name + ".log"));
    }
};

TEST_F(PoolTest, WorkersElsewhereComputeApplyMapAndStarmap) {
    auto first = worker();
    auto second = worker();
    Pool pool(test::server().url(), name, options);
    EXPECT_EQ(pool.apply(square, 7), 49);
    EXPECT_EQ(pool.map(square, std::vector{1, 2, 3, 4, 5}), (std::vector{1, 4, 9, 16, 25}));
    EXPECT_EQ(pool.starmap(add, std::vector{std::tuple{1, 2}, std::tuple{30, 12}}),
              (std::vector{3, 42}));
    int called_back = 0;
    AsyncResult<int> result =
        pool.apply_async_with([&](int value) { called_back = value; }, nullptr, square, 12);
    EXPECT_EQ(result.get_for(20s), 144);
    EXPECT_EQ(called_back, 144);
}

TEST_F(PoolTest, ImapImapUnorderedAndMapAsyncGiveEveryResult) {
    auto first = worker();
    auto second = worker();
    Pool pool(test::server().url(), name, options);
    const std::vector<int> inputs{1, 2, 3, 4, 5, 6};
    const std::vector<int> squares{1, 4, 9, 16, 25, 36};
    std::vector<int> in_order;
    for (int value : pool.imap(square, inputs))
        in_order.push_back(value);
    EXPECT_EQ(in_order, squares);

    ImapResults<int> unordered = pool.imap_unordered(square, inputs);
    std::vector<int> as_they_came;
    while (std::optional<int> value = unordered.next_for(20s))
        as_they_came.push_back(*value);
    std::sort(as_they_came.begin(), as_they_came.end());
    EXPECT_EQ(as_they_came, squares);

    std::vector<int> called_back;
    AsyncResult<std::vector<int>> mapped = pool.map_async(
        square, inputs, [&](const std::vector<int>& values) { called_back = values; });
    EXPECT_EQ(mapped.get_for(20s), squares);
    EXPECT_EQ(called_back, squares);
    EXPECT_TRUE(pool.map_async(square, std::vector<int>{}).get_for(1s).empty());
}

TEST_F(PoolTest, AFailedTaskOfAnImapOrMapAsyncThrowsInItsPlace) {
    auto one = worker();
    Pool pool(test::server().url(), name, options);
    ImapResults<std::string> results = pool.imap(fail, std::vector<std::string>{"ann", "bob"});
    EXPECT_THROW(results.next_for(20s), std::invalid_argument);
    EXPECT_THROW(results.next_for(20s), std::invalid_argument);
    EXPECT_EQ(results.next(), std::nullopt);

    std::string reported;
    AsyncResult<std::vector<std::string>> mapped =
        pool.map_async(fail, std::vector<std::string>{"cy", "di"}, nullptr,
                       [&](const std::exception& error) { reported = error.what(); });
    try {
        mapped.get_for(20s);
        FAIL() << "no error";
    } catch (const std::invalid_argument& error) {
        EXPECT_STREQ(error.what(), "no orders for cy"); // the first in input order
    }
    EXPECT_EQ(reported, "no orders for cy");
}

TEST_F(PoolTest, ATaskThatThrowsRaisesItsTypeAndText) {
    auto one = worker();
    Pool pool(test::server().url(), name, options);
    try {
        pool.apply(fail, std::string("bob"));
        FAIL() << "no error";
    } catch (const std::invalid_argument& error) {
        EXPECT_STREQ(error.what(), "no orders for bob");
    }
}

int unregistered(int x) {
    return x;
}

TEST_F(PoolTest, AnUnregisteredFunctionIsAUsageError) {
    Pool pool(test::server().url(), name, options);
    EXPECT_THROW(pool.apply(unregistered, 1), UsageError);
}

TEST_F(PoolTest, ATaskWhoseWorkerWasKilledRunsOnAnotherWorker) {
    auto doomed = worker();
    Pool pool(test::server().url(), name, options);
    AsyncResult<int> result = pool.apply_async(slow_square, 9, 800); // shorter than the ack wait
    std::this_thread::sleep_for(300ms);                              // the only worker has it now
    doomed->stop(SIGKILL);
    auto survivor = worker();
    EXPECT_EQ(result.get_for(30s), 81);
}

TEST_F(PoolTest, ATaskThatKeepsKillingItsWorkersFailsWithWorkerLost) {
    Pool pool(test::server().url(), name, options);
    AsyncResult<int> result = pool.apply_async(crash, 1);
    // Keep one worker alive, as a supervisor would, until the task gives up.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    auto current = worker();
    while (!result.ready() && std::chrono::steady_clock::now() < deadline) {
        if (!current->running())
            current = worker();
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_THROW(result.get_for(1s), WorkerLost);
}

} // namespace
} // namespace shmbus::nats

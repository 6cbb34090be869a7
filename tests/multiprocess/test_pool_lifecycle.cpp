// SPDX-License-Identifier: Apache-2.0
// Pool at the edges of its life: many workers (Pool(200)), workers that keep dying, and the
// segment a pool starts in when its name is taken (by a dead pool, a stale segment, a live
// pool, or another user's file).
#include "support/harness.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <new>
#include <numeric>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/pool.hpp>
#include <shmbus/segment.hpp>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::eventually;
using shmbus::test::unique_name;
using shmbus::test::UnlinkOnExit;

namespace {

int square(int x) {
    return x * x;
}

void exit_at_once() {
    std::_Exit(3);
}

int die(int) {
    ::raise(SIGKILL);
    return 0;
}

std::vector<int> iota(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

bool stale(const std::string& name) {
    try {
        return Segment::observe(name).liveness() == Liveness::stale;
    } catch (const Error&) {
        return false;
    }
}

// A flag in memory shared with forked children.
class SharedFlag {
public:
    SharedFlag()
        : m_memory(mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0)) {
        if (m_memory == MAP_FAILED)
            throw std::runtime_error("mmap failed");
        new (m_memory) std::atomic<int>{0};
    }
    ~SharedFlag() { munmap(m_memory, sizeof(std::atomic<int>)); }
    SharedFlag(const SharedFlag&) = delete;
    SharedFlag& operator=(const SharedFlag&) = delete;
    void set() { static_cast<std::atomic<int>*>(m_memory)->store(1); }
    bool is_set() const { return static_cast<std::atomic<int>*>(m_memory)->load() == 1; }

private:
    void* m_memory;
};

} // namespace

// Issue 11: the 72 workers past 128 died of OutOfSpace on the shared result queue. A task
// queue holds one largest chunk (at least 64 KiB), so with 16 KiB messages 200 workers take
// about 29 MiB of /dev/shm (21 before layout 8 gave each slot control a line), under half of
// Docker's default.
TEST(PoolLifecycle, two_hundred_workers_map_ten_thousand_tasks) {
    PoolOptions options;
    options.processes = 200;
    options.max_message_size = 16 << 10;
    Pool pool(options);
    const std::vector<int> squares = pool.map(square, iota(10000));
    ASSERT_EQ(squares.size(), 10000u);
    for (int i = 0; i < 10000; ++i)
        ASSERT_EQ(squares[static_cast<std::size_t>(i)], i * i) << i;
    struct stat st {};
    ASSERT_EQ(::stat(("/dev/shm/" + pool.segment_name()).c_str(), &st), 0);
    const auto in_use = static_cast<std::size_t>(st.st_blocks) * 512; // allocated up front
    std::printf("Pool(200) with 16 KiB messages: %zu KiB of /dev/shm\n", in_use >> 10);
    EXPECT_LT(in_use, std::size_t{32} << 20) << "Docker's /dev/shm holds 64 MiB";
    pool.close();
    pool.join();
}

// Issue 11: worker churn. One task per worker: 400 workers in turn use the result queue, and
// each one after the 128th needs the lease of a dead predecessor.
TEST(PoolLifecycle, four_hundred_workers_in_turn_all_deliver) {
    PoolOptions options;
    options.processes = 4;
    options.maxtasksperchild = 1;
    options.max_message_size = 16 << 10;
    Pool pool(options);
    const std::vector<int> squares = pool.map(square, iota(400), 1);
    ASSERT_EQ(squares.size(), 400u);
    for (int i = 0; i < 400; ++i)
        ASSERT_EQ(squares[static_cast<std::size_t>(i)], i * i) << i;
    pool.close();
    pool.join();
}

// Workers that end before their first task, or in every task, are replaced over and over;
// destroying the pool meanwhile must neither abort nor hang. In a child, so that an abort
// shows as SIGABRT and a hang as the watchdog's kill.
TEST(PoolLifecycle, a_pool_whose_workers_keep_dying_is_destroyed_without_aborting) {
    Child owner([] {
        PoolOptions options;
        options.processes = 4;
        std::optional<AsyncResult<std::vector<int>>> never_ran;
        std::optional<AsyncResult<std::vector<int>>> killed_its_worker;
        {
            PoolOptions exiting = options;
            exiting.initializer = exit_at_once;
            Pool pool(exiting);
            never_ran = pool.map_async(square, iota(100));
            std::this_thread::sleep_for(300ms); // several rounds of replacement
        }
        {
            Pool pool(options);
            killed_its_worker = pool.map_async(die, iota(100), 1);
            std::this_thread::sleep_for(300ms);
        }
        try {
            never_ran->get_for(30s);
            std::_Exit(4); // no worker ever ran a task: a result is impossible
        } catch (const Closed&) {
        }
        try {
            killed_its_worker->get_for(30s);
            std::_Exit(5);
        } catch (const WorkerLost&) {
        } catch (const Closed&) {
        }
    });
    EXPECT_EQ(owner.wait(60s), 0);
}

TEST(PoolLifecycle, a_named_pool_whose_owner_was_killed_starts_again) {
    const std::string name = unique_name("shmbus-test-pool");
    const UnlinkOnExit cleanup(name);
    SharedFlag started;
    Child owner([&] {
        PoolOptions options;
        options.processes = 2;
        options.segment_name = name;
        Pool pool(options);
        if (pool.map(square, iota(10))[9] != 81)
            std::_Exit(5);
        started.set();
        for (;;)
            ::pause();
    });
    ASSERT_TRUE(eventually([&] { return started.is_set(); }, 30s));
    PoolOptions options;
    options.processes = 2;
    options.segment_name = name;
    EXPECT_THROW(Pool{options}, AlreadyExists); // its owner is alive
    owner.kill(SIGKILL);
    EXPECT_EQ(owner.wait(), -SIGKILL);
    // Its workers die with it (a daemon's parent-death signal); then the segment is stale.
    ASSERT_TRUE(eventually([&] { return stale(name); }, 30s));
    Pool pool(options);
    EXPECT_EQ(pool.segment_name(), name);
    EXPECT_EQ(pool.map(square, iota(10))[9], 81);
}

TEST(PoolLifecycle, a_stale_named_pool_segment_is_replaced) {
    const std::string name = unique_name("shmbus-test-pool");
    const UnlinkOnExit cleanup(name);
    Child creator([&] { (void)Segment::create(name, std::size_t{1} << 20); }); // never unlinked
    ASSERT_EQ(creator.wait(), 0);
    ASSERT_TRUE(stale(name));
    PoolOptions options;
    options.processes = 2;
    options.segment_name = name;
    Pool pool(options);
    EXPECT_EQ(pool.segment_name(), name);
    EXPECT_EQ(pool.map(square, iota(10))[9], 81);
    EXPECT_GT(Segment::observe(name).size(), std::size_t{1} << 20); // the pool's, not the old
}

TEST(PoolLifecycle, a_named_pool_held_by_a_foreign_file_names_the_file_and_its_owner) {
    const std::string name = unique_name("shmbus-test-pool");
    const UnlinkOnExit cleanup(name);
    const std::string path = "/dev/shm/" + name;
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    const std::string foreign(4096, 'x'); // another program's bytes: not a shmbus segment
    ASSERT_EQ(::write(fd, foreign.data(), foreign.size()), static_cast<ssize_t>(foreign.size()));
    ::close(fd);
    PoolOptions options;
    options.processes = 1;
    options.segment_name = name;
    try {
        Pool pool(options);
        FAIL() << "a pool started over a foreign file";
    } catch (const PermissionDenied& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(path), std::string::npos) << what;
        EXPECT_NE(what.find("uid " + std::to_string(::geteuid())), std::string::npos) << what;
    }
}

// Another user plants empty files under the next default pool names: they are skipped.
TEST(PoolLifecycle, planted_files_of_another_user_do_not_block_a_default_pool) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to plant a file owned by another user (nobody, uid 65534) "
                        "under the next pool name";
    PoolOptions options;
    options.processes = 1;
    std::string first;
    {
        Pool probe(options); // learns the pid.counter pattern of this process's pool names
        first = probe.segment_name();
    }
    const std::string prefix = first.substr(0, first.rfind('.') + 1);
    const int next = std::stoi(first.substr(first.rfind('.') + 1)) + 1;
    std::vector<std::unique_ptr<UnlinkOnExit>> planted;
    for (int n = next; n < next + 3; ++n) {
        const std::string name = prefix + std::to_string(n);
        planted.push_back(std::make_unique<UnlinkOnExit>(name));
        const std::string path = "/dev/shm/" + name;
        const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
        ASSERT_GE(fd, 0) << path;
        ASSERT_EQ(::fchown(fd, 65534, 65534), 0);
        ::close(fd);
    }
    Pool pool(options);
    EXPECT_EQ(pool.segment_name(), prefix + std::to_string(next + 3));
    EXPECT_EQ(pool.map(square, iota(10))[9], 81);
}

// SPDX-License-Identifier: Apache-2.0
// `shmbus worker` (shmbus/nats/worker.hpp) with a real nats-server: the CLI runs shmbus-worker,
// which loads the tasks of a shared library (nats_test_tasks, pool/tasks.cpp) into two worker
// processes; a Pool maps over them; SIGTERM stops the worker and its processes.
#include "pool/tasks.hpp"
#include "shmbus/nats/pool.hpp"
#include "support/harness.hpp"
#include "support/nats_server.hpp"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <numeric>
#include <sys/wait.h>

namespace shmbus::nats {
namespace {

using namespace std::chrono_literals;
using test::square;

std::string test_name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

#ifdef SHMBUS_CLI_PROGRAM
constexpr const char* kWorkerCommand[] = {SHMBUS_CLI_PROGRAM, "worker"};
#else
constexpr const char* kWorkerCommand[] = {SHMBUS_WORKER_PROGRAM};
#endif

std::vector<std::string> worker_argv(const std::vector<std::string>& arguments) {
    std::vector<std::string> argv(std::begin(kWorkerCommand), std::end(kWorkerCommand));
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return argv;
}

std::filesystem::path log_of(const std::string& name) {
    return test::server().directory() / ("worker-" + name + ".log");
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The worker's processes, from /proc (empty where the kernel does not list children).
std::vector<pid_t> children_of(pid_t pid) {
    std::ifstream list("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                       "/children");
    std::vector<pid_t> children;
    for (pid_t child = 0; list >> child;)
        children.push_back(child);
    return children;
}

// Waits (bounded) for `worker` to exit; its wait status, or -1 when it did not.
int exit_status(test::Spawned& worker, std::chrono::seconds limit) {
    if (!shmbus::test::eventually([&] { return !worker.running(); }, limit))
        return -1;
    return worker.stop(SIGKILL); // reaped already: returns the recorded status
}

TEST(Worker, LoadsATaskLibraryServesAPoolWithTwoProcessesAndStopsOnSigterm) {
    const std::string name = test_name();
    test::Spawned worker(worker_argv({"--url", test::server().url(), "--pool", name, "--tasks",
                                      SHMBUS_TEST_TASKS_LIBRARY, "--processes", "2"}),
                         log_of(name));
    Pool pool(test::server().url(), name);
    std::vector<int> numbers(20);
    std::iota(numbers.begin(), numbers.end(), 1);
    std::vector<int> expected;
    for (const int n : numbers)
        expected.push_back(n * n);
    EXPECT_EQ(pool.map(square, numbers), expected) << read_file(log_of(name));
    ASSERT_TRUE(shmbus::test::eventually([&] { return children_of(worker.pid()).size() == 2; }))
        << read_file(log_of(name));
    const std::vector<pid_t> processes = children_of(worker.pid());

    ::kill(worker.pid(), SIGTERM);
    const int status = exit_status(worker, 20s);
    ASSERT_TRUE(WIFEXITED(status)) << status << read_file(log_of(name));
    EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(log_of(name));
    for (const pid_t process : processes) // reaped by the worker before it exited
        EXPECT_TRUE(::kill(process, 0) == -1 && errno == ESRCH) << process;
}

TEST(Worker, AProcessKilledIsReplaced) {
    const std::string name = test_name();
    test::Spawned worker(worker_argv({"--url", test::server().url(), "--pool", name, "--tasks",
                                      SHMBUS_TEST_TASKS_LIBRARY, "--processes", "2"}),
                         log_of(name));
    ASSERT_TRUE(shmbus::test::eventually([&] { return children_of(worker.pid()).size() == 2; }));
    const pid_t victim = children_of(worker.pid()).front();
    ::kill(victim, SIGKILL);
    ASSERT_TRUE(shmbus::test::eventually([&] {
        const std::vector<pid_t> now = children_of(worker.pid());
        return now.size() == 2 && std::find(now.begin(), now.end(), victim) == now.end();
    })) << read_file(log_of(name));
    Pool pool(test::server().url(), name);
    EXPECT_EQ(pool.apply(square, 9), 81);
    ::kill(worker.pid(), SIGTERM);
    EXPECT_EQ(exit_status(worker, 20s), 0) << read_file(log_of(name));
}

TEST(Worker, AMissingTaskLibraryOrABadOptionFailsAtOnce) {
    const std::string name = test_name();
    const std::filesystem::path bad_library = test::server().directory() / "not-a-library.so";
    std::ofstream(bad_library) << "not ELF";
    test::Spawned unloadable(worker_argv({"--url", test::server().url(), "--pool", name, "--tasks",
                                          bad_library.string()}),
                             log_of(name));
    const int status = exit_status(unloadable, 20s);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 1);
    EXPECT_NE(read_file(log_of(name)).find("cannot load task library"), std::string::npos)
        << read_file(log_of(name));

    test::Spawned no_pool(worker_argv({"--url", test::server().url()}), log_of(name));
    const int usage = exit_status(no_pool, 20s);
    ASSERT_TRUE(WIFEXITED(usage)) << usage;
    EXPECT_EQ(WEXITSTATUS(usage), 2);
}

} // namespace
} // namespace shmbus::nats

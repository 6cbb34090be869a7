// SPDX-License-Identifier: Apache-2.0
// Process: exit codes, usage errors, join with a time limit, is_alive, names, subclassing and
// argument copying. Every test forks real children and reaps them all.
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/process.hpp>
#include <string>
#include <thread>
#include <unistd.h>

using namespace shmbus;
using namespace std::chrono_literals;

namespace {

// A child that would otherwise sleep long is killed when the test leaves early, so that the
// Process destructor (which joins) never waits long.
class KillOnScopeExit {
public:
    explicit KillOnScopeExit(Process& process) : m_process(process) {}
    ~KillOnScopeExit() {
        try {
            if (m_process.is_alive())
                m_process.kill();
        } catch (...) {
        }
    }
    KillOnScopeExit(const KillOnScopeExit&) = delete;
    KillOnScopeExit& operator=(const KillOnScopeExit&) = delete;

private:
    Process& m_process;
};

void sleep_for_a_while() {
    std::this_thread::sleep_for(30s);
}

std::optional<int> run_to_end(Process& process) {
    process.start();
    process.join();
    return process.exitcode();
}

// N for a name "Process-N", else nullopt. (No std::regex: g++ 12 with ASan warns inside it.)
std::optional<int> default_name_number(const std::string& name) {
    const std::string prefix = "Process-";
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
        return std::nullopt;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9)
        return std::nullopt;
    return std::stoi(digits);
}

} // namespace

TEST(Process, exit_code_is_zero_when_the_target_returns) {
    Process process([] {});
    EXPECT_EQ(run_to_end(process), 0);
}

TEST(Process, shmbus_exit_sets_the_exit_code) {
    Process process([] { shmbus::exit(7); });
    EXPECT_EQ(run_to_end(process), 7);
}

TEST(Process, uncaught_exception_gives_exit_code_one) {
    Process process([] {
        ::close(2); // keep the test log clean; the message is checked in the multiprocess suite
        throw std::runtime_error("expected failure");
    });
    EXPECT_EQ(run_to_end(process), 1);
}

TEST(Process, kill_gives_minus_sigkill) {
    Process process(sleep_for_a_while);
    KillOnScopeExit guard(process);
    process.start();
    process.kill();
    process.join();
    EXPECT_EQ(process.exitcode(), -9);
}

TEST(Process, terminate_gives_minus_sigterm) {
    Process process(sleep_for_a_while);
    KillOnScopeExit guard(process);
    process.start();
    process.terminate();
    process.join();
    EXPECT_EQ(process.exitcode(), -15);
    EXPECT_NO_THROW(process.terminate()); // reaped: nothing to signal, no error
    EXPECT_NO_THROW(process.kill());
}

TEST(Process, usage_errors) {
    Process never_started([] {});
    EXPECT_THROW(never_started.join(), UsageError);
    EXPECT_THROW((void)never_started.join_for(10ms), UsageError);
    EXPECT_THROW((void)never_started.try_join(), UsageError);
    EXPECT_THROW((void)never_started.join_until(std::chrono::steady_clock::now()), UsageError);
    EXPECT_THROW(never_started.terminate(), UsageError);
    EXPECT_THROW(never_started.kill(), UsageError);

    Process process([] {});
    process.start();
    EXPECT_THROW(process.start(), UsageError);
    EXPECT_THROW(process.set_daemon(true), UsageError);
    process.join();
    EXPECT_THROW(process.start(), UsageError);
    EXPECT_EQ(process.exitcode(), 0);
}

TEST(Process, join_with_timeout_returns_false_then_true) {
    Process process([] { std::this_thread::sleep_for(500ms); });
    KillOnScopeExit guard(process);
    process.start();
    const auto before = std::chrono::steady_clock::now();
    EXPECT_FALSE(process.try_join());
    EXPECT_FALSE(process.join_for(50ms));
    EXPECT_GE(std::chrono::steady_clock::now() - before, 50ms);
    EXPECT_EQ(process.exitcode(), std::nullopt);
    EXPECT_TRUE(process.join_for(30s));
    EXPECT_EQ(process.exitcode(), 0);
    EXPECT_TRUE(process.join_for(0ms)); // already reaped
    EXPECT_TRUE(process.try_join());
}

TEST(Process, join_until_accepts_any_clock) {
    Process process([] { std::this_thread::sleep_for(300ms); });
    KillOnScopeExit guard(process);
    process.start();
    const auto before = std::chrono::steady_clock::now();
    EXPECT_FALSE(process.join_until(std::chrono::system_clock::now() + 30ms));
    EXPECT_GE(std::chrono::steady_clock::now() - before, 25ms); // system_clock may step
    EXPECT_FALSE(process.join_until(std::chrono::steady_clock::now() - 1s)); // try once
    EXPECT_TRUE(process.join_until(std::chrono::steady_clock::now() + 30s));
    EXPECT_EQ(process.exitcode(), 0);
}

TEST(Process, is_alive_pid_and_exitcode_transitions) {
    Process process([] { std::this_thread::sleep_for(200ms); });
    KillOnScopeExit guard(process);
    EXPECT_FALSE(process.is_alive());
    EXPECT_EQ(process.pid(), 0);
    EXPECT_EQ(process.parent_pid(), std::nullopt);
    EXPECT_EQ(process.exitcode(), std::nullopt);
    process.start();
    EXPECT_GT(process.pid(), 0);
    EXPECT_NE(process.pid(), ::getpid());
    EXPECT_EQ(process.parent_pid(), ::getpid());
    EXPECT_TRUE(process.is_alive());
    EXPECT_EQ(process.exitcode(), std::nullopt);
    process.join();
    EXPECT_FALSE(process.is_alive());
    EXPECT_EQ(process.exitcode(), 0);
}

TEST(Process, is_alive_reaps_a_child_that_ended) {
    Process process([] { shmbus::exit(3); });
    process.start();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (process.is_alive() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(process.is_alive());
    EXPECT_EQ(process.exitcode(), 3);
}

TEST(Process, default_names_count_up_and_can_be_changed) {
    Process first;
    Process second([] {});
    const std::optional<int> first_number = default_name_number(first.name());
    const std::optional<int> second_number = default_name_number(second.name());
    ASSERT_TRUE(first_number) << first.name();
    ASSERT_TRUE(second_number) << second.name();
    EXPECT_EQ(*second_number, *first_number + 1);

    second.set_name("worker");
    EXPECT_EQ(second.name(), "worker");
    EXPECT_EQ(current_process().name, "MainProcess");
    EXPECT_EQ(current_process().pid, ::getpid());
}

TEST(Process, child_sees_its_name_and_pid) {
    Process process([] {
        const ProcessInfo self = current_process();
        shmbus::exit(self.name == "custom-name" && self.pid == ::getpid() ? 0 : 3);
    });
    process.set_name("custom-name");
    EXPECT_EQ(run_to_end(process), 0);
    EXPECT_EQ(current_process().name, "MainProcess");
}

namespace {

class Doubler : public Process {
public:
    explicit Doubler(int value) : m_value(value) {}
    int doubled() const { return 2 * m_value; } // an ordinary method, called in the parent

protected:
    void run() override {
        // Inside the child, the object describes the child itself.
        if (!is_alive() || pid() != ::getpid())
            shmbus::exit(100);
        shmbus::exit(doubled());
    }

private:
    int m_value;
};

} // namespace

TEST(Process, subclass_overrides_run) {
    Doubler doubler(21);
    EXPECT_EQ(doubler.doubled(), 42);
    EXPECT_EQ(run_to_end(doubler), 42);
}

TEST(Process, default_constructed_process_runs_nothing) {
    Process process;
    EXPECT_EQ(run_to_end(process), 0);
}

TEST(Process, arguments_and_captures_are_copied) {
    std::string text = "abc";
    int number = 5;
    Process by_value(
        [](const std::string& s, int n) { shmbus::exit(s == "abc" && n == 5 ? 0 : 3); }, text,
        number);
    text = "changed";
    number = 6;
    EXPECT_EQ(run_to_end(by_value), 0);

    int counter = 10;
    Process by_reference([&counter] {
        ++counter; // the child's copy of memory: the parent never sees it
        shmbus::exit(counter);
    });
    EXPECT_EQ(run_to_end(by_reference), 11);
    EXPECT_EQ(counter, 10);
}

TEST(Process, move_only_callables_and_arguments) {
    auto owned = std::make_unique<int>(9);
    Process process([](std::unique_ptr<int>& value) { shmbus::exit(*value); }, std::move(owned));
    EXPECT_EQ(run_to_end(process), 9);
}

TEST(Process, free_function_with_arguments) {
    struct Add {
        static void run(int a, int b) { shmbus::exit(a + b); }
    };
    Process process(&Add::run, 2, 3);
    EXPECT_EQ(run_to_end(process), 5);
}

TEST(Process, cpu_count_is_positive) {
    EXPECT_GE(cpu_count(), 1U);
}

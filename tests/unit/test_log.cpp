// SPDX-License-Identifier: Apache-2.0
// The log hook: the library's own messages (a child's uncaught exception, a Pool callback that
// throws) reach the handler set with set_log_handler, in a forked child too; an empty handler
// restores stderr.
#include <gtest/gtest.h>
#include <mutex>
#include <shmbus/log.hpp>
#include <shmbus/pool.hpp>
#include <shmbus/process.hpp>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace shmbus;

namespace {

// Restores the default handler whatever the test did.
class Log : public testing::Test {
protected:
    void TearDown() override { set_log_handler({}); }
};

// Everything written to a pipe's write end so far, once that end is closed.
std::string drain(int read_fd) {
    std::string text;
    char buffer[512];
    ssize_t n = 0;
    while ((n = read(read_fd, buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<std::size_t>(n));
    return text;
}

} // namespace

TEST_F(Log, a_child_uncaught_exception_reaches_the_handler_set_before_the_fork) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    set_log_handler([write_fd = fds[1]](LogLevel level, std::string_view message) {
        const std::string line =
            (level == LogLevel::error ? "error|" : "warning|") + std::string(message) + "\n";
        (void)!write(write_fd, line.data(), line.size());
    });
    Process process([] { throw std::runtime_error("routed"); });
    process.set_name("thrower");
    process.start();
    process.join();
    close(fds[1]);
    const std::string logged = drain(fds[0]);
    close(fds[0]);
    EXPECT_EQ(process.exitcode(), 1);
    EXPECT_NE(logged.find("error|Process thrower:\n"), std::string::npos) << logged;
    EXPECT_NE(logged.find("routed"), std::string::npos) << logged;
}

TEST_F(Log, a_pool_callback_that_throws_is_logged_as_a_warning) {
    std::mutex mutex;
    std::vector<std::string> warnings;
    set_log_handler([&](LogLevel level, std::string_view message) {
        const std::lock_guard lock(mutex);
        if (level == LogLevel::warning)
            warnings.emplace_back(message);
    });
    Pool pool(1);
    auto result = pool.apply_async_with([](int) { throw std::runtime_error("callback failed"); },
                                        nullptr, [](int x) { return x * x; }, 3);
    EXPECT_EQ(result.get(), 9);
    pool.close();
    pool.join();
    const std::lock_guard lock(mutex);
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0], "shmbus Pool: a callback raised: callback failed");
}

TEST_F(Log, the_default_and_an_emptied_handler_write_the_message_to_stderr) {
    set_log_handler([](LogLevel, std::string_view) {});
    set_log_handler({});
    testing::internal::CaptureStderr();
    detail::log(LogLevel::warning, "prefix: ", "message");
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "prefix: message\n");
}

TEST_F(Log, a_handler_that_throws_loses_its_message_and_nothing_else) {
    set_log_handler([](LogLevel, std::string_view) { throw std::runtime_error("handler"); });
    EXPECT_NO_THROW(detail::log(LogLevel::error, "dropped"));
}

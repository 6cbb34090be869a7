// SPDX-License-Identifier: Apache-2.0
#include "support/harness.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <gtest/gtest.h>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace shmbus::test {

std::string unique_name(std::string_view prefix) {
    static std::atomic<int> counter{0};
    // relaxed is enough: only uniqueness within this process matters.
    return std::string(prefix) + "-" + std::to_string(getpid()) + "-" +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

ScopedSegment::ScopedSegment(std::size_t size)
    : m_name(unique_name()), m_segment(Segment::create(m_name, size)) {}

ScopedSegment::~ScopedSegment() {
    Segment::unlink(m_name);
}

UnlinkOnExit::~UnlinkOnExit() {
    try {
        Segment::unlink(m_name);
    } catch (...) {
    }
}

Child::Child(const std::function<void()>& body, std::chrono::seconds watchdog) {
    std::fflush(nullptr);
    std::cout.flush();
    m_pid = ::fork();
    if (m_pid < 0)
        throw std::runtime_error("fork failed");
    if (m_pid != 0)
        return;
    alarm(static_cast<unsigned>(watchdog.count()));
    int code = 0;
    try {
        body();
        // A failed EXPECT or ASSERT in the body is recorded in this process only: it must
        // reach the parent through the exit code.
        if (::testing::Test::HasFailure())
            code = 1;
    } catch (const std::exception& e) {
        std::cerr << "child " << getpid() << ": " << e.what() << std::endl;
        code = 1;
    } catch (...) {
        std::cerr << "child " << getpid() << ": unknown exception" << std::endl;
        code = 1;
    }
    std::fflush(nullptr);
    _exit(code);
}

Child::Child(Child&& other) noexcept
    : m_pid(other.m_pid), m_reaped(other.m_reaped), m_status(other.m_status) {
    other.m_reaped = true;
}

Child::~Child() {
    if (m_reaped)
        return;
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, &m_status, 0);
}

int Child::wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_reaped) {
        const pid_t rc = ::waitpid(m_pid, &m_status, WNOHANG);
        if (rc == m_pid) {
            m_reaped = true;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(SIGKILL);
            ::waitpid(m_pid, &m_status, 0);
            m_reaped = true;
            return kTimedOut;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (WIFEXITED(m_status))
        return WEXITSTATUS(m_status);
    return -WTERMSIG(m_status);
}

void Child::kill(int signal) {
    if (!m_reaped)
        ::kill(m_pid, signal);
}

std::vector<int> run_children(int count, const std::function<void(int)>& body,
                              std::chrono::milliseconds timeout) {
    std::vector<Child> children;
    children.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i)
        children.emplace_back([&body, i] { body(i); });
    std::vector<int> codes;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (Child& child : children) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        codes.push_back(child.wait(std::max(left, std::chrono::milliseconds(1))));
    }
    return codes;
}

bool mapped_from(const void* address, const std::string& name) {
    std::ifstream maps("/proc/self/maps");
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    for (std::string line; std::getline(maps, line);) {
        if (line.find(name) == std::string::npos)
            continue;
        std::istringstream fields(line);
        std::uintptr_t begin = 0;
        std::uintptr_t end = 0;
        char dash = 0;
        fields >> std::hex >> begin >> dash >> end;
        if (at >= begin && at < end)
            return true;
    }
    return false;
}

} // namespace shmbus::test

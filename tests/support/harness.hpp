// SPDX-License-Identifier: Apache-2.0
// Test harness: uniquely named segments that are unlinked however a test ends, and forked
// children that are always reaped (killed first when still running).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <shmbus/detail/object.hpp>
#include <shmbus/segment.hpp>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace shmbus::test {

/// "<prefix>-<pid>-<counter>": unique across processes and calls.
std::string unique_name(std::string_view prefix = "shmbus-test");

/// True when `address` lies in this process's mapping of a file whose path contains `name`
/// (/proc/self/maps): a zero-copy view really points into the segment.
bool mapped_from(const void* address, const std::string& name);

/// A fresh named segment, unlinked by the destructor.
class ScopedSegment {
public:
    explicit ScopedSegment(std::size_t size = std::size_t{8} << 20);
    ~ScopedSegment();
    ScopedSegment(const ScopedSegment&) = delete;
    ScopedSegment& operator=(const ScopedSegment&) = delete;

    Segment& operator*() { return m_segment; }
    Segment* operator->() { return &m_segment; }
    const std::string& name() const { return m_name; }

private:
    std::string m_name;
    Segment m_segment;
};

/// Unlinks a segment name when the scope ends (for segments a test creates by name).
class UnlinkOnExit {
public:
    explicit UnlinkOnExit(std::string name) : m_name(std::move(name)) {}
    ~UnlinkOnExit();
    UnlinkOnExit(const UnlinkOnExit&) = delete;
    UnlinkOnExit& operator=(const UnlinkOnExit&) = delete;

private:
    std::string m_name;
};

/// A forked child that runs `body`. Its exit code is 0 when body returns and 1 when it throws
/// (what() goes to stderr) or an EXPECT or ASSERT in it failed. A watchdog alarm kills a child
/// that hangs. The destructor kills and reaps a child that was not waited for.
class Child {
public:
    static constexpr int kTimedOut = -1000;

    explicit Child(const std::function<void()>& body,
                   std::chrono::seconds watchdog = std::chrono::seconds(60));
    ~Child();
    Child(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child& operator=(Child&&) = delete;

    pid_t pid() const { return m_pid; }
    /// The exit code, -signal when killed by a signal, or kTimedOut (the child is then killed).
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    void kill(int signal);

private:
    pid_t m_pid;
    bool m_reaped = false;
    int m_status = 0;
};

/// Polls `pred` every millisecond until it holds (true) or `timeout` passes (false): for
/// waiting on another process without a timing assert.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

/// The shared state of an existing object, for tests that look at or forge what other
/// processes see.
template <class State>
State& state_of(const Segment& segment, std::string_view name, ObjectKind kind,
                std::uint64_t tag = 0) {
    const auto ref =
        detail::attach_object(segment, name, {kind, sizeof(State), alignof(State), tag},
                              detail::OpenMode::open, [](void*) {});
    return ref.template state<State>();
}

/// Forks `count` children running body(index) and waits for them all; returns exit codes.
std::vector<int> run_children(int count, const std::function<void(int)>& body,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace shmbus::test

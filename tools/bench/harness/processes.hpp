// SPDX-License-Identifier: Apache-2.0
// Processes for cross-process measurements: a forked peer that is always reaped, CPU pinning
// that is undone afterwards, and anonymous MAP_SHARED memory that fork() shares.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <sched.h>
#include <span>
#include <string>
#include <sys/types.h>

namespace shmbus::bench {

/// CPUs this process may run on when the run starts.
int usable_cpus();

/// Pins the calling thread to one CPU for its lifetime and restores the previous affinity
/// afterwards (so that processes started later, Python's workers say, are not confined).
class CpuPin {
public:
    /// Does nothing when fewer than two CPUs are usable or `enabled` is false.
    CpuPin(int cpu_index, bool enabled);
    ~CpuPin();
    CpuPin(const CpuPin&) = delete;
    CpuPin& operator=(const CpuPin&) = delete;
    bool pinned() const { return m_saved.has_value(); }

private:
    std::optional<cpu_set_t> m_saved;
};

/// A forked process running `body` pinned to the second CPU (the caller should hold the
/// first). It exits 0 when body returns, 1 when it throws (what() on stderr). The destructor
/// kills and reaps a child nobody waited for.
class Peer {
public:
    Peer(const std::function<void()>& body, bool pin);
    ~Peer();
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    /// Waits for the exit; true when it exited 0.
    bool join();
    pid_t pid() const { return m_pid; }

private:
    pid_t m_pid;
    bool m_reaped = false;
};

/// Anonymous shared memory, zero-filled, unmapped by the destructor; shared with forked
/// children.
class SharedMemory {
public:
    explicit SharedMemory(std::size_t bytes);
    ~SharedMemory();
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    void* data() const { return m_data; }
    std::size_t size() const { return m_size; }

private:
    void* m_data;
    std::size_t m_size;
};

/// Page-aligned private bytes, zero-filled. The harness keeps every message buffer at the
/// start of a page, so that where a copy's source and destination fall relative to each other
/// (the 4 KiB aliasing that slows `rep movsb`) depends on the mechanism's layout, not on malloc.
class AlignedBytes {
public:
    explicit AlignedBytes(std::size_t bytes);
    std::byte* data() const { return m_data.get(); }
    std::size_t size() const { return m_size; }
    std::span<std::byte> span() const { return {m_data.get(), m_size}; }

private:
    struct Free {
        void operator()(std::byte* bytes) const;
    };
    std::unique_ptr<std::byte[], Free> m_data;
    std::size_t m_size;
};

/// Runs `command` through the shell and returns its standard output; throws when it cannot
/// start or exits non-zero.
std::string run_command(const std::string& command);

/// A command run through the shell with pipes for its standard input and output, for a
/// protocol of one line each way. The destructor closes its input (the command's cue to end)
/// and reaps it.
class LineChild {
public:
    explicit LineChild(const std::string& command);
    ~LineChild();
    LineChild(const LineChild&) = delete;
    LineChild& operator=(const LineChild&) = delete;

    /// Writes `line` and a newline to its input; throws when it stopped reading.
    void write_line(const std::string& line);
    /// Its next line of output without the newline; throws when its output ended.
    std::string read_line();

private:
    pid_t m_pid;
    int m_input;
    std::FILE* m_output;
};

/// `text` in single quotes for the shell.
std::string shell_quote(const std::string& text);

} // namespace shmbus::bench

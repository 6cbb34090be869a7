// SPDX-License-Identifier: Apache-2.0
#include "processes.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <new>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace shmbus::bench {
namespace {

cpu_set_t current_affinity() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
    return set;
}

/// The index-th CPU of the affinity mask (wrapping around).
std::optional<int> nth_allowed_cpu(const cpu_set_t& set, int index) {
    const int allowed = CPU_COUNT(&set);
    if (allowed == 0)
        return std::nullopt;
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set) && seen++ == index % allowed)
            return cpu;
    return std::nullopt;
}

/// The affinity the process had at its first pin: a forked peer inherits its parent's pin, so
/// both choose their CPU from this set, not from the current one.
const cpu_set_t& run_affinity() {
    static const cpu_set_t set = current_affinity();
    return set;
}

} // namespace

int usable_cpus() {
    return CPU_COUNT(&run_affinity());
}

CpuPin::CpuPin(int cpu_index, bool enabled) {
    if (!enabled || usable_cpus() < 2)
        return;
    const cpu_set_t saved = current_affinity();
    const std::optional<int> cpu = nth_allowed_cpu(run_affinity(), cpu_index);
    if (!cpu)
        return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(*cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0)
        m_saved = saved;
}

CpuPin::~CpuPin() {
    if (m_saved)
        sched_setaffinity(0, sizeof *m_saved, &*m_saved);
}

Peer::Peer(const std::function<void()>& body, bool pin) {
    std::fflush(nullptr); // the child must not flush the parent's buffered output again
    m_pid = fork();
    if (m_pid < 0)
        throw std::system_error(errno, std::generic_category(), "fork");
    if (m_pid != 0)
        return;
    int code = 0;
    try {
        CpuPin cpu(1, pin);
        body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench peer: %s\n", e.what());
        code = 1;
    }
    _exit(code);
}

Peer::~Peer() {
    if (m_reaped)
        return;
    kill(m_pid, SIGKILL);
    waitpid(m_pid, nullptr, 0);
}

bool Peer::join() {
    int status = 0;
    while (waitpid(m_pid, &status, 0) < 0)
        if (errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "waitpid");
    m_reaped = true;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

SharedMemory::SharedMemory(std::size_t bytes)
    : m_data(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)),
      m_size(bytes) {
    if (m_data == MAP_FAILED)
        throw std::system_error(errno, std::generic_category(),
                                "mmap of " + std::to_string(bytes) + " bytes");
}

SharedMemory::~SharedMemory() {
    munmap(m_data, m_size);
}

namespace {

constexpr std::align_val_t kPage{4096};

} // namespace

AlignedBytes::AlignedBytes(std::size_t bytes)
    : m_data(new (kPage) std::byte[std::max<std::size_t>(bytes, 1)]()), m_size(bytes) {}

void AlignedBytes::Free::operator()(std::byte* bytes) const {
    ::operator delete[](bytes, kPage);
}

std::string run_command(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe)
        throw std::runtime_error("cannot run: " + command);
    std::string out;
    std::array<char, 4096> chunk;
    std::size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe.get())) > 0)
        out.append(chunk.data(), n);
    if (pclose(pipe.release()) != 0)
        throw std::runtime_error("failed: " + command);
    return out;
}

LineChild::LineChild(const std::string& command) {
    int input[2];
    int output[2];
    if (pipe2(input, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    if (pipe2(output, O_CLOEXEC) != 0) {
        const int error = errno;
        close(input[0]);
        close(input[1]);
        throw std::system_error(error, std::generic_category(), "pipe2");
    }
    m_pid = fork();
    if (m_pid < 0) {
        const int error = errno;
        for (int fd : {input[0], input[1], output[0], output[1]})
            close(fd);
        throw std::system_error(error, std::generic_category(), "fork");
    }
    if (m_pid == 0) {
        dup2(input[0], STDIN_FILENO);
        dup2(output[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(input[0]);
    close(output[1]);
    m_input = input[1];
    m_output = fdopen(output[0], "r");
    if (m_output == nullptr) {
        const int error = errno;
        close(m_input);
        close(output[0]);
        waitpid(m_pid, nullptr, 0);
        throw std::system_error(error, std::generic_category(), "fdopen");
    }
}

LineChild::~LineChild() {
    close(m_input);
    std::fclose(m_output);
    waitpid(m_pid, nullptr, 0);
}

void LineChild::write_line(const std::string& line) {
    const std::string text = line + "\n";
    // A child that died must not kill us with SIGPIPE: block it for the write and take a signal
    // the write raised before unblocking.
    sigset_t pipe_signal;
    sigset_t saved;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &saved);
    const ssize_t written = write(m_input, text.data(), text.size());
    const int error = errno;
    if (written < 0 && error == EPIPE) {
        const timespec none{};
        sigtimedwait(&pipe_signal, nullptr, &none);
    }
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    if (written != static_cast<ssize_t>(text.size()))
        throw std::system_error(error, std::generic_category(), "the child stopped reading");
}

std::string LineChild::read_line() {
    std::string line;
    for (int c = std::fgetc(m_output); c != '\n'; c = std::fgetc(m_output)) {
        if (c == EOF)
            throw std::runtime_error("the child's output ended");
        line += static_cast<char>(c);
    }
    return line;
}

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

} // namespace shmbus::bench

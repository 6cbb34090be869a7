// SPDX-License-Identifier: Apache-2.0
#include "os/liveness.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <pthread.h>
#include <sstream>
#include <string>
#include <unistd.h>

namespace shmbus::detail {
namespace {

ProcessIdentity g_self;
std::atomic<ForeignPidNamespaceProbe> g_foreign_probe{nullptr};

void refresh_self() {
    g_self.pid = static_cast<std::int32_t>(::getpid());
    g_self.start_time = process_start_time(g_self.pid).value_or(0);
}

void init_self() {
    refresh_self();
    // The child of a fork is a new process: its identity must be read again there.
    pthread_atfork(nullptr, nullptr, refresh_self);
}

} // namespace

const ProcessIdentity& self_identity() {
    static std::once_flag once;
    std::call_once(once, init_self);
    return g_self;
}

std::optional<std::uint64_t> process_start_time(std::int32_t pid) {
    if (pid <= 0)
        return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return std::nullopt;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so skip past the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X" || state == "x")
        return std::nullopt;
    // state is field 3; starttime is field 22, so 18 more fields lie between them.
    std::string skip;
    for (int field = 4; field < 22; ++field)
        fields >> skip;
    std::uint64_t start = 0;
    if (!(fields >> start))
        return std::nullopt;
    return start;
}

bool process_alive_here(std::int32_t pid, std::uint64_t start_time) {
    const auto actual = process_start_time(pid);
    return actual && (start_time == 0 || *actual == start_time);
}

bool process_alive(std::int32_t pid, std::uint64_t start_time) {
    return process_alive_here(pid, start_time) || foreign_pid_namespace_attached();
}

void set_foreign_pid_namespace_probe(ForeignPidNamespaceProbe probe) {
    // release/acquire: the probe is a plain function; nothing else is published with it.
    g_foreign_probe.store(probe, std::memory_order_release);
}

bool foreign_pid_namespace_attached() {
    // SYNC acquire: pairs with the release in set_foreign_pid_namespace_probe.
    const ForeignPidNamespaceProbe probe = g_foreign_probe.load(std::memory_order_acquire);
    return probe != nullptr && probe();
}

} // namespace shmbus::detail

// Whether a process is alive, told apart from a later process that reuses its pid by its start
// time (/proc/<pid>/stat field 22, clock ticks since boot). One check, shared by the library's
// stale-segment detection, dead-owner lock recovery and `shmbus gc`.
#pragma once

#include <cstdint>
#include <optional>

namespace shmbus::detail {

struct ProcessIdentity {
    std::int32_t pid = 0;
    std::uint64_t start_time = 0;
};

/// This process; cheap (no syscall), refreshed in the child after fork().
const ProcessIdentity& self_identity();

/// The start time of a running process; nullopt when there is none or it is a zombie.
std::optional<std::uint64_t> process_start_time(std::int32_t pid);

/// True when `pid` runs and (unless start_time is 0) started at `start_time`. A zombie counts
/// as dead: kill(pid, 0) would call an unreaped child alive and deadlock its parent.
bool process_alive(std::int32_t pid, std::uint64_t start_time);

} // namespace shmbus::detail

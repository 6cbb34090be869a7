// SPDX-License-Identifier: Apache-2.0
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
/// A pid recorded by a process in another PID namespace names another process here, or none:
/// while a process of another PID namespace is attached to a segment this process maps, a pid
/// not found alive here cannot be called dead, and this returns true (see
/// set_foreign_pid_namespace_probe).
bool process_alive(std::int32_t pid, std::uint64_t start_time);

/// True when `pid` runs here with that start time; no namespace caution. For the process's
/// own children and for display.
bool process_alive_here(std::int32_t pid, std::uint64_t start_time);

/// The check, run only when a recorded pid looks dead, of whether some process attached to a
/// mapped segment lives in another PID namespace. Registered by the mapping layer.
using ForeignPidNamespaceProbe = bool (*)();
void set_foreign_pid_namespace_probe(ForeignPidNamespaceProbe probe);
/// The registered probe's answer; false when none is registered.
bool foreign_pid_namespace_attached();

} // namespace shmbus::detail

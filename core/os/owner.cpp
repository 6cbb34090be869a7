// SPDX-License-Identifier: Apache-2.0
#include "os/owner.hpp"

#include "os/liveness.hpp"

#include <atomic>
#include <mutex>
#include <pthread.h>
#include <unistd.h>

namespace shmbus::detail {
namespace {

void register_fork_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        pthread_atfork(nullptr, nullptr, [] {
            // relaxed is enough: the child runs one thread when the handler runs.
            g_fork_generation.fetch_add(1, std::memory_order_relaxed);
            // relaxed is enough: as above.
            g_process_owner.store(kNoOwner, std::memory_order_relaxed);
        });
    });
}

OwnerId read_owner(std::int32_t tid) {
    return make_owner(tid, process_start_time(tid).value_or(0));
}

} // namespace

std::atomic<std::uint32_t> g_fork_generation{1};

OwnerId refresh_thread_owner() {
    register_fork_handler();
    // relaxed is enough: the generation only changes in a single-threaded fork child, after
    // the handler is registered.
    const std::uint32_t now = g_fork_generation.load(std::memory_order_relaxed);
    t_thread_owner = {now, read_owner(static_cast<std::int32_t>(::gettid()))};
    return t_thread_owner.owner;
}

std::atomic<OwnerId> g_process_owner{kNoOwner};

OwnerId refresh_process_owner() {
    // Registered before the word is cached, so that a later fork clears it.
    register_fork_handler();
    const ProcessIdentity& self = self_identity();
    const OwnerId owner = make_owner(self.pid, self.start_time);
    // relaxed is enough: every thread that computes the word computes the same value.
    g_process_owner.store(owner, std::memory_order_relaxed);
    return owner;
}

bool owner_alive(OwnerId owner) {
    if (owner == kNoOwner)
        return false;
    const auto start = process_start_time(owner_tid(owner));
    // An owner not found here may be a thread of another PID namespace: never call it dead.
    return (start && (*start & kOwnerTimeMask) == (owner & kOwnerTimeMask)) ||
           foreign_pid_namespace_attached();
}

} // namespace shmbus::detail

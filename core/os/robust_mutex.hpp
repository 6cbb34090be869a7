// SPDX-License-Identifier: Apache-2.0
// A process-shared, robust pthread mutex. The kernel walks a dead thread's robust list, so the
// next locker gets EOWNERDEAD within ~1 ms of the owner's death (docs/design/crash-recovery.md).
// Only the owner may unlock, which suits RLock and internal guards but not Python's Lock.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/wait.hpp"

#include <pthread.h>

namespace shmbus::detail {

class RobustMutex {
public:
    /// Placement-initialise in shared memory; call once, from the object's creator.
    /// `error_check`: a relock by the holding thread is UsageError instead of a deadlock.
    void init(bool error_check = false);
    /// Locks before the deadline; CorruptSegment when the kind word is not one init() writes.
    /// owner_died: the previous owner died holding it; the mutex has been made consistent and
    /// the caller should repair what it guards.
    AcquireResult lock_until(Deadline deadline);
    /// False when the caller does not own it (EPERM) or the kind word was forged.
    bool unlock();

private:
    int timed_lock(Deadline deadline);
    pthread_mutex_t m_mutex;
};

/// Holds a RobustMutex for a scope; throws Timeout when it cannot be had by the deadline.
class RobustGuard {
public:
    RobustGuard(RobustMutex& mutex, Deadline deadline);
    ~RobustGuard() { m_mutex.unlock(); }
    RobustGuard(const RobustGuard&) = delete;
    RobustGuard& operator=(const RobustGuard&) = delete;
    bool owner_died() const { return m_owner_died; }

private:
    RobustMutex& m_mutex;
    bool m_owner_died;
};

} // namespace shmbus::detail

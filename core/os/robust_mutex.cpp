// SPDX-License-Identifier: Apache-2.0
#include "os/robust_mutex.hpp"

#include "shmbus/errors.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace shmbus::detail {
namespace {

void check(int rc, const char* what) {
    if (rc != 0)
        throw SystemError(std::string(what) + ": " + std::strerror(rc));
}

pthread_mutexattr_t make_attr(bool error_check) {
    pthread_mutexattr_t attr;
    check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
    if (error_check)
        check(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK), "settype");
    check(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "setpshared");
    check(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
    return attr;
}

// glibc's kind word as pthread_mutex_init writes it for these attributes.
int kind_written_by_init(bool error_check) {
    pthread_mutexattr_t attr = make_attr(error_check);
    pthread_mutex_t probe;
    check(pthread_mutex_init(&probe, &attr), "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);
    const int kind = probe.__data.__kind;
    pthread_mutex_destroy(&probe);
    return kind;
}

// glibc trusts the kind word: a forged one selects the priority-protect or priority-inherit
// paths, which abort on an assertion or call into the scheduler. Accept only our two kinds.
bool has_our_kind(const pthread_mutex_t& mutex) {
    static const int plain = kind_written_by_init(false);
    static const int error_check = kind_written_by_init(true);
    // Relaxed: init() wrote it before the object was published; glibc reads it the same way.
    const int kind = __atomic_load_n(&mutex.__data.__kind, __ATOMIC_RELAXED);
    return kind == plain || kind == error_check;
}

timespec to_timespec(std::chrono::nanoseconds since_epoch) {
    return timespec{static_cast<time_t>(since_epoch.count() / 1'000'000'000),
                    static_cast<long>(since_epoch.count() % 1'000'000'000)};
}

} // namespace

int RobustMutex::timed_lock(Deadline deadline) {
#if defined(__SANITIZE_THREAD__)
    // gcc 12's TSan does not intercept pthread_mutex_clocklock, so it would report every
    // later unlock as an unlock of an unlocked mutex. Under TSan only, take the intercepted
    // CLOCK_REALTIME form, converting the steady deadline (a clock jump skews one wait).
    const auto realtime = std::chrono::system_clock::now().time_since_epoch() +
                          (deadline.when() - Deadline::Clock::now());
    const timespec abs =
        to_timespec(std::chrono::duration_cast<std::chrono::nanoseconds>(realtime));
    const int rc = pthread_mutex_timedlock(&m_mutex, &abs);
    // Its timedlock interceptor records the lock only on 0 (trylock's also on EOWNERDEAD), so
    // a lock recovered from a dead owner would make our unlock read as a misuse: record it.
    if (rc == EOWNERDEAD) {
        __tsan_mutex_pre_lock(&m_mutex, __tsan_mutex_try_lock);
        __tsan_mutex_post_lock(&m_mutex, __tsan_mutex_try_lock, 0);
    }
    return rc;
#else
    const timespec abs = to_timespec(deadline.when().time_since_epoch());
    return pthread_mutex_clocklock(&m_mutex, CLOCK_MONOTONIC, &abs);
#endif
}

void RobustMutex::init(bool error_check) {
    pthread_mutexattr_t attr = make_attr(error_check);
    check(pthread_mutex_init(&m_mutex, &attr), "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);
}

AcquireResult RobustMutex::lock_until(Deadline deadline) {
    if (!has_our_kind(m_mutex))
        throw CorruptSegment("mutex in shared memory has a kind shmbus never creates");
    int rc = 0;
    if (deadline.is_never()) {
        rc = pthread_mutex_lock(&m_mutex);
    } else if (deadline.expired()) {
        rc = pthread_mutex_trylock(&m_mutex);
    } else {
        rc = timed_lock(deadline);
    }
    switch (rc) {
    case 0:
        return {true, false};
    case EOWNERDEAD:
        // Without consistent() the next unlock would leave the mutex ENOTRECOVERABLE forever.
        pthread_mutex_consistent(&m_mutex);
        return {true, true};
    case EBUSY:
    case ETIMEDOUT:
        return {false, false};
    case ENOTRECOVERABLE:
        throw CorruptSegment("robust mutex is not recoverable (a previous owner died and it "
                             "was released without being made consistent)");
    case EDEADLK:
        throw UsageError("mutex already held by this thread");
    default:
        throw CorruptSegment(std::string("mutex in shared memory is invalid: ") +
                             std::strerror(rc));
    }
}

bool RobustMutex::unlock() {
    return has_our_kind(m_mutex) && pthread_mutex_unlock(&m_mutex) == 0;
}

RobustGuard::RobustGuard(RobustMutex& mutex, Deadline deadline) : m_mutex(mutex) {
    const AcquireResult result = mutex.lock_until(deadline);
    if (!result)
        throw Timeout("timed out waiting for a segment-internal lock");
    m_owner_died = result.owner_died;
}

} // namespace shmbus::detail

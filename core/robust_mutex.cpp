#include "detail/robust_mutex.hpp"

#include "shmbus/errors.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

namespace shmbus::detail {
namespace {

void check(int rc, const char* what) {
    if (rc != 0)
        throw SystemError(std::string(what) + ": " + std::strerror(rc));
}

timespec to_timespec(Deadline::Clock::time_point when) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
    return timespec{static_cast<time_t>(ns.count() / 1'000'000'000),
                    static_cast<long>(ns.count() % 1'000'000'000)};
}

} // namespace

int RobustMutex::timed_lock(Deadline deadline) {
#if defined(__SANITIZE_THREAD__)
    // gcc 12's TSan does not intercept pthread_mutex_clocklock, so it would report every
    // later unlock as an unlock of an unlocked mutex. Under TSan only, take the intercepted
    // CLOCK_REALTIME form, converting the steady deadline (a clock jump skews one wait).
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const auto left = deadline.when() - Deadline::Clock::now();
    const auto abs_ns = std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec) +
                        std::chrono::duration_cast<std::chrono::nanoseconds>(left);
    const timespec abs{static_cast<time_t>(abs_ns.count() / 1'000'000'000),
                       static_cast<long>(abs_ns.count() % 1'000'000'000)};
    return pthread_mutex_timedlock(&m_mutex, &abs);
#else
    const timespec abs = to_timespec(deadline.when());
    return pthread_mutex_clocklock(&m_mutex, CLOCK_MONOTONIC, &abs);
#endif
}

void RobustMutex::init() {
    pthread_mutexattr_t attr;
    check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
    check(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "setpshared");
    check(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
    check(pthread_mutex_init(&m_mutex, &attr), "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);
}

AcquireResult RobustMutex::lock_until(Deadline deadline) {
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

bool RobustMutex::unlock() { return pthread_mutex_unlock(&m_mutex) == 0; }

RobustGuard::RobustGuard(RobustMutex& mutex, Deadline deadline) : m_mutex(mutex) {
    const AcquireResult result = mutex.lock_until(deadline);
    if (!result)
        throw Timeout("timed out waiting for a segment-internal lock");
    m_owner_died = result.owner_died;
}

} // namespace shmbus::detail

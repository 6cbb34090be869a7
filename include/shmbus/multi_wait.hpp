// SPDX-License-Identifier: Apache-2.0
/// @file
/// shmbus::wait: Python's multiprocessing.connection.wait(object_list, timeout). One call
/// blocks until any of several objects is ready and returns the ready ones: Connections and
/// Queues (readable), Events (set), Semaphores (value above 0), Process sentinels (ended) and
/// file descriptors (ReadableFd: readable).
/// It parks on all their futex words at once (futex_waitv), so it neither spins nor starts a
/// thread per object (docs/design/parking.md, "Waiting on many objects").
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/export.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmbus {

/// One object handed to shmbus::wait, made implicitly from a Connection, a Queue, SimpleQueue
/// or JoinableQueue, an Event, a Semaphore or BoundedSemaphore, a Process::sentinel(), or a
/// ReadableFd. It
/// refers to the object: the object must outlive the wait call. The handles wait() returns
/// compare equal (==) to the objects that are ready, as Python's wait returns the objects.
class Waitable {
public:
    /// Wraps anything that describes itself for wait() (its wait_target()).
    template <class T>
    requires(!std::same_as<std::remove_cvref_t<T>, Waitable>) && requires(T& object) {
        { object.wait_target() } -> std::same_as<detail::WaitTarget>;
    }
    Waitable(T&& object) // NOLINT(google-explicit-constructor): wait({queue, event}) reads best
        : m_target(object.wait_target()) {}

    /// Where this object stood in the list given to wait() (0 for one made by hand).
    std::size_t index() const { return m_index; }
    /// The same object, whichever handle or process view each side was made from.
    friend bool operator==(const Waitable& a, const Waitable& b) {
        return a.m_target.identity == b.m_target.identity && a.m_target.fd == b.m_target.fd;
    }
    /// How the object takes part in a wait (internal: the futex word, readiness test, ...).
    const detail::WaitTarget& target() const { return m_target; }
    /// A copy placed at `index` of a wait list.
    Waitable at_index(std::size_t index) const {
        Waitable copy = *this;
        copy.m_index = index;
        return copy;
    }

private:
    detail::WaitTarget m_target;
    std::size_t m_index = 0;
};

/// A file descriptor for shmbus::wait (Python's wait takes ints and objects with fileno()):
/// ready once poll(2) reports it readable, or at its end of file, hang-up or error (a pipe
/// whose writers closed, a socket with a connection to accept). It does not own the descriptor,
/// which must stay open for the wait; wait() raises UsageError for one that is not open.
class SHMBUS_EXPORT ReadableFd {
public:
    /// UsageError when `fd` is not an open descriptor.
    explicit ReadableFd(int fd);
    /// The descriptor waited for.
    int fd() const { return m_fd; }
    /// How shmbus::wait waits for it: the watcher thread of parking.md's "Process sentinels".
    detail::WaitTarget wait_target() const;

private:
    int m_fd;
};

namespace detail {

/// The ready objects among `objects` (in list order), once at least one is ready or the
/// deadline passed (then none).
SHMBUS_EXPORT std::vector<Waitable> wait_ready(std::span<const Waitable> objects, Deadline deadline,
                                               const WaitOptions& options);

} // namespace detail

/// Blocks until at least one object is ready; returns the ready ones in list order. Python's
/// wait(object_list) with timeout None. `options` chooses spin, park or both (hybrid, the
/// default: spin 20 us over the objects, then park on all of them). Readiness: a Connection
/// has a message or its peer end is closed (or its sending process died); a Queue has a
/// message or is closed and drained; an Event is set; a Semaphore's value is above 0 (wait
/// does not acquire it: another process may take the unit first); a sentinel's process ended;
/// a ReadableFd is readable.
/// Every answer may be stale by the time the caller acts on it, as in Python.
[[nodiscard]] inline std::vector<Waitable> wait(std::span<const Waitable> objects,
                                                const WaitOptions& options = {}) {
    return detail::wait_ready(objects, detail::Deadline::never(), options);
}
/// wait() of a braced list: `shmbus::wait({conn, queue, p.sentinel()})`.
[[nodiscard]] inline std::vector<Waitable> wait(std::initializer_list<Waitable> objects,
                                                const WaitOptions& options = {}) {
    return wait(std::span<const Waitable>(objects.begin(), objects.size()), options);
}

/// wait() for at most `timeout`: Python's wait(object_list, timeout). Empty when none became
/// ready in time; a zero or negative timeout only looks (a poll).
template <class Rep, class Period>
[[nodiscard]] std::vector<Waitable> wait_for(std::span<const Waitable> objects,
                                             std::chrono::duration<Rep, Period> timeout,
                                             const WaitOptions& options = {}) {
    return detail::wait_ready(objects, detail::Deadline::after(timeout), options);
}
/// wait_for() of a braced list.
template <class Rep, class Period>
[[nodiscard]] std::vector<Waitable> wait_for(std::initializer_list<Waitable> objects,
                                             std::chrono::duration<Rep, Period> timeout,
                                             const WaitOptions& options = {}) {
    return wait_for(std::span<const Waitable>(objects.begin(), objects.size()), timeout, options);
}

/// wait() until `deadline` (any clock); empty when none became ready by then; a deadline in
/// the past only looks.
template <class Clock, class Duration>
[[nodiscard]] std::vector<Waitable> wait_until(std::span<const Waitable> objects,
                                               std::chrono::time_point<Clock, Duration> deadline,
                                               const WaitOptions& options = {}) {
    return detail::wait_ready(objects, detail::Deadline::at(deadline), options);
}
/// wait_until() of a braced list.
template <class Clock, class Duration>
[[nodiscard]] std::vector<Waitable> wait_until(std::initializer_list<Waitable> objects,
                                               std::chrono::time_point<Clock, Duration> deadline,
                                               const WaitOptions& options = {}) {
    return wait_until(std::span<const Waitable>(objects.begin(), objects.size()), deadline,
                      options);
}

/// The ready objects now, without blocking: Python's wait(object_list, 0).
[[nodiscard]] inline std::vector<Waitable> try_wait(std::span<const Waitable> objects) {
    return detail::wait_ready(objects, detail::Deadline::immediate(), {});
}
/// try_wait() of a braced list.
[[nodiscard]] inline std::vector<Waitable> try_wait(std::initializer_list<Waitable> objects) {
    return try_wait(std::span<const Waitable>(objects.begin(), objects.size()));
}

} // namespace shmbus

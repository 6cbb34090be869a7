// SPDX-License-Identifier: Apache-2.0
/// @file
/// Event: Python's multiprocessing.Event, a flag that processes wait on until another sets it.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/wait_target.hpp"
#include "shmbus/export.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <string_view>

namespace shmbus {

/// set() wakes every waiter; a waiter woken by set() returns true even if clear() ran before
/// it woke up (as in Python). A set() nobody waits for costs no syscall.
/// @concurrent any thread, any process.
class SHMBUS_EXPORT Event {
public:
    /// An anonymous, clear Event in Segment::default_segment().
    Event();
    /// Opens the Event `name` in `segment`, creating it (clear) when missing.
    Event(const Segment& segment, std::string_view name);
    /// A new, clear Event `name`; AlreadyExists when the name is taken.
    static Event create(const Segment& segment, std::string_view name);
    /// NotFound when missing; KindMismatch when `name` is not an Event.
    static Event open(const Segment& segment, std::string_view name);

    /// Sets the flag and wakes every waiter, in every process.
    void set();
    /// Clears the flag: later waits block until the next set().
    void clear();
    /// @concurrent result may be stale.
    bool is_set() const;

    /// Blocks until the flag is set.
    void wait();
    /// True when the flag was set within `timeout`; a negative timeout only looks.
    template <class Rep, class Period>
    [[nodiscard]] bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_by(detail::Deadline::after(timeout));
    }
    /// True when the flag was set by `deadline`; a deadline in the past only looks.
    template <class Clock, class Duration>
    [[nodiscard]] bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
        return wait_by(detail::Deadline::at(deadline));
    }

    /// How shmbus::wait (multi_wait.hpp) waits until the flag is set.
    detail::WaitTarget wait_target() const;

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    Event(const Segment& segment, std::string_view name, detail::OpenMode mode);
    bool wait_by(detail::Deadline deadline);

    detail::ObjectRef m_object;
    WaitOptions m_options;
};

} // namespace shmbus

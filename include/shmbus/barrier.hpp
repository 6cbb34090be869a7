// SPDX-License-Identifier: Apache-2.0
/// @file
/// Barrier: Python's multiprocessing.Barrier, a rendezvous for a fixed number of parties.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/export.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <string_view>

namespace shmbus {

/// wait() blocks until `parties` callers have arrived, then releases them all and returns each
/// its arrival index (0 for the first, parties - 1 for the last); the barrier then serves the
/// next generation. A wait that times out breaks the barrier: BrokenBarrier is thrown in that
/// waiter, in every waiter of its generation and in every later wait() until reset(). So does
/// abort(), and reset() with parties waiting. A process that dies while it updates the
/// barrier's state breaks it too; one that dies while waiting only makes the others wait.
/// @concurrent any thread, any process.
class SHMBUS_EXPORT Barrier {
public:
    /// An anonymous Barrier in Segment::default_segment(). UsageError when parties is 0.
    explicit Barrier(unsigned parties);
    /// Opens the Barrier `name` in `segment`, creating it when missing. KindMismatch when it
    /// exists for another number of parties.
    Barrier(const Segment& segment, std::string_view name, unsigned parties);
    /// A new Barrier `name`; AlreadyExists when the name is taken, UsageError when parties is 0.
    static Barrier create(const Segment& segment, std::string_view name, unsigned parties);
    /// NotFound when missing; KindMismatch when it is not a Barrier for `parties` parties.
    static Barrier open(const Segment& segment, std::string_view name, unsigned parties);

    /// The arrival index. BrokenBarrier as above.
    unsigned wait();
    /// Breaks the barrier when `timeout` passes first (BrokenBarrier).
    template <class Rep, class Period>
    unsigned wait_for(std::chrono::duration<Rep, Period> timeout) {
        return wait_by(detail::Deadline::after(timeout));
    }
    /// Breaks the barrier when `deadline` passes first (BrokenBarrier).
    template <class Clock, class Duration>
    unsigned wait_until(std::chrono::time_point<Clock, Duration> deadline) {
        return wait_by(detail::Deadline::at(deadline));
    }

    /// Breaks the barrier: current and later waits throw BrokenBarrier until reset().
    void abort();
    /// Back to the empty, unbroken state; parties waiting now get BrokenBarrier.
    void reset();

    /// Callers that each generation waits for, fixed at creation.
    unsigned parties() const;
    /// Parties waiting in the current generation. @concurrent result may be stale.
    unsigned n_waiting() const;
    /// @concurrent result may be stale.
    bool broken() const;

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    Barrier(const Segment& segment, std::string_view name, unsigned parties, detail::OpenMode mode);
    unsigned wait_by(detail::Deadline deadline);

    detail::ObjectRef m_object;
    WaitOptions m_options;
};

} // namespace shmbus

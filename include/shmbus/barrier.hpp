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
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace shmbus {

/// wait() blocks until `parties` callers have arrived, then releases them all and returns each
/// its arrival index (0 for the first, parties - 1 for the last); the barrier then serves the
/// next generation. A wait that times out breaks the barrier: BrokenBarrier is thrown in that
/// waiter, in every waiter of its generation and in every later wait() until reset(). So does
/// abort(), and reset() with parties waiting. A process that dies while it updates the
/// barrier's state or runs the action breaks it too; one that dies while waiting only makes
/// the others wait.
///
/// The action (Python's `action=`) runs once per generation, in the last party to arrive, before
/// any party is released; while it runs, the others stay parked even past their timeouts (as
/// in Python, where the action holds the barrier's lock) and new arrivals wait for it to end.
/// When it throws, the barrier breaks: its caller gets the action's exception, the others
/// BrokenBarrier. The action is a callable of this process, so it is not part of the shared
/// state: each handle carries its own, and the one that runs is that of the handle through
/// which the last party arrived (none when that handle has none). Give every handle the same
/// action, or give one to a single party's handle only when that party is known to arrive
/// last. The action must not call wait(), abort() or reset() on this barrier (UsageError).
/// @concurrent any thread, any process.
class SHMBUS_EXPORT Barrier {
public:
    /// What the last party to arrive runs before the others are released.
    using Action = std::function<void()>;
    /// The default time limit of wait(); nullopt waits without one (Python's timeout=None).
    using TimeLimit = std::optional<std::chrono::nanoseconds>;

    /// An anonymous Barrier in Segment::default_segment(). UsageError when parties is below 1
    /// or above UINT32_MAX (Python's ValueError).
    explicit Barrier(std::int64_t parties, Action action = {}, TimeLimit timeout = std::nullopt);
    /// Opens the Barrier `name` in `segment`, creating it when missing. KindMismatch when it
    /// exists for another number of parties. `action` and `timeout` belong to this handle.
    Barrier(const Segment& segment, std::string_view name, std::int64_t parties, Action action = {},
            TimeLimit timeout = std::nullopt);
    /// A new Barrier `name`; AlreadyExists when the name is taken, UsageError as above.
    static Barrier create(const Segment& segment, std::string_view name, std::int64_t parties,
                          Action action = {}, TimeLimit timeout = std::nullopt);
    /// NotFound when missing; KindMismatch when it is not a Barrier for `parties` parties.
    static Barrier open(const Segment& segment, std::string_view name, std::int64_t parties,
                        Action action = {}, TimeLimit timeout = std::nullopt);

    /// The arrival index. Waits at most timeout() when the handle has one (then breaks the
    /// barrier, BrokenBarrier). BrokenBarrier as above; the action's exception in the party
    /// that ran it.
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

    /// This handle's action (empty when it has none). Process-local.
    const Action& action() const { return m_action; }
    /// The default time limit of wait() through this handle. Process-local.
    const TimeLimit& timeout() const { return m_timeout; }

    /// Process-local: applies to waits made through this handle.
    void set_wait_options(const WaitOptions& options) { m_options = options; }
    /// How waits through this handle wait.
    const WaitOptions& wait_options() const { return m_options; }

private:
    Barrier(const Segment& segment, std::string_view name, std::int64_t parties, Action action,
            TimeLimit timeout, detail::OpenMode mode);
    unsigned wait_by(detail::Deadline deadline);

    detail::ObjectRef m_object;
    Action m_action;
    TimeLimit m_timeout;
    WaitOptions m_options;
};

} // namespace shmbus

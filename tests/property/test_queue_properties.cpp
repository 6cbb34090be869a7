// SPDX-License-Identifier: Apache-2.0
// Queue against models, under rapidcheck:
//   * one process: random put/get/nowait/try/close sequences against a std::deque that also
//     models the ring's 64-byte slots, so "full" is predicted exactly;
//   * several forked processes: random producers/consumers/messages; the multiset delivered
//     equals the multiset sent, each producer's order is kept, nothing is duplicated;
//   * shutdown (plain or immediate) at a random point while forked producers and consumers run:
//     every process ends with ShutDown, nothing is invented or duplicated, a plain shutdown
//     delivers every item put, and the JoinableQueue's count of unfinished tasks ends at 0;
//   * a Pipe end held per process: random forks, closes, exits and kills against a model of
//     the live holders; the end is open while one lives and ends the stream once none does.
#include "ring/mpmc_ring.hpp"
#include "support/harness.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <deque>
#include <gtest/gtest.h>
#include <new>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <string>
#include <sys/mman.h>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::size_t kCapacityBytes = 4096; // 64 slots
constexpr std::size_t kSlots = kCapacityBytes / 64;

enum class OpKind { put_nowait, try_put, get_nowait, try_get, close, shutdown, check_sizes };

struct Op {
    OpKind kind;
    std::size_t length; // of the string to put; odd: an immediate shutdown
};

// The queue as a deque of strings plus what the ring does with them.
struct Model {
    std::deque<std::string> items;
    std::size_t maxsize = 0;
    bool closed = false;
    bool shut_down = false;

    static std::size_t slots(const std::string& s) {
        return detail::MpmcRing::slots_for(s.size() + 8); // cereal's u64 length prefix
    }
    std::size_t slots_used() const {
        std::size_t used = 0;
        for (const auto& s : items)
            used += slots(s);
        return used;
    }
    bool fits(const std::string& s) const {
        return (maxsize == 0 || items.size() < maxsize) && slots_used() + slots(s) <= kSlots;
    }
};

std::string text_of(std::size_t length, std::size_t serial) {
    std::string s(length, 'a');
    for (std::size_t i = 0; i < length; ++i)
        s[i] = static_cast<char>('a' + (serial * 7 + i) % 26);
    return s;
}

void apply(const Op& op, Queue<std::string>& q, Model& model, std::size_t serial) {
    const std::string value = text_of(op.length, serial);
    switch (op.kind) {
    case OpKind::put_nowait:
        if (model.shut_down) {
            RC_ASSERT_THROWS_AS(q.put_nowait(value), ShutDown);
        } else if (model.closed) {
            RC_ASSERT_THROWS_AS(q.put_nowait(value), Closed);
        } else if (model.fits(value)) {
            q.put_nowait(value);
            model.items.push_back(value);
        } else {
            RC_ASSERT_THROWS_AS(q.put_nowait(value), Full);
        }
        break;
    case OpKind::try_put: {
        const bool expected = !model.closed && model.fits(value);
        RC_ASSERT(q.try_put(value) == expected);
        if (expected)
            model.items.push_back(value);
        break;
    }
    case OpKind::get_nowait:
        if (!model.items.empty()) {
            RC_ASSERT(q.get_nowait() == model.items.front());
            model.items.pop_front();
        } else if (model.shut_down) {
            RC_ASSERT_THROWS_AS(q.get_nowait(), ShutDown);
        } else if (model.closed) {
            RC_ASSERT_THROWS_AS(q.get_nowait(), Closed);
        } else {
            RC_ASSERT_THROWS_AS(q.get_nowait(), Empty);
        }
        break;
    case OpKind::try_get: {
        const auto got = q.try_get();
        RC_ASSERT(got.has_value() == !model.items.empty());
        if (got) {
            RC_ASSERT(*got == model.items.front());
            model.items.pop_front();
        }
        break;
    }
    case OpKind::close:
        q.close();
        model.closed = true;
        break;
    case OpKind::shutdown:
        q.shutdown(op.length % 2 == 1);
        model.closed = model.shut_down = true;
        if (op.length % 2 == 1)
            model.items.clear();
        break;
    case OpKind::check_sizes:
        RC_ASSERT(q.closed() == model.closed);
        RC_ASSERT(q.is_shutdown() == model.shut_down);
        RC_ASSERT(q.qsize() == model.items.size());
        RC_ASSERT(q.empty() == model.items.empty());
        if (model.maxsize != 0)
            RC_ASSERT(q.full() == (model.items.size() >= model.maxsize));
        else
            RC_ASSERT(q.full() == (model.slots_used() >= kSlots));
        break;
    }
}

rc::Gen<Op> gen_op() {
    return rc::gen::construct<Op>(rc::gen::weightedElement<OpKind>({{6, OpKind::put_nowait},
                                                                    {3, OpKind::try_put},
                                                                    {5, OpKind::get_nowait},
                                                                    {3, OpKind::try_get},
                                                                    {1, OpKind::close},
                                                                    {1, OpKind::shutdown},
                                                                    {2, OpKind::check_sizes}}),
                                  rc::gen::weightedOneOf<std::size_t>(
                                      {{4, rc::gen::inRange<std::size_t>(0, 57)},   // one slot
                                       {2, rc::gen::inRange<std::size_t>(57, 400)}, // a few slots
                                       {1, rc::gen::inRange<std::size_t>(400, 1500)}}
                                      // a quarter of the ring
                                      ));
}

} // namespace

RC_GTEST_PROP(QueueModel, random_operations_match_a_deque, ()) {
    ScopedSegment segment;
    Model model;
    model.maxsize = *rc::gen::element<std::size_t>(0, 1, 3, 8);
    Queue<std::string> q(*segment, "",
                         QueueOptions{.maxsize = model.maxsize,
                                      .max_message_size = 2048,
                                      .capacity_bytes = kCapacityBytes});
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    for (std::size_t i = 0; i < ops.size(); ++i)
        apply(ops[i], q, model, i);
    // Drain: whatever the model holds comes out in order, then the queue is empty (or closed).
    while (!model.items.empty()) {
        RC_ASSERT(q.get_nowait() == model.items.front());
        model.items.pop_front();
    }
    RC_ASSERT(!q.try_get().has_value());
}

namespace {

// Consumers write what they got into MAP_SHARED memory: per consumer, a list of
// (producer, index) pairs in the order received.
struct Received {
    std::atomic<std::uint32_t> count;
    std::uint32_t bad;
    std::uint32_t* entry(std::uint32_t n) {
        return reinterpret_cast<std::uint32_t*>(this + 1) + 2 * n;
    }
};

} // namespace

RC_GTEST_PROP(QueueAcrossProcesses, delivered_multiset_equals_sent_and_producer_order_holds, ()) {
    const int producers = *rc::gen::inRange(1, 4);
    const int consumers = *rc::gen::inRange(1, 4);
    std::vector<std::vector<std::string>> sent(static_cast<std::size_t>(producers));
    std::size_t total = 0;
    for (auto& messages : sent) {
        const auto lengths = *rc::gen::container<std::vector<std::size_t>>(
            rc::gen::weightedOneOf<std::size_t>({{5, rc::gen::inRange<std::size_t>(0, 60)},
                                                 {1, rc::gen::inRange<std::size_t>(60, 3000)}}));
        for (std::size_t i = 0; i < lengths.size(); ++i)
            messages.push_back(text_of(lengths[i], total + i));
        total += messages.size();
    }
    const std::size_t slab = sizeof(Received) + total * 2 * sizeof(std::uint32_t);
    char* shared = static_cast<char*>(
        mmap(nullptr, slab * consumers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    const bool mapped = static_cast<void*>(shared) != MAP_FAILED;
    RC_ASSERT(mapped);
    const auto received = [&](int c) { return reinterpret_cast<Received*>(shared + slab * c); };

    ScopedSegment segment;
    // A small ring, so that producers wait for consumers and frames wrap.
    Queue<std::pair<std::uint32_t, std::string>> q(
        *segment, "", QueueOptions{.max_message_size = 4096, .capacity_bytes = 8192});
    std::vector<Child> children;
    for (int c = 0; c < consumers; ++c)
        children.emplace_back([&, c] {
            Received& mine = *received(c);
            try {
                for (;;) {
                    const auto [tag, text] = q.get();
                    const std::uint32_t p = tag >> 24;
                    const std::uint32_t i = tag & 0xffffff;
                    if (p >= sent.size() || i >= sent[p].size() || sent[p][i] != text)
                        ++mine.bad;
                    const std::uint32_t n = mine.count.load();
                    mine.entry(n)[0] = p;
                    mine.entry(n)[1] = i;
                    mine.count.store(n + 1);
                }
            } catch (const Closed&) {
            }
        });
    std::vector<Child> writers;
    for (int p = 0; p < producers; ++p)
        writers.emplace_back([&, p] {
            for (std::size_t i = 0; i < sent[p].size(); ++i)
                q.put({(std::uint32_t(p) << 24) | std::uint32_t(i), sent[p][i]});
        });
    for (Child& writer : writers)
        RC_ASSERT(writer.wait() == 0);
    q.close();
    for (Child& child : children)
        RC_ASSERT(child.wait() == 0);

    std::vector<std::vector<int>> seen(sent.size());
    for (std::size_t p = 0; p < sent.size(); ++p)
        seen[p].assign(sent[p].size(), 0);
    for (int c = 0; c < consumers; ++c) {
        Received& mine = *received(c);
        RC_ASSERT(mine.bad == 0u);
        std::vector<long> last(sent.size(), -1);
        for (std::uint32_t n = 0; n < mine.count.load(); ++n) {
            const auto p = mine.entry(n)[0];
            const auto i = mine.entry(n)[1];
            RC_ASSERT(long(i) > last[p]); // per-producer order, as seen by each consumer
            last[p] = i;
            ++seen[p][i];
        }
    }
    munmap(shared, slab * consumers);
    for (const auto& per_producer : seen)
        for (int times : per_producer)
            RC_ASSERT(times == 1); // exactly once
}

namespace {

// What the processes of the shutdown property record, in MAP_SHARED memory.
struct ShutdownLedger {
    static constexpr int kProcesses = 3;    // producers, and consumers, at most
    static constexpr int kPerProducer = 40; // items at most
    std::atomic<int> put_ok[kProcesses];    // items each producer put before ShutDown
    std::atomic<int> received;              // by every consumer together
    std::atomic<int> got[kProcesses][kProcesses * kPerProducer]; // per consumer, in order
    std::atomic<int> got_count[kProcesses];
};

} // namespace

RC_GTEST_PROP(QueueShutdownAcrossProcesses, every_process_ends_and_no_item_is_invented_or_lost,
              ()) {
    const int producers = *rc::gen::inRange(1, ShutdownLedger::kProcesses + 1);
    const int consumers = *rc::gen::inRange(1, ShutdownLedger::kProcesses + 1);
    const int per_producer = *rc::gen::inRange(0, ShutdownLedger::kPerProducer + 1);
    const int shut_after = *rc::gen::inRange(0, producers * per_producer + 1); // items received
    const bool immediate = *rc::gen::arbitrary<bool>();
    const std::size_t maxsize = *rc::gen::element<std::size_t>(0, 2, 5);
    void* memory = mmap(nullptr, sizeof(ShutdownLedger), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const bool mapped = memory != MAP_FAILED;
    RC_ASSERT(mapped);
    auto& ledger = *new (memory) ShutdownLedger{};
    struct Unmap {
        void* memory;
        ~Unmap() { munmap(memory, sizeof(ShutdownLedger)); }
    } unmap{memory};

    ScopedSegment segment;
    // A ring of 8 slots, so that producers also park for room.
    JoinableQueue<int> q(
        *segment, "",
        QueueOptions{.maxsize = maxsize, .max_message_size = 64, .capacity_bytes = 512});
    std::vector<Child> children;
    for (int c = 0; c < consumers; ++c)
        children.emplace_back([&, c] {
            try {
                for (;;) {
                    const int item = q.get();
                    ledger.got[c][ledger.got_count[c].load()] = item;
                    ledger.got_count[c].fetch_add(1);
                    ledger.received.fetch_add(1);
                    q.task_done();
                }
            } catch (const ShutDown&) {
            }
        });
    for (int p = 0; p < producers; ++p)
        children.emplace_back([&, p] {
            try {
                for (int i = 0; i < per_producer; ++i) {
                    q.put(p * ShutdownLedger::kPerProducer + i);
                    ledger.put_ok[p].fetch_add(1);
                }
            } catch (const ShutDown&) {
            }
        });
    RC_ASSERT(test::eventually([&] { return ledger.received.load() >= shut_after; }));
    q.shutdown(immediate);
    for (Child& child : children)
        RC_ASSERT(child.wait() == 0);

    std::vector<int> times(static_cast<std::size_t>(producers * ShutdownLedger::kPerProducer));
    for (int c = 0; c < consumers; ++c) {
        std::vector<int> last(static_cast<std::size_t>(producers), -1);
        for (int n = 0; n < ledger.got_count[c].load(); ++n) {
            const int item = ledger.got[c][n].load();
            const int p = item / ShutdownLedger::kPerProducer;
            const int i = item % ShutdownLedger::kPerProducer;
            RC_ASSERT(p < producers);
            RC_ASSERT(i < ledger.put_ok[p].load()); // only what a put returned for
            RC_ASSERT(i > last[p]);                 // each producer's order
            last[p] = i;
            ++times[item];
        }
    }
    for (int p = 0; p < producers; ++p)
        for (int i = 0; i < per_producer; ++i) {
            const int seen = times[p * ShutdownLedger::kPerProducer + i];
            RC_ASSERT(seen <= 1);
            if (!immediate && i < ledger.put_ok[p].load())
                RC_ASSERT(seen == 1); // a plain shutdown drains
        }
    RC_ASSERT(q.qsize() == 0u);
    RC_ASSERT(q.unfinished_tasks() == 0u); // dropped items count as done
    RC_ASSERT(q.try_join());
    RC_ASSERT_THROWS_AS(q.get_nowait(), ShutDown);
    RC_ASSERT_THROWS_AS(q.put_nowait(0), ShutDown);
}

namespace {

enum class HoldOp { fork, parent_close, child_close, child_exit, child_kill };

// A forked holder as the model sees it, and the commands it obeys (MAP_SHARED memory).
struct Holder {
    bool holds;
    bool alive;
};
constexpr int kMaxHolders = 5;
constexpr int kClose = 1;
constexpr int kExit = 2;
constexpr int kStarting = 3; // until the child runs: a kill before it took its slot leaks it

} // namespace

RC_GTEST_PROP(PipeEndHolds, the_end_closes_exactly_when_no_live_process_holds_it, ()) {
    const auto ops =
        *rc::gen::resize(8, rc::gen::container<std::vector<std::pair<HoldOp, int>>>(rc::gen::pair(
                                rc::gen::weightedElement<HoldOp>({{3, HoldOp::fork},
                                                                  {1, HoldOp::parent_close},
                                                                  {2, HoldOp::child_close},
                                                                  {2, HoldOp::child_exit},
                                                                  {1, HoldOp::child_kill}}),
                                rc::gen::inRange(0, kMaxHolders))));
    void* memory = mmap(nullptr, sizeof(std::atomic<int>) * kMaxHolders, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const bool mapped = memory != MAP_FAILED;
    RC_ASSERT(mapped);
    auto* commands = new (memory) std::atomic<int>[kMaxHolders] {};
    struct Unmap {
        void* memory;
        ~Unmap() { munmap(memory, sizeof(std::atomic<int>) * kMaxHolders); }
    } unmap{memory};

    ScopedSegment segment;
    auto [reader, writer] = Pipe(*segment, false);
    bool parent_holds = true;
    std::vector<Holder> model;
    std::vector<Child> children;
    const auto live_holders = [&] {
        return (parent_holds ? 1 : 0) +
               std::count_if(model.begin(), model.end(),
                             [](const Holder& h) { return h.holds && h.alive; });
    };
    for (const auto& [op, pick] : ops) {
        if (live_holders() == 0)
            break; // closed for good: nothing can hold it again
        const int k = model.empty() ? -1 : pick % static_cast<int>(model.size());
        switch (op) {
        case HoldOp::fork:
            if (children.size() == kMaxHolders)
                break;
            commands[children.size()].store(kStarting);
            children.emplace_back([&, n = children.size(), &writer = writer] {
                commands[n].store(0);
                for (;;) {
                    if (!test::eventually([&] { return commands[n].load() != 0; }, 30s))
                        throw std::runtime_error("no command");
                    if (commands[n].load() == kExit)
                        return; // _exit: the hold, if any, is left for the prober
                    writer.close();
                    commands[n].store(0); // done: the parent may kill us now
                }
            });
            model.push_back({parent_holds, true});
            RC_ASSERT(test::eventually([&] { return commands[model.size() - 1].load() == 0; }));
            break;
        case HoldOp::parent_close:
            writer.close();
            parent_holds = false;
            break;
        case HoldOp::child_close:
            if (k < 0 || !model[k].alive)
                break;
            commands[k].store(kClose);
            RC_ASSERT(test::eventually([&] { return commands[k].load() == 0; }, 30s));
            model[k].holds = false;
            break;
        case HoldOp::child_exit:
        case HoldOp::child_kill:
            if (k < 0 || !model[k].alive)
                break;
            if (op == HoldOp::child_exit)
                commands[k].store(kExit);
            else
                children[k].kill(SIGKILL);
            (void)children[k].wait();
            model[k].alive = false;
            break;
        }
        if (live_holders() != 0)
            RC_ASSERT(!reader.try_poll()); // open while someone alive holds it
    }
    const bool dead_holder = std::any_of(model.begin(), model.end(),
                                         [](const Holder& h) { return h.holds && !h.alive; });
    if (live_holders() != 0 && dead_holder)
        RC_ASSERT(!reader.poll_for(60ms)); // the prober frees the dead, not the living
    writer.close();
    for (std::size_t n = 0; n < children.size(); ++n)
        if (model[n].alive) {
            commands[n].store(kExit);
            RC_ASSERT(children[n].wait() == 0);
        }
    RC_ASSERT_THROWS_AS((void)reader.recv_for<int>(30s), EndOfStream);
}

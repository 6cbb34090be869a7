// SPDX-License-Identifier: Apache-2.0
// Queue loans and borrows against models, under rapidcheck:
//   * one process: random put / loan (published or dropped) / get / borrow sequences against
//     a deque of messages and padding that also models the ring's 64-byte slots and where a
//     loan must start so as not to wrap the ring's end, so "full" is predicted exactly;
//   * several forked processes: producers mixing puts, published and dropped loans, consumers
//     mixing gets and borrows: every published message arrives once, in its producer's order.
#include "ring/mpmc_ring.hpp"
#include "support/harness.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/queue.hpp>
#include <sys/mman.h>
#include <vector>

using namespace shmbus;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

constexpr std::size_t kSlots = 64; // a 4096-byte ring

// A message of 1 to 32 slots: its first word says how long it is.
struct Sized {
    std::uint32_t serial = 0;
    std::uint32_t slots = 0;
};

enum class OpKind { put, loan_publish, loan_drop, get, borrow, check_size };

struct Op {
    OpKind kind;
    std::size_t slots;
};

// The ring as a FIFO of entries, each a message or padding, with the slots it holds.
struct Model {
    struct Entry {
        bool message;
        std::uint32_t serial;
        std::size_t slots;
    };
    std::deque<Entry> entries;
    std::size_t tail = 0; // positions claimed so far
    std::size_t used = 0;

    std::size_t padding_for(std::size_t slots) const {
        const std::size_t to_end = kSlots - tail % kSlots;
        return to_end < slots ? to_end : 0;
    }
    bool fits(std::size_t slots) const { return used + padding_for(slots) + slots <= kSlots; }
    // A loan of `claimed` slots: padding up to the ring's end when it would wrap, then the
    // message (of `frame_slots`, padding after it for the rest) or, dropped, padding only.
    void add(bool message, std::uint32_t serial, std::size_t claimed, std::size_t frame_slots) {
        const std::size_t pad = padding_for(claimed);
        if (pad != 0)
            entries.push_back({false, 0, pad});
        if (message) {
            entries.push_back({true, serial, frame_slots});
            if (claimed > frame_slots)
                entries.push_back({false, 0, claimed - frame_slots});
        } else {
            entries.push_back({false, 0, claimed});
        }
        tail += pad + claimed;
        used += pad + claimed;
    }
    // The next message, after skipping padding (which frees its slots).
    const Entry* front() {
        while (!entries.empty() && !entries.front().message) {
            used -= entries.front().slots;
            entries.pop_front();
        }
        return entries.empty() ? nullptr : &entries.front();
    }
    void pop() {
        used -= entries.front().slots;
        entries.pop_front();
    }
    std::size_t messages() const {
        std::size_t count = 0;
        for (const Entry& entry : entries)
            count += entry.message ? 1 : 0;
        return count;
    }
};

// Takes the model's next message and checks that `borrowed` is it.
void check_got(Model& model, const QueueBorrowed<Sized>& borrowed) {
    const Model::Entry* front = model.front();
    RC_ASSERT(front != nullptr);
    Sized sized;
    std::memcpy(&sized, borrowed.bytes().data(), sizeof sized);
    RC_ASSERT(sized.serial == front->serial);
    RC_ASSERT(sized.slots == front->slots);
    RC_ASSERT(detail::MpmcRing::slots_for(borrowed.bytes().size()) == front->slots);
    model.pop();
}

// Every message is loaned (a plain put of a Sized would take one slot only): `put` publishes
// only the first 8 bytes of a larger loan, `loan_publish` all of it, `loan_drop` nothing.
void produce(const Op& op, Queue<Sized>& q, Model& model, std::uint32_t serial) {
    const std::size_t bytes = op.slots * 64;
    auto loan = q.try_loan(bytes);
    RC_ASSERT(loan.has_value() == model.fits(op.slots));
    if (!loan)
        return;
    RC_ASSERT(reinterpret_cast<std::uintptr_t>(loan->bytes().data()) % 64 == 0);
    const std::size_t used = op.kind == OpKind::put ? sizeof(Sized) : bytes;
    const Sized sized{serial, static_cast<std::uint32_t>(detail::MpmcRing::slots_for(used))};
    std::memcpy(loan->bytes().data(), &sized, sizeof sized);
    model.add(op.kind != OpKind::loan_drop, serial, op.slots, sized.slots);
    if (op.kind == OpKind::loan_drop)
        loan.reset();
    else
        loan->publish(used);
}

void apply(const Op& op, Queue<Sized>& q, Model& model, std::uint32_t serial) {
    switch (op.kind) {
    case OpKind::put:
    case OpKind::loan_publish:
    case OpKind::loan_drop:
        produce(op, q, model, serial);
        break;
    case OpKind::get:
    case OpKind::borrow: {
        const bool expected = model.front() != nullptr;
        auto borrowed = q.try_borrow();
        RC_ASSERT(borrowed.has_value() == expected);
        if (!borrowed)
            break;
        RC_ASSERT(borrowed->in_place()); // loans never wrap
        check_got(model, *borrowed);
        if (op.kind == OpKind::get)
            borrowed->release();
        break;
    }
    case OpKind::check_size:
        RC_ASSERT(q.qsize() == model.messages());
        break;
    }
}

} // namespace

RC_GTEST_PROP(QueueLoanModel, random_loans_and_borrows_match_a_ring_model, ()) {
    ScopedSegment segment;
    Queue<Sized> q(*segment, "", QueueOptions{.max_message_size = 2048, .capacity_bytes = 4096});
    Model model;
    const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::construct<Op>(
        rc::gen::weightedElement<OpKind>({{3, OpKind::put},
                                          {4, OpKind::loan_publish},
                                          {1, OpKind::loan_drop},
                                          {3, OpKind::get},
                                          {4, OpKind::borrow},
                                          {1, OpKind::check_size}}),
        rc::gen::weightedOneOf<std::size_t>({{4, rc::gen::inRange<std::size_t>(1, 4)},
                                             {2, rc::gen::inRange<std::size_t>(4, 33)}})));
    for (std::size_t i = 0; i < ops.size(); ++i)
        apply(ops[i], q, model, static_cast<std::uint32_t>(i));
    while (model.front() != nullptr) {
        auto borrowed = q.try_borrow();
        RC_ASSERT(borrowed.has_value());
        check_got(model, *borrowed);
    }
    RC_ASSERT(!q.try_borrow().has_value());
}

namespace {

struct Tag {
    std::uint32_t producer;
    std::uint32_t index;
    std::array<std::uint32_t, 14> body; // 64 bytes: one slot
};

// Per consumer, in MAP_SHARED memory: how many it got and the (producer, index) of each.
struct Received {
    std::atomic<std::uint32_t> count;
    std::uint32_t bad;
    std::uint32_t* entry(std::uint32_t n) {
        return reinterpret_cast<std::uint32_t*>(this + 1) + 2 * n;
    }
};

} // namespace

RC_GTEST_PROP(QueueLoanAcrossProcesses, loans_and_borrows_deliver_each_published_message_once, ()) {
    const int producers = *rc::gen::inRange(1, 4);
    const int consumers = *rc::gen::inRange(1, 3);
    // Per producer: for each message, 0 put, 1 loan published, 2 loan dropped.
    std::vector<std::vector<int>> plans(static_cast<std::size_t>(producers));
    std::size_t total = 0;
    for (auto& plan : plans) {
        plan = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
        total += plan.size();
    }
    const std::size_t slab = sizeof(Received) + total * 2 * sizeof(std::uint32_t);
    char* shared = static_cast<char*>(
        mmap(nullptr, slab * consumers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    const bool mapped = static_cast<void*>(shared) != MAP_FAILED;
    RC_ASSERT(mapped);
    const auto received = [&](int c) { return reinterpret_cast<Received*>(shared + slab * c); };
    const auto consumer_borrows = *rc::gen::container<std::vector<bool>>(
        static_cast<std::size_t>(consumers), rc::gen::arbitrary<bool>());

    ScopedSegment segment;
    Queue<Tag> q(
        *segment, "",
        QueueOptions{.max_message_size = 64, .capacity_bytes = 1024}); // 16 slots: producers wait
    std::vector<Child> children;
    for (int c = 0; c < consumers; ++c)
        children.emplace_back([&, c] {
            Received& mine = *received(c);
            const auto record = [&](const Tag& tag) {
                for (std::uint32_t word : tag.body)
                    mine.bad += word == tag.index * 3 + tag.producer ? 0 : 1;
                const std::uint32_t n = mine.count.load();
                mine.entry(n)[0] = tag.producer;
                mine.entry(n)[1] = tag.index;
                mine.count.store(n + 1);
            };
            try {
                for (std::uint32_t n = 0;; ++n) {
                    if (consumer_borrows[c] && n % 2 == 0)
                        record(q.borrow().get());
                    else
                        record(q.get());
                }
            } catch (const Closed&) {
            }
        });
    std::vector<Child> writers;
    for (int p = 0; p < producers; ++p)
        writers.emplace_back([&, p] {
            const auto up = static_cast<std::uint32_t>(p);
            for (std::uint32_t i = 0; i < plans[p].size(); ++i) {
                Tag tag{up, i, {}};
                tag.body.fill(i * 3 + up);
                if (plans[p][i] == 0) {
                    q.put(tag);
                    continue;
                }
                auto loan = q.loan();
                *loan = tag;
                if (plans[p][i] == 1)
                    loan.publish();
            }
        });
    for (Child& writer : writers)
        RC_ASSERT(writer.wait() == 0);
    q.close();
    for (Child& child : children)
        RC_ASSERT(child.wait() == 0);

    std::vector<std::vector<int>> seen(plans.size());
    for (std::size_t p = 0; p < plans.size(); ++p)
        seen[p].assign(plans[p].size(), 0);
    for (int c = 0; c < consumers; ++c) {
        Received& mine = *received(c);
        RC_ASSERT(mine.bad == 0u);
        std::vector<long> last(plans.size(), -1);
        for (std::uint32_t n = 0; n < mine.count.load(); ++n) {
            const std::uint32_t p = mine.entry(n)[0];
            const std::uint32_t i = mine.entry(n)[1];
            RC_ASSERT(p < plans.size() && i < plans[p].size());
            RC_ASSERT(static_cast<long>(i) > last[p]); // each producer's order
            last[p] = i;
            ++seen[p][i];
        }
    }
    munmap(shared, slab * consumers);
    for (std::size_t p = 0; p < plans.size(); ++p)
        for (std::size_t i = 0; i < plans[p].size(); ++i)
            RC_ASSERT(seen[p][i] == (plans[p][i] == 2 ? 0 : 1));
}

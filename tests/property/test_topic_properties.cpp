// SPDX-License-Identifier: Apache-2.0
// Topic against a model under rapidcheck: random publishes, receives, late joins and leaves of
// several subscribers, under block and overwrite, compared with a vector of everything
// published plus a cursor per subscriber (a subscriber more than a ring behind under overwrite
// lost what the ring no longer holds, and is told how many).
#include "support/harness.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <memory>
#include <rapidcheck/gtest.h>
#include <shmbus/errors.hpp>
#include <shmbus/topic.hpp>
#include <vector>

using namespace shmbus;
using shmbus::test::ScopedSegment;

namespace {

enum class OpKind { publish, receive, join, leave };

struct Op {
    OpKind kind;
    std::size_t who; // a subscriber, modulo how many there are
};

struct ModelSubscriber {
    std::uint64_t cursor;
    std::uint64_t dropped = 0;
};

struct Model {
    std::vector<int> published;
    std::vector<ModelSubscriber> subscribers;
    std::uint64_t capacity;
    std::uint64_t history;
    bool overwrite;

    std::uint64_t next() const { return published.size(); }
    std::uint64_t oldest_retained() const { return next() > capacity ? next() - capacity : 0; }
    bool has_room() const {
        return overwrite ||
               std::all_of(subscribers.begin(), subscribers.end(),
                           [&](const ModelSubscriber& s) { return s.cursor + capacity > next(); });
    }
};

void apply(const Op& op, Topic<int>& topic, std::vector<Subscriber<int>>& subs, Model& model) {
    switch (op.kind) {
    case OpKind::publish: {
        const int value = static_cast<int>(model.next()) * 7 + 1;
        const bool room = model.has_room();
        RC_ASSERT(topic.try_publish(value) == room);
        if (room)
            model.published.push_back(value);
        break;
    }
    case OpKind::receive: {
        if (subs.empty())
            break;
        const std::size_t i = op.who % subs.size();
        ModelSubscriber& expected = model.subscribers[i];
        if (expected.cursor < model.oldest_retained()) {
            const std::uint64_t missed = model.oldest_retained() - expected.cursor;
            try {
                (void)subs[i].try_recv();
                RC_FAIL("no Lagged");
            } catch (const Lagged& lagged) {
                RC_ASSERT(lagged.missed() == missed);
            }
            expected.cursor += missed;
            expected.dropped += missed;
        } else if (expected.cursor == model.next()) {
            RC_ASSERT(!subs[i].try_recv().has_value());
        } else {
            RC_ASSERT(subs[i].try_recv() == std::optional<int>(model.published[expected.cursor]));
            ++expected.cursor;
        }
        RC_ASSERT(subs[i].dropped() == expected.dropped);
        RC_ASSERT(subs[i].pending() == model.next() - expected.cursor);
        break;
    }
    case OpKind::join:
        if (subs.size() == 4)
            break;
        subs.push_back(topic.subscribe());
        model.subscribers.push_back({model.next() - std::min(model.history, model.next())});
        break;
    case OpKind::leave:
        if (subs.empty())
            break;
        subs.erase(subs.begin() + static_cast<std::ptrdiff_t>(op.who % subs.size()));
        model.subscribers.erase(model.subscribers.begin() +
                                static_cast<std::ptrdiff_t>(op.who % model.subscribers.size()));
        break;
    }
}

} // namespace

RC_GTEST_PROP(TopicProperties, matches_a_vector_with_a_cursor_per_subscriber, ()) {
    const bool overwrite = *rc::gen::arbitrary<bool>();
    const std::uint64_t capacity = std::uint64_t{1} << *rc::gen::inRange(1, 4);
    const std::uint64_t history = *rc::gen::inRange<std::uint64_t>(0, capacity + 1);
    const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::build<Op>(
        rc::gen::set(&Op::kind, rc::gen::weightedElement<OpKind>({{6, OpKind::publish},
                                                                  {6, OpKind::receive},
                                                                  {1, OpKind::join},
                                                                  {1, OpKind::leave}})),
        rc::gen::set(&Op::who, rc::gen::inRange<std::size_t>(0, 4))));
    ScopedSegment segment(std::size_t{1} << 20);
    Topic<int> topic(*segment, "",
                     TopicOptions{.capacity = capacity,
                                  .max_message_size = 64,
                                  .history = history,
                                  .slow_subscriber = overwrite ? SlowSubscriber::overwrite
                                                               : SlowSubscriber::block});
    Model model{{}, {}, capacity, history, overwrite};
    std::vector<Subscriber<int>> subs;
    for (const Op& op : ops)
        apply(op, topic, subs, model);
}

// SPDX-License-Identifier: Apache-2.0
// Subscribing to a Topic: a cursor of its own, reading slots seqlock style, and telling an
// overrun (Lagged) from a message not yet published (docs/design/topics.md).
#include "messaging/topic_state.hpp"
#include "os/owner.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <algorithm>
#include <string>

namespace shmbus::detail {
namespace {

// How often a parked subscriber checks for a publisher that died while writing the slot it
// waits for.
constexpr auto kProbePeriod = std::chrono::milliseconds(50);

std::uint32_t take_entry(const TopicCore& topic, OwnerId me) {
    const TopicLayout layout(topic.state());
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (std::uint32_t i = 0; i < topic.state().max_subscribers; ++i) {
            OwnerId free = kNoOwner;
            // SYNC acquire: pairs with the release store that freed the entry.
            if (layout.subscriber(i).owner.compare_exchange_strong(free, me,
                                                                   std::memory_order_acquire))
                return i;
        }
        topic.recover_dead();
    }
    throw OutOfSpace("topic has " + std::to_string(topic.state().max_subscribers) +
                     " live subscribers already (TopicOptions::max_subscribers)");
}

bool blocks(const TopicState& state) {
    return state.policy == static_cast<std::uint32_t>(TopicPolicy::block);
}

[[noreturn, gnu::cold, gnu::noinline]] void throw_borrowing() {
    throw UsageError("this subscriber holds a borrowed message: release it first");
}

} // namespace

TopicSubscriberCore::TopicSubscriberCore(std::shared_ptr<TopicCore> topic)
    : m_topic(std::move(topic)), m_owner(this_process_owner()) {
    TopicState& state = m_topic->state();
    m_entry = take_entry(*m_topic, m_owner);
    // SYNC acquire: pairs with the acq_rel CAS that moved next on.
    const std::uint64_t next = state.next.load(std::memory_order_acquire);
    m_cursor = next - std::min<std::uint64_t>(state.history, next);
    TopicSubscriber& entry = TopicLayout(state).subscriber(m_entry);
    // relaxed is enough: the joins increment below releases them.
    entry.received.store(0, std::memory_order_relaxed);
    entry.dropped.store(0, std::memory_order_relaxed);
    entry.cursor.store(m_cursor, std::memory_order_relaxed);
    // SYNC seq_cst: release pairs with a publisher's acquire load of joins (it rescans and sees
    // the cursor stored above); seq_cst with a claimer's seq_cst claim and joins load.
    state.joins.fetch_add(1, std::memory_order_seq_cst);
    start_past_claims_unseen();
}

// A publisher that checked for room before our cursor was visible and claimed since may
// overwrite a history slot without the writing mark. Either it sees our join after its claim
// (and marks the slot), or the load below sees its claim and we start past every slot that such
// claims overwrite (docs/design/topics.md). We still get the last `history` messages before
// this load.
void TopicSubscriberCore::start_past_claims_unseen() {
    TopicState& state = m_topic->state();
    // SYNC seq_cst: after our seq_cst joins increment; pairs with a claimer's seq_cst claim CAS
    // and joins load.
    const std::uint64_t next = state.next.load(std::memory_order_seq_cst);
    if (next <= state.capacity || next - state.capacity <= m_cursor)
        return;
    m_cursor = next - state.capacity;
    // relaxed is enough: a cursor only grows; publishers treat an older one as slower.
    TopicLayout(state).subscriber(m_entry).cursor.store(m_cursor, std::memory_order_relaxed);
}

TopicSubscriberCore::~TopicSubscriberCore() {
    if (m_owner != this_process_owner())
        return; // a forked child's copy: the entry is its parent's
    TopicState& state = m_topic->state();
    TopicSubscriber& entry = TopicLayout(state).subscriber(m_entry);
    // relaxed is enough: the owner's release store below publishes it.
    entry.cursor.store(kNoCursor, std::memory_order_relaxed);
    // SYNC release: pairs with the acquire CAS of the next subscriber that takes the entry.
    entry.owner.store(kNoOwner, std::memory_order_release);
    if (blocks(state))
        notify_all(state.space);
}

void TopicSubscriberCore::advance(std::uint64_t cursor) {
    TopicState& state = m_topic->state();
    m_cursor = cursor;
    // SYNC release: pairs with a blocked publisher's acquire load of the cursors: our copies of
    // the slots below are done before it overwrites them.
    TopicLayout(state).subscriber(m_entry).cursor.store(cursor, std::memory_order_release);
    if (blocks(state))
        notify_without_fence(state.space, m_topic->fence_free());
}

// The slot at the cursor holds a later message than the cursor's: the subscriber was lapped.
// It moves on to the oldest message still retained and reports what it lost.
TopicStatus TopicSubscriberCore::skip_lost() {
    const TopicState& state = m_topic->state();
    // SYNC acquire: pairs with the acq_rel CAS that moved next on.
    const std::uint64_t next = state.next.load(std::memory_order_acquire);
    const std::uint64_t oldest = next > state.capacity ? next - state.capacity : 0;
    const std::uint64_t resume = std::max(oldest, m_cursor + 1);
    m_lag = resume - m_cursor;
    m_dropped += m_lag;
    // relaxed is enough: a statistic, read only for display.
    TopicLayout(m_topic->state())
        .subscriber(m_entry)
        .dropped.store(m_dropped, std::memory_order_relaxed);
    advance(resume);
    return TopicStatus::lagged;
}

template <class Try>
TopicStatus TopicSubscriberCore::wait_for_message(Try try_once, Deadline deadline) {
    const TopicCore& topic = *m_topic;
    TopicStatus status = TopicStatus::empty;
    park_at(
        topic.state().items,
        [&] {
            status = try_once();
            return status != TopicStatus::empty;
        },
        deadline, topic.wait_options(),
        probe_every(kProbePeriod,
                    [&topic] {
                        topic.recover_dead_publishers();
                        return false;
                    }),
        BarrierWakers{topic.fence_free()});
    return status;
}

TopicStatus TopicSubscriberCore::find_message(TopicSlotHeader*& found, std::uint64_t& seen) {
    if (m_borrowing) [[unlikely]]
        throw_borrowing();
    const TopicLayout layout(m_topic->state());
    for (;;) {
        TopicSlotHeader& slot = layout.slot(m_cursor);
        // SYNC acquire: pairs with the publisher's release store of the published mark.
        seen = slot.sequence.load(std::memory_order_acquire);
        if (seen == slot_sequence(m_cursor, kSlotAborted)) {
            advance(m_cursor + 1); // never a message: returned unpublished, or its writer died
            continue;
        }
        if (seen == 0 || seen >> 2 < m_cursor || seen == slot_sequence(m_cursor, kSlotWriting)) {
            // A waiting subscriber polls here: ask for the payload's first line now, so that it
            // is on its way when the slot is published, rather than fetched only after.
            __builtin_prefetch(TopicLayout::payload(slot));
            return TopicStatus::empty;
        }
        if (seen != slot_sequence(m_cursor, kSlotPublished))
            return skip_lost();
        found = &slot;
        return TopicStatus::ok;
    }
}

bool TopicSubscriberCore::unchanged(const TopicSlotHeader& slot, std::uint64_t seen) {
    // SYNC acquire fence: pairs with the publisher's release fence after its claim: had a later
    // publisher written any byte read before this call, the load below sees its claim.
    seqlock_fence(std::memory_order_acquire);
    // relaxed is enough after the fence above.
    return slot.sequence.load(std::memory_order_relaxed) == seen;
}

TopicStatus TopicSubscriberCore::consumed(bool intact) {
    if (!intact)
        return skip_lost();
    ++m_received;
    // relaxed is enough: a statistic, read only for display.
    TopicLayout(m_topic->state())
        .subscriber(m_entry)
        .received.store(m_received, std::memory_order_relaxed);
    advance(m_cursor + 1);
    return TopicStatus::ok;
}

TopicStatus TopicSubscriberCore::try_recv(FrameSink sink) {
    TopicSlotHeader* slot = nullptr;
    std::uint64_t seen = 0;
    const TopicStatus status = find_message(slot, seen);
    if (status != TopicStatus::ok)
        return status;
    sink(FrameView({TopicLayout::payload(*slot), message_size(*slot)}, {}));
    return consumed(unchanged(*slot, seen));
}

std::uint64_t TopicSubscriberCore::message_size(const TopicSlotHeader& slot) const {
    // relaxed is enough: ordered by the acquire load of the sequence; a size torn by an
    // overwrite is caught by the sequence check, and the clamp keeps the read in the slot.
    return std::min(slot.size.load(std::memory_order_relaxed),
                    TopicLayout(m_topic->state()).room());
}

TopicStatus TopicSubscriberCore::try_borrow(std::span<const std::byte>& message) {
    TopicSlotHeader* slot = nullptr;
    const TopicStatus status = find_message(slot, m_borrowed_sequence);
    if (status != TopicStatus::ok)
        return status;
    m_borrowing = true;
    message = {TopicLayout::payload(*slot), message_size(*slot)};
    return TopicStatus::ok;
}

// One try before the wait's machinery is set up, as in recv.
TopicStatus TopicSubscriberCore::borrow(std::span<const std::byte>& message, Deadline deadline) {
    const TopicStatus status = try_borrow(message);
    if (status != TopicStatus::empty)
        return status;
    return wait_for_message([&] { return try_borrow(message); }, deadline);
}

bool TopicSubscriberCore::borrow_intact() const {
    return m_borrowing &&
           unchanged(TopicLayout(m_topic->state()).slot(m_cursor), m_borrowed_sequence);
}

TopicStatus TopicSubscriberCore::release_borrow() {
    if (!m_borrowing)
        return TopicStatus::ok;
    const bool intact = borrow_intact();
    m_borrowing = false;
    return consumed(intact);
}

// One try before the wait's machinery is set up: a subscriber that keeps up finds a message.
TopicStatus TopicSubscriberCore::recv(FrameSink sink, Deadline deadline) {
    const TopicStatus status = try_recv(sink);
    if (status != TopicStatus::empty)
        return status;
    return wait_for_message([&] { return try_recv(sink); }, deadline);
}

std::uint64_t TopicSubscriberCore::pending() const {
    // relaxed is enough: the result may be stale by definition.
    const std::uint64_t next = m_topic->state().next.load(std::memory_order_relaxed);
    return next > m_cursor ? next - m_cursor : 0;
}

} // namespace shmbus::detail

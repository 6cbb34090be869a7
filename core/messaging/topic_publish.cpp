// SPDX-License-Identifier: Apache-2.0
// Publishing to a Topic: claim the next position in its slot, write, publish (the slot
// protocol and its memory ordering are in docs/design/topics.md).
#include "messaging/topic_state.hpp"
#include "os/owner.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "wait/notify.hpp"
#include "wait/park.hpp"

#include <cstring>
#include <string>

namespace shmbus::detail {
namespace {

// How often a blocked publisher frees the entries of dead subscribers and publishers.
constexpr auto kProbePeriod = std::chrono::milliseconds(50);

std::uint32_t take_lease(const TopicCore& topic, OwnerId me) {
    const TopicLayout layout(topic.state());
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (std::uint32_t i = 0; i < topic.state().max_publishers; ++i) {
            OwnerId free = kNoOwner;
            // SYNC acquire: pairs with the release store that freed the lease.
            if (layout.publisher(i).owner.compare_exchange_strong(free, me,
                                                                  std::memory_order_acquire))
                return i;
        }
        topic.recover_dead();
    }
    throw OutOfSpace("topic has " + std::to_string(topic.state().max_publishers) +
                     " live publishers already (TopicOptions::max_publishers)");
}

// The lowest cursor of a live subscriber, kNoCursor when there is none.
std::uint64_t slowest_cursor(const TopicLayout& layout) {
    std::uint64_t slowest = kNoCursor;
    for (std::uint32_t i = 0; i < layout.state().max_subscribers; ++i) {
        // SYNC acquire: pairs with the subscriber's release store of its cursor after it read
        // the slots below: its copies are done before we overwrite them.
        const std::uint64_t cursor = layout.subscriber(i).cursor.load(std::memory_order_acquire);
        slowest = std::min(slowest, cursor);
    }
    return slowest;
}

[[noreturn, gnu::cold, gnu::noinline]] void throw_forged_next(std::uint64_t position) {
    throw CorruptSegment("topic state: slot " + std::to_string(position) +
                         " holds a later position than next");
}

} // namespace

TopicPublisherCore::TopicPublisherCore(std::shared_ptr<TopicCore> topic)
    : m_topic(std::move(topic)), m_owner(this_process_owner()) {
    m_lease = take_lease(*m_topic, m_owner);
}

TopicPublisherCore::~TopicPublisherCore() {
    if (!held_here())
        return; // a forked child's copy: the lease is its parent's
    TopicPublisher& lease = TopicLayout(m_topic->state()).publisher(m_lease);
    if (m_loaned)
        // A Loan that outlives its publisher (a misuse): give its slot back, or subscribers
        // would wait for it for good once the lease no longer names the claim.
        // relaxed is enough: this process wrote it.
        return_loan(lease.claiming.load(std::memory_order_relaxed));
    // SYNC release: pairs with the acquire CAS of the next publisher that takes the lease.
    lease.owner.store(kNoOwner, std::memory_order_release);
}

bool TopicPublisherCore::held_here() const {
    return m_owner == this_process_owner();
}

bool TopicPublisherCore::has_room(std::uint64_t position) {
    TopicState& state = m_topic->state();
    if (state.policy == static_cast<std::uint32_t>(TopicPolicy::overwrite))
        return true;
    // SYNC acquire: pairs with the joiner's release increment, after it stored its cursor.
    const std::uint64_t joins = state.joins.load(std::memory_order_acquire);
    if (position < m_room_until && joins == m_joins_seen)
        return true;
    m_joins_seen = joins;
    const std::uint64_t slowest = slowest_cursor(TopicLayout(m_topic->state()));
    m_room_until = slowest > kNoCursor - state.capacity ? kNoCursor : slowest + state.capacity;
    return position < m_room_until;
}

void TopicPublisherCore::check_size(std::size_t size) const {
    if (size > m_topic->state().max_message_size || m_loaned) [[unlikely]]
        throw_unpublishable(size);
}

// Out of line: building the messages would weigh on every publish's code.
void TopicPublisherCore::throw_unpublishable(std::size_t size) const {
    const TopicState& state = m_topic->state();
    if (size > state.max_message_size)
        throw MessageTooLarge("a message of " + std::to_string(size) +
                              " bytes exceeds this topic's max_message_size of " +
                              std::to_string(state.max_message_size));
    throw UsageError("this publisher holds a loan: publish or drop it first");
}

std::byte* TopicPublisherCore::try_claim(std::uint64_t& claimed) {
    TopicState& state = m_topic->state();
    const TopicLayout layout(state);
    TopicPublisher& lease = layout.publisher(m_lease);
    for (;;) {
        // SYNC acquire: pairs with the claim CAS of the publisher that moved next here.
        std::uint64_t position = state.next.load(std::memory_order_acquire);
        TopicSlotHeader& slot = layout.slot(position);
        // SYNC acquire: pairs with the release store that finished the slot's last message, so
        // its writer is done with the slot before we write it.
        const std::uint64_t seen = slot.sequence.load(std::memory_order_acquire);
        if (seen != 0 && seen >> 2 >= position) {
            // SYNC acquire: a slot names `position` or later only after next passed it, so a
            // fresh load of next has moved on (docs/design/topics.md); a next that stays put is
            // a forged one, which would make this loop spin for good.
            if (state.next.load(std::memory_order_acquire) == position)
                throw_forged_next(position);
            continue;
        }
        // The slot's previous message is still being written, or a slow subscriber holds it.
        if (!slot_reusable(seen, position, state.capacity) || !has_room(position))
            return nullptr;
        // SYNC release: pairs with a recoverer's acquire load in live_claim (topic_core.cpp);
        // the claim CAS below also releases it, to a recoverer that acquired next.
        lease.claiming.store(position, std::memory_order_release);
        // SYNC seq_cst: the claim. Release pairs with the acquire load of next by publishers and
        // recoverers; seq_cst orders it before the joins load below against a joiner's
        // increment and next load (docs/design/topics.md).
        if (!state.next.compare_exchange_strong(position, position + 1,
                                                std::memory_order_seq_cst)) {
            // SYNC release: a stale claim would make recoverers spare the dead claimer of it.
            lease.claiming.store(kNotClaiming, std::memory_order_release);
            continue;
        }
        if (may_be_read_while_written())
            mark_writing(slot, position);
        claimed = position;
        return TopicLayout::payload(slot);
    }
}

bool TopicPublisherCore::may_be_read_while_written() {
    const TopicState& state = m_topic->state();
    if (state.policy == static_cast<std::uint32_t>(TopicPolicy::overwrite))
        return true; // a lapped subscriber may be reading it
    // SYNC seq_cst: after our claim CAS; pairs with a joiner's seq_cst joins increment and its
    // load of next: either we see the join here, or the joiner sees our claim and starts past
    // our slot (docs/design/topics.md).
    return state.joins.load(std::memory_order_seq_cst) != m_joins_seen;
}

void TopicPublisherCore::mark_writing(TopicSlotHeader& slot, std::uint64_t position) {
    // relaxed is enough: the fence below orders it before every byte of the payload.
    slot.sequence.store(slot_sequence(position, kSlotWriting), std::memory_order_relaxed);
    // SYNC release fence: a subscriber that reads any byte written after it and then issues its
    // acquire fence sees the writing mark (the seqlock's writer side).
    seqlock_fence(std::memory_order_release);
}

void TopicPublisherCore::finish(std::uint64_t position, std::uint64_t mark, std::size_t size) {
    TopicState& state = m_topic->state();
    const TopicLayout layout(state);
    TopicSlotHeader& slot = layout.slot(position);
    TopicPublisher& lease = layout.publisher(m_lease);
    // relaxed is enough: published by the release store of the sequence.
    slot.size.store(size, std::memory_order_relaxed);
    // SYNC release: pairs with the subscriber's acquire load of the sequence.
    slot.sequence.store(slot_sequence(position, mark), std::memory_order_release);
    // SYNC release: pairs with a recoverer's acquire load in live_claim: a recoverer that sees
    // the claim gone sees the sequence above and leaves the slot alone.
    lease.claiming.store(kNotClaiming, std::memory_order_release);
    if (mark == kSlotPublished)
        // relaxed is enough: a statistic, read only for display.
        lease.published.store(++m_published, std::memory_order_relaxed);
    notify_without_fence(state.items, m_topic->fence_free());
    if (state.policy == static_cast<std::uint32_t>(TopicPolicy::overwrite))
        // A publisher a whole ring behind may wait for this slot.
        notify_without_fence(state.space, m_topic->fence_free());
}

TopicStatus TopicPublisherCore::try_publish(std::span<const std::byte> first,
                                            std::span<const std::byte> second) {
    const std::size_t size = first.size() + second.size();
    check_size(size);
    std::uint64_t position = 0;
    std::byte* payload = try_claim(position);
    if (payload == nullptr)
        return TopicStatus::full;
    // An empty span's data() may be null, which memcpy must not get.
    if (!first.empty())
        std::memcpy(payload, first.data(), first.size());
    if (!second.empty())
        std::memcpy(payload + first.size(), second.data(), second.size());
    finish(position, kSlotPublished, size);
    return TopicStatus::ok;
}

template <class Try>
bool TopicPublisherCore::wait_for_room(Try try_once, Deadline deadline) {
    const TopicCore& topic = *m_topic;
    return park_at(topic.state().space, try_once, deadline, topic.wait_options(),
                   probe_every(kProbePeriod,
                               [&topic] {
                                   topic.recover_dead();
                                   return false;
                               }),
                   BarrierWakers{topic.fence_free()});
}

std::byte* TopicPublisherCore::loan(std::size_t size, Deadline deadline, std::uint64_t& position) {
    check_size(size);
    // One try before the wait's machinery is set up: most loans find room.
    std::byte* payload = try_claim(position);
    if (payload == nullptr)
        wait_for_room([&] { return (payload = try_claim(position)) != nullptr; }, deadline);
    m_loaned = payload != nullptr;
    return payload;
}

void TopicPublisherCore::publish_loan(std::uint64_t position, std::size_t size) {
    m_loaned = false;
    finish(position, kSlotPublished, size);
}

void TopicPublisherCore::return_loan(std::uint64_t position) {
    m_loaned = false;
    finish(position, kSlotAborted, 0); // subscribers skip it, as a dead publisher's
}

bool TopicPublisherCore::publish(std::span<const std::byte> first,
                                 std::span<const std::byte> second, Deadline deadline) {
    const auto try_once = [&] { return try_publish(first, second) == TopicStatus::ok; };
    return try_once() || wait_for_room(try_once, deadline);
}

} // namespace shmbus::detail

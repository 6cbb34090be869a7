// SPDX-License-Identifier: Apache-2.0
// A Topic's state: creating and attaching it, and freeing what dead processes held.
#include "shmbus/detail/topic_core.hpp"

#include "messaging/topic_state.hpp"
#include "os/membarrier.hpp"
#include "os/owner.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/topic.hpp"
#include "wait/notify.hpp"

#include <algorithm>
#include <bit>
#include <new>
#include <string>

namespace shmbus::detail {
namespace {

struct Geometry {
    std::uint64_t capacity;
    std::uint64_t slot_stride;
    std::uint64_t slots_offset;
    std::uint64_t bytes;
};

void check_options(const TopicOptions& options) {
    if (options.max_message_size == 0 || options.max_message_size > kMaxTopicMessageSize)
        throw UsageError("max_message_size must lie in [1, " +
                         std::to_string(kMaxTopicMessageSize) + "]");
    if (options.capacity == 0 || options.capacity > kMaxTopicCapacity)
        throw UsageError("capacity must lie in [1, " + std::to_string(kMaxTopicCapacity) + "]");
    if (options.history > options.capacity)
        throw UsageError("history " + std::to_string(options.history) + " exceeds capacity " +
                         std::to_string(options.capacity));
    if (options.max_publishers == 0 || options.max_publishers > kMaxTopicHandles ||
        options.max_subscribers == 0 || options.max_subscribers > kMaxTopicHandles)
        throw UsageError("max_publishers and max_subscribers must lie in [1, " +
                         std::to_string(kMaxTopicHandles) + "]");
}

Geometry geometry(const TopicOptions& options) {
    check_options(options);
    Geometry g{};
    g.capacity = std::max<std::uint64_t>(std::bit_ceil(std::uint64_t{options.capacity}), 2);
    g.slot_stride = kCacheLine + round_up_size(options.max_message_size, kCacheLine,
                                               "a Topic's max_message_size");
    g.slots_offset = topic_slots_offset(options.max_publishers, options.max_subscribers);
    g.bytes =
        add_size(g.slots_offset, mul_size(g.capacity, g.slot_stride, "a Topic's slots"), "a Topic");
    return g;
}

void init_state(void* at, const TopicOptions& options, const Geometry& g) {
    auto* state = new (at) TopicState{};
    state->magic = kTopicStateMagic;
    state->version = kTopicStateVersion;
    state->policy = static_cast<std::uint32_t>(options.slow_subscriber == SlowSubscriber::overwrite
                                                   ? TopicPolicy::overwrite
                                                   : TopicPolicy::block);
    state->capacity = g.capacity;
    state->slot_stride = g.slot_stride;
    state->max_message_size = options.max_message_size;
    state->history = options.history;
    state->max_publishers = static_cast<std::uint16_t>(options.max_publishers);
    state->max_subscribers = static_cast<std::uint16_t>(options.max_subscribers);
    // As a Pipe's: a topic made to block parks on every wait, where a barrier per park would
    // cost more than a fence per message.
    state->fence_free_wakers =
        options.wait.policy != WaitPolicy::block && heavy_barrier_ready() ? 1 : 0;
    state->slots_offset = g.slots_offset;
    const TopicLayout layout(*state);
    for (std::uint32_t i = 0; i < state->max_publishers; ++i)
        // relaxed is enough: the object directory publishes the initialised state.
        new (&layout.publisher(i)) TopicPublisher{{kNoOwner}, {kNotClaiming}, {0}};
    for (std::uint32_t i = 0; i < state->max_subscribers; ++i)
        new (&layout.subscriber(i)) TopicSubscriber{{kNoOwner}, {kNoCursor}, {0}, {0}};
    for (std::uint64_t p = 0; p < g.capacity; ++p)
        new (&layout.slot(p)) TopicSlotHeader{{0}, {0}};
}

ObjectRef attach_topic(const Segment& segment, std::string_view name, const TopicOptions& options,
                       OpenMode mode, std::uint64_t type_tag) {
    if (mode == OpenMode::open)
        return attach_object(segment, name, ObjectSpec{ObjectKind::topic, 0, kCacheLine, type_tag},
                             mode, [](void*) {});
    if (mode == OpenMode::open_or_create && !name.empty()) {
        // Open whatever exists, whatever options it was made with; create only when missing.
        return open_or_create_object(
            [&] { return attach_topic(segment, name, options, OpenMode::open, type_tag); },
            [&] { return attach_topic(segment, name, options, OpenMode::create, type_tag); });
    }
    const Geometry g = geometry(options);
    return attach_object(segment, name,
                         ObjectSpec{ObjectKind::topic, g.bytes, kCacheLine, type_tag},
                         OpenMode::create, [&](void* at) { init_state(at, options, g); });
}

// Marks an entry whose owner is dead as being freed; false when it is alive, free, or another
// recoverer got there first.
bool take_dead(std::atomic<OwnerId>& owner) {
    // SYNC acquire: pairs with the release store that made the entry's owner.
    OwnerId seen = owner.load(std::memory_order_acquire);
    if (seen == kNoOwner || seen == kReclaimingOwner || owner_alive(seen))
        return false;
    // SYNC acq_rel: only one recoverer frees the entry; pairs with the loads above.
    return owner.compare_exchange_strong(seen, kReclaimingOwner, std::memory_order_acq_rel);
}

// True when a live publisher claims `position`: a dead publisher's lease may name a position it
// never won (it died before its claim), and then the slot is a live writer's.
bool live_claim(const TopicLayout& layout, std::uint64_t position) {
    for (std::uint32_t i = 0; i < layout.state().max_publishers; ++i) {
        TopicPublisher& lease = layout.publisher(i);
        // SYNC acquire: pairs with the publisher's release stores of claiming: one that moved
        // off `position` had finished its slot (or lost the claim) before.
        if (lease.claiming.load(std::memory_order_acquire) != position)
            continue;
        // SYNC acquire: pairs with the release store that made the lease's owner.
        const OwnerId owner = lease.owner.load(std::memory_order_acquire);
        if (owner != kNoOwner && owner != kReclaimingOwner && owner_alive(owner))
            return true;
    }
    return false;
}

// Aborts the message a dead publisher claimed at `position`, if it is still unfinished, so that
// subscribers skip it instead of waiting for it.
void abort_dead_claim(const TopicLayout& layout, std::uint64_t position) {
    const TopicState& state = layout.state();
    // SYNC acquire: pairs with the claim CAS of `position` (through the later claims' CASes):
    // a live claimer's lease names it in live_claim below.
    if (state.next.load(std::memory_order_acquire) <= position)
        return; // nobody claimed it: the dead publisher died before its claim
    TopicSlotHeader& slot = layout.slot(position);
    // SYNC acquire: pairs with the release store that finished the slot's last message.
    std::uint64_t seen = slot.sequence.load(std::memory_order_acquire);
    const bool unfinished = seen == slot_sequence(position, kSlotWriting) ||
                            slot_reusable(seen, position, state.capacity);
    if (!unfinished || live_claim(layout, position))
        return;
    // SYNC release: pairs with a subscriber's acquire load of the sequence; a live publisher
    // that finished in between made the CAS fail.
    slot.sequence.compare_exchange_strong(seen, slot_sequence(position, kSlotAborted),
                                          std::memory_order_release, std::memory_order_relaxed);
}

void free_publisher(const TopicLayout& layout, TopicPublisher& lease) {
    // SYNC acquire: pairs with the dead publisher's release store of its claim.
    const std::uint64_t claiming = lease.claiming.load(std::memory_order_acquire);
    if (claiming != kNotClaiming)
        abort_dead_claim(layout, claiming);
    // relaxed is enough: the owner's release store below publishes it.
    lease.claiming.store(kNotClaiming, std::memory_order_relaxed);
    // SYNC release: pairs with the acquire CAS of the next publisher that takes the lease.
    lease.owner.store(kNoOwner, std::memory_order_release);
}

void free_subscriber(TopicSubscriber& entry) {
    // relaxed is enough: the owner's release store below publishes it.
    entry.cursor.store(kNoCursor, std::memory_order_relaxed);
    // SYNC release: pairs with the acquire CAS of the next subscriber that takes the entry.
    entry.owner.store(kNoOwner, std::memory_order_release);
}

} // namespace

TopicCore::TopicCore(const Segment& segment, std::string_view name, const TopicOptions& options,
                     OpenMode mode, std::uint64_t type_tag)
    : m_object(attach_topic(segment, name, options, mode, type_tag)),
      m_state(StateRef<TopicState>(m_object).get()), m_wait(options.wait),
      m_fence_free(m_state->fence_free_wakers == 1 && heavy_barrier_ready()) {}

std::size_t TopicCore::recover_dead() const {
    const TopicLayout layout(*m_state);
    std::size_t freed = 0;
    for (std::uint32_t i = 0; i < m_state->max_publishers; ++i)
        if (take_dead(layout.publisher(i).owner)) {
            free_publisher(layout, layout.publisher(i));
            ++freed;
        }
    for (std::uint32_t i = 0; i < m_state->max_subscribers; ++i)
        if (take_dead(layout.subscriber(i).owner)) {
            free_subscriber(layout.subscriber(i));
            ++freed;
        }
    if (freed != 0) {
        notify_all(m_state->items);
        notify_all(m_state->space);
    }
    return freed;
}

void TopicCore::recover_dead_publishers() const {
    const TopicLayout layout(*m_state);
    bool freed = false;
    for (std::uint32_t i = 0; i < m_state->max_publishers; ++i) {
        TopicPublisher& lease = layout.publisher(i);
        // relaxed is enough: take_dead re-reads the owner with acquire order.
        if (lease.claiming.load(std::memory_order_relaxed) != kNotClaiming &&
            take_dead(lease.owner)) {
            free_publisher(layout, lease);
            freed = true;
        }
    }
    if (freed) {
        notify_all(m_state->items);
        notify_all(m_state->space);
    }
}

std::size_t TopicCore::capacity() const {
    return m_state->capacity;
}
std::size_t TopicCore::max_message_size() const {
    return m_state->max_message_size;
}
std::size_t TopicCore::history() const {
    return m_state->history;
}
bool TopicCore::overwrites() const {
    return m_state->policy == static_cast<std::uint32_t>(TopicPolicy::overwrite);
}
std::uint64_t TopicCore::messages_in() const {
    // relaxed is enough: the result may be stale by definition.
    return m_state->next.load(std::memory_order_relaxed);
}

} // namespace shmbus::detail

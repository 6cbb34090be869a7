// SPDX-License-Identifier: Apache-2.0
// The untyped cores behind Topic<T>, Publisher<T> and Subscriber<T>: a broadcast ring of
// fixed-size slots in a segment (core/messaging/topic_state.hpp), a lease per publisher handle
// and a cursor per subscriber handle. The typed views encode and decode (codec.hpp) around them.
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/export.hpp"
#include "shmbus/wait.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace shmbus {

struct TopicOptions; // shmbus/topic.hpp, which includes this header

namespace detail {

struct TopicState;
struct TopicSlotHeader;

/// Outcome of a non-blocking step.
enum class TopicStatus : std::uint8_t {
    ok,
    full,   ///< publish: the slowest subscriber (block) or a slow publisher holds the slot
    empty,  ///< recv: nothing new
    lagged, ///< recv: messages were overwritten before this subscriber read them
};

/// A topic in a segment, shared by the publisher and subscriber cores made from it.
class SHMBUS_EXPORT TopicCore {
public:
    /// `type_tag` tells element types apart (KindMismatch).
    TopicCore(const Segment& segment, std::string_view name, const TopicOptions& options,
              OpenMode mode, std::uint64_t type_tag);

    /// Frees the entries of dead publishers and subscribers and aborts a message a dead
    /// publisher was writing. Returns how many entries it freed.
    std::size_t recover_dead() const;
    /// recover_dead() restricted to publishers caught inside a publish: cheap when idle.
    void recover_dead_publishers() const;

    /// Slots: the most messages the topic retains.
    std::size_t capacity() const;
    std::size_t max_message_size() const;
    std::size_t history() const;
    /// True under SlowSubscriber::overwrite.
    bool overwrites() const;
    /// Messages published (claimed) so far. @concurrent result may be stale.
    std::uint64_t messages_in() const;

    TopicState& state() const { return *m_state; }
    const ObjectRef& object() const { return m_object; }
    const WaitOptions& wait_options() const { return m_wait; }
    /// Whether this process wakes without a fence and issues heavy_barrier() before it sleeps.
    bool fence_free() const { return m_fence_free; }
    void set_wait_options(const WaitOptions& wait) { m_wait = wait; }

private:
    ObjectRef m_object;
    /// Validated once at attach (core/segment/state_ref.hpp).
    TopicState* m_state;
    WaitOptions m_wait;
    bool m_fence_free;
};

/// A publisher's lease in a topic: held from construction to destruction.
class SHMBUS_EXPORT TopicPublisherCore {
public:
    /// OutOfSpace when every publisher entry is held by a live process.
    explicit TopicPublisherCore(std::shared_ptr<TopicCore> topic);
    ~TopicPublisherCore();
    TopicPublisherCore(const TopicPublisherCore&) = delete;
    TopicPublisherCore& operator=(const TopicPublisherCore&) = delete;

    /// ok or full for the message `first` then `second` (a frame in two pieces, so that an
    /// item's length word and its bytes go into the slot straight from where they are);
    /// MessageTooLarge beyond max_message_size. Never blocks.
    TopicStatus try_publish(std::span<const std::byte> first,
                            std::span<const std::byte> second = {});
    /// Blocks until published (true) or the deadline passes (false).
    bool publish(std::span<const std::byte> first, std::span<const std::byte> second,
                 Deadline deadline);
    bool publish(std::span<const std::byte> message, Deadline deadline) {
        return publish(message, {}, deadline);
    }
    /// A slot of room for `size` bytes, claimed at `position`, or null when the deadline
    /// passes. One loan at a time (UsageError); MessageTooLarge.
    std::byte* loan(std::size_t size, Deadline deadline, std::uint64_t& position);
    /// Publishes the loan at `position` with `size` bytes.
    void publish_loan(std::uint64_t position, std::size_t size);
    /// Gives the loan at `position` back unpublished: subscribers skip it.
    void return_loan(std::uint64_t position);
    /// True when made by the calling process (a forked child must make its own).
    bool held_here() const;
    const TopicCore& topic() const { return *m_topic; }

private:
    void check_size(std::size_t size) const;
    [[noreturn, gnu::cold, gnu::noinline]] void throw_unpublishable(std::size_t size) const;
    bool has_room(std::uint64_t position);
    std::byte* try_claim(std::uint64_t& position);
    /// Whether a subscriber may read the slot just claimed while we write it: then it gets the
    /// writing mark (seqlock).
    bool may_be_read_while_written();
    static void mark_writing(TopicSlotHeader& slot, std::uint64_t position);
    void finish(std::uint64_t position, std::uint64_t mark, std::size_t size);
    template <class Try>
    bool wait_for_room(Try try_once, Deadline deadline);

    std::shared_ptr<TopicCore> m_topic;
    std::uint32_t m_lease;
    std::uint64_t m_owner;
    /// Positions below this had room at the last scan of the cursors (block only).
    std::uint64_t m_room_until = 0;
    /// TopicState::joins at that scan: a subscriber that joined since may be slower.
    std::uint64_t m_joins_seen = 0;
    std::uint64_t m_published = 0;
    bool m_loaned = false;
};

/// A subscriber's cursor in a topic: held from construction to destruction.
class SHMBUS_EXPORT TopicSubscriberCore {
public:
    /// OutOfSpace when every subscriber entry is held by a live process. Starts with the last
    /// `history` messages.
    explicit TopicSubscriberCore(std::shared_ptr<TopicCore> topic);
    ~TopicSubscriberCore();
    TopicSubscriberCore(const TopicSubscriberCore&) = delete;
    TopicSubscriberCore& operator=(const TopicSubscriberCore&) = delete;

    /// ok (the message handed to `sink` in place, and intact), empty, or lagged (see
    /// last_lag(); what `sink` got then was overwritten while it read and must be dropped).
    /// Never blocks.
    TopicStatus try_recv(FrameSink sink);
    /// Blocks until ok or lagged, or the deadline passes (empty).
    TopicStatus recv(FrameSink sink, Deadline deadline);
    /// try_recv and recv copying the message into `out`.
    TopicStatus try_recv(ByteBuffer& out) { return try_recv(sink_into(out)); }
    TopicStatus recv(ByteBuffer& out, Deadline deadline) { return recv(sink_into(out), deadline); }
    /// ok: `message` views the next message in place until release_borrow(); empty; lagged.
    /// One borrow at a time: recv and borrow while one is held are UsageError.
    TopicStatus try_borrow(std::span<const std::byte>& message);
    /// Blocks until ok or lagged, or the deadline passes (empty).
    TopicStatus borrow(std::span<const std::byte>& message, Deadline deadline);
    /// True while the borrowed message has not been overwritten: bytes read from it before
    /// this call are the message's.
    bool borrow_intact() const;
    /// Ends the borrow and moves on: ok, or lagged when it was overwritten while held.
    TopicStatus release_borrow();
    /// Messages lost in the last `lagged` answer.
    std::uint64_t last_lag() const { return m_lag; }
    /// Messages lost since subscribing.
    std::uint64_t dropped() const { return m_dropped; }
    /// Position in the topic's total order of the next message to read: a message just
    /// received sits one below. Positions never repeat in a topic's life (the NATS topic bridge
    /// makes message ids of them).
    std::uint64_t next_position() const { return m_cursor; }
    /// Messages published and not yet read. @concurrent result may be stale.
    std::uint64_t pending() const;
    const TopicCore& topic() const { return *m_topic; }

private:
    void advance(std::uint64_t cursor);
    TopicStatus skip_lost();
    TopicStatus find_message(TopicSlotHeader*& slot, std::uint64_t& seen);
    void start_past_claims_unseen();
    static bool unchanged(const TopicSlotHeader& slot, std::uint64_t seen);
    TopicStatus consumed(bool intact);
    std::uint64_t message_size(const TopicSlotHeader& slot) const;
    template <class Try>
    TopicStatus wait_for_message(Try try_once, Deadline deadline);

    std::shared_ptr<TopicCore> m_topic;
    std::uint32_t m_entry;
    std::uint64_t m_owner;
    std::uint64_t m_cursor = 0;
    std::uint64_t m_lag = 0;
    std::uint64_t m_dropped = 0;
    std::uint64_t m_received = 0;
    bool m_borrowing = false;
    std::uint64_t m_borrowed_sequence = 0;
};

} // namespace detail
} // namespace shmbus

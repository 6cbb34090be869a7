// SPDX-License-Identifier: Apache-2.0
/// @file
/// Topic<T, Codec>: publish/subscribe over a shared-memory broadcast ring, through its
/// Publisher<T, Codec> and Subscriber<T, Codec> (topic_publisher.hpp, topic_subscriber.hpp), with
/// zero-copy loans (Loan\<U\> and Borrowed<T, Codec>, in topic_loan.hpp).
/// Every subscriber receives every message published after it subscribed (and the last
/// TopicOptions::history before), each at its own pace.
///
/// @code
///   shmbus::Topic<Frame> frames(segment, "camera", {.capacity = 16, .history = 1});
///   auto sub = frames.subscribe();                 // in each reading process
///   frames.publish(frame);                         // in any writing process
///   Frame f = sub.recv();
/// @endcode
///
/// Guarantees: any number of publisher and subscriber processes; messages of all publishers
/// fall into one total order that every subscriber sees (so each publisher's own order holds).
/// A slow subscriber is handled by TopicOptions::slow_subscriber: `block` makes publishers wait
/// for it; `overwrite` never waits and the subscriber's next recv throws Lagged with the number
/// of messages it lost, then goes on with the oldest message retained. No message is ever
/// skipped silently.
///
/// Dead peers: a subscriber killed while publishers wait for it under `block` is released
/// within ~50 ms; a publisher killed while writing a message leaves no part of it visible (its
/// slot is skipped by every subscriber once a waiting process notices, within ~50 ms).
///
/// Zero copy: Publisher::loan lends a slot to write a message in place (Loan), and
/// Subscriber::borrow reads one in place (Borrowed); payloads start on 64-byte boundaries.
/// A raw loan's bytes are the message as subscribers see it: borrow() it as bytes, or recv()
/// it when they are T's encoding (loan<T>() for a trivially copyable T).
///
/// The codec (second template argument, CerealCodec by default) is recorded in the topic with
/// the element type, as for a Queue: `Topic<Quote, MsgpackCodec>` (shmbus/msgpack_codec.hpp)
/// carries MessagePack that a Python process reads; opening a topic with another codec is
/// KindMismatch. Loans of a value in place (loan\<U\>(), Borrowed::get()) need CerealCodec,
/// whose encoding of a trivially copyable T is its bytes.
///
/// Handles: a Publisher or Subscriber belongs to the process (and, at a time, the thread) that
/// made it. Topic::publish uses a publisher of the Topic handle, made at its first use in each
/// process; copies of a Topic make their own.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/topic_loan.hpp"
#include "shmbus/topic_publisher.hpp"
#include "shmbus/topic_subscriber.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

namespace shmbus {

/// What a Topic does when a subscriber falls a whole ring behind.
enum class SlowSubscriber : std::uint8_t {
    block,     ///< publishers wait until the slowest live subscriber has read the oldest slot
    overwrite, ///< publishers never wait; the slow subscriber's next recv throws Lagged
};

/// How a topic is created. Opening an existing topic ignores everything but `wait`.
/// Nonsense options are UsageError; a topic that does not fit in the segment is OutOfSpace.
struct TopicOptions {
    /// Messages the ring retains; rounded up to a power of two, at least 2.
    std::size_t capacity = 64;
    /// Largest encoded message; publish of a bigger one is MessageTooLarge. Each slot holds
    /// this many bytes, rounded up to 64, so the topic takes about capacity * max_message_size.
    std::size_t max_message_size = 4096;
    /// Messages a subscriber that joins late receives first (at most capacity).
    std::size_t history = 0;
    /// What publishers do when a subscriber falls behind.
    SlowSubscriber slow_subscriber = SlowSubscriber::block;
    /// Publisher handles that may exist at once (1 to 4096).
    std::size_t max_publishers = 64;
    /// Subscriber handles that may exist at once (1 to 4096).
    std::size_t max_subscribers = 64;
    /// How handles made from this Topic wait; each process (and each handle) may choose its own.
    WaitOptions wait = {};
};

/// A publish/subscribe topic of T (see the top of this file). Copies are handles to the same
/// topic; each copy publishes through a publisher of its own.
template <class T, class Codec = CerealCodec>
class Topic {
public:
    /// The element type.
    using value_type = T;
    /// How elements are encoded (CerealCodec, MsgpackCodec).
    using codec_type = Codec;

    /// An anonymous topic in the default segment (forked children inherit it), made with
    /// `options`.
    explicit Topic(const TopicOptions& options = {})
        : Topic(Segment::default_segment(), "", options, detail::OpenMode::create) {}
    /// Opens the topic `name` in `segment`, creating it with `options` when it is missing (an
    /// existing topic keeps the options it was made with).
    Topic(const Segment& segment, std::string_view name, const TopicOptions& options = {})
        : Topic(segment, name, options, detail::OpenMode::open_or_create) {}
    /// AlreadyExists when the name is taken.
    static Topic create(const Segment& segment, std::string_view name,
                        const TopicOptions& options = {}) {
        return Topic(segment, name, options, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it holds another element type or codec.
    static Topic open(const Segment& segment, std::string_view name, const WaitOptions& wait = {}) {
        TopicOptions options;
        options.wait = wait;
        return Topic(segment, name, options, detail::OpenMode::open);
    }

    /// Copies the handle; the copy makes its own publisher when it first publishes.
    Topic(const Topic& other) : m_core(other.m_core) {}
    /// As the copy constructor.
    Topic& operator=(const Topic& other) {
        if (this != &other) {
            m_core = other.m_core;
            m_publisher.reset();
        }
        return *this;
    }
    /// Moves the handle and its publisher.
    Topic(Topic&&) noexcept = default;
    /// Moves the handle and its publisher.
    Topic& operator=(Topic&&) noexcept = default;
    ~Topic() = default;

    /// A new publisher handle.
    Publisher<T, Codec> publisher() const { return Publisher<T, Codec>(m_core); }
    /// A new subscriber: it receives the last `history` messages, then every new one.
    Subscriber<T, Codec> subscribe() const { return Subscriber<T, Codec>(m_core); }

    /// Publisher::publish through this handle's own publisher.
    void publish(const T& item) { own_publisher().publish(item); }
    /// Publisher::publish_for through this handle's own publisher.
    template <class Rep, class Period>
    void publish_for(const T& item, std::chrono::duration<Rep, Period> timeout) {
        own_publisher().publish_for(item, timeout);
    }
    /// Publisher::publish_until through this handle's own publisher.
    template <class C, class D>
    void publish_until(const T& item, std::chrono::time_point<C, D> deadline) {
        own_publisher().publish_until(item, deadline);
    }
    /// Publisher::try_publish through this handle's own publisher.
    [[nodiscard]] bool try_publish(const T& item) { return own_publisher().try_publish(item); }

    /// Publisher::loan(bytes) through this handle's own publisher.
    Loan<std::byte> loan(std::size_t bytes) { return own_publisher().loan(bytes); }
    /// Publisher::loan\<U\>() through this handle's own publisher.
    template <class U = T>
    requires Publisher<T, Codec>::template kLoanable<U> Loan<U> loan() {
        return own_publisher().template loan<U>();
    }

    /// Messages retained (TopicOptions::capacity rounded up to a power of two).
    std::size_t capacity() const { return m_core->capacity(); }
    /// TopicOptions::max_message_size it was created with.
    std::size_t max_message_size() const { return m_core->max_message_size(); }
    /// TopicOptions::history it was created with.
    std::size_t history() const { return m_core->history(); }
    /// TopicOptions::slow_subscriber it was created with.
    SlowSubscriber slow_subscriber() const {
        return m_core->overwrites() ? SlowSubscriber::overwrite : SlowSubscriber::block;
    }
    /// Messages published so far, by every process. @concurrent result may be stale.
    std::uint64_t messages_in() const { return m_core->messages_in(); }
    /// Frees the entries of dead publishers and subscribers now (waits do it by themselves);
    /// returns how many it freed.
    std::size_t recover_dead() { return m_core->recover_dead(); }
    /// How this handle and the publishers and subscribers made from it wait.
    void set_wait_options(const WaitOptions& wait) { m_core->set_wait_options(wait); }
    /// The segment the topic lives in.
    const Segment& segment() const { return m_core->object().segment(); }

private:
    Topic(const Segment& segment, std::string_view name, const TopicOptions& options,
          detail::OpenMode mode)
        : m_core(std::make_shared<detail::TopicCore>(segment, name, options, mode,
                                                     Codec::template type_tag<T>())) {}

    Publisher<T, Codec>& own_publisher() {
        if (!m_publisher || !m_publisher->held_here())
            m_publisher = std::make_unique<Publisher<T, Codec>>(m_core);
        return *m_publisher;
    }

    std::shared_ptr<detail::TopicCore> m_core;
    std::unique_ptr<Publisher<T, Codec>> m_publisher;
};

} // namespace shmbus

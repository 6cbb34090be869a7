// SPDX-License-Identifier: Apache-2.0
/// @file
/// Topic<T>, Publisher<T>, Subscriber<T>: publish/subscribe over a shared-memory broadcast
/// ring, with zero-copy loans (Loan\<U\> and Borrowed<T>, in topic_loan.hpp).
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
/// Handles: a Publisher or Subscriber belongs to the process (and, at a time, the thread) that
/// made it. Topic::publish uses a publisher of the Topic handle, made at its first use in each
/// process; copies of a Topic make their own.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/topic_loan.hpp"
#include "shmbus/wait.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
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

/// Publishes T messages to a topic. Move-only; held by one process, used by one thread at a
/// time. OutOfSpace at construction when TopicOptions::max_publishers are alive.
template <class T>
class Publisher {
public:
    /// Blocks while the topic is full (only under SlowSubscriber::block). MessageTooLarge.
    void publish(const T& item) { publish_by(item, detail::Deadline::never()); }
    /// Full when there is still no room after `timeout`.
    template <class Rep, class Period>
    void publish_for(const T& item, std::chrono::duration<Rep, Period> timeout) {
        if (!try_publish(item)) // the clock is read only when there is no room at once
            publish_by(item, detail::Deadline::after(timeout));
    }
    /// Full when there is still no room at `deadline`.
    template <class C, class D>
    void publish_until(const T& item, std::chrono::time_point<C, D> deadline) {
        publish_by(item, detail::Deadline::at(deadline));
    }
    /// False when there is no room now; never blocks.
    [[nodiscard]] bool try_publish(const T& item) {
        if constexpr (kInPlace) {
            const detail::FrameParts<T> parts(item);
            return m_core->try_publish(parts.first(), parts.second()) == detail::TopicStatus::ok;
        } else {
            return m_core->try_publish(encoded(item)) == detail::TopicStatus::ok;
        }
    }

    /// A slot for a message of `bytes` bytes to write in place; blocks while the topic is full
    /// (block only). MessageTooLarge; UsageError while this publisher holds another loan.
    Loan<std::byte> loan(std::size_t bytes) { return loan_by<std::byte>(bytes); }
    /// A slot holding a value-initialised U (default T) to fill in place and publish; its
    /// bytes are T's encoding, so subscribers recv() or borrow() it as a T.
    template <class U = T>
    requires detail::kCodecByMemcpy<U> Loan<U> loan() { return loan_by<U>(sizeof(U)); }
    /// loan(bytes), or Full when there is still no room after `timeout`.
    template <class Rep, class Period>
    Loan<std::byte> loan_for(std::size_t bytes, std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<Loan<std::byte>> slot = try_loan(bytes)) // the clock: only when full
            return std::move(*slot);
        return loan_by<std::byte>(bytes, detail::Deadline::after(timeout));
    }
    /// loan(bytes), or nullopt when there is no room now; never blocks.
    [[nodiscard]] std::optional<Loan<std::byte>> try_loan(std::size_t bytes) {
        return lent<std::byte>(bytes, detail::Deadline::immediate());
    }
    /// loan\<U\>(), or nullopt when there is no room now; never blocks.
    template <class U = T>
    requires detail::kCodecByMemcpy<U>
    [[nodiscard]] std::optional<Loan<U>> try_loan() {
        return lent<U>(sizeof(U), detail::Deadline::immediate());
    }

    /// Made by Topic::publisher().
    explicit Publisher(std::shared_ptr<detail::TopicCore> topic)
        : m_core(std::make_unique<detail::TopicPublisherCore>(std::move(topic))) {}
    /// True when the calling process made this publisher.
    bool held_here() const { return m_core->held_here(); }

private:
    static std::span<const std::byte> encoded(const T& item) {
        detail::ByteBuffer& buffer = detail::codec_scratch();
        buffer.clear();
        encode(item, buffer);
        return buffer.bytes();
    }
    template <class U>
    std::optional<Loan<U>> lent(std::size_t size, detail::Deadline deadline) {
        std::uint64_t position = 0;
        std::byte* data = m_core->loan(size, deadline, position);
        if (data == nullptr)
            return std::nullopt;
        return std::optional<Loan<U>>(std::in_place, *m_core, data, size, position);
    }
    template <class U>
    Loan<U> loan_by(std::size_t size, detail::Deadline deadline = detail::Deadline::never()) {
        std::optional<Loan<U>> slot = lent<U>(size, deadline);
        if (!slot)
            throw Full("topic is full: a subscriber is behind");
        return std::move(*slot);
    }
    // Trivially copyable items and strings/vectors of them go straight into the slot
    // (frame_codec.hpp); the rest through a per-thread scratch buffer.
    void publish_by(const T& item, detail::Deadline deadline) {
        bool published = false;
        if constexpr (kInPlace) {
            const detail::FrameParts<T> parts(item);
            published = m_core->publish(parts.first(), parts.second(), deadline);
        } else {
            published = m_core->publish(encoded(item), deadline);
        }
        if (!published)
            throw Full("topic is full: a subscriber is behind");
    }
    static constexpr bool kInPlace = detail::kFrameInPlace<T>;

    std::unique_ptr<detail::TopicPublisherCore> m_core;
};

/// Receives every T message of a topic from the moment it subscribed (and the topic's history
/// before). Move-only; held by one process, used by one thread at a time.
template <class T>
class Subscriber {
public:
    /// Blocks until a message arrives. Lagged when messages were lost (under overwrite; under
    /// block only a history message overwritten while this subscriber joined): the next recv
    /// goes on with the oldest retained message. DecodeError when it is not a T.
    T recv() { return recv_by(detail::Deadline::never()); }
    /// Empty when nothing arrives within `timeout`.
    template <class Rep, class Period>
    T recv_for(std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<T> item = try_recv()) // the clock is read only when there is none yet
            return std::move(*item);
        return recv_by(detail::Deadline::after(timeout));
    }
    /// Empty when nothing arrives by `deadline`.
    template <class C, class D>
    T recv_until(std::chrono::time_point<C, D> deadline) {
        return recv_by(detail::Deadline::at(deadline));
    }
    /// nullopt when nothing new; never blocks. Lagged as recv.
    [[nodiscard]] std::optional<T> try_recv() {
        return received([&](auto&& to) { return m_core->try_recv(to); });
    }

    /// The next message in place, without a copy; blocks until one arrives. Lagged as recv.
    /// One borrow at a time: recv and borrow while a Borrowed is alive are UsageError.
    Borrowed<T> borrow() { return borrow_by(detail::Deadline::never()); }
    /// Empty when nothing arrives within `timeout`.
    template <class Rep, class Period>
    Borrowed<T> borrow_for(std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<Borrowed<T>> item = try_borrow()) // the clock: only when none yet
            return std::move(*item);
        return borrow_by(detail::Deadline::after(timeout));
    }
    /// nullopt when nothing new; never blocks. Lagged as recv.
    [[nodiscard]] std::optional<Borrowed<T>> try_borrow() {
        std::span<const std::byte> bytes;
        const detail::TopicStatus status = m_core->try_borrow(bytes);
        if (status == detail::TopicStatus::empty)
            return std::nullopt;
        return borrowed(status, bytes);
    }

    /// Messages this subscriber lost to overwrite since it subscribed.
    std::uint64_t dropped() const { return m_core->dropped(); }
    /// Messages published that it has not read yet. @concurrent result may be stale.
    std::uint64_t pending() const { return m_core->pending(); }

    /// Made by Topic::subscribe().
    explicit Subscriber(std::shared_ptr<detail::TopicCore> topic)
        : m_core(std::make_unique<detail::TopicSubscriberCore>(std::move(topic))) {}

private:
    /// Trivially copyable items and strings/vectors of them are decoded straight out of the
    /// slot (frame_codec.hpp); the rest are copied into a per-thread scratch buffer first.
    static constexpr bool kInPlace = detail::kFrameInPlace<T>;

    /// The message `receive(to)` hands to `to` (a decoder in place, or a scratch buffer);
    /// nullopt when it found none. Lagged when messages were lost, or the one read was
    /// overwritten while it was read (its value is dropped).
    template <class Receive>
    std::optional<T> received(Receive receive) {
        if constexpr (kInPlace) {
            detail::InPlaceDecoder<T> decoder;
            if (!arrived(receive(decoder.sink())))
                return std::nullopt;
            return decoder.take();
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            if (!arrived(receive(buffer)))
                return std::nullopt;
            return decode<T>(buffer.bytes());
        }
    }
    bool arrived(detail::TopicStatus status) {
        if (status == detail::TopicStatus::lagged)
            throw Lagged(m_core->last_lag());
        return status == detail::TopicStatus::ok;
    }
    Borrowed<T> borrowed(detail::TopicStatus status, std::span<const std::byte> bytes) {
        if (status == detail::TopicStatus::lagged)
            throw Lagged(m_core->last_lag());
        return Borrowed<T>(*m_core, bytes);
    }
    Borrowed<T> borrow_by(detail::Deadline deadline) {
        std::span<const std::byte> bytes;
        const detail::TopicStatus status = m_core->borrow(bytes, deadline);
        if (status == detail::TopicStatus::empty)
            throw Empty("no message on the topic");
        return borrowed(status, bytes);
    }
    T recv_by(detail::Deadline deadline) {
        std::optional<T> item = received([&](auto&& to) { return m_core->recv(to, deadline); });
        if (!item)
            throw Empty("no message on the topic");
        return std::move(*item);
    }

    std::unique_ptr<detail::TopicSubscriberCore> m_core;
};

/// A publish/subscribe topic of T (see the top of this file). Copies are handles to the same
/// topic; each copy publishes through a publisher of its own.
template <class T>
class Topic {
public:
    /// The element type.
    using value_type = T;

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
    /// NotFound when missing; KindMismatch when it holds another element type.
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
    Publisher<T> publisher() const { return Publisher<T>(m_core); }
    /// A new subscriber: it receives the last `history` messages, then every new one.
    Subscriber<T> subscribe() const { return Subscriber<T>(m_core); }

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
    requires detail::kCodecByMemcpy<U> Loan<U> loan() { return own_publisher().template loan<U>(); }

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
                                                     detail::type_tag<T>())) {}

    Publisher<T>& own_publisher() {
        if (!m_publisher || !m_publisher->held_here())
            m_publisher = std::make_unique<Publisher<T>>(m_core);
        return *m_publisher;
    }

    std::shared_ptr<detail::TopicCore> m_core;
    std::unique_ptr<Publisher<T>> m_publisher;
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Loan\<U\> and Borrowed<T, Codec>: a Topic's messages written and read in place in shared memory
/// (zero copy), made by Publisher::loan and Subscriber::borrow (topic.hpp).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace shmbus {

/// A slot of a topic lent to a publisher to write a message in place (zero copy). Made by
/// Publisher::loan; `publish()` makes it visible to every subscriber; a loan destroyed
/// unpublished is given back (subscribers skip it). While a loan is held, subscribers wait at
/// its position: hold it briefly. The publisher must outlive it. Move-only.
///
/// Loan<std::byte> lends raw bytes (bytes()); Loan\<U\> for a trivially copyable U holds a
/// value-initialised U constructed in place (get(), *, ->).
template <class U>
class Loan {
public:
    /// The message's bytes in shared memory (64-byte aligned).
    std::span<std::byte> bytes() const { return {m_data, m_size}; }
    /// The value being written (Loan\<U\> for a trivially copyable U).
    U* get() const requires(!std::is_same_v<U, std::byte>) {
        return std::launder(reinterpret_cast<U*>(m_data));
    }
    /// The value being written.
    U& operator*() const requires(!std::is_same_v<U, std::byte>) { return *get(); }
    /// The value being written.
    U* operator->() const requires(!std::is_same_v<U, std::byte>) { return get(); }

    /// Publishes the message to every subscriber; UsageError when already published.
    void publish() {
        if (m_publisher == nullptr)
            throw UsageError("this loan was published already");
        std::exchange(m_publisher, nullptr)->publish_loan(m_position, m_size);
    }
    /// Gives the slot back unpublished (subscribers skip it).
    ~Loan() {
        if (m_publisher != nullptr)
            m_publisher->return_loan(m_position);
    }
    /// Takes over `other`'s slot.
    Loan(Loan&& other) noexcept
        : m_publisher(std::exchange(other.m_publisher, nullptr)), m_data(other.m_data),
          m_size(other.m_size), m_position(other.m_position) {}
    Loan(const Loan&) = delete;
    Loan& operator=(const Loan&) = delete;
    Loan& operator=(Loan&&) = delete;

    /// Made by Publisher::loan.
    Loan(detail::TopicPublisherCore& publisher, std::byte* data, std::size_t size,
         std::uint64_t position)
        : m_publisher(&publisher), m_data(data), m_size(size), m_position(position) {
        if constexpr (!std::is_same_v<U, std::byte>)
            new (data) U{};
    }

private:
    detail::TopicPublisherCore* m_publisher;
    std::byte* m_data;
    std::size_t m_size;
    std::uint64_t m_position;
};

/// A message read in place in shared memory (zero copy), made by Subscriber::borrow. Valid
/// until release() or destruction, which move the subscriber on; under
/// SlowSubscriber::block publishers do not overwrite it meanwhile. Under overwrite a publisher
/// may: check intact() after reading (the bytes read before it returned true are the
/// message's), and release() throws Lagged when it was overwritten. The subscriber must outlive
/// it. Move-only.
template <class T, class Codec = CerealCodec>
class Borrowed {
public:
    /// get() reads a T where it lies: T is trivially copyable and the codec encodes it as its
    /// bytes.
    static constexpr bool kInPlace =
        std::is_same_v<Codec, CerealCodec> && detail::kCodecByMemcpy<T>;

    /// The message's bytes (its encoding) in shared memory.
    std::span<const std::byte> bytes() const { return m_bytes; }
    /// The message as a T, in place (a trivially copyable T under CerealCodec). Check intact()
    /// after reading under SlowSubscriber::overwrite. DecodeError when the size is not sizeof(T).
    const T& get() const requires kInPlace {
        if (m_bytes.size() != sizeof(T))
            throw DecodeError("a message of " + std::to_string(m_bytes.size()) +
                              " bytes cannot be a value of " + std::to_string(sizeof(T)) +
                              " bytes");
        return *std::launder(reinterpret_cast<const T*>(m_bytes.data()));
    }
    /// get().
    const T& operator*() const requires kInPlace { return get(); }
    /// get().
    const T* operator->() const requires kInPlace { return &get(); }
    /// The message decoded into a T of this process (a copy).
    T decoded() const { return Codec::template decode<T>(m_bytes); }
    /// True while no publisher overwrote the message: bytes read before this call are whole.
    bool intact() const { return m_subscriber != nullptr && m_subscriber->borrow_intact(); }
    /// Ends the borrow, moving the subscriber on; Lagged when the message was overwritten while
    /// held (the subscriber then goes on with the oldest retained message).
    void release() {
        if (m_subscriber == nullptr)
            return;
        detail::TopicSubscriberCore& subscriber = *std::exchange(m_subscriber, nullptr);
        if (subscriber.release_borrow() == detail::TopicStatus::lagged)
            throw Lagged(subscriber.last_lag());
    }
    /// Releases the borrow; a lag is still counted in Subscriber::dropped().
    ~Borrowed() {
        if (m_subscriber != nullptr)
            (void)m_subscriber->release_borrow();
    }
    /// Takes over `other`'s borrow.
    Borrowed(Borrowed&& other) noexcept
        : m_subscriber(std::exchange(other.m_subscriber, nullptr)), m_bytes(other.m_bytes) {}
    Borrowed(const Borrowed&) = delete;
    Borrowed& operator=(const Borrowed&) = delete;
    Borrowed& operator=(Borrowed&&) = delete;

    /// Made by Subscriber::borrow.
    Borrowed(detail::TopicSubscriberCore& subscriber, std::span<const std::byte> bytes)
        : m_subscriber(&subscriber), m_bytes(bytes) {}

private:
    detail::TopicSubscriberCore* m_subscriber;
    std::span<const std::byte> m_bytes;
};

} // namespace shmbus

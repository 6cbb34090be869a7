// SPDX-License-Identifier: Apache-2.0
/// @file
/// QueueLoan\<U\> and QueueBorrowed<T>: a Queue's messages written and read in place in shared
/// memory (zero copy), made by Queue::loan and Queue::borrow (queue.hpp).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/gathered_bytes.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/detail/ring_claim.hpp"
#include "shmbus/errors.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace shmbus {

/// Room in a queue's ring lent to a producer to write one message in place (zero copy). Made
/// by Queue::loan; `publish()` queues it; a loan destroyed unpublished is given back (getters
/// skip it). While a loan is held, getters wait at its place in the FIFO: hold it briefly. One
/// loan per thread and queue at a time, and no put meanwhile (UsageError). The Queue handle
/// must outlive it. Move-only.
///
/// QueueLoan<std::byte> lends raw bytes (bytes()): they must be the encoding of the queue's T.
/// QueueLoan\<T\> for a trivially copyable T holds a value-initialised T constructed in place.
template <class U>
class QueueLoan {
public:
    /// The room's bytes in shared memory (64-byte aligned).
    std::span<std::byte> bytes() const { return m_claim.bytes.first(m_size); }
    /// The value being written (QueueLoan\<T\>).
    U* get() const requires(!std::is_same_v<U, std::byte>) {
        return std::launder(reinterpret_cast<U*>(m_claim.bytes.data()));
    }
    /// The value being written.
    U& operator*() const requires(!std::is_same_v<U, std::byte>) { return *get(); }
    /// The value being written.
    U* operator->() const requires(!std::is_same_v<U, std::byte>) { return get(); }

    /// Queues the message; UsageError when already published.
    void publish() { publish(m_size); }
    /// Queues the first `used` bytes as the message (QueueLoan<std::byte>); UsageError when
    /// `used` exceeds the loan or the loan was published already.
    void publish(std::size_t used) {
        if (m_core == nullptr)
            throw UsageError("this loan was published already");
        if (used > m_size)
            throw UsageError("a loan of " + std::to_string(m_size) + " bytes cannot publish " +
                             std::to_string(used));
        std::exchange(m_core, nullptr)->put_loan(m_claim, used);
    }
    /// Gives the room back unpublished.
    ~QueueLoan() {
        if (m_core != nullptr)
            m_core->drop_loan(m_claim);
    }
    /// Takes over `other`'s room.
    QueueLoan(QueueLoan&& other) noexcept
        : m_core(std::exchange(other.m_core, nullptr)), m_claim(other.m_claim),
          m_size(other.m_size) {}
    QueueLoan(const QueueLoan&) = delete;
    QueueLoan& operator=(const QueueLoan&) = delete;
    QueueLoan& operator=(QueueLoan&&) = delete;

    /// Made by Queue::loan.
    QueueLoan(detail::QueueCore& core, const detail::RingClaim& claim, std::size_t size)
        : m_core(&core), m_claim(claim), m_size(size) {
        if constexpr (!std::is_same_v<U, std::byte>)
            new (m_claim.bytes.data()) U{};
    }

private:
    detail::QueueCore* m_core;
    detail::RingClaim m_claim;
    std::size_t m_size;
};

/// A message taken from a queue and read in place in shared memory (zero copy), made by
/// Queue::borrow. It is this reader's alone (no other getter sees it); its room comes free at
/// release() or destruction. A message that a plain put wrote across the ring's end is
/// gathered into a buffer of the borrow instead (in_place() tells). One borrow per thread and
/// queue at a time, and no get meanwhile (UsageError). The Queue handle must outlive it.
/// Move-only.
template <class T, class Codec = CerealCodec>
class QueueBorrowed {
public:
    /// The message's bytes (its encoding).
    std::span<const std::byte> bytes() const { return m_bytes; }
    /// False when the message was gathered out of the ring (it wrapped the ring's end).
    bool in_place() const { return m_copy.empty(); }
    /// The message as a T, in place (a trivially copyable T). DecodeError when the size is
    /// not sizeof(T).
    const T& get() const requires detail::kCodecByMemcpy<T> {
        if (m_bytes.size() != sizeof(T))
            throw DecodeError("a message of " + std::to_string(m_bytes.size()) +
                              " bytes cannot be a value of " + std::to_string(sizeof(T)) +
                              " bytes");
        return *std::launder(reinterpret_cast<const T*>(m_bytes.data()));
    }
    /// get().
    const T& operator*() const requires detail::kCodecByMemcpy<T> { return get(); }
    /// get().
    const T* operator->() const requires detail::kCodecByMemcpy<T> { return &get(); }
    /// The message decoded into a T of this process (a copy).
    T decoded() const { return Codec::template decode<T>(m_bytes); }
    /// Ends the borrow: the message's room comes free.
    void release() {
        if (m_core != nullptr)
            std::exchange(m_core, nullptr)->release(m_claim);
    }
    /// release().
    ~QueueBorrowed() { release(); }
    /// Takes over `other`'s borrow.
    QueueBorrowed(QueueBorrowed&& other) noexcept
        : m_core(std::exchange(other.m_core, nullptr)), m_claim(other.m_claim),
          m_copy(std::move(other.m_copy)), m_bytes(other.m_bytes) {}
    QueueBorrowed(const QueueBorrowed&) = delete;
    QueueBorrowed& operator=(const QueueBorrowed&) = delete;
    QueueBorrowed& operator=(QueueBorrowed&&) = delete;

    /// Made by Queue::borrow.
    QueueBorrowed(detail::QueueCore& core, const detail::RingClaim& claim)
        : m_core(&core), m_claim(claim), m_bytes(claim.bytes) {
        if (!claim.rest.empty()) {
            m_copy = detail::GatheredBytes(claim.bytes, claim.rest);
            m_bytes = m_copy.bytes();
        }
    }

private:
    detail::QueueCore* m_core;
    detail::RingClaim m_claim;
    detail::GatheredBytes m_copy;
    std::span<const std::byte> m_bytes;
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// PipeLoan\<U\> and PipeBorrowed: a Pipe's messages written and read in place in shared
/// memory (zero copy), made by Connection::loan and Connection::borrow (pipe.hpp).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/gathered_bytes.hpp"
#include "shmbus/detail/pipe_core.hpp"
#include "shmbus/errors.hpp"

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace shmbus {

/// Room in a pipe's ring lent to the sender to write one message in place (zero copy). Made
/// by Connection::loan; `publish()` sends it; a loan destroyed unpublished sends nothing. While
/// it is held the end sends nothing else (UsageError). The Connection must outlive it.
/// Move-only.
///
/// PipeLoan<std::byte> lends raw bytes (bytes()); PipeLoan\<U\> for a trivially copyable U
/// holds a value-initialised U constructed in place, which recv\<U\>() reads.
template <class U>
class PipeLoan {
public:
    /// The room's bytes in shared memory (64-byte aligned).
    std::span<std::byte> bytes() const { return m_claim.bytes; }
    /// The value being written (PipeLoan\<U\>).
    U* get() const requires(!std::is_same_v<U, std::byte>) {
        return std::launder(reinterpret_cast<U*>(m_claim.bytes.data()));
    }
    /// The value being written.
    U& operator*() const requires(!std::is_same_v<U, std::byte>) { return *get(); }
    /// The value being written.
    U* operator->() const requires(!std::is_same_v<U, std::byte>) { return get(); }

    /// Sends the message; UsageError when already published.
    void publish() { publish(m_claim.bytes.size()); }
    /// Sends the first `used` bytes as the message (PipeLoan<std::byte>); UsageError when
    /// `used` exceeds the loan or the loan was published already.
    void publish(std::size_t used) {
        if (m_core == nullptr)
            throw UsageError("this loan was published already");
        if (used > m_claim.bytes.size())
            throw UsageError("a loan of " + std::to_string(m_claim.bytes.size()) +
                             " bytes cannot publish " + std::to_string(used));
        std::exchange(m_core, nullptr)->publish_loan(m_claim, used);
    }
    /// Gives the room back: nothing is sent.
    ~PipeLoan() {
        if (m_core != nullptr)
            m_core->drop_loan();
    }
    /// Takes over `other`'s room.
    PipeLoan(PipeLoan&& other) noexcept
        : m_core(std::exchange(other.m_core, nullptr)), m_claim(other.m_claim) {}
    PipeLoan(const PipeLoan&) = delete;
    PipeLoan& operator=(const PipeLoan&) = delete;
    PipeLoan& operator=(PipeLoan&&) = delete;

    /// Made by Connection::loan.
    PipeLoan(detail::PipeCore& core, const detail::PipeClaim& claim)
        : m_core(&core), m_claim(claim) {
        if constexpr (!std::is_same_v<U, std::byte>)
            new (m_claim.bytes.data()) U{};
    }

private:
    detail::PipeCore* m_core;
    detail::PipeClaim m_claim;
};

/// A message received and read in place in a pipe's ring (zero copy), made by
/// Connection::borrow; it is consumed at release() or destruction. A message a plain send
/// wrote across the ring's end is gathered into a buffer of the borrow instead (in_place()
/// tells). While it is held the end receives nothing else (UsageError). The Connection must
/// outlive it. Move-only.
class PipeBorrowed {
public:
    /// The message's bytes.
    std::span<const std::byte> bytes() const { return m_bytes; }
    /// False when the message was gathered out of the ring (it wrapped the ring's end).
    bool in_place() const { return m_copy.empty(); }
    /// The message as a trivially copyable U, in place when in_place(). DecodeError when the
    /// size is not sizeof(U).
    template <class U>
    const U& as() const requires detail::kCodecByMemcpy<U> {
        if (m_bytes.size() != sizeof(U))
            throw DecodeError("a message of " + std::to_string(m_bytes.size()) +
                              " bytes cannot be a value of " + std::to_string(sizeof(U)) +
                              " bytes");
        return *std::launder(reinterpret_cast<const U*>(m_bytes.data()));
    }
    /// The message decoded into a U of this process (a copy), as recv\<U\>() would.
    template <class U>
    U decoded() const {
        return decode<U>(m_bytes);
    }
    /// Ends the borrow: the message is consumed.
    void release() {
        if (m_core != nullptr)
            std::exchange(m_core, nullptr)->release(m_claim);
    }
    /// release().
    ~PipeBorrowed() { release(); }
    /// Takes over `other`'s borrow.
    PipeBorrowed(PipeBorrowed&& other) noexcept
        : m_core(std::exchange(other.m_core, nullptr)), m_claim(other.m_claim),
          m_copy(std::move(other.m_copy)), m_bytes(other.m_bytes) {}
    PipeBorrowed(const PipeBorrowed&) = delete;
    PipeBorrowed& operator=(const PipeBorrowed&) = delete;
    PipeBorrowed& operator=(PipeBorrowed&&) = delete;

    /// Made by Connection::borrow.
    PipeBorrowed(detail::PipeCore& core, const detail::PipeClaim& claim)
        : m_core(&core), m_claim(claim), m_bytes(claim.bytes) {
        if (!claim.rest.empty()) {
            m_copy = detail::GatheredBytes(claim.bytes, claim.rest);
            m_bytes = m_copy.bytes();
        }
    }

private:
    detail::PipeCore* m_core;
    detail::PipeClaim m_claim;
    detail::GatheredBytes m_copy;
    std::span<const std::byte> m_bytes;
};

} // namespace shmbus

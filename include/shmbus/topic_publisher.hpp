// SPDX-License-Identifier: Apache-2.0
/// @file
/// Publisher<T, Codec>: the writing handle of a Topic (topic.hpp, which makes it and says what a
/// topic guarantees), copying messages in or lending slots to write them in place (Loan).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/topic_loan.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace shmbus {

/// Publishes T messages to a topic. Move-only; held by one process, used by one thread at a
/// time. OutOfSpace at construction when TopicOptions::max_publishers are alive.
template <class T, class Codec = CerealCodec>
class Publisher {
public:
    /// loan\<U\>() constructs a U in place: U is trivially copyable and the codec encodes it as
    /// its bytes.
    template <class U>
    static constexpr bool kLoanable = (std::is_same_v<Codec, CerealCodec> &&
                                       detail::kCodecByMemcpy<U>);

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
    requires kLoanable<U> Loan<U> loan() { return loan_by<U>(sizeof(U)); }
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
    requires kLoanable<U>
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
        Codec::encode(item, buffer);
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
    // Under CerealCodec, trivially copyable items and strings/vectors of them go straight into
    // the slot (frame_codec.hpp writes exactly cereal's bytes); the rest through a per-thread
    // scratch buffer.
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
    static constexpr bool kInPlace = std::is_same_v<Codec, CerealCodec> && detail::kFrameInPlace<T>;

    std::unique_ptr<detail::TopicPublisherCore> m_core;
};

} // namespace shmbus

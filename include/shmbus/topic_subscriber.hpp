// SPDX-License-Identifier: Apache-2.0
/// @file
/// Subscriber<T, Codec>: the reading handle of a Topic (topic.hpp, which makes it and says what
/// a topic guarantees), copying messages out or borrowing them in place (Borrowed).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/frame_codec.hpp"
#include "shmbus/detail/topic_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/topic_loan.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace shmbus {

/// Receives every T message of a topic from the moment it subscribed (and the topic's history
/// before). Move-only; held by one process, used by one thread at a time.
template <class T, class Codec = CerealCodec>
class Subscriber {
public:
    /// Blocks until a message arrives. Lagged when messages were lost (under overwrite; under
    /// block only a history message overwritten while this subscriber joined): the next recv
    /// goes on with the oldest retained message. DecodeError when it is not a T.
    T recv() { return recv_by(detail::Deadline::never()); }
    /// Empty when nothing arrives within `timeout`.
    template <class Rep, class Period>
    T recv_for(std::chrono::duration<Rep, Period> timeout) {
        const auto deadline = [timeout] { return detail::Deadline::after(timeout); };
        if constexpr (kDecodedInto) {
            return recv_into(deadline);
        } else {
            if (std::optional<T> item = try_recv()) // the clock is read only when there is none yet
                return std::move(*item);
            return recv_by(deadline());
        }
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
    Borrowed<T, Codec> borrow() { return borrow_by(detail::Deadline::never()); }
    /// Empty when nothing arrives within `timeout`.
    template <class Rep, class Period>
    Borrowed<T, Codec> borrow_for(std::chrono::duration<Rep, Period> timeout) {
        if (std::optional<Borrowed<T, Codec>> item = try_borrow()) // the clock: only when none yet
            return std::move(*item);
        return borrow_by(detail::Deadline::after(timeout));
    }
    /// nullopt when nothing new; never blocks. Lagged as recv.
    [[nodiscard]] std::optional<Borrowed<T, Codec>> try_borrow() {
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
    /// Under CerealCodec, trivially copyable items and strings/vectors of them are decoded
    /// straight out of the slot (frame_codec.hpp); the rest are copied into a per-thread
    /// scratch buffer first.
    static constexpr bool kInPlace = std::is_same_v<Codec, CerealCodec> && detail::kFrameInPlace<T>;
    /// A trivially copyable T is copied out of the slot straight into the T recv returns.
    static constexpr bool kDecodedInto =
        kInPlace && detail::kCodecByMemcpy<T> && std::is_default_constructible_v<T>;

    /// The message `receive(to)` hands to `to` (a decoder in place, or a scratch buffer);
    /// nullopt when it found none. Lagged when messages were lost, or the one read was
    /// overwritten while it was read (its value is dropped).
    template <class Receive>
    std::optional<T> received(Receive receive) {
        if constexpr (kDecodedInto) {
            return received_into(receive);
        } else if constexpr (kInPlace) {
            detail::InPlaceDecoder<T> decoder;
            if (!arrived(receive(decoder.sink())))
                return std::nullopt;
            return decoder.take();
        } else {
            detail::ByteBuffer& buffer = detail::codec_scratch();
            if (!arrived(receive(buffer)))
                return std::nullopt;
            return Codec::template decode<T>(buffer.bytes());
        }
    }
    bool arrived(detail::TopicStatus status) {
        if (status == detail::TopicStatus::lagged)
            throw Lagged(m_core->last_lag());
        return status == detail::TopicStatus::ok;
    }
    Borrowed<T, Codec> borrowed(detail::TopicStatus status, std::span<const std::byte> bytes) {
        if (status == detail::TopicStatus::lagged)
            throw Lagged(m_core->last_lag());
        return Borrowed<T, Codec>(*m_core, bytes);
    }
    Borrowed<T, Codec> borrow_by(detail::Deadline deadline) {
        std::span<const std::byte> bytes;
        const detail::TopicStatus status = m_core->borrow(bytes, deadline);
        if (status == detail::TopicStatus::empty)
            throw Empty("no message on the topic");
        return borrowed(status, bytes);
    }
    // Apart from their callers' other branches, as Queue's get_into: only then does g++ 12
    // elide the copy of their named return value. recv_into tries once before it makes its
    // deadline (which may read the clock).
    template <class MakeDeadline>
    T recv_into(MakeDeadline deadline) {
        T item;
        detail::DecoderInto<T> decoder(item);
        if (!arrived(m_core->try_recv(decoder.sink())) &&
            !arrived(m_core->recv(decoder.sink(), deadline())))
            throw Empty("no message on the topic");
        decoder.check();
        return item;
    }
    template <class Receive>
    std::optional<T> received_into(Receive receive) {
        std::optional<T> item = detail::item_to_fill<T>();
        detail::DecoderInto<T> decoder(*item);
        if (!arrived(receive(decoder.sink())))
            item.reset();
        else
            decoder.check();
        return item;
    }
    T recv_by(detail::Deadline deadline) {
        if constexpr (kDecodedInto) {
            return recv_into([deadline] { return deadline; });
        } else {
            std::optional<T> item = received([&](auto&& to) { return m_core->recv(to, deadline); });
            if (!item)
                throw Empty("no message on the topic");
            return std::move(*item);
        }
    }

    std::unique_ptr<detail::TopicSubscriberCore> m_core;
};

} // namespace shmbus

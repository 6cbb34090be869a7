// SPDX-License-Identifier: Apache-2.0
// Topic<T, MsgpackCodec>: a topic carrying MessagePack (what the Python module's Topic opens),
// its codec recorded in the topic (KindMismatch against cereal both ways), in one process and
// across a fork, and raw loans read back as the bytes published.
#include "support/harness.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <shmbus/errors.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using namespace shmbus;
using namespace std::chrono_literals;
using shmbus::test::Child;
using shmbus::test::ScopedSegment;

namespace {

/// A dict {"symbol": str, "bid": float, "sizes": {str: int}, "note": None | str} in Python.
struct Quote {
    std::string symbol;
    double bid = 0;
    std::map<std::string, std::int64_t> sizes;
    std::optional<std::string> note;
    bool operator==(const Quote&) const = default;
    MSGPACK_DEFINE_MAP(symbol, bid, sizes, note)
};

template <class T>
using PackedTopic = Topic<T, MsgpackCodec>;

const Quote kQuote{"ACME", 1.25, {{"lot", 100}, {"odd", 7}}, std::string("firm")};

// Values are lent and read in place only under a codec whose encoding of them is their bytes.
template <class T>
concept LoansValues = requires(T& topic) {
    topic.template loan<int>();
};
template <class B>
concept ReadsInPlace = requires(const B& borrowed) {
    borrowed.get();
};
static_assert(LoansValues<Topic<int>> && !LoansValues<PackedTopic<int>>);
static_assert(ReadsInPlace<Borrowed<int>> && !ReadsInPlace<Borrowed<int, MsgpackCodec>>);

TopicOptions small(std::size_t history = 0) {
    return TopicOptions{.capacity = 8, .max_message_size = 256, .history = history};
}

} // namespace

TEST(TopicMsgpack, a_struct_reaches_every_subscriber_whole_and_in_order) {
    ScopedSegment segment;
    PackedTopic<Quote> quotes(*segment, "quotes", small());
    auto first = quotes.subscribe();
    auto second = quotes.subscribe();
    Quote later = kQuote;
    later.bid = 1.5;
    later.note.reset();
    quotes.publish(kQuote);
    ASSERT_TRUE(quotes.try_publish(later));
    for (auto* subscriber : {&first, &second}) {
        EXPECT_EQ(subscriber->recv(), kQuote);
        EXPECT_EQ(subscriber->recv_for(10s), later);
        EXPECT_FALSE(subscriber->try_recv().has_value());
    }
}

TEST(TopicMsgpack, every_element_type_reads_the_same_messages) {
    ScopedSegment segment;
    PackedTopic<Quote> quotes(*segment, "quotes", small());
    auto relay = PackedTopic<MsgpackBytes>::open(*segment, "quotes").subscribe();
    auto as_int = PackedTopic<int>::open(*segment, "quotes").subscribe();
    quotes.publish(kQuote);
    const MsgpackBytes message = relay.recv();
    detail::ByteBuffer encoded;
    MsgpackCodec::encode(kQuote, encoded);
    EXPECT_EQ(message.bytes,
              std::vector<std::byte>(encoded.bytes().begin(), encoded.bytes().end()));
    EXPECT_THROW((void)as_int.recv(), DecodeError);
}

TEST(TopicMsgpack, opening_with_the_other_codec_is_kind_mismatch) {
    ScopedSegment segment;
    PackedTopic<Quote> packed(*segment, "packed", small());
    Topic<int> cereal(*segment, "cereal", small());
    EXPECT_THROW(Topic<int>::open(*segment, "packed"), KindMismatch);
    EXPECT_THROW(Topic<std::string>(*segment, "packed"), KindMismatch);
    EXPECT_THROW(PackedTopic<int>::open(*segment, "cereal"), KindMismatch);
    EXPECT_THROW(PackedTopic<MsgpackBytes>(*segment, "cereal"), KindMismatch);
}

TEST(TopicMsgpack, a_raw_loan_is_borrowed_as_the_bytes_published) {
    ScopedSegment segment;
    PackedTopic<MsgpackBytes> topic(*segment, "raw", small());
    auto subscriber = topic.subscribe();
    const std::string text = "not MessagePack";
    auto slot = topic.loan(text.size());
    std::memcpy(slot.bytes().data(), text.data(), text.size());
    slot.publish();
    auto borrowed = subscriber.borrow();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(borrowed.bytes().data()),
                          borrowed.bytes().size()),
              text);
    borrowed.release();
}

TEST(TopicMsgpack, a_forked_subscriber_gets_history_then_new_structs) {
    ScopedSegment segment;
    auto quotes = PackedTopic<Quote>::create(*segment, "quotes", small(1));
    Semaphore joined(*segment, "joined", 0);
    const auto numbered = [](std::int64_t seq) {
        Quote quote = kQuote;
        quote.sizes["seq"] = seq;
        return quote;
    };
    quotes.publish(numbered(0));
    const std::string name = segment.name();
    Child child([name, numbered] {
        const Segment mine = Segment::open(name);
        try {
            (void)Topic<int>::open(mine, "quotes");
            throw std::runtime_error("a cereal Topic opened the msgpack one");
        } catch (const KindMismatch&) {
        }
        auto subscriber = PackedTopic<Quote>::open(mine, "quotes").subscribe();
        Semaphore(mine, "joined", 0).release();
        for (std::int64_t seq = 0; seq < 4; ++seq)
            if (!(subscriber.recv_for(20s) == numbered(seq)))
                throw std::runtime_error("quote " + std::to_string(seq) + " differs");
    });
    ASSERT_TRUE(joined.acquire_for(20s));
    for (std::int64_t seq = 1; seq < 4; ++seq)
        quotes.publish(numbered(seq));
    EXPECT_EQ(child.wait(), 0);
}

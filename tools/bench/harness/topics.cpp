// SPDX-License-Identifier: Apache-2.0
#include "topics.hpp"

#include "processes.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <optional>
#include <shmbus/queue.hpp>
#include <shmbus/segment.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/topic.hpp>
#include <stdexcept>
#include <unistd.h>
#include <vector>

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;

/// Control numbers, far above any message number: stop (each subscriber answers with how many
/// messages it received), mark (each answers at once: the warm-up has arrived everywhere), and
/// the answer of a subscriber that saw a message out of order.
constexpr std::uint64_t kStop = ~std::uint64_t{0};
constexpr std::uint64_t kMark = kStop - 1;
constexpr std::uint64_t kOutOfOrder = kStop - 2;
/// A process that does not answer within this is gone (or the machine is stalled): the round
/// fails instead of hanging.
constexpr auto kPatience = 30s;

/// A message slot's bytes: the payload, the codec's length prefix and alignment.
std::size_t slot_bytes(std::size_t size) {
    return (size + 64 + 63) / 64 * 64;
}

/// Messages a ring holds: about 1 MiB of slots, 4 to 256 of them (a power of two), as the
/// reference ring has. On a loaded machine a consumer that loses its CPU for a time slice
/// leaves the producer one ring's worth of messages to send: the rings compared must match.
std::size_t ring_messages(std::size_t size) {
    const std::size_t fit =
        std::clamp<std::size_t>((std::size_t{1} << 20) / slot_bytes(size), 4, 256);
    return std::bit_floor(fit);
}

/// A segment per measurement, unlinked at once: the forked processes share its mapping, and
/// nothing is left behind in /dev/shm. Room for a Queue of a ring's bytes: its ring rounds
/// them up to a power of two and adds a control line per 64-byte slot, up to 4 times as many.
Segment scratch_segment(std::size_t size) {
    static int counter = 0;
    const std::string name =
        "shmbus-bench-fanout-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    Segment segment =
        Segment::create(name, (std::size_t{4} << 20) + 4 * ring_messages(size) * slot_bytes(size));
    Segment::unlink(name);
    return segment;
}

/// A subscriber's end, made in its own process: receives message numbers, answers.
class Reader {
public:
    virtual ~Reader() = default;
    virtual std::uint64_t recv() = 0;
    virtual void answer(std::uint64_t number) = 0;
};

/// Both directions of one mechanism, made before the fork: numbered messages out from the
/// publisher (the parent), answers back from the subscribers.
class Fanout {
public:
    virtual ~Fanout() = default;
    /// In a subscriber process, before the publisher's first message.
    virtual std::unique_ptr<Reader> join() = 0;
    /// In the publisher: one message of the plan's size starting with `number`.
    virtual void send(std::uint64_t number) = 0;
    /// In the publisher: one subscriber's answer.
    virtual std::uint64_t reply() = 0;
};

std::uint64_t number_in(std::span<const std::byte> message) {
    std::uint64_t number = 0;
    std::memcpy(&number, message.data(), sizeof number);
    return number;
}

class TopicReader final : public Reader {
public:
    TopicReader(Subscriber<std::string> messages, Publisher<std::uint64_t> answers, bool loans)
        : m_messages(std::move(messages)), m_answers(std::move(answers)), m_loans(loans) {}
    std::uint64_t recv() override {
        if (m_loans)
            return number_in(m_messages.borrow_for(kPatience).bytes());
        m_copy = m_messages.recv_for(kPatience);
        return number_in(std::as_bytes(std::span(m_copy)));
    }
    void answer(std::uint64_t number) override { m_answers.publish_for(number, kPatience); }

private:
    Subscriber<std::string> m_messages;
    Publisher<std::uint64_t> m_answers;
    bool m_loans;
    std::string m_copy;
};

/// The messages as std::string (raw bytes): publish / recv copy them through the codec; loan /
/// borrow write and read the number in the slot and touch nothing else.
class TopicFanout final : public Fanout {
public:
    TopicFanout(const Segment& segment, const FanoutPlan& plan)
        : m_plan(plan), m_messages(Topic<std::string>::create(segment, "messages", options(plan))),
          m_answers(Topic<std::uint64_t>::create(
              segment, "answers",
              {.capacity = 64, .max_message_size = 64, .wait = options(plan).wait})),
          m_replies(m_answers.subscribe()), m_payload(plan.size, 'x') {}
    std::unique_ptr<Reader> join() override {
        return std::make_unique<TopicReader>(m_messages.subscribe(), m_answers.publisher(),
                                             m_plan.kind == FanoutKind::topic_loan);
    }
    void send(std::uint64_t number) override {
        if (!m_publisher)
            m_publisher.emplace(m_messages.publisher());
        if (m_plan.kind == FanoutKind::topic_loan) {
            auto slot = m_publisher->loan_for(m_plan.size, kPatience);
            std::memcpy(slot.bytes().data(), &number, sizeof number);
            slot.publish();
        } else {
            std::memcpy(m_payload.data(), &number, sizeof number);
            m_publisher->publish_for(m_payload, kPatience);
        }
    }
    std::uint64_t reply() override { return m_replies.recv_for(kPatience); }

private:
    static TopicOptions options(const FanoutPlan& plan) {
        return {.capacity = ring_messages(plan.size),
                .max_message_size = plan.size + 64,
                .wait = {fanout_wait_policy(plan.subscribers)}};
    }

    FanoutPlan m_plan;
    Topic<std::string> m_messages;
    Topic<std::uint64_t> m_answers;
    Subscriber<std::uint64_t> m_replies;
    std::optional<Publisher<std::string>> m_publisher;
    std::string m_payload;
};

class QueueReader final : public Reader {
public:
    QueueReader(Queue<std::string>& messages, Queue<std::uint64_t>& answers)
        : m_messages(messages), m_answers(answers) {}
    std::uint64_t recv() override {
        m_copy = m_messages.get_for(kPatience);
        return number_in(std::as_bytes(std::span(m_copy)));
    }
    void answer(std::uint64_t number) override { m_answers.put_for(number, kPatience); }

private:
    Queue<std::string>& m_messages;
    Queue<std::uint64_t>& m_answers;
    std::string m_copy;
};

/// The same exchange over two Queues (one consumer): what the Topic's ratio divides by.
class QueueFanout final : public Fanout {
public:
    QueueFanout(const Segment& segment, const FanoutPlan& plan)
        : m_messages(Queue<std::string>::create(
              segment, "messages",
              {.max_message_size = plan.size + 64,
               .capacity_bytes = ring_messages(plan.size) * slot_bytes(plan.size),
               .wait = {fanout_wait_policy(plan.subscribers)}})),
          m_answers(Queue<std::uint64_t>::create(
              segment, "answers",
              {.max_message_size = 64, .wait = {fanout_wait_policy(plan.subscribers)}})),
          m_payload(plan.size, 'x') {
        if (plan.subscribers != 1)
            throw std::invalid_argument("a Queue message reaches one consumer");
    }
    std::unique_ptr<Reader> join() override {
        return std::make_unique<QueueReader>(m_messages, m_answers);
    }
    void send(std::uint64_t number) override {
        std::memcpy(m_payload.data(), &number, sizeof number);
        m_messages.put_for(m_payload, kPatience);
    }
    std::uint64_t reply() override { return m_answers.get_for(kPatience); }

private:
    Queue<std::string> m_messages;
    Queue<std::uint64_t> m_answers;
    std::string m_payload;
};

std::unique_ptr<Fanout> make_fanout(const Segment& segment, const FanoutPlan& plan) {
    if (plan.kind == FanoutKind::queue)
        return std::make_unique<QueueFanout>(segment, plan);
    return std::make_unique<TopicFanout>(segment, plan);
}

/// A subscriber process: checks that messages arrive numbered 0, 1, 2, ...; answers each one
/// when `echo` (round trips), the mark at once, and the stop with how many it received.
void serve(Reader& reader, bool echo) {
    for (std::uint64_t expected = 0;;) {
        const std::uint64_t number = reader.recv();
        if (number == kStop) {
            reader.answer(expected);
            return;
        }
        if (number == kMark) {
            reader.answer(kMark);
            continue;
        }
        if (number != expected) {
            reader.answer(kOutOfOrder);
            throw std::runtime_error("message " + std::to_string(expected) + " arrived as " +
                                     std::to_string(number) + ": lost or reordered");
        }
        ++expected;
        if (echo)
            reader.answer(number);
    }
}

/// The publisher, its subscriber processes (started, joined, and reaped however it ends) and
/// the messages numbered so far.
class Exchange {
public:
    Exchange(const FanoutPlan& plan, bool echo)
        : m_plan(plan), m_segment(scratch_segment(plan.size)),
          m_fanout(make_fanout(m_segment, plan)), m_joined(m_segment, "joined", 0) {
        const bool pin = plan.pin && plan.subscribers == 1;
        for (int i = 0; i < plan.subscribers; ++i)
            m_subscribers.push_back(std::make_unique<Peer>(
                [this, echo] {
                    const std::unique_ptr<Reader> reader = m_fanout->join();
                    m_joined.release();
                    serve(*reader, echo);
                },
                pin));
        m_pin.emplace(0, pin);
        for (int i = 0; i < plan.subscribers; ++i)
            if (!m_joined.acquire_for(kPatience))
                throw std::runtime_error("a subscriber process did not start");
    }

    /// The next message out.
    std::uint64_t send() {
        m_fanout->send(m_sent);
        return m_sent++;
    }
    /// `number` to everyone (a control number); every answer must read `expected`.
    void all_answer(std::uint64_t number, std::uint64_t expected) {
        m_fanout->send(number);
        await_answers(expected);
    }
    void await_answers(std::uint64_t expected) {
        for (int i = 0; i < m_plan.subscribers; ++i)
            if (const std::uint64_t got = m_fanout->reply(); got != expected)
                throw std::runtime_error("a subscriber answered " + std::to_string(got) +
                                         " where " + std::to_string(expected) + " was due");
    }
    /// Stops the subscribers (each must have received every message) and reaps them.
    void finish() {
        all_answer(kStop, m_sent);
        for (const auto& subscriber : m_subscribers)
            if (!subscriber->join())
                throw std::runtime_error("a subscriber process failed (see its message above)");
    }

private:
    FanoutPlan m_plan;
    Segment m_segment;
    std::unique_ptr<Fanout> m_fanout;
    Semaphore m_joined;
    std::vector<std::unique_ptr<Peer>> m_subscribers;
    std::optional<CpuPin> m_pin;
    std::uint64_t m_sent = 0;
};

} // namespace

WaitPolicy fanout_wait_policy(int subscribers) {
    return subscribers + 1 <= usable_cpus() ? WaitPolicy::spin : WaitPolicy::block;
}

std::string wait_policy_name(WaitPolicy policy) {
    switch (policy) {
    case WaitPolicy::spin:
        return "spin";
    case WaitPolicy::hybrid:
        return "hybrid";
    case WaitPolicy::block:
        return "block";
    }
    return "?";
}

LatencySummary measure_fanout_latency(const FanoutPlan& plan) {
    Exchange exchange(plan, true);
    const auto trip = [&] { exchange.await_answers(exchange.send()); };
    for (std::uint64_t i = 0; i < plan.warmup; ++i)
        trip();
    Histogram histogram;
    const std::uint64_t start = now_ns();
    for (std::uint64_t i = 0; i < plan.round_trips; ++i) {
        const std::uint64_t sent = now_ns();
        trip();
        const std::uint64_t answered = now_ns();
        histogram.record(answered - sent);
        if (i + 1 >= kMinimumSamples &&
            answered - start >= static_cast<std::uint64_t>(plan.budget.count()))
            break;
    }
    exchange.finish();
    return summarize(histogram);
}

Throughput measure_fanout_throughput(const FanoutPlan& plan) {
    Exchange exchange(plan, false);
    for (std::uint64_t i = 0; i < plan.warmup; ++i)
        exchange.send();
    exchange.all_answer(kMark, kMark);
    const std::uint64_t start = now_ns();
    const auto budget = static_cast<std::uint64_t>(plan.budget.count());
    std::uint64_t messages = 0;
    // The clock is read every 8 messages: a 1 MiB message takes longer than a clock read.
    do {
        for (int i = 0; i < 8; ++i)
            exchange.send();
        messages += 8;
    } while (now_ns() - start < budget);
    exchange.finish();
    const double seconds = static_cast<double>(now_ns() - start) / 1e9;
    return {messages, seconds};
}

} // namespace shmbus::bench

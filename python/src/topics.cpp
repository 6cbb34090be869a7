// SPDX-License-Identifier: Apache-2.0
// Topic and Subscriber: publish/subscribe over a shmbus Topic with the msgpack codec, so C++
// opens the same topic as Topic<T, MsgpackCodec>. Values pass through C++ as MsgpackBytes,
// never decoded there; raw bytes are published and borrowed as they are.
#include "common.hpp"
#include "messages.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <pybind11/stl.h>
#include <shmbus/errors.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/topic.hpp>
#include <span>
#include <string>
#include <unistd.h>
#include <utility>

namespace shmbus::python {

namespace {

using MsgpackTopic = Topic<MsgpackBytes, MsgpackCodec>;
using MsgpackPublisher = Publisher<MsgpackBytes, MsgpackCodec>;
using MsgpackSubscriber = Subscriber<MsgpackBytes, MsgpackCodec>;
using MsgpackBorrowed = Borrowed<MsgpackBytes, MsgpackCodec>;

constexpr const char* kFull = "topic is full: a subscriber is behind";
constexpr const char* kEmpty = "no message on the topic";

/// Forks this process has made its way through: whether a handle is still in the process that
/// made it, without getpid()'s syscall on every call.
std::atomic<unsigned> g_forks_passed{0};

unsigned forks_passed() {
    static const bool counting = [] {
        pthread_atfork(nullptr, nullptr, [] {
            // relaxed is enough: the child runs this before it has any other thread.
            g_forks_passed.fetch_add(1, std::memory_order_relaxed);
        });
        return true;
    }();
    (void)counting;
    // relaxed is enough: only the atfork child handler writes it, in this thread's own past.
    return g_forks_passed.load(std::memory_order_relaxed);
}

/// A C++ Publisher or Subscriber is one thread's at a time, and a blocking call lets other
/// Python threads run: each Python handle takes its turn first, waiting for it with the GIL
/// released and Ctrl-C honoured.
class Turns {
public:
    std::unique_lock<std::timed_mutex> take() {
        if (m_made_after != forks_passed())
            start_afresh();
        std::unique_lock turn(*m_mutex, std::try_to_lock);
        if (!turn.owns_lock())
            wait_in_slices(std::nullopt, [&](auto slice) { return turn.try_lock_for(slice); });
        return turn;
    }

private:
    // A child forked while a thread of its parent had the turn inherits the mutex locked by a
    // thread that did not follow: it can be neither unlocked nor destroyed, so the child leaves
    // it behind and makes its own. Runs with the GIL held, so no two threads of the child do.
    void start_afresh() {
        (void)m_mutex.release();
        m_mutex = std::make_unique<std::timed_mutex>();
        m_made_after = forks_passed();
    }

    unsigned m_made_after = forks_passed();
    std::unique_ptr<std::timed_mutex> m_mutex = std::make_unique<std::timed_mutex>();
};

/// shmbus.Topic: the topic and this process's publisher, made at its first publish (a forked
/// child makes its own, as Topic::publish does in C++). Loans need a Publisher of one's own:
/// publish_bytes writes straight into a slot.
struct PyTopic {
    explicit PyTopic(MsgpackTopic opened) : topic(std::move(opened)) {}

    MsgpackTopic topic;
    std::optional<MsgpackPublisher> publisher;
    Turns turns;

    MsgpackPublisher& own_publisher() {
        if (!publisher || !publisher->held_here())
            publisher.emplace(topic.publisher());
        return *publisher;
    }
};

/// shmbus.Subscriber: a cursor of the process that subscribed, until close().
struct PySubscriber {
    std::optional<MsgpackSubscriber> subscriber;
    pid_t subscribed_in = getpid();
    Turns turns;

    MsgpackSubscriber& open_here() {
        if (!subscriber)
            throw Closed("this subscriber is closed");
        if (subscribed_in != getpid())
            throw UsageError("a Subscriber belongs to the process that subscribed: subscribe "
                             "again in this one");
        return *subscriber;
    }
};

/// Puts what take(slice) returns into the empty `taken` once a call returns instead of raising
/// Miss (Full, Empty), waiting in slices under `block` until `timeout`; Miss(`what`) when `taken`
/// stays empty.
template <class Miss, class Taken, class Take>
void take_in_slices(std::optional<Taken>& taken, bool block, TimeoutSeconds timeout, Take take,
                    const char* what) {
    if (!taken && block)
        wait_in_slices(timeout, [&](auto slice) {
            try {
                taken.emplace(take(slice));
                return true;
            } catch (const Miss&) {
                return false;
            }
        });
    if (!taken)
        throw Miss(what);
}

SlowSubscriber slow_subscriber_named(const std::string& name) {
    if (name == "block")
        return SlowSubscriber::block;
    if (name == "overwrite")
        return SlowSubscriber::overwrite;
    throw py::value_error("slow_subscriber is 'block' or 'overwrite', not '" + name + "'");
}

std::unique_ptr<PyTopic> make_topic(const std::optional<Segment>& segment,
                                    const std::optional<std::string>& name, std::size_t capacity,
                                    std::size_t max_message_size, std::size_t history,
                                    const std::string& slow_subscriber, std::size_t max_publishers,
                                    std::size_t max_subscribers) {
    const TopicOptions options{.capacity = capacity,
                               .max_message_size = max_message_size,
                               .history = history,
                               .slow_subscriber = slow_subscriber_named(slow_subscriber),
                               .max_publishers = max_publishers,
                               .max_subscribers = max_subscribers};
    return std::make_unique<PyTopic>(
        MsgpackTopic(segment_or_default(segment), name.value_or(""), options));
}

/// Publishes `message`, waiting for room under `block` (queue.Full when there is still none).
void publish_message(PyTopic& t, const MsgpackBytes& message, bool block, TimeoutSeconds timeout) {
    const auto turn = t.turns.take();
    MsgpackPublisher& publisher = t.own_publisher();
    // Room now (always under overwrite): no GIL release, no clock read.
    if (publisher.try_publish(message))
        return;
    const bool published = block && wait_in_slices(timeout, [&](auto slice) {
                               try {
                                   publisher.publish_for(message, slice);
                                   return true;
                               } catch (const Full&) {
                                   return false;
                               }
                           });
    if (!published)
        throw Full(kFull);
}

/// Copies `data` into a loaned slot and publishes it: subscribers get exactly these bytes.
void publish_bytes(PyTopic& t, const py::buffer& data, bool block, TimeoutSeconds timeout) {
    // Held to the end: while the buffer is exported, a bytearray cannot be resized by another
    // thread as this one waits without the GIL.
    const py::buffer_info info = data.request();
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(info.ptr),
                                           static_cast<std::size_t>(info.size * info.itemsize));
    const auto turn = t.turns.take();
    MsgpackPublisher& publisher = t.own_publisher();
    std::optional<Loan<std::byte>> slot = publisher.try_loan(bytes.size());
    take_in_slices<Full>(
        slot, block, timeout, [&](auto slice) { return publisher.loan_for(bytes.size(), slice); },
        kFull);
    if (!bytes.empty())
        std::memcpy(slot->bytes().data(), bytes.data(), bytes.size());
    slot->publish();
}

py::object recv(PySubscriber& s, bool block, TimeoutSeconds timeout) {
    const auto turn = s.turns.take();
    MsgpackSubscriber& subscriber = s.open_here();
    // A message there already: no GIL release, no clock read.
    std::optional<MsgpackBytes> message = subscriber.try_recv();
    take_in_slices<Empty>(
        message, block, timeout, [&](auto slice) { return subscriber.recv_for(slice); }, kEmpty);
    return unpacked(message->bytes);
}

/// The next message's bytes, copied out of its slot (a borrow, not a decode); Lagged when a
/// publisher overwrote it while it was copied (the copy is dropped).
py::bytes recv_bytes(PySubscriber& s, bool block, TimeoutSeconds timeout) {
    const auto turn = s.turns.take();
    MsgpackSubscriber& subscriber = s.open_here();
    std::optional<MsgpackBorrowed> message = subscriber.try_borrow();
    take_in_slices<Empty>(
        message, block, timeout, [&](auto slice) { return subscriber.borrow_for(slice); }, kEmpty);
    const std::span<const std::byte> bytes = message->bytes();
    py::bytes copy(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    message->release();
    return copy;
}

/// A count of the subscriber's (dropped, pending), read in its turn.
template <auto counter>
std::uint64_t count(PySubscriber& s) {
    const auto turn = s.turns.take();
    return (s.open_here().*counter)();
}

void close(PySubscriber& s) {
    const auto turn = s.turns.take();
    // A forked child's copy holds no entry of its own: resetting it gives nothing back.
    s.subscriber.reset();
}

} // namespace

void bind_topics(py::module_& m) {
    const TopicOptions defaults;
    py::class_<PyTopic>(m, "Topic",
                        "Publish/subscribe over a shmbus Topic with the msgpack codec (C++: "
                        "Topic<T, shmbus::MsgpackCodec>): every Subscriber receives every "
                        "message published after it subscribed (and the last `history` before), "
                        "in one order.")
        .def(py::init(&make_topic), py::arg("segment") = py::none(), py::arg("name") = py::none(),
             py::kw_only(), py::arg("capacity") = defaults.capacity,
             py::arg("max_message_size") = defaults.max_message_size,
             py::arg("history") = defaults.history, py::arg("slow_subscriber") = "block",
             py::arg("max_publishers") = defaults.max_publishers,
             py::arg("max_subscribers") = defaults.max_subscribers,
             "Opens the topic `name` in `segment`, creating it with these options when missing "
             "(an existing one keeps its own); without a name, a new anonymous topic that forked "
             "children inherit. slow_subscriber: 'block' (publishers wait for the slowest "
             "subscriber) or 'overwrite' (they never wait; a subscriber that fell behind gets "
             "shmbus.Lagged). KindMismatch when the object is not a msgpack topic.")
        .def(
            "publish",
            [](PyTopic& t, const py::handle& value, bool block, TimeoutSeconds timeout) {
                publish_message(t, packed(value), block, timeout);
            },
            py::arg("obj"), py::arg("block") = true, py::arg("timeout") = py::none(),
            "Publishes `obj` (packed with msgpack) to every subscriber; queue.Full when a "
            "subscriber is still a whole ring behind after `timeout` (only under 'block').")
        .def(
            "publish_nowait",
            [](PyTopic& t, const py::handle& value) {
                publish_message(t, packed(value), false, std::nullopt);
            },
            py::arg("obj"))
        .def("publish_bytes", &publish_bytes, py::arg("buf"), py::arg("block") = true,
             py::arg("timeout") = py::none(),
             "Publishes the bytes of `buf` as they are, written into a slot of the topic "
             "(C++ reads them with borrow().bytes()); queue.Full as publish.")
        .def(
            "subscribe",
            [](const PyTopic& t) {
                auto s = std::make_unique<PySubscriber>();
                s->subscriber.emplace(t.topic.subscribe());
                return s;
            },
            "A new Subscriber of this process: it starts with the last `history` messages. "
            "OutOfSpace when max_subscribers are held.")
        .def("recover_dead", [](PyTopic& t) { return t.topic.recover_dead(); })
        .def_property_readonly("capacity", [](const PyTopic& t) { return t.topic.capacity(); })
        .def_property_readonly("max_message_size",
                               [](const PyTopic& t) { return t.topic.max_message_size(); })
        .def_property_readonly("history", [](const PyTopic& t) { return t.topic.history(); })
        .def_property_readonly("slow_subscriber",
                               [](const PyTopic& t) {
                                   return t.topic.slow_subscriber() == SlowSubscriber::block
                                              ? "block"
                                              : "overwrite";
                               })
        .def_property_readonly("messages_in",
                               [](const PyTopic& t) { return t.topic.messages_in(); });

    py::class_<PySubscriber>(m, "Subscriber",
                             "A cursor in a Topic (C++: Subscriber<T, shmbus::MsgpackCodec>), "
                             "of the process that subscribed; close() or `with` gives it back.")
        .def("recv", &recv, py::arg("block") = true, py::arg("timeout") = py::none(),
             "The next message; queue.Empty when none arrives within `timeout`. shmbus.Lagged "
             "(.missed: how many) when messages were overwritten before it read them; the next "
             "recv goes on with the oldest retained.")
        .def("recv_nowait", [](PySubscriber& s) { return recv(s, false, std::nullopt); })
        .def("recv_bytes", &recv_bytes, py::arg("block") = true, py::arg("timeout") = py::none(),
             "The next message's bytes as they are (publish_bytes, or a msgpack encoding); "
             "queue.Empty and shmbus.Lagged as recv.")
        .def_property_readonly("dropped", &count<&MsgpackSubscriber::dropped>,
                               "Messages this subscriber lost to 'overwrite' since it subscribed.")
        .def_property_readonly("pending", &count<&MsgpackSubscriber::pending>,
                               "Messages published that it has not read yet (may be stale).")
        .def("close", &close,
             "Gives the subscriber's entry back: publishers no longer wait for it.")
        .def_property_readonly("closed",
                               [](PySubscriber& s) {
                                   const auto turn = s.turns.take();
                                   return !s.subscriber;
                               })
        .def("__enter__", [](PySubscriber& s) -> PySubscriber& { return s; })
        .def("__exit__", [](PySubscriber& s, const py::args&) { close(s); });
}

} // namespace shmbus::python

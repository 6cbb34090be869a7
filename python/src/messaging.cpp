// SPDX-License-Identifier: Apache-2.0
// Queue, SimpleQueue, JoinableQueue and Pipe/Connection. Queues carry MessagePack
// (shmbus::MsgpackCodec), so C++ opens them as Queue<T, MsgpackCodec>; values are packed and
// unpacked by Python's msgpack and pass through C++ as MsgpackBytes, never decoded there.
#include "common.hpp"
#include "messages.hpp"
#include "queues.hpp"

#include <cstring>
#include <limits>
#include <pybind11/stl.h>
#include <shmbus/errors.hpp>
#include <shmbus/joinable_queue.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <span>
#include <vector>

namespace shmbus::python {

namespace {

QueueOptions queue_options(long long maxsize, std::size_t max_message_size) {
    // Python's maxsize <= 0 means unbounded, as QueueOptions' 0 does.
    return QueueOptions{.maxsize = maxsize > 0 ? static_cast<std::size_t>(maxsize) : 0,
                        .max_message_size = max_message_size};
}

template <class Q>
void put(Q& queue, const py::handle& value, bool block, TimeoutSeconds timeout) {
    const MsgpackBytes message = packed(value);
    if (!block)
        return queue.put_nowait(message);
    // Room now: no GIL release, no clock read (most puts).
    if (queue.try_put(message))
        return;
    const bool put = wait_in_slices(timeout, [&](auto slice) {
        try {
            queue.put_for(message, slice);
            return true;
        } catch (const Full&) {
            return false;
        }
    });
    if (!put)
        throw Full("queue is full");
}

template <class Q>
py::object get(Q& queue, bool block, TimeoutSeconds timeout) {
    if (!block)
        return unpacked(queue.get_nowait().bytes);
    // A message there already: no GIL release, no clock read. Otherwise (empty, or closed and
    // drained: get_for raises that) wait with the GIL released.
    std::optional<MsgpackBytes> message = queue.try_get();
    if (!message && !wait_in_slices(timeout, [&](auto slice) {
            try {
                message = queue.get_for(slice);
                return true;
            } catch (const Empty&) {
                return false;
            }
        }))
        throw Empty("queue is empty");
    return unpacked(message->bytes);
}

/// The methods of multiprocessing.Queue, for Queue and JoinableQueue.
template <class Q, class Class>
void bind_queue_methods(Class& c) {
    c.def(py::init([](long long maxsize, const std::optional<Segment>& segment,
                      const std::string& name, std::size_t max_message_size) {
              return Q(segment_or_default(segment), name, queue_options(maxsize, max_message_size));
          }),
          py::arg("maxsize") = 0, py::kw_only(), py::arg("segment") = py::none(),
          py::arg("name") = "", py::arg("max_message_size") = std::size_t{1} << 20)
        .def("put", &put<Q>, py::arg("obj"), py::arg("block") = true,
             py::arg("timeout") = py::none(),
             "Puts `obj` (packed with msgpack); queue.Full when still full after `timeout`.")
        .def(
            "put_nowait", [](Q& q, const py::handle& value) { put(q, value, false, {}); },
            py::arg("obj"))
        .def("get", &get<Q>, py::arg("block") = true, py::arg("timeout") = py::none(),
             "The next item; queue.Empty when still empty after `timeout`.")
        .def("get_nowait", [](Q& q) { return get(q, false, {}); })
        .def("qsize", &Q::qsize)
        .def("empty", &Q::empty)
        .def("full", &Q::full)
        .def("close", &Q::close, "Closes the queue for every process (unlike Python's).")
        .def("shutdown", &Q::shutdown, py::arg("immediate") = false,
             "Python 3.13's shutdown, for every process: puts raise ShutDown, gets drain then "
             "raise it; immediate drops what is queued.")
        .def_property_readonly("is_shutdown", &Q::is_shutdown)
        .def(
            "join_thread", [](Q&) {}, "Nothing to join: puts write to shared memory at once.")
        .def(
            "cancel_join_thread", [](Q&) {}, "Nothing to cancel.")
        .def_property_readonly("closed", &Q::closed)
        .def_property_readonly("maxsize", &Q::maxsize);
}

using Connection = shmbus::Connection;

/// A Python buffer's bytes, exported for as long as this lives: while a send waits without the
/// GIL, another thread (or a signal handler between wait slices) that resizes a bytearray gets
/// BufferError instead of freeing the bytes being sent.
class ExportedBytes {
public:
    explicit ExportedBytes(const py::buffer& data) : m_info(data.request()) {}
    std::span<const std::byte> bytes() const {
        return {static_cast<const std::byte*>(m_info.ptr),
                static_cast<std::size_t>(m_info.size * m_info.itemsize)};
    }

private:
    py::buffer_info m_info;
};

void send_message(Connection& connection, std::span<const std::byte> message) {
    const bool sent = wait_in_slices(
        std::nullopt, [&](auto slice) { return connection.send_bytes_for(message, slice); });
    (void)sent; // without a timeout only an exception ends the wait
}

std::vector<std::byte> recv_message(Connection& connection, std::size_t max_length) {
    std::vector<std::byte> message;
    wait_in_slices(std::nullopt, [&](auto slice) {
        try {
            message = connection.recv_bytes_for(slice, max_length);
            return true;
        } catch (const Timeout&) {
            return false;
        }
    });
    return message;
}

py::bytes to_python_bytes(const std::vector<std::byte>& message) {
    return {reinterpret_cast<const char*>(message.data()), message.size()};
}

/// Connection.recv_bytes_into: waits for a message in slices (Ctrl-C ends the wait), then reads
/// it with the GIL released (a message bigger than the ring may still be streaming).
std::size_t recv_bytes_into(Connection& connection, const py::buffer& buffer, std::size_t offset) {
    const py::buffer_info info = buffer.request(true);
    const std::span<std::byte> bytes(static_cast<std::byte*>(info.ptr),
                                     static_cast<std::size_t>(info.size * info.itemsize));
    if (offset > bytes.size())
        throw py::value_error("offset lies past the end of the buffer");
    wait_in_slices(std::nullopt, [&](auto slice) { return connection.poll_for(slice); });
    const py::gil_scoped_release release;
    return connection.recv_bytes_into(bytes, offset);
}

void bind_connection(py::module_& m) {
    py::class_<Connection>(m, "Connection",
                           "multiprocessing.connection.Connection over a shmbus pipe; send/recv "
                           "carry msgpack values, send_bytes/recv_bytes raw bytes.")
        .def_static(
            "open",
            [](const Segment& segment, const std::string& name, int end) {
                return Connection::open(segment, name, end);
            },
            py::arg("segment"), py::arg("name"), py::arg("end"),
            "End `end` (0 or 1, as Pipe returned them) of the pipe `name` made by Pipe(name=) "
            "in any process, with a hold of its own: NotFound, KindMismatch (not a pipe), "
            "Closed (no process holds that end any more).")
        .def(
            "send",
            [](Connection& c, const py::handle& value) {
                const std::string message = pack(value);
                send_message(c, std::as_bytes(std::span(message)));
            },
            py::arg("obj"))
        .def("recv",
             [](Connection& c) {
                 const auto message = recv_message(c, std::numeric_limits<std::size_t>::max());
                 return unpacked(message);
             })
        .def(
            "send_bytes",
            [](Connection& c, const py::buffer& data, std::size_t offset,
               std::optional<std::size_t> size) {
                const ExportedBytes exported(data);
                const auto bytes = exported.bytes();
                if (offset > bytes.size())
                    throw py::value_error("offset lies past the end of the buffer");
                const std::size_t length = size.value_or(bytes.size() - offset);
                if (length > bytes.size() - offset)
                    throw py::value_error("offset + size lies past the end of the buffer");
                send_message(c, bytes.subspan(offset, length));
            },
            py::arg("buf"), py::arg("offset") = 0, py::arg("size") = py::none())
        .def(
            "recv_bytes",
            [](Connection& c, std::optional<std::size_t> maxlength) {
                return to_python_bytes(
                    recv_message(c, maxlength.value_or(std::numeric_limits<std::size_t>::max())));
            },
            py::arg("maxlength") = py::none())
        .def("recv_bytes_into", &recv_bytes_into, py::arg("buf"), py::arg("offset") = 0,
             "Reads one message into the writable buffer from byte `offset` on and returns its "
             "length; BufferTooShort (args[0]: the whole message, consumed) when it does not "
             "fit.")
        .def(
            "poll",
            [](Connection& c, TimeoutSeconds timeout) {
                return wait_in_slices(timeout, [&](auto slice) { return c.poll_for(slice); });
            },
            py::arg("timeout") = 0.0,
            "True when recv would not block; waits up to `timeout` seconds (None: for ever).")
        .def("close", &Connection::close,
             "Closes this end in this process; the peer sees it closed once no process holds "
             "it (a Connection is also closed when it is collected).")
        .def_property_readonly("closed", &Connection::closed)
        .def_property_readonly("readable", &Connection::readable)
        .def_property_readonly("writable", &Connection::writable)
        .def("__enter__", [](Connection& c) -> Connection& { return c; })
        .def("__exit__", [](Connection& c, const py::args&) { c.close(); });

    m.def(
        "Pipe",
        [](bool duplex, const std::optional<Segment>& segment, const std::string& name) {
            return shmbus::Pipe(segment_or_default(segment), name, duplex);
        },
        py::arg("duplex") = true, py::kw_only(), py::arg("segment") = py::none(),
        py::arg("name") = "",
        "multiprocessing.Pipe: two Connections of a new pipe. Without a name the ends reach "
        "other processes by fork; with one, another process (Python or C++) opens an end with "
        "Connection.open(segment, name, end). AlreadyExists when the name is taken.");
}

} // namespace

void bind_messaging(py::module_& m) {
    py::class_<PyQueue> queue(m, "Queue",
                              "multiprocessing.Queue over a shmbus Queue with the msgpack codec: "
                              "C++ opens it as Queue<T, shmbus::MsgpackCodec>.");
    bind_queue_methods<PyQueue>(queue);

    py::class_<PyJoinableQueue> joinable(m, "JoinableQueue",
                                         "multiprocessing.JoinableQueue (C++: JoinableQueue<T, "
                                         "shmbus::MsgpackCodec>).");
    bind_queue_methods<PyJoinableQueue>(joinable);
    joinable.def("task_done", &PyJoinableQueue::task_done)
        .def(
            "join",
            [](PyJoinableQueue& q) {
                wait_in_slices(std::nullopt, [&](auto slice) { return q.join_for(slice); });
            },
            "Blocks until every item put has been marked done.");

    py::class_<PySimpleQueue>(m, "SimpleQueue",
                              "multiprocessing.SimpleQueue: put, get, empty and close of an "
                              "unbounded Queue (C++: SimpleQueue<T, shmbus::MsgpackCodec>).")
        .def(py::init([](const std::optional<Segment>& segment, const std::string& name) {
                 return PySimpleQueue{PyQueue(segment_or_default(segment), name)};
             }),
             py::kw_only(), py::arg("segment") = py::none(), py::arg("name") = "")
        .def(
            "put", [](PySimpleQueue& q, const py::handle& value) { put(q.queue, value, true, {}); },
            py::arg("obj"))
        .def("get", [](PySimpleQueue& q) { return get(q.queue, true, {}); })
        .def("empty", [](const PySimpleQueue& q) { return q.queue.empty(); })
        .def("close", [](PySimpleQueue& q) { q.queue.close(); });
    bind_connection(m);
}

} // namespace shmbus::python

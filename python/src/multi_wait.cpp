// SPDX-License-Identifier: Apache-2.0
// shmbus.wait(objects, timeout=None): multiprocessing.connection.wait over shmbus::wait
// (shmbus/multi_wait.hpp), for Connections, Queues, Events and Semaphores, and, as Python's,
// file descriptors: ints (a multiprocessing.Process's sentinel) and objects with fileno().
#include "common.hpp"
#include "queues.hpp"

#include <pybind11/stl.h>
#include <shmbus/errors.hpp>
#include <shmbus/event.hpp>
#include <shmbus/multi_wait.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <vector>

namespace shmbus::python {

namespace {

/// A descriptor as Python's wait takes it: an int, or an object's fileno(). ValueError for a
/// negative one, as selectors raise.
ReadableFd descriptor_of(const py::handle& object) {
    const int fd =
        (py::isinstance<py::int_>(object) ? object : object.attr("fileno")()).cast<int>();
    if (fd < 0)
        throw py::value_error("Invalid file descriptor: " + std::to_string(fd));
    return ReadableFd(fd);
}

/// The Waitable of a Python object this module made, or of a file descriptor; TypeError for
/// any other.
Waitable waitable_of(const py::handle& object) {
    if (py::isinstance<Connection>(object))
        return object.cast<Connection&>();
    if (py::isinstance<PyQueue>(object))
        return object.cast<PyQueue&>();
    if (py::isinstance<PyJoinableQueue>(object))
        return object.cast<PyJoinableQueue&>();
    if (py::isinstance<PySimpleQueue>(object))
        return object.cast<PySimpleQueue&>().queue;
    if (py::isinstance<Event>(object))
        return object.cast<Event&>();
    if (py::isinstance<Semaphore>(object)) // BoundedSemaphore too
        return object.cast<Semaphore&>();
    if (py::isinstance<py::int_>(object) || py::hasattr(object, "fileno"))
        return descriptor_of(object);
    throw py::type_error("shmbus.wait takes shmbus Connections, Queues, SimpleQueues, "
                         "JoinableQueues, Events and Semaphores, file descriptors and objects "
                         "with fileno(), not " +
                         std::string(py::str(py::type::of(object))));
}

/// The ready objects in list order, once one is ready or `timeout` passed (then none). The
/// objects stay referenced by `objects` for the whole wait, which runs without the GIL.
py::list wait_objects(const py::iterable& iterable, TimeoutSeconds timeout) {
    std::vector<py::object> objects;
    std::vector<Waitable> waitables;
    for (const py::handle object : iterable) {
        waitables.push_back(waitable_of(object));
        objects.push_back(py::reinterpret_borrow<py::object>(object));
    }
    if (objects.empty() && !timeout)
        throw UsageError("shmbus.wait of no objects without a timeout would block for good");
    std::vector<Waitable> ready;
    wait_in_slices(timeout, [&](auto slice) {
        ready = shmbus::wait_for(std::span<const Waitable>(waitables), slice);
        return !ready.empty();
    });
    py::list result;
    for (const Waitable& one : ready)
        result.append(objects.at(one.index()));
    return result;
}

} // namespace

void bind_multi_wait(py::module_& m) {
    m.def("wait", &wait_objects, py::arg("object_list"), py::arg("timeout") = py::none(),
          "multiprocessing.connection.wait: the objects of `object_list` that are ready, in its "
          "order, once one is or `timeout` seconds passed (then []). Ready: a Connection has a "
          "message or its stream ended; a Queue has an item or is closed; an Event is set; a "
          "Semaphore's value is above 0 (nothing is acquired); a file descriptor (an int such as "
          "a multiprocessing.Process's sentinel, or an object's fileno()) is readable. Releases "
          "the GIL; Ctrl-C raises KeyboardInterrupt.");
}

} // namespace shmbus::python

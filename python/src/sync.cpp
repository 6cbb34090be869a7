// SPDX-License-Identifier: Apache-2.0
// Lock, RLock, Semaphore, BoundedSemaphore and Event with Python's signatures: acquire(block,
// timeout), wait(timeout), context managers; every wait releases the GIL (common.hpp).
#include "common.hpp"

#include <pybind11/stl.h>
#include <shmbus/event.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>

namespace shmbus::python {

namespace {

/// Python's acquire(block=True, timeout=None) over a C++ lock's try_acquire / acquire_for.
template <class L>
bool acquire(L& lock, bool block, TimeoutSeconds timeout) {
    if (!block)
        return static_cast<bool>(lock.try_acquire());
    return wait_in_slices(timeout, [&](auto slice) { return bool(lock.acquire_for(slice)); });
}

/// acquire, release, __enter__ and __exit__ of a lock-like class.
template <class L, class Class>
void bind_acquire_release(Class& c) {
    c.def("acquire", &acquire<L>, py::arg("block") = true, py::arg("timeout") = py::none(),
          "Python's acquire(block=True, timeout=None): True once acquired.")
        .def(
            "release", [](L& lock) { lock.release(); }, "Releases one hold.")
        .def("__enter__", [](L& lock) { return acquire(lock, true, std::nullopt); })
        .def("__exit__", [](L& lock, const py::args&) { lock.release(); });
}

} // namespace

void bind_sync(py::module_& m) {
    py::class_<Lock> lock(m, "Lock",
                          "multiprocessing.Lock over shmbus::Lock: a process-owned lock that any "
                          "process may release.");
    lock.def(py::init([](const std::optional<Segment>& segment, const std::string& name) {
                 return Lock(segment_or_default(segment), name);
             }),
             py::kw_only(), py::arg("segment") = py::none(), py::arg("name") = "");
    bind_acquire_release<Lock>(lock);
    lock.def("locked", &Lock::locked);

    py::class_<RLock> rlock(m, "RLock", "multiprocessing.RLock over shmbus::RLock.");
    rlock.def(py::init([](const std::optional<Segment>& segment, const std::string& name) {
                  return RLock(segment_or_default(segment), name);
              }),
              py::kw_only(), py::arg("segment") = py::none(), py::arg("name") = "");
    bind_acquire_release<RLock>(rlock);

    py::class_<Semaphore> semaphore(m, "Semaphore",
                                    "multiprocessing.Semaphore over shmbus::Semaphore.");
    semaphore.def(py::init([](unsigned value, const std::optional<Segment>& segment,
                              const std::string& name) {
                      return Semaphore(segment_or_default(segment), name, value);
                  }),
                  py::arg("value") = 1, py::kw_only(), py::arg("segment") = py::none(),
                  py::arg("name") = "");
    bind_acquire_release<Semaphore>(semaphore);
    semaphore.def("get_value", &Semaphore::get_value);

    py::class_<BoundedSemaphore, Semaphore>(
        m, "BoundedSemaphore",
        "multiprocessing.BoundedSemaphore: release past the initial value is UsageError.")
        .def(py::init([](unsigned value, const std::optional<Segment>& segment,
                         const std::string& name) {
                 return BoundedSemaphore(segment_or_default(segment), name, value);
             }),
             py::arg("value") = 1, py::kw_only(), py::arg("segment") = py::none(),
             py::arg("name") = "");

    py::class_<Event>(m, "Event", "multiprocessing.Event over shmbus::Event.")
        .def(py::init([](const std::optional<Segment>& segment, const std::string& name) {
                 return Event(segment_or_default(segment), name);
             }),
             py::kw_only(), py::arg("segment") = py::none(), py::arg("name") = "")
        .def("set", &Event::set)
        .def("clear", &Event::clear)
        .def("is_set", &Event::is_set)
        .def(
            "wait",
            [](Event& event, TimeoutSeconds timeout) {
                return wait_in_slices(timeout, [&](auto slice) { return event.wait_for(slice); });
            },
            py::arg("timeout") = py::none(),
            "True once the flag is set; False when `timeout` seconds pass first.");
}

} // namespace shmbus::python

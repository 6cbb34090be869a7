// SPDX-License-Identifier: Apache-2.0
// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and Barrier with Python's
// signatures: acquire(block, timeout), wait(timeout), context managers; every wait releases the
// GIL (common.hpp).
#include "common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <pybind11/stl.h>
#include <shmbus/barrier.hpp>
#include <shmbus/condition.hpp>
#include <shmbus/event.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/semaphore.hpp>

namespace shmbus::python {

namespace {

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

/// Python's Condition.wait_for: pred() once it holds, or its last value when `timeout` passes.
bool wait_for_predicate(Condition& condition, const py::function& predicate,
                        TimeoutSeconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    bool result = predicate().cast<bool>();
    while (!result) {
        TimeoutSeconds left;
        if (timeout) {
            left = *timeout - std::chrono::duration<double>(Clock::now() - start).count();
            if (*left <= 0)
                break;
        }
        // Slices lose no notify: notify requires the lock, which the waiter holds between them.
        wait_in_slices(left, [&](auto slice) { return condition.wait_for(slice); });
        result = predicate().cast<bool>();
    }
    return result;
}

/// The action as a C++ callable: it runs inside wait(), which has released the GIL. A Python
/// exception it raises travels through the barrier (which breaks) back to wait()'s caller.
Barrier::Action barrier_action(const std::optional<py::function>& action) {
    if (!action)
        return {};
    // The callable owns a reference to the function; copies and the last release of it happen
    // under the GIL (the Barrier is made and destroyed by Python code).
    return [function = *action] {
        py::gil_scoped_acquire gil;
        function();
    };
}

Barrier::TimeLimit barrier_timeout(TimeoutSeconds timeout) {
    if (!timeout)
        return std::nullopt;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::max(0.0, *timeout)));
}

void bind_condition_and_barrier(py::module_& m) {
    py::class_<Condition> condition(
        m, "Condition",
        "multiprocessing.Condition over shmbus::Condition, with its own RLock or over a given "
        "Lock or RLock of the same segment.");
    condition.def(py::init([](const py::object& lock, const std::optional<Segment>& segment,
                              const std::string& name) {
                      const Segment where = segment_or_default(segment);
                      if (lock.is_none())
                          return Condition(where, name);
                      if (py::isinstance<Lock>(lock))
                          return Condition(where, name, lock.cast<Lock>());
                      return Condition(where, name, lock.cast<RLock>());
                  }),
                  py::arg("lock") = py::none(), py::kw_only(), py::arg("segment") = py::none(),
                  py::arg("name") = "");
    bind_acquire_release<Condition>(condition);
    condition
        .def(
            "wait",
            [](Condition& c, TimeoutSeconds timeout) {
                // Slices lose no notify: notify requires the lock, held between them.
                return wait_in_slices(timeout, [&](auto slice) { return c.wait_for(slice); });
            },
            py::arg("timeout") = py::none(),
            "Releases the lock, waits for a notify (False when `timeout` passes first), takes "
            "the lock back.")
        .def("wait_for", &wait_for_predicate, py::arg("predicate"), py::arg("timeout") = py::none())
        .def(
            "notify", [](Condition& c, unsigned n) { c.notify(n); }, py::arg("n") = 1)
        .def("notify_all", &Condition::notify_all);

    py::class_<Barrier>(m, "Barrier",
                        "multiprocessing.Barrier over shmbus::Barrier. wait() without a timeout "
                        "cannot be interrupted by Ctrl-C: a wait that gave up would break the "
                        "barrier for every party. The action belongs to this process's handle: "
                        "the last party to arrive runs its own handle's action.")
        .def(py::init([](std::int64_t parties, const std::optional<py::function>& action,
                         TimeoutSeconds timeout, const std::optional<Segment>& segment,
                         const std::string& name) {
                 return Barrier(segment_or_default(segment), name, parties, barrier_action(action),
                                barrier_timeout(timeout));
             }),
             py::arg("parties"), py::arg("action") = py::none(), py::arg("timeout") = py::none(),
             py::kw_only(), py::arg("segment") = py::none(), py::arg("name") = "")
        .def(
            "wait",
            [](Barrier& b, TimeoutSeconds timeout) {
                py::gil_scoped_release release;
                if (!timeout)
                    return b.wait();
                return b.wait_for(std::chrono::duration<double>(std::max(0.0, *timeout)));
            },
            py::arg("timeout") = py::none(),
            "The caller's arrival index; BrokenBarrierError when the barrier breaks. Without a "
            "timeout, the constructor's timeout applies.")
        // Without the GIL: they wait for the barrier's mutex, which a running action holds
        // while it waits for the GIL.
        .def("abort", &Barrier::abort, py::call_guard<py::gil_scoped_release>())
        .def("reset", &Barrier::reset, py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("parties", &Barrier::parties)
        .def_property_readonly("n_waiting", &Barrier::n_waiting)
        .def_property_readonly("broken", &Barrier::broken);
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
    bind_condition_and_barrier(m);
}

} // namespace shmbus::python

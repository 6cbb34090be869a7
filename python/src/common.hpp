// SPDX-License-Identifier: Apache-2.0
// What the Python module's parts share: the wait that releases the GIL and honours Ctrl-C, the
// MessagePack calls into Python's msgpack, and the hooks that bind each part.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <pybind11/pybind11.h>
#include <shmbus/segment.hpp>
#include <string>

namespace shmbus::python {

namespace py = pybind11;

/// The longest stretch a blocking call waits with the GIL released before it takes the GIL
/// back to run Python's signal handlers: Ctrl-C raises KeyboardInterrupt within about this.
inline constexpr std::chrono::milliseconds kSignalSlice{50};

/// Python's timeout argument: None waits for ever; a negative one tries once.
using TimeoutSeconds = std::optional<double>;

/// Calls attempt(slice) with the GIL released until it returns true (then true) or `timeout`
/// passes (then false), each call waiting at most kSignalSlice; between calls it runs Python's
/// signal handlers, so an exception they raise (KeyboardInterrupt) ends the wait.
template <class Attempt>
bool wait_in_slices(TimeoutSeconds timeout, Attempt attempt) {
    using Clock = std::chrono::steady_clock;
    const bool forever = !timeout.has_value();
    const auto deadline =
        forever ? Clock::time_point::max()
                : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(std::max(0.0, *timeout)));
    for (;;) {
        const auto left = forever ? Clock::duration(kSignalSlice) : deadline - Clock::now();
        const auto slice = std::clamp<Clock::duration>(left, Clock::duration::zero(), kSignalSlice);
        bool done = false;
        {
            py::gil_scoped_release release;
            done = attempt(slice);
        }
        if (done)
            return true;
        if (PyErr_CheckSignals() != 0)
            throw py::error_already_set();
        if (!forever && Clock::now() >= deadline)
            return false;
    }
}

/// Python's acquire(block=True, timeout=None) over a C++ lock's try_acquire / acquire_for.
template <class L>
bool acquire(L& lock, bool block, TimeoutSeconds timeout) {
    if (!block)
        return static_cast<bool>(lock.try_acquire());
    return wait_in_slices(timeout, [&](auto slice) { return bool(lock.acquire_for(slice)); });
}

/// The segment named by a `segment=` argument: the default segment when None.
Segment segment_or_default(const std::optional<Segment>& segment);

/// msgpack.packb(value, use_bin_type=True): str as str, bytes as bin.
std::string pack(const py::handle& value);
/// msgpack.unpackb(bytes, raw=False, strict_map_key=False).
py::object unpack(const char* data, std::size_t size);

void bind_errors(py::module_& m);
void bind_segment(py::module_& m);
void bind_sync(py::module_& m);
void bind_messaging(py::module_& m);
void bind_topics(py::module_& m);
void bind_shared_values(py::module_& m);
void bind_manager(py::module_& m);
void bind_multi_wait(py::module_& m);

} // namespace shmbus::python

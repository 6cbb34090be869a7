// SPDX-License-Identifier: Apache-2.0
// The `shmbus` Python module: Python's multiprocessing names over shmbus segments, speaking to
// C++ processes that open the same segment and names (README.md, "From Python").
#include "common.hpp"

#include <optional>
#include <pybind11/stl.h>
#include <shmbus/errors.hpp>
#include <shmbus/segment.hpp>
#include <shmbus/version.hpp>
#include <span>
#include <string>

namespace shmbus::python {

namespace {

/// The Python exception class that C++ exceptions of type E become.
template <class E>
py::handle& python_class_of() {
    static py::handle python_class;
    return python_class;
}

/// Raises `python_class` for every C++ exception of type E.
template <class E>
void translate(const py::handle& python_class) {
    python_class_of<E>() = python_class;
    // A translator is a plain function pointer: the class is found through python_class_of.
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const E& e) {
            PyErr_SetString(python_class_of<E>().ptr(), e.what());
        }
    });
}

/// Keeps `object` alive until the interpreter ends (exception classes used by translators).
py::handle keep(py::object object) {
    return object.release();
}

} // namespace

Segment segment_or_default(const std::optional<Segment>& segment) {
    return segment ? *segment : Segment::default_segment();
}

namespace {

// bytes, the commonest message, as msgpack's bin format: a marker, the length big-endian in
// 1, 2 or 4 bytes (the fewest that hold it), then the bytes, as Packer(use_bin_type=True)
// writes it, with no call into Python.
std::string pack_bytes(const char* data, std::size_t size) {
    std::string out;
    if (size <= 0xff)
        out = {'\xc4', static_cast<char>(size)};
    else if (size <= 0xffff)
        out = {'\xc5', static_cast<char>(size >> 8), static_cast<char>(size)};
    else
        out = {'\xc6', static_cast<char>(size >> 24), static_cast<char>(size >> 16),
               static_cast<char>(size >> 8), static_cast<char>(size)};
    out.append(data, size);
    return out;
}

// The payload of a message that is one msgpack bin and nothing after it, or nullopt.
std::optional<std::span<const char>> bin_payload(const char* data, std::size_t size) {
    if (size == 0)
        return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    const std::size_t width = bytes[0] == 0xc4   ? 1
                              : bytes[0] == 0xc5 ? 2
                              : bytes[0] == 0xc6 ? 4
                                                 : 0;
    if (width == 0 || size < 1 + width)
        return std::nullopt;
    std::size_t length = 0;
    for (std::size_t i = 1; i <= width; ++i)
        length = length << 8 | bytes[i];
    if (length != size - 1 - width)
        return std::nullopt;
    return std::span<const char>(data + 1 + width, length);
}

} // namespace

std::string pack(const py::handle& value) {
    if (PyBytes_CheckExact(value.ptr()))
        return pack_bytes(PyBytes_AS_STRING(value.ptr()),
                          static_cast<std::size_t>(PyBytes_GET_SIZE(value.ptr())));
    // One reused Packer is ten times faster than packb, which makes a Packer per call. Packing
    // runs with the GIL held, but may call back into Python (a dict subclass's iteration), where
    // another thread could pack: that nested call takes packb rather than the busy Packer.
    static const py::handle packb = keep(py::module_::import("msgpack").attr("packb"));
    static const py::handle packer = keep(
        py::module_::import("msgpack").attr("Packer")(py::arg("use_bin_type") = true).attr("pack"));
    static bool packer_busy = false;
    if (packer_busy)
        return packb(value, py::arg("use_bin_type") = true).cast<std::string>();
    packer_busy = true;
    try {
        std::string bytes = packer(value).cast<std::string>();
        packer_busy = false;
        return bytes;
    } catch (...) {
        packer_busy = false;
        throw;
    }
}

py::object unpack(const char* data, std::size_t size) {
    if (const auto payload = bin_payload(data, size))
        return py::bytes(payload->data(), payload->size());
    static const py::handle unpackb = keep(py::module_::import("msgpack").attr("unpackb"));
    return unpackb(py::memoryview::from_memory(data, static_cast<py::ssize_t>(size)),
                   py::arg("raw") = false, py::arg("strict_map_key") = false);
}

namespace {

/// shmbus.BufferTooShort, a shmbus.MessageTooLarge and a multiprocessing.BufferTooShort whose
/// args[0] is the whole message, as Python's Connection.recv_bytes_into raises it.
void bind_buffer_too_short(py::module_& m, const py::handle& too_large) {
    const py::object python_base = py::module_::import("multiprocessing").attr("BufferTooShort");
    const py::object type =
        py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(&PyType_Type));
    const py::handle buffer_too_short =
        keep(type("BufferTooShort", py::make_tuple(too_large, python_base),
                  py::dict(py::arg("__module__") = "shmbus")));
    m.attr("BufferTooShort") = buffer_too_short;
    python_class_of<BufferTooShort>() = buffer_too_short;
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const BufferTooShort& e) {
            const auto& message = e.message();
            const py::bytes whole(reinterpret_cast<const char*>(message.data()), message.size());
            PyErr_SetObject(python_class_of<BufferTooShort>().ptr(), whole.ptr());
        }
    });
}

/// shmbus.Lagged, a shmbus.Error whose `missed` is the number of messages the subscriber lost.
void bind_lagged(py::module_& m, const py::handle& error) {
    const py::handle lagged = keep(py::exception<Lagged>(m, "Lagged", error));
    python_class_of<Lagged>() = lagged;
    py::register_exception_translator([](std::exception_ptr thrown) {
        try {
            if (thrown)
                std::rethrow_exception(thrown);
        } catch (const Lagged& e) {
            const py::object instance = python_class_of<Lagged>()(e.what());
            instance.attr("missed") = e.missed();
            PyErr_SetObject(python_class_of<Lagged>().ptr(), instance.ptr());
        }
    });
}

} // namespace

void bind_errors(py::module_& m) {
    // Translators registered later are tried first: the base classes go first.
    const py::handle error = keep(py::exception<Error>(m, "Error"));
    translate<Error>(error);
    const auto derived = [&](auto tag, const char* name, const py::handle& base) {
        using E = typename decltype(tag)::type;
        const py::handle python_class = keep(py::exception<E>(m, name, base));
        translate<E>(python_class);
        return python_class;
    };
    const auto map_to = [](auto tag, const py::handle& python_class) {
        translate<typename decltype(tag)::type>(python_class);
    };
    const py::handle out_of_range = derived(std::type_identity<OutOfRange>{}, "OutOfRange", error);
    derived(std::type_identity<Timeout>{}, "Timeout", error);
    const py::handle too_large =
        derived(std::type_identity<MessageTooLarge>{}, "MessageTooLarge", error);
    derived(std::type_identity<CorruptSegment>{}, "CorruptSegment", error);
    derived(std::type_identity<InvalidName>{}, "InvalidName", error);
    derived(std::type_identity<PermissionDenied>{}, "PermissionDenied", error);
    const py::handle closed = derived(std::type_identity<Closed>{}, "Closed", error);
    derived(std::type_identity<ShutDown>{}, "ShutDown", closed);
    derived(std::type_identity<NotFound>{}, "NotFound", error);
    derived(std::type_identity<AlreadyExists>{}, "AlreadyExists", error);
    derived(std::type_identity<KindMismatch>{}, "KindMismatch", error);
    derived(std::type_identity<UsageError>{}, "UsageError", error);
    derived(std::type_identity<OutOfSpace>{}, "OutOfSpace", error);
    derived(std::type_identity<BrokenBarrier>{}, "BrokenBarrierError", error);
    derived(std::type_identity<DecodeError>{}, "DecodeError", error);
    derived(std::type_identity<SystemError>{}, "SystemError", error);
    // Where Python's multiprocessing raises a built-in exception, so does this module.
    const py::module_ queue = py::module_::import("queue");
    map_to(std::type_identity<Empty>{}, keep(queue.attr("Empty")));
    map_to(std::type_identity<Full>{}, keep(queue.attr("Full")));
    map_to(std::type_identity<EndOfStream>{}, py::handle(PyExc_EOFError));
    map_to(std::type_identity<IndexError>{}, py::handle(PyExc_IndexError));
    map_to(std::type_identity<KeyError>{}, py::handle(PyExc_KeyError));
    bind_buffer_too_short(m, too_large);
    bind_lagged(m, error);
    (void)out_of_range;
}

void bind_segment(py::module_& m) {
    py::class_<Segment>(m, "Segment",
                        "A named shared-memory segment (shmbus::Segment): every object made with "
                        "segment=S and a name is shared with the C++ and Python processes that "
                        "open S and that name.")
        .def_static(
            "create",
            [](const std::string& name, std::size_t size) { return Segment::create(name, size); },
            py::arg("name"), py::arg("size") = Segment::kDefaultSize,
            "A new segment; AlreadyExists when the name is taken.")
        .def_static(
            "open", [](const std::string& name) { return Segment::open(name); }, py::arg("name"),
            "An existing segment; NotFound when there is none.")
        .def_static(
            "open_or_create",
            [](const std::string& name, std::size_t size) {
                return Segment::open_or_create(name, size);
            },
            py::arg("name"), py::arg("size") = Segment::kDefaultSize,
            "Opens the segment, creating it when missing or stale.")
        .def_static(
            "unlink", [](const std::string& name) { return Segment::unlink(name); },
            py::arg("name"), "Removes the name; False when there was none.")
        .def_static("default", &Segment::default_segment,
                    "The segment anonymous objects live in (inherited by forked children).")
        .def_property_readonly("name", &Segment::name)
        .def_property_readonly("size", &Segment::size)
        .def_property_readonly("bytes_free", &Segment::bytes_free)
        .def("__repr__", [](const Segment& segment) {
            return "<shmbus.Segment '" + segment.name() + "' " + std::to_string(segment.size()) +
                   " bytes>";
        });
}

} // namespace shmbus::python

PYBIND11_MODULE(shmbus, m) {
    namespace python = shmbus::python;
    m.doc() =
        "Python's multiprocessing names (Queue, Pipe, Lock, Value, ...) and Topic over shmbus "
        "shared-memory segments, shared with C++ processes.";
    m.attr("__version__") = SHMBUS_VERSION_STRING;
    python::bind_errors(m);
    python::bind_segment(m);
    python::bind_sync(m);
    python::bind_messaging(m);
    python::bind_topics(m);
    python::bind_shared_values(m);
    python::bind_manager(m);
    python::bind_multi_wait(m);
}

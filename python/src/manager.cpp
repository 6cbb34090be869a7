// SPDX-License-Identifier: Apache-2.0
// Manager().dict() and Manager().list(): shmbus::Dict and shmbus::List with the msgpack codec,
// so C++ opens them as Dict<V, MsgpackCodec> / List<V, MsgpackCodec> (or through
// Manager::dict<V, MsgpackCodec>). There is no server process: every call works on the shared
// state under the container's lock.
#include "common.hpp"

#include <pybind11/stl.h>
#include <shmbus/errors.hpp>
#include <shmbus/manager.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <span>
#include <string>
#include <vector>

namespace shmbus::python {

namespace {

using PyDict = Dict<MsgpackBytes, MsgpackCodec>;
using PyList = List<MsgpackBytes, MsgpackCodec>;

MsgpackBytes packed(const py::handle& value) {
    const std::string bytes = pack(value);
    const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
    return MsgpackBytes{{data, data + bytes.size()}};
}

py::object unpacked(const MsgpackBytes& message) {
    return unpack(reinterpret_cast<const char*>(message.bytes.data()), message.bytes.size());
}

py::list unpacked_all(const std::vector<MsgpackBytes>& messages) {
    py::list values;
    for (const MsgpackBytes& message : messages)
        values.append(unpacked(message));
    return values;
}

/// The segment a Manager makes its containers in.
struct PyManager {
    Segment segment;
};

ContainerOptions container_options(std::size_t capacity_bytes, std::size_t max_entries) {
    return ContainerOptions{.capacity_bytes = capacity_bytes, .max_entries = max_entries};
}

void bind_dict(py::module_& m) {
    py::class_<PyDict>(m, "DictProxy",
                       "Manager().dict() in shared memory: str keys, msgpack values; each call "
                       "is atomic.")
        .def("__getitem__",
             [](const PyDict& d, const std::string& key) { return unpacked(d.get(key)); })
        .def("__setitem__", [](PyDict& d, const std::string& key,
                               const py::handle& value) { d.set(key, packed(value)); })
        .def("__delitem__", [](PyDict& d, const std::string& key) { d.erase(key); })
        .def("__contains__",
             [](const PyDict& d, const std::string& key) { return d.contains(key); })
        .def("__len__", &PyDict::size)
        .def("__iter__", [](const PyDict& d) { return py::iter(py::cast(d.keys())); })
        .def(
            "get",
            [](const PyDict& d, const std::string& key, const py::object& fallback) {
                const auto value = d.try_get(key);
                return value ? unpacked(*value) : fallback;
            },
            py::arg("key"), py::arg("default") = py::none())
        .def(
            "pop",
            [](PyDict& d, const std::string& key, const py::args& fallback) {
                // One atomic call either way: the fallback goes in packed and comes back.
                if (fallback.empty())
                    return unpacked(d.pop(key));
                return unpacked(d.pop(key, packed(fallback[0])));
            },
            py::arg("key"))
        .def(
            "setdefault",
            [](PyDict& d, const std::string& key, const py::object& value) {
                return unpacked(d.setdefault(key, packed(value)));
            },
            py::arg("key"), py::arg("default") = py::none())
        .def("popitem",
             [](PyDict& d) {
                 auto [key, value] = d.popitem();
                 return py::make_tuple(key, unpacked(value));
             })
        .def("keys", &PyDict::keys)
        .def("values", [](const PyDict& d) { return unpacked_all(d.values()); })
        .def("items",
             [](const PyDict& d) {
                 py::list items;
                 for (const auto& [key, value] : d.items())
                     items.append(py::make_tuple(key, unpacked(value)));
                 return items;
             })
        .def("update",
             [](PyDict& d, const py::dict& other) {
                 for (const auto& [key, value] : other)
                     d.set(key.cast<std::string>(), packed(value));
             })
        .def("clear", &PyDict::clear)
        .def("copy", [](const PyDict& d) {
            py::dict copy;
            for (const auto& [key, value] : d.items())
                copy[py::str(key)] = unpacked(value);
            return copy;
        });
}

void bind_list(py::module_& m) {
    py::class_<PyList>(m, "ListProxy",
                       "Manager().list() in shared memory of msgpack values; each call is "
                       "atomic. remove, count, index and `in` compare encodings (1 is not 1.0).")
        .def("append", [](PyList& l, const py::handle& value) { l.append(packed(value)); })
        .def("extend",
             [](PyList& l, const py::iterable& values) {
                 std::vector<MsgpackBytes> all;
                 for (const auto& value : values)
                     all.push_back(packed(value));
                 l.extend(all);
             })
        .def("insert", [](PyList& l, std::ptrdiff_t index,
                          const py::handle& value) { l.insert(index, packed(value)); })
        .def("__getitem__",
             [](const PyList& l, std::ptrdiff_t index) { return unpacked(l.at(index)); })
        .def("__setitem__", [](PyList& l, std::ptrdiff_t index,
                               const py::handle& value) { l.set(index, packed(value)); })
        .def("__delitem__", [](PyList& l, std::ptrdiff_t index) { l.erase(index); })
        .def(
            "pop", [](PyList& l, std::ptrdiff_t index) { return unpacked(l.pop(index)); },
            py::arg("index") = -1)
        .def("remove",
             [](PyList& l, const py::handle& value) {
                 try {
                     l.remove(packed(value));
                 } catch (const UsageError&) {
                     throw py::value_error("list.remove(x): x not in list");
                 }
             })
        .def("count",
             [](const PyList& l, const py::handle& value) { return l.count(packed(value)); })
        .def("index",
             [](const PyList& l, const py::handle& value) {
                 const auto found = l.find(packed(value));
                 if (!found)
                     throw py::value_error("list.index(x): x not in list");
                 return *found;
             })
        .def("__contains__",
             [](const PyList& l, const py::handle& value) { return l.contains(packed(value)); })
        .def("__len__", &PyList::size)
        .def("__iter__", [](const PyList& l) { return py::iter(unpacked_all(l.to_vector())); })
        .def(
            "sort",
            [](PyList& l, const py::object& key, bool reverse) {
                // Values are decoded (and keyed) once, then compared with Python's `<`; the
                // new order is committed in one step, so an exception changes nothing.
                l.sort_by(
                    [&](const MsgpackBytes& value) {
                        return key.is_none() ? unpacked(value) : key(unpacked(value));
                    },
                    [](const py::object& a, const py::object& b) {
                        return a.attr("__lt__")(b).cast<bool>();
                    },
                    reverse);
            },
            py::kw_only(), py::arg("key") = py::none(), py::arg("reverse") = false)
        .def("reverse", &PyList::reverse)
        .def("__iadd__",
             [](py::object self, const py::iterable& values) {
                 std::vector<MsgpackBytes> all;
                 for (const auto& value : values)
                     all.push_back(packed(value));
                 self.cast<PyList&>().extend(all);
                 return self;
             })
        .def("__imul__",
             [](py::object self, std::ptrdiff_t n) {
                 self.cast<PyList&>() *= n;
                 return self;
             })
        .def("clear", &PyList::clear)
        .def("copy", [](const PyList& l) { return unpacked_all(l.to_vector()); });
}

} // namespace

void bind_manager(py::module_& m) {
    bind_dict(m);
    bind_list(m);
    py::class_<PyManager>(m, "Manager",
                          "multiprocessing.Manager without a server: dict() and list() live in "
                          "`segment` (the default segment when None).")
        .def(py::init([](const std::optional<Segment>& segment) {
                 return PyManager{segment_or_default(segment)};
             }),
             py::kw_only(), py::arg("segment") = py::none())
        .def(
            "dict",
            [](const PyManager& manager, const std::string& name, std::size_t capacity_bytes,
               std::size_t max_entries) {
                return PyDict(manager.segment, name,
                              container_options(capacity_bytes, max_entries));
            },
            py::kw_only(), py::arg("name") = "", py::arg("capacity_bytes") = std::size_t{1} << 20,
            py::arg("max_entries") = 0)
        .def(
            "list",
            [](const PyManager& manager, const std::string& name, std::size_t capacity_bytes,
               std::size_t max_entries) {
                return PyList(manager.segment, name,
                              container_options(capacity_bytes, max_entries));
            },
            py::kw_only(), py::arg("name") = "", py::arg("capacity_bytes") = std::size_t{1} << 20,
            py::arg("max_entries") = 0)
        .def("__enter__", [](PyManager& manager) -> PyManager& { return manager; })
        .def("__exit__", [](PyManager&, const py::args&) {})
        .def(
            "shutdown", [](PyManager&) {}, "Nothing to shut down: there is no server.");
}

} // namespace shmbus::python

// SPDX-License-Identifier: Apache-2.0
// Value and Array with multiprocessing's ctypes typecodes, mapped to the C++ element types of
// Value<T> and Array<T>: the type is recorded in the object, so opening it with another
// typecode (or from C++ with another T) is KindMismatch.
#include "common.hpp"
#include "elements.hpp"

#include <cstdint>
#include <pybind11/stl.h>
#include <shmbus/array.hpp>
#include <shmbus/errors.hpp>
#include <shmbus/lock.hpp>
#include <shmbus/value.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace shmbus::python {

namespace {

/// Calls f(std::type_identity<T>{}) for the C++ type of a ctypes / array-module typecode.
template <class F>
py::object with_element_type(const std::string& typecode, F f) {
    if (typecode.size() == 1) {
        switch (typecode[0]) {
        case 'b':
            return f(std::type_identity<std::int8_t>{});
        case 'B':
            return f(std::type_identity<std::uint8_t>{});
        case 'h':
            return f(std::type_identity<std::int16_t>{});
        case 'H':
            return f(std::type_identity<std::uint16_t>{});
        case 'i':
            return f(std::type_identity<std::int32_t>{});
        case 'I':
            return f(std::type_identity<std::uint32_t>{});
        case 'l':
        case 'q':
            return f(std::type_identity<std::int64_t>{});
        case 'L':
        case 'Q':
            return f(std::type_identity<std::uint64_t>{});
        case 'f':
            return f(std::type_identity<float>{});
        case 'd':
            return f(std::type_identity<double>{});
        case 'c':
            return f(std::type_identity<char>{});
        case 'u':
            return f(std::type_identity<wchar_t>{});
        case '?':
            return f(std::type_identity<bool>{});
        default:
            break;
        }
    }
    throw py::value_error("shmbus: unsupported typecode '" + typecode +
                          "' (one of b B h H i I l L q Q f d c u ?)");
}

/// The suffix of the classes of a typecode: Value_i, Array_c, Value_bool.
std::string class_suffix(const std::string& typecode) {
    return typecode == "?" ? "bool" : typecode;
}

template <class T>
void bind_value(py::module_& m, const std::string& typecode) {
    py::class_<Value<T>>(m, ("Value_" + class_suffix(typecode)).c_str())
        .def_property(
            "value", [](const Value<T>& v) { return Element<T>::to_python(v.load()); },
            [](Value<T>& v, const py::handle& value) { v.store(Element<T>::from_python(value)); },
            "The element; each read and write is atomic.")
        .def("get_lock", [](Value<T>& v) { return v.get_lock(); })
        .def_property_readonly("typecode", [typecode](const Value<T>&) { return typecode; })
        .def("__repr__", [typecode](const Value<T>& v) {
            return "<shmbus.Value('" + typecode + "', " +
                   std::string(py::str(py::repr(Element<T>::to_python(v.load())))) + ")>";
        });
}

/// Python's index (negative counts from the end); IndexError outside the array.
template <class T>
std::size_t position(const Array<T>& array, py::ssize_t index) {
    const auto length = static_cast<py::ssize_t>(array.size());
    if (index < 0)
        index += length;
    if (index < 0 || index >= length)
        throw py::index_error("shmbus.Array index out of range");
    return static_cast<std::size_t>(index);
}

/// The elements a slice selects, converted with Element<T>.
template <class T>
py::object load_slice(const Array<T>& a, const py::slice& slice) {
    std::size_t start = 0, stop = 0, step = 0, count = 0;
    if (!slice.compute(a.size(), &start, &stop, &step, &count))
        throw py::error_already_set();
    std::vector<T> values;
    for (std::size_t i = 0; i < count; ++i, start += step)
        values.push_back(a.load(start));
    return Element<T>::sequence(values);
}

template <class T>
void store_slice(Array<T>& a, const py::slice& slice, const py::handle& iterable) {
    std::size_t start = 0, stop = 0, step = 0, count = 0;
    if (!slice.compute(a.size(), &start, &stop, &step, &count))
        throw py::error_already_set();
    const std::vector<T> values = elements_of<T>(iterable);
    if (values.size() != count)
        throw py::value_error("can only assign a sequence of the slice's length");
    for (std::size_t i = 0; i < count; ++i, start += step)
        a.store(start, values[i]);
}

template <class T>
void bind_array(py::module_& m, const std::string& typecode) {
    py::class_<Array<T>> c(m, ("Array_" + class_suffix(typecode)).c_str());
    c.def("__len__", &Array<T>::size)
        .def("__getitem__",
             [](const Array<T>& a, py::ssize_t index) {
                 return Element<T>::to_python(a.load(position(a, index)));
             })
        .def("__getitem__", &load_slice<T>)
        .def("__setitem__",
             [](Array<T>& a, py::ssize_t index, const py::handle& value) {
                 a.store(position(a, index), Element<T>::from_python(value));
             })
        .def("__setitem__", &store_slice<T>)
        .def("tolist",
             [](const Array<T>& a) {
                 py::list list;
                 for (const T value : a.to_vector())
                     list.append(Element<T>::to_python(value));
                 return list;
             })
        .def("get_lock", [](Array<T>& a) { return a.get_lock(); })
        .def_property_readonly("typecode", [typecode](const Array<T>&) { return typecode; })
        .def("__repr__", [typecode](const Array<T>& a) {
            return "<shmbus.Array('" + typecode + "', " +
                   std::string(py::str(py::repr(Element<T>::sequence(a.to_vector())))) + ")>";
        });
    if constexpr (std::is_same_v<T, char>)
        // Python's c_char Array: `value` up to the first NUL, `raw` every byte.
        c.def_property(
             "value", [](const Array<T>& a) { return py::bytes(a.value()); },
             [](Array<T>& a, const py::bytes& text) { a.set_value(std::string(text)); })
            .def_property(
                "raw", [](const Array<T>& a) { return py::bytes(a.raw()); },
                [](Array<T>& a, const py::bytes& bytes) { a.set_raw(std::string(bytes)); });
}

/// An Array of `values`: created with them, or, when the name exists, opened (KindMismatch when
/// its length differs) and left as it is, as a named Value keeps its value.
template <class T>
Array<T> array_of(const Segment& segment, const std::string& name, const std::vector<T>& values) {
    if (!name.empty()) {
        try {
            Array<T> array = Array<T>::create(segment, name, values.size());
            std::copy(values.begin(), values.end(), array.begin());
            return array;
        } catch (const AlreadyExists&) {
            return Array<T>(segment, name, values.size());
        }
    }
    Array<T> array(segment, name, values.size());
    std::copy(values.begin(), values.end(), array.begin());
    return array;
}

} // namespace

void bind_shared_values(py::module_& m) {
    // One class per C++ type: 'l' and 'L' make the classes of 'q' and 'Q'.
    for (const char* typecode : {"b", "B", "h", "H", "i", "I", "q", "Q", "f", "d", "c", "u", "?"}) {
        with_element_type(typecode, [&](auto type) {
            using T = typename decltype(type)::type;
            bind_value<T>(m, typecode);
            bind_array<T>(m, typecode);
            return py::object();
        });
    }
    m.def(
        "Value",
        [](const std::string& typecode, const py::object& value,
           const std::optional<Segment>& segment, const std::string& name) {
            return with_element_type(typecode, [&](auto type) {
                using T = typename decltype(type)::type;
                const T initial = value.is_none() ? T{} : Element<T>::from_python(value);
                return py::cast(Value<T>(segment_or_default(segment), name, initial));
            });
        },
        py::arg("typecode"), py::arg("value") = py::none(), py::kw_only(),
        py::arg("segment") = py::none(), py::arg("name") = "",
        "multiprocessing.Value: an element of C++ type Value<T> for the typecode ('i': int32_t, "
        "'d': double, 'q': int64_t, 'c': char, 'u': wchar_t, '?': bool, ...). `value` (zero "
        "when None) is used only when the object is created.");
    m.def(
        "Array",
        [](const std::string& typecode, const py::object& size_or_initializer,
           const std::optional<Segment>& segment, const std::string& name) {
            return with_element_type(typecode, [&](auto type) {
                using T = typename decltype(type)::type;
                const Segment where = segment_or_default(segment);
                if (py::isinstance<py::int_>(size_or_initializer))
                    return py::cast(Array<T>(where, name, size_or_initializer.cast<std::size_t>()));
                return py::cast(array_of(where, name, elements_of<T>(size_or_initializer)));
            });
        },
        py::arg("typecode"), py::arg("size_or_initializer"), py::kw_only(),
        py::arg("segment") = py::none(), py::arg("name") = "",
        "multiprocessing.Array: a fixed-length array of C++ type Array<T> for the typecode. A "
        "sequence initialises it only when it is created.");
}

} // namespace shmbus::python

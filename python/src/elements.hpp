// SPDX-License-Identifier: Apache-2.0
// How an element of a Value or Array reaches Python and back, as ctypes does it: numbers and
// bool as int, float and bool; 'c' (char) as bytes of length 1, 'u' (wchar_t) as a str of
// length 1; a slice of a 'c' Array as bytes and of a 'u' Array as str.
#pragma once

#include "common.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace shmbus::python {

template <class T>
struct Element {
    static py::object to_python(T value) { return py::cast(value); }
    static T from_python(const py::handle& value) { return value.cast<T>(); }
    static py::object sequence(const std::vector<T>& values) {
        py::list list;
        for (const T value : values)
            list.append(to_python(value));
        return list;
    }
};

template <>
struct Element<char> {
    static py::object to_python(char value) { return py::bytes(&value, 1); }
    /// bytes of length 1, or an int in [0, 255] (what iterating over bytes gives).
    static char from_python(const py::handle& value) {
        if (py::isinstance<py::int_>(value)) {
            const long code = value.cast<long>();
            if (code < 0 || code > 255)
                throw py::value_error("a 'c' element is a byte: 0..255");
            return static_cast<char>(code);
        }
        if (!py::isinstance<py::bytes>(value) || py::len(value) != 1)
            throw py::type_error("a 'c' element is a bytes object of length 1");
        return value.cast<std::string>()[0];
    }
    static py::object sequence(const std::vector<char>& values) {
        return py::bytes(values.data(), values.size());
    }
};

template <>
struct Element<wchar_t> {
    static py::object to_python(wchar_t value) { return sequence({value}); }
    static wchar_t from_python(const py::handle& value) {
        if (!py::isinstance<py::str>(value) || PyUnicode_GetLength(value.ptr()) != 1)
            throw py::type_error("a 'u' element is a str of length 1");
        return static_cast<wchar_t>(PyUnicode_ReadChar(value.ptr(), 0));
    }
    static py::object sequence(const std::vector<wchar_t>& values) {
        PyObject* text =
            PyUnicode_FromWideChar(values.data(), static_cast<py::ssize_t>(values.size()));
        if (text == nullptr)
            throw py::error_already_set();
        return py::reinterpret_steal<py::object>(text);
    }
};

/// The elements of a Python iterable (for 'c' also bytes, for 'u' also str), converted.
template <class T>
std::vector<T> elements_of(const py::handle& iterable) {
    std::vector<T> values;
    for (const py::handle item : iterable)
        values.push_back(Element<T>::from_python(item));
    return values;
}

} // namespace shmbus::python

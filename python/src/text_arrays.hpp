// SPDX-License-Identifier: Apache-2.0
// The string views of character Arrays, as ctypes gives them: a 'c' Array's `value` (bytes up
// to the first NUL) and `raw` (every byte), a 'u' Array's `value` (str up to the first NUL),
// with ctypes' checks and messages on assignment (TypeError for the wrong type, ValueError
// when too long), and each read and write done as a whole under the Array's lock.
#pragma once

#include "common.hpp"
#include "elements.hpp"

#include <algorithm>
#include <mutex>
#include <shmbus/array.hpp>
#include <shmbus/lock.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace shmbus::python {

/// Runs `f` holding the Array's lock; a RawArray has none to hold.
template <class T, class L, class F>
decltype(auto) under_lock(Array<T, L>& array, F f) {
    if constexpr (std::is_same_v<L, NoLock>) {
        return f();
    } else {
        std::lock_guard guard(array.get_lock());
        return f();
    }
}

/// ctypes' TypeError for an assignment of the wrong type: "<what> expected instead of
/// <type> instance".
inline void expect(bool right_type, const char* what, const py::handle& value) {
    if (!right_type)
        throw py::type_error(std::string(what) + " expected instead of " +
                             std::string(py::str(py::type::of(value).attr("__name__"))) +
                             " instance");
}

/// Makes `del a.<name>` a TypeError, as ctypes' `value` does (without this, pybind11's property
/// raises AttributeError, as multiprocessing's SynchronizedString and ctypes' `raw` do).
template <class Class>
void refuse_delete(Class& c, const char* name) {
    const py::object without_deleter = c.attr(name);
    c.attr(name) = without_deleter.attr("deleter")(py::cpp_function(
        [](const py::handle&) { throw py::type_error("can't delete attribute"); }));
}

/// `value` and `raw` of a 'c' Array (ctypes' c_char arrays, multiprocessing's
/// SynchronizedString).
template <class L, class Class>
void bind_char_text(Class& c) {
    using A = Array<char, L>;
    c.def_property(
         "value", [](const A& a) { return py::bytes(a.value()); },
         [](A& a, const py::handle& text) {
             expect(PyBytes_Check(text.ptr()) != 0, "bytes", text);
             const std::string_view bytes(PyBytes_AS_STRING(text.ptr()),
                                          static_cast<std::size_t>(PyBytes_GET_SIZE(text.ptr())));
             if (bytes.size() > a.size())
                 throw py::value_error("byte string too long");
             a.set_value(bytes);
         },
         "The bytes up to the first NUL (all of them without one). Assigning bytes writes them "
         "and a NUL after them when there is room.")
        .def_property(
            "raw", [](const A& a) { return py::bytes(a.raw()); },
            [](A& a, const py::handle& source) {
                // Any C-contiguous bytes-like object, as ctypes takes (bytearray, memoryview).
                Py_buffer view;
                if (PyObject_GetBuffer(source.ptr(), &view, PyBUF_SIMPLE) != 0)
                    throw py::error_already_set();
                const std::string bytes(static_cast<const char*>(view.buf),
                                        static_cast<std::size_t>(view.len));
                PyBuffer_Release(&view);
                if (bytes.size() > a.size())
                    throw py::value_error("byte string too long");
                a.set_raw(bytes);
            },
            "Every byte, NULs included. Assigning a bytes-like object writes over the first "
            "bytes and adds no NUL.");
    if constexpr (std::is_same_v<L, NoLock>) // a RawArray is a ctypes array
        refuse_delete(c, "value");
}

/// `value` of a 'u' Array (ctypes' c_wchar arrays).
template <class L, class Class>
void bind_wide_text(Class& c) {
    using A = Array<wchar_t, L>;
    c.def_property(
        "value",
        [](const A& a) {
            std::vector<wchar_t> chars = a.to_vector(); // a consistent copy, under the lock
            chars.erase(std::find(chars.begin(), chars.end(), L'\0'), chars.end());
            return Element<wchar_t>::sequence(chars);
        },
        [](A& a, const py::handle& text) {
            expect(PyUnicode_Check(text.ptr()) != 0, "unicode string", text);
            const py::ssize_t length = PyUnicode_AsWideChar(text.ptr(), nullptr, 0) - 1;
            if (length < 0)
                throw py::error_already_set();
            if (static_cast<std::size_t>(length) > a.size())
                throw py::value_error("string too long");
            std::vector<wchar_t> chars(static_cast<std::size_t>(length));
            if (length > 0 && PyUnicode_AsWideChar(text.ptr(), chars.data(), length) < 0)
                throw py::error_already_set();
            under_lock(a, [&] {
                std::copy(chars.begin(), chars.end(), a.begin());
                if (chars.size() < a.size())
                    a[chars.size()] = L'\0';
            });
        },
        "The str up to the first NUL (all of it without one). Assigning a str writes it and a "
        "NUL after it when there is room.");
    refuse_delete(c, "value"); // as ctypes: multiprocessing's locked 'u' Array has no value
}

} // namespace shmbus::python

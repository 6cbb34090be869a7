// SPDX-License-Identifier: Apache-2.0
// Value and Array with multiprocessing's ctypes typecodes, mapped to the C++ element types of
// Value<T> and Array<T>: the type is recorded in the object, so opening it with another
// typecode (or from C++ with another T) is KindMismatch. Python's lock= picks the C++ lock
// type: Value<T> (its own RLock, or a given RLock), Value<T, Lock>, RawValue<T>.
#include "common.hpp"
#include "elements.hpp"
#include "text_arrays.hpp"

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

/// The Python class of Value<T, L> or Array<T, L> for a typecode: Value_i (its own RLock or
/// a given one), Value_i_Lock (a given Lock), RawValue_i (no lock); '?' is spelt bool.
template <class L>
std::string class_name(const std::string& kind, const std::string& typecode) {
    const std::string suffix = typecode == "?" ? "bool" : typecode;
    if constexpr (std::is_same_v<L, NoLock>)
        return "Raw" + kind + "_" + suffix;
    else if constexpr (std::is_same_v<L, Lock>)
        return kind + "_" + suffix + "_Lock";
    else
        return kind + "_" + suffix;
}

/// What Python's synchronized wrappers have (not RawValue / RawArray): get_lock(), get_obj(),
/// and the lock's acquire, release, __enter__ and __exit__, so `with v: v.value += 1` holds it.
template <class V, class L, class Class>
void bind_lock_methods(Class& c) {
    if constexpr (!std::is_same_v<L, NoLock>)
        c.def("get_lock", [](V& v) { return v.get_lock(); })
            .def(
                "get_obj", [](const V& v) { return v.get_obj(); },
                "The same memory without the lock (a RawValue or RawArray).")
            .def(
                "acquire",
                [](V& v, bool block, TimeoutSeconds timeout) {
                    return acquire(v.get_lock(), block, timeout);
                },
                py::arg("block") = true, py::arg("timeout") = py::none(),
                "get_lock().acquire(block, timeout).")
            .def(
                "release", [](V& v) { v.get_lock().release(); }, "get_lock().release().")
            .def("__enter__", [](V& v) { return acquire(v.get_lock(), true, std::nullopt); })
            .def("__exit__", [](V& v, const py::args&) { v.get_lock().release(); });
}

template <class T, class L>
void bind_value(py::module_& m, const std::string& typecode) {
    using V = Value<T, L>;
    py::class_<V> c(m, class_name<L>("Value", typecode).c_str());
    c.def_property(
         "value", [](const V& v) { return Element<T>::to_python(v.load()); },
         [](V& v, const py::handle& value) { v.store(Element<T>::from_python(value)); },
         "The element; each read and write is atomic.")
        .def_property_readonly("typecode", [typecode](const V&) { return typecode; })
        .def("__repr__", [typecode](const V& v) {
            return "<shmbus.Value('" + typecode + "', " +
                   std::string(py::str(py::repr(Element<T>::to_python(v.load())))) + ")>";
        });
    bind_lock_methods<V, L>(c);
}

/// Python's index (negative counts from the end); IndexError outside the array.
template <class A>
std::size_t position(const A& array, py::ssize_t index) {
    const auto length = static_cast<py::ssize_t>(array.size());
    if (index < 0)
        index += length;
    if (index < 0 || index >= length)
        throw py::index_error("shmbus.Array index out of range");
    return static_cast<std::size_t>(index);
}

/// The elements a slice selects, converted with Element<T>.
template <class T, class A>
py::object load_slice(const A& a, const py::slice& slice) {
    std::size_t start = 0, stop = 0, step = 0, count = 0;
    if (!slice.compute(a.size(), &start, &stop, &step, &count))
        throw py::error_already_set();
    std::vector<T> values;
    for (std::size_t i = 0; i < count; ++i, start += step)
        values.push_back(a.load(start));
    return Element<T>::sequence(values);
}

template <class T, class A>
void store_slice(A& a, const py::slice& slice, const py::handle& iterable) {
    std::size_t start = 0, stop = 0, step = 0, count = 0;
    if (!slice.compute(a.size(), &start, &stop, &step, &count))
        throw py::error_already_set();
    const std::vector<T> values = elements_of<T>(iterable);
    if (values.size() != count)
        throw py::value_error("can only assign a sequence of the slice's length");
    for (std::size_t i = 0; i < count; ++i, start += step)
        a.store(start, values[i]);
}

template <class T, class L>
void bind_array(py::module_& m, const std::string& typecode) {
    using A = Array<T, L>;
    py::class_<A> c(m, class_name<L>("Array", typecode).c_str());
    c.def("__len__", &A::size)
        .def("__getitem__",
             [](const A& a, py::ssize_t index) {
                 return Element<T>::to_python(a.load(position(a, index)));
             })
        .def("__getitem__", &load_slice<T, A>)
        .def("__setitem__",
             [](A& a, py::ssize_t index, const py::handle& value) {
                 a.store(position(a, index), Element<T>::from_python(value));
             })
        .def("__setitem__", &store_slice<T, A>)
        .def("tolist",
             [](const A& a) {
                 py::list list;
                 for (const T value : a.to_vector())
                     list.append(Element<T>::to_python(value));
                 return list;
             })
        .def_property_readonly("typecode", [typecode](const A&) { return typecode; })
        .def("__repr__", [typecode](const A& a) {
            return "<shmbus.Array('" + typecode + "', " +
                   std::string(py::str(py::repr(Element<T>::sequence(a.to_vector())))) + ")>";
        });
    bind_lock_methods<A, L>(c);
    if constexpr (std::is_same_v<T, char>)
        bind_char_text<L>(c);
    else if constexpr (std::is_same_v<T, wchar_t>)
        bind_wide_text<L>(c);
}

/// An Array of `values` (guarded by `lock...`, none or one): created with them, or, when the
/// name exists, opened (KindMismatch when its length differs) and left as it is, as a named
/// Value keeps its value.
template <class A, class T, class... Given>
A array_of(const Segment& segment, const std::string& name, const std::vector<T>& values,
           const Given&... lock) {
    if (!name.empty()) {
        try {
            A array = A::create(segment, name, values.size(), lock...);
            std::copy(values.begin(), values.end(), array.begin());
            return array;
        } catch (const AlreadyExists&) {
            return A(segment, name, values.size(), lock...);
        }
    }
    A array(segment, name, values.size(), lock...);
    std::copy(values.begin(), values.end(), array.begin());
    return array;
}

/// Python's `lock=`: True or None, the object's own RLock (own(type_identity<RLock>)); False,
/// none (own(type_identity<NoLock>)); a shmbus Lock or RLock, that one (given(lock)).
template <class Own, class Given>
py::object with_lock(const py::object& lock, Own own, Given given) {
    if (lock.is_none() || lock.is(py::bool_(true)))
        return own(std::type_identity<RLock>{});
    if (lock.is(py::bool_(false)))
        return own(std::type_identity<NoLock>{});
    if (py::isinstance<Lock>(lock))
        return given(lock.cast<Lock>());
    if (py::isinstance<RLock>(lock))
        return given(lock.cast<RLock>());
    throw py::type_error("lock= takes True, False, None, a shmbus.Lock or a shmbus.RLock");
}

/// The element a `value` argument gives (zero when None).
template <class T>
T initial_of(const py::object& value) {
    return value.is_none() ? T{} : Element<T>::from_python(value);
}

py::object make_value(const std::string& typecode, const py::object& value, const py::object& lock,
                      const std::optional<Segment>& segment, const std::string& name) {
    return with_element_type(typecode, [&](auto type) {
        using T = typename decltype(type)::type;
        const Segment where = segment_or_default(segment);
        const T initial = initial_of<T>(value);
        return with_lock(
            lock,
            [&](auto own) {
                return py::cast(Value<T, typename decltype(own)::type>(where, name, initial));
            },
            [&](auto given) {
                return py::cast(Value<T, decltype(given)>(where, name, initial, given));
            });
    });
}

py::object make_array(const std::string& typecode, const py::object& size_or_initializer,
                      const py::object& lock, const std::optional<Segment>& segment,
                      const std::string& name) {
    return with_element_type(typecode, [&](auto type) {
        using T = typename decltype(type)::type;
        const Segment where = segment_or_default(segment);
        const auto make = [&](auto lock_type, const auto&... given) {
            using A = Array<T, typename decltype(lock_type)::type>;
            if (py::isinstance<py::int_>(size_or_initializer))
                return py::cast(A(where, name, size_or_initializer.cast<std::size_t>(), given...));
            return py::cast(
                array_of<A>(where, name, elements_of<T>(size_or_initializer), given...));
        };
        return with_lock(
            lock, [&](auto own) { return make(own); },
            [&](auto given) { return make(std::type_identity<decltype(given)>{}, given); });
    });
}

} // namespace

void bind_shared_values(py::module_& m) {
    // One class per C++ type and lock: 'l' and 'L' make the classes of 'q' and 'Q'.
    for (const char* typecode : {"b", "B", "h", "H", "i", "I", "q", "Q", "f", "d", "c", "u", "?"}) {
        with_element_type(typecode, [&](auto type) {
            using T = typename decltype(type)::type;
            bind_value<T, NoLock>(m, typecode); // first: get_obj() of the others returns it
            bind_value<T, RLock>(m, typecode);
            bind_value<T, Lock>(m, typecode);
            bind_array<T, NoLock>(m, typecode);
            bind_array<T, RLock>(m, typecode);
            bind_array<T, Lock>(m, typecode);
            return py::object();
        });
    }
    m.def("Value", &make_value, py::arg("typecode"), py::arg("value") = py::none(), py::kw_only(),
          py::arg("lock") = true, py::arg("segment") = py::none(), py::arg("name") = "",
          "multiprocessing.Value: an element of C++ type Value<T> for the typecode ('i': int32_t, "
          "'d': double, 'q': int64_t, 'c': char, 'u': wchar_t, '?': bool, ...). `value` (zero "
          "when None) is used only when the object is created. lock=True: its own RLock; "
          "False: a RawValue; a shmbus Lock or RLock: that one.");
    m.def(
        "RawValue",
        [](const std::string& typecode, const py::object& value,
           const std::optional<Segment>& segment, const std::string& name) {
            return make_value(typecode, value, py::bool_(false), segment, name);
        },
        py::arg("typecode"), py::arg("value") = py::none(), py::kw_only(),
        py::arg("segment") = py::none(), py::arg("name") = "",
        "multiprocessing.RawValue: Value(..., lock=False), C++'s RawValue<T>.");
    m.def("Array", &make_array, py::arg("typecode"), py::arg("size_or_initializer"), py::kw_only(),
          py::arg("lock") = true, py::arg("segment") = py::none(), py::arg("name") = "",
          "multiprocessing.Array: a fixed-length array of C++ type Array<T> for the typecode. A "
          "sequence initialises it only when it is created. lock= as for Value.");
    m.def(
        "RawArray",
        [](const std::string& typecode, const py::object& size_or_initializer,
           const std::optional<Segment>& segment, const std::string& name) {
            return make_array(typecode, size_or_initializer, py::bool_(false), segment, name);
        },
        py::arg("typecode"), py::arg("size_or_initializer"), py::kw_only(),
        py::arg("segment") = py::none(), py::arg("name") = "",
        "multiprocessing.RawArray: Array(..., lock=False), C++'s RawArray<T>.");
}

} // namespace shmbus::python

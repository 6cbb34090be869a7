// SPDX-License-Identifier: Apache-2.0
/// @file
/// List<V>: a Manager list (Python's multiprocessing.Manager().list()) living in shared memory:
/// no server process, every call works on the shared state under the List's robust lock.
///
/// @code
///   shmbus::List<std::string> l;                  // anonymous, default segment
///   l.append("a");
///   std::string last = l.pop();                   // IndexError when empty
///   l.update(0, [](std::string& s) { s += "!"; }); // atomic read-modify-write
/// @endcode
///
/// Indices are Python's: negative ones count from the end; out of range is IndexError (insert
/// clamps, as Python's does). Values travel through the codec (second template argument:
/// CerealCodec by default, or MsgpackCodec, for Python's shmbus.Manager().list()). Capacity is
/// fixed at creation (ContainerOptions): an entry that does not fit raises Full and changes
/// nothing. A process killed inside a call leaves the List as before or after that call (extend:
/// see there). append, pop(), at, set and update are O(1); insert, pop(i), erase(i) and remove
/// shift the entries after i (O(n), as in Python).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/manager_core.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus {

/// How a List is created: ContainerOptions, defined with Dict in dict.hpp.
using ListOptions = ContainerOptions;

/// A list of V in shared memory, shared by every process that holds, inherits or opens it
/// (Python's Manager().list(), without the server process). Copies are handles to the same
/// List. Each call is atomic; see the top of this file for indices, capacity and crashes.
template <class V, class Codec = CerealCodec>
class List {
public:
    /// The element type.
    using value_type = V;

    /// An anonymous List in the default segment, inherited by forked children.
    List() : List(ListOptions{}) {}
    /// An anonymous List in the default segment, made with `options`.
    explicit List(const ListOptions& options)
        : List(Segment::default_segment(), "", options, detail::OpenMode::create) {}
    /// Opens the List `name` in `segment`, creating it with `options` when it is missing.
    List(const Segment& segment, std::string_view name, const ListOptions& options = {})
        : List(segment, name, options, detail::OpenMode::open_or_create) {}
    /// AlreadyExists when the name is taken.
    static List create(const Segment& segment, std::string_view name,
                       const ListOptions& options = {}) {
        return List(segment, name, options, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it is not a List of V.
    static List open(const Segment& segment, std::string_view name) {
        return List(segment, name, {}, detail::OpenMode::open);
    }

    /// Python's l.append(value). Full when it does not fit.
    void append(const V& value) {
        const auto bytes = detail::encoded<Codec>(value);
        detail::Transaction txn(m_core);
        txn.append(bytes);
    }
    /// Python's l.extend(values): appends them in order under one hold of the lock, so no
    /// other process sees a part of them. Full when they do not all fit, and the list is left
    /// as it was. (A process killed during extend leaves the entries appended so far.)
    template <std::ranges::input_range R>
    void extend(R&& values) {
        detail::Transaction txn(m_core);
        const std::size_t before = txn.size();
        try {
            for (const auto& value : values)
                txn.append(detail::encoded<Codec>(static_cast<const V&>(value)));
        } catch (...) {
            while (txn.size() > before)
                txn.erase(txn.size() - 1);
            throw;
        }
    }
    /// Python's l.insert(index, value): before `index`, clamped to [0, size()].
    void insert(std::ptrdiff_t index, const V& value) {
        const auto bytes = detail::encoded<Codec>(value);
        detail::Transaction txn(m_core);
        const auto size = static_cast<std::ptrdiff_t>(txn.size());
        const std::ptrdiff_t at =
            index < 0 ? std::max<std::ptrdiff_t>(size + index, 0) : std::min(index, size);
        txn.insert(static_cast<std::size_t>(at), bytes);
    }
    /// Python's l[index]: IndexError outside [-size(), size()).
    V at(std::ptrdiff_t index) const {
        detail::Transaction txn(m_core);
        return Codec::template decode<V>(txn.slot(position(txn, index))->value);
    }
    /// Python's l[index] = value.
    void set(std::ptrdiff_t index, const V& value) {
        const auto bytes = detail::encoded<Codec>(value);
        detail::Transaction txn(m_core);
        txn.replace(position(txn, index), bytes);
    }
    /// Python's l.pop(index): removes and returns the entry; IndexError when out of range
    /// (or empty).
    V pop(std::ptrdiff_t index = -1) {
        detail::Transaction txn(m_core);
        const std::size_t at = position(txn, index);
        V value = Codec::template decode<V>(txn.slot(at)->value);
        txn.erase(at);
        return value;
    }
    /// Python's del l[index].
    void erase(std::ptrdiff_t index) {
        detail::Transaction txn(m_core);
        txn.erase(position(txn, index));
    }
    /// Python's l.remove(value): erases the first entry equal to `value` (see find);
    /// UsageError (Python's ValueError) when there is none.
    void remove(const V& value) {
        const std::vector<std::byte> wanted = encoding_of(value);
        detail::Transaction txn(m_core);
        const auto found = first_match(txn, wanted);
        if (!found)
            throw UsageError("list.remove(x): x not in list");
        txn.erase(*found);
    }
    /// Python's l.count(value): how many entries equal `value` (see find).
    std::size_t count(const V& value) const {
        const std::vector<std::byte> wanted = encoding_of(value);
        detail::Transaction txn(m_core);
        std::size_t n = 0;
        for (std::size_t i = 0; i < txn.size(); ++i)
            n += std::ranges::equal(txn.slot(i)->value, wanted) ? 1 : 0;
        return n;
    }
    /// The first index whose value encodes like `value` (equal values of the codec's types
    /// encode alike), or nullopt.
    std::optional<std::size_t> find(const V& value) const {
        const std::vector<std::byte> wanted = encoding_of(value);
        detail::Transaction txn(m_core);
        return first_match(txn, wanted);
    }
    /// Python's l.index(value): UsageError (Python's ValueError) when it is not in the list.
    std::size_t index(const V& value) const {
        if (const auto found = find(value))
            return *found;
        throw UsageError("value is not in the list");
    }
    /// Python's `value in l`: an entry whose encoding equals that of `value`.
    bool contains(const V& value) const { return find(value).has_value(); }

    /// Atomic read-modify-write of the entry at `index` (see Dict::update). IndexError.
    template <class F>
    V update(std::ptrdiff_t index, F fn) {
        detail::Transaction txn(m_core);
        const std::size_t at = position(txn, index);
        V value = Codec::template decode<V>(txn.slot(at)->value);
        detail::apply_update(value, fn);
        txn.replace(at, detail::encoded<Codec>(value));
        return value;
    }

    /// Python's len(l).
    std::size_t size() const {
        detail::Transaction txn(m_core);
        return txn.size();
    }
    /// True when it holds no entry.
    bool empty() const { return size() == 0; }
    /// One consistent snapshot of every entry.
    std::vector<V> to_vector() const {
        detail::Transaction txn(m_core);
        std::vector<V> result;
        result.reserve(txn.size());
        for (std::size_t i = 0; i < txn.size(); ++i)
            result.push_back(Codec::template decode<V>(txn.slot(i)->value));
        return result;
    }
    /// Removes every entry.
    void clear() {
        detail::Transaction txn(m_core);
        txn.clear();
    }

    /// The segment the List lives in.
    const Segment& segment() const { return m_core.object().segment(); }

private:
    List(const Segment& segment, std::string_view name, const ListOptions& options,
         detail::OpenMode mode)
        : m_core(segment, name, options, mode, ObjectKind::list, Codec::template type_tag<V>()) {}

    static std::vector<std::byte> encoding_of(const V& value) {
        const auto bytes = detail::encoded<Codec>(value);
        return {bytes.begin(), bytes.end()};
    }

    static std::optional<std::size_t> first_match(const detail::Transaction& txn,
                                                  std::span<const std::byte> wanted) {
        for (std::size_t i = 0; i < txn.size(); ++i)
            if (std::ranges::equal(txn.slot(i)->value, wanted))
                return i;
        return std::nullopt;
    }

    static std::size_t position(const detail::Transaction& txn, std::ptrdiff_t index) {
        const auto size = static_cast<std::ptrdiff_t>(txn.size());
        const std::ptrdiff_t at = index < 0 ? size + index : index;
        if (at < 0 || at >= size)
            throw IndexError("list index " + std::to_string(index) + " out of range (size " +
                             std::to_string(size) + ")");
        return static_cast<std::size_t>(at);
    }

    detail::ContainerCore m_core;
};

} // namespace shmbus

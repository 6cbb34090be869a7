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
/// nothing. A process killed inside a call leaves the List as before or after that call.
/// append, pop(), at, set and update are O(1); insert, pop(i), erase(i) and remove shift the
/// entries after i (O(n), as in Python). sort() and reverse() reorder the entries without
/// copying a value: they write one new entry array and commit it.
///
/// Nested containers. A List of Dicts (or Lists), or a Dict of Lists, stores each inner
/// container as a reference: the name of the inner one's segment and its offset there. Reading
/// the element gives a live handle on the inner container, so a change made through it is seen
/// by every process, as a Python proxy stored in a managed list is:
///
/// @code
///   shmbus::List<shmbus::Dict<int>> rows;
///   rows.append(shmbus::Dict<int>{});             // stores a reference to the new Dict
///   rows.at(0).set("x", 1);                       // writes through, in any process
/// @endcode
///
/// Storing a handle never copies the inner container's content; two elements may name the same
/// container; equal elements (count, find, remove) are those naming the same container; the
/// List's lock is not held while the inner one is used, so each inner call is atomic on its
/// own. Inner containers live as long as their segment (objects are never freed); one in
/// another segment is opened by that segment's name when read (NotFound when it is gone).
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/container_element.hpp"
#include "shmbus/detail/manager_core.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
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

    /// The List at `offset` of `segment`, as a stored reference names it (nested containers):
    /// NotFound when there is none, KindMismatch when it has another element type.
    static List at(const Segment& segment, std::uint64_t offset) { return List(segment, offset); }

    /// The tag recorded in the segment: the element type's.
    static constexpr std::uint64_t type_tag() { return detail::element_tag<Codec, V>(); }

    /// Python's l.append(value). Full when it does not fit.
    void append(const V& value) {
        const auto bytes = detail::encoded_element<Codec>(value);
        detail::Transaction txn(m_core);
        txn.append(bytes);
    }
    /// Python's l.extend(values): appends them in order in one step, so no other process sees
    /// a part of them, and a process killed inside leaves none of them. Full when they do not
    /// all fit, and the list is left as it was.
    template <std::ranges::input_range R>
    void extend(R&& values) {
        // Every encoding goes into one buffer (the lock is not held meanwhile); the spans are
        // cut once it has stopped growing.
        detail::ByteBuffer encodings;
        std::vector<std::size_t> ends;
        for (const auto& value : values) {
            const auto bytes = detail::encoded_element<Codec>(static_cast<const V&>(value));
            encodings.append(bytes.data(), bytes.size());
            ends.push_back(encodings.size());
        }
        std::vector<std::span<const std::byte>> spans;
        spans.reserve(ends.size());
        std::size_t begin = 0;
        for (const std::size_t end : ends) {
            spans.push_back(encodings.bytes().subspan(begin, end - begin));
            begin = end;
        }
        detail::Transaction txn(m_core);
        txn.extend(spans);
    }
    /// Python's l += values: extend(values).
    template <std::ranges::input_range R>
    List& operator+=(R&& values) {
        extend(std::forward<R>(values));
        return *this;
    }
    /// Python's l += other for another List: extends by a snapshot of `other` (taken first,
    /// so `l += l` doubles l).
    List& operator+=(const List& other) {
        extend(other.to_vector());
        return *this;
    }
    /// Python's l *= n: the entries repeated n times, in one step; n <= 0 empties the List.
    /// Full when the result does not fit, and the List is left as it was.
    List& operator*=(std::ptrdiff_t n) {
        detail::Transaction txn(m_core);
        if (n <= 0) {
            txn.clear();
            return *this;
        }
        std::vector<std::vector<std::byte>> entries;
        for (std::size_t i = 0; i < txn.size(); ++i) {
            const auto value = txn.slot(i)->value;
            entries.emplace_back(value.begin(), value.end());
        }
        std::vector<std::span<const std::byte>> copies;
        for (std::ptrdiff_t round = 1; round < n; ++round)
            copies.insert(copies.end(), entries.begin(), entries.end());
        txn.extend(copies);
        return *this;
    }
    /// Python's l.insert(index, value): before `index`, clamped to [0, size()].
    void insert(std::ptrdiff_t index, const V& value) {
        const auto bytes = detail::encoded_element<Codec>(value);
        detail::Transaction txn(m_core);
        const auto size = static_cast<std::ptrdiff_t>(txn.size());
        const std::ptrdiff_t at =
            index < 0 ? std::max<std::ptrdiff_t>(size + index, 0) : std::min(index, size);
        txn.insert(static_cast<std::size_t>(at), bytes);
    }
    /// Python's l[index]: IndexError outside [-size(), size()).
    V at(std::ptrdiff_t index) const {
        detail::Transaction txn(m_core);
        return decode_value(txn.slot(position(txn, index))->value);
    }
    /// Python's l[index] = value.
    void set(std::ptrdiff_t index, const V& value) {
        const auto bytes = detail::encoded_element<Codec>(value);
        detail::Transaction txn(m_core);
        txn.replace(position(txn, index), bytes);
    }
    /// Python's l.pop(index): removes and returns the entry; IndexError when out of range
    /// (or empty).
    V pop(std::ptrdiff_t index = -1) {
        detail::Transaction txn(m_core);
        const std::size_t at = position(txn, index);
        V value = decode_value(txn.slot(at)->value);
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
        V value = decode_value(txn.slot(at)->value);
        detail::apply_update(value, fn);
        txn.replace(at, detail::encoded_element<Codec>(value));
        return value;
    }

    /// Python's l.sort(): ascending by operator<, stable (equal entries keep their order);
    /// `reverse` sorts descending, equal entries still in their order, as Python's
    /// reverse=True. Atomic: no process sees a partly sorted List. Values are decoded once,
    /// with the List locked.
    void sort(bool reverse = false) { sort(std::less<>{}, reverse); }
    /// Sorted by `less(a, b)` (a strict weak order on V), stable; see sort(). An exception from
    /// `less` leaves the List unchanged.
    template <class Compare>
    requires std::predicate<Compare&, const V&, const V&>
    void sort(Compare less, bool reverse = false) {
        sort_by([](const V& value) -> const V& { return value; }, less, reverse);
    }
    /// Python's l.sort(key=key, reverse=reverse): by `key(value)`, computed once per entry,
    /// compared with `less`; stable. An exception from `key` or `less` leaves the List
    /// unchanged.
    template <class Key, class Compare = std::less<>>
    requires std::invocable<Key&, const V&>
    void sort_by(Key key, Compare less = {}, bool reverse = false) {
        detail::Transaction txn(m_core);
        std::vector<V> values;
        values.reserve(txn.size());
        for (std::size_t i = 0; i < txn.size(); ++i)
            values.push_back(decode_value(txn.slot(i)->value));
        std::vector<std::remove_cvref_t<std::invoke_result_t<Key&, const V&>>> keys;
        keys.reserve(values.size());
        for (const V& value : values)
            keys.push_back(std::invoke(key, value));
        std::vector<std::size_t> order(values.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) {
            return reverse ? less(keys[b], keys[a]) : less(keys[a], keys[b]);
        });
        txn.permute(order);
    }
    /// Python's l.reverse(), in one step.
    void reverse() {
        detail::Transaction txn(m_core);
        std::vector<std::size_t> order(txn.size());
        std::iota(order.rbegin(), order.rend(), std::size_t{0});
        txn.permute(order);
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
            result.push_back(decode_value(txn.slot(i)->value));
        return result;
    }
    /// Removes every entry.
    void clear() {
        detail::Transaction txn(m_core);
        txn.clear();
    }

    /// The segment the List lives in.
    const Segment& segment() const { return m_core.object().segment(); }
    /// Where the List lives in its segment: with the segment's name, what a container that
    /// holds this List stores.
    std::uint64_t offset() const { return m_core.object().offset(); }

private:
    List(const Segment& segment, std::string_view name, const ListOptions& options,
         detail::OpenMode mode)
        : m_core(segment, name, options, mode, ObjectKind::list, type_tag()) {}
    List(const Segment& segment, std::uint64_t offset)
        : m_core(segment, offset, ObjectKind::list, type_tag()) {}

    V decode_value(std::span<const std::byte> bytes) const {
        return detail::decoded_element<Codec, V>(bytes, segment());
    }
    static std::vector<std::byte> encoding_of(const V& value) {
        const auto bytes = detail::encoded_element<Codec>(value);
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

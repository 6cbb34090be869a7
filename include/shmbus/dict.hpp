// SPDX-License-Identifier: Apache-2.0
/// @file
/// Dict<V>: a Manager dict (Python's multiprocessing.Manager().dict()) living in shared memory:
/// no server process, every call works on the shared state under the Dict's robust lock.
///
/// @code
///   shmbus::Dict<int> d;                          // string keys; anonymous, default segment:
///   d.set("num", 100);                            //   forked children inherit it
///   d.update("num", [](int& n) { n -= 10; });     // atomic read-modify-write in any process
///   shmbus::Dict<Order> orders(segment, "orders"); // named: an unrelated program opens it
///   shmbus::DictOf<std::tuple<int, int>, double> grid; // any encodable key type
///   grid.set({1, 2}, 0.5);
/// @endcode
///
/// Values travel through the codec, the second template argument: CerealCodec (codec.hpp) by
/// default, MsgpackCodec (msgpack_codec.hpp) for a Dict Python reads as shmbus.Manager().dict().
/// Keys are std::string unless the third template argument (or DictOf's first) says otherwise:
/// a string key is stored as its bytes, any other key as its encoding by the codec, and keys are
/// equal when those bytes are (so 0.0 and -0.0 are two keys, unlike in Python). The key type is
/// recorded with the value type: opening a Dict with another one is KindMismatch.
/// Keys keep insertion order, like Python's dict; popitem() takes the last one.
///
/// A Dict or List value (Dict<List<int>>, List<Dict<int>>) is stored as a reference to that
/// container, not as a copy: reading it back gives a live handle, so
/// `outer.get("k").append(1)` changes the inner List for every process, as a proxy stored in
/// Python's managed dict does. See list.hpp, "Nested containers".
/// Each call is atomic; `d.set(k, d.get(k) - 10)` is two calls and races with other processes,
/// while update() reads, applies and writes under one hold of the lock.
///
/// Capacity is fixed at creation (ContainerOptions): set() of an entry that does not fit raises
/// Full and changes nothing. A process killed anywhere inside a call leaves the Dict as it was
/// before that call or as it is after it; the next caller takes the lock over (owner died) and
/// goes on. Lookups hash the key (FNV-1a): O(1) expected.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/container_element.hpp"
#include "shmbus/detail/manager_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/segment.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmbus {

/// How a Dict or List is created. Opening an existing one ignores these.
struct ContainerOptions {
    /// Bytes of encoded keys and values it holds (each entry takes 8 bytes of header besides,
    /// rounded up to 8). Twice this is reserved, so that compaction never overwrites live data.
    /// At least 1; more than 2^40, or more than the segment holds, is OutOfSpace.
    std::size_t capacity_bytes = std::size_t{1} << 20;
    /// Most entries, at most 2^31 - 2 (UsageError beyond); 0 picks capacity_bytes / 64 (at
    /// least 16).
    std::size_t max_entries = 0;
};
/// How a Dict is created.
using DictOptions = ContainerOptions;

/// A dict from K (std::string unless given) to V in shared memory, shared by every process that
/// holds, inherits or opens it (Python's Manager().dict(), without the server process). Copies
/// are handles to the same Dict. Each call is atomic; see the top of this file for keys,
/// capacity and crashes.
template <class V, class Codec = CerealCodec, class K = std::string>
class Dict {
    static_assert(!detail::ContainerHandle<K>, "shmbus: a Dict or List cannot be a Dict key");
    using Keys = detail::KeyBytes<K, Codec>;

public:
    /// The key type.
    using key_type = K;
    /// The value type.
    using mapped_type = V;
    /// How keys are passed: std::string_view for string keys, const K& otherwise.
    using key_arg = typename Keys::Arg;

    /// An anonymous Dict in the default segment, inherited by forked children.
    Dict() : Dict(DictOptions{}) {}
    /// An anonymous Dict in the default segment, made with `options`.
    explicit Dict(const DictOptions& options)
        : Dict(Segment::default_segment(), "", options, detail::OpenMode::create) {}
    /// Opens the Dict `name` in `segment`, creating it with `options` when it is missing (an
    /// existing Dict keeps the options it was made with). An empty name makes an anonymous one.
    Dict(const Segment& segment, std::string_view name, const DictOptions& options = {})
        : Dict(segment, name, options, detail::OpenMode::open_or_create) {}
    /// AlreadyExists when the name is taken.
    static Dict create(const Segment& segment, std::string_view name,
                       const DictOptions& options = {}) {
        return Dict(segment, name, options, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it is not a Dict of these key and value types.
    static Dict open(const Segment& segment, std::string_view name) {
        return Dict(segment, name, {}, detail::OpenMode::open);
    }
    /// The Dict at `offset` of `segment`, as a stored reference names it (nested containers):
    /// NotFound when there is none, KindMismatch when it has other types.
    static Dict at(const Segment& segment, std::uint64_t offset) { return Dict(segment, offset); }

    /// The tag recorded in the segment: the value type's, mixed with the key type's unless the
    /// keys are strings (so Dicts made before key types existed open unchanged).
    static constexpr std::uint64_t type_tag() {
        if constexpr (std::is_same_v<K, std::string>)
            return detail::element_tag<Codec, V>();
        else
            return detail::composite_tag(Codec::template type_tag<K>(),
                                         detail::element_tag<Codec, V>());
    }

    /// Python's d[key]: KeyError when missing.
    V get(key_arg key) const {
        detail::Transaction txn(m_core);
        return decode_value(value_of(txn, key));
    }
    /// Python's d.get(key, fallback).
    V get(key_arg key, V fallback) const { return try_get(key).value_or(std::move(fallback)); }
    /// nullopt when missing.
    [[nodiscard]] std::optional<V> try_get(key_arg key) const {
        const auto bytes = Keys::of(key);
        detail::Transaction txn(m_core);
        const auto slot = txn.find(bytes);
        if (!slot)
            return std::nullopt;
        return decode_value(txn.slot(*slot)->value);
    }
    /// Python's d[key] = value. Full when it does not fit (the Dict is unchanged).
    void set(key_arg key, const V& value) {
        const auto key_bytes = Keys::of(key);
        const auto bytes = detail::encoded_element<Codec>(value);
        detail::Transaction txn(m_core);
        txn.put(key_bytes, bytes);
    }
    /// Python's `key in d`.
    bool contains(key_arg key) const {
        const auto bytes = Keys::of(key);
        detail::Transaction txn(m_core);
        return txn.find(bytes).has_value();
    }
    /// Python's del d[key]: KeyError when missing.
    void erase(key_arg key) {
        detail::Transaction txn(m_core);
        txn.erase(slot_of(txn, key));
    }
    /// Removes the key and returns its value: KeyError when missing.
    V pop(key_arg key) {
        detail::Transaction txn(m_core);
        const std::size_t slot = slot_of(txn, key);
        V value = decode_value(txn.slot(slot)->value);
        txn.erase(slot);
        return value;
    }
    /// Python's d.pop(key, fallback).
    V pop(key_arg key, V fallback) {
        const auto bytes = Keys::of(key);
        detail::Transaction txn(m_core);
        const auto slot = txn.find(bytes);
        if (!slot)
            return fallback;
        V value = decode_value(txn.slot(*slot)->value);
        txn.erase(*slot);
        return value;
    }
    /// Python's d.popitem(): removes and returns the key inserted last and its value (LIFO).
    /// KeyError when the Dict is empty.
    std::pair<K, V> popitem() {
        detail::Transaction txn(m_core);
        for (std::size_t i = txn.slot_count(); i-- > 0;) {
            if (const auto item = txn.slot(i)) {
                std::pair<K, V> result(Keys::decode(item->key), decode_value(item->value));
                txn.erase(i);
                return result;
            }
        }
        throw KeyError("popitem(): dictionary is empty");
    }
    /// Python's d.setdefault(key, value): the value at `key`, storing `value` first when the key
    /// is missing.
    V setdefault(key_arg key, const V& value) {
        return update(key, value, [](V&) {});
    }

    /// Atomic read-modify-write: `fn(V&)` changes the value in place, or returns the new value;
    /// the result is stored and returned. KeyError when missing. `fn` runs under the Dict's
    /// lock: it must not use this Dict (UsageError) and should be short. An exception from
    /// `fn` leaves the value unchanged.
    template <class F>
    V update(key_arg key, F fn) {
        const auto bytes = Keys::of(key);
        detail::Transaction txn(m_core);
        V value = decode_value(value_of(txn, key));
        detail::apply_update(value, fn);
        txn.put(bytes, detail::encoded_element<Codec>(value));
        return value;
    }
    /// As update(key, fn), starting from `initial` when the key is missing.
    template <class F>
    V update(key_arg key, const V& initial, F fn) {
        const auto bytes = Keys::of(key);
        detail::Transaction txn(m_core);
        const auto slot = txn.find(bytes);
        V value = slot ? decode_value(txn.slot(*slot)->value) : initial;
        detail::apply_update(value, fn);
        txn.put(bytes, detail::encoded_element<Codec>(value));
        return value;
    }

    /// Python's len(d).
    std::size_t size() const {
        detail::Transaction txn(m_core);
        return txn.size();
    }
    /// True when it holds no key.
    bool empty() const { return size() == 0; }
    /// In insertion order; one consistent snapshot.
    std::vector<K> keys() const {
        std::vector<K> result;
        for_each_item([&](std::string_view key, std::span<const std::byte>) {
            result.push_back(Keys::decode(key));
        });
        return result;
    }
    /// In insertion order; one consistent snapshot.
    std::vector<V> values() const {
        std::vector<V> result;
        for_each_item([&](std::string_view, std::span<const std::byte> value) {
            result.push_back(decode_value(value));
        });
        return result;
    }
    /// Key and value pairs in insertion order; one consistent snapshot.
    std::vector<std::pair<K, V>> items() const {
        std::vector<std::pair<K, V>> result;
        for_each_item([&](std::string_view key, std::span<const std::byte> value) {
            result.emplace_back(Keys::decode(key), decode_value(value));
        });
        return result;
    }
    /// Removes every key.
    void clear() {
        detail::Transaction txn(m_core);
        txn.clear();
    }

    /// The segment the Dict lives in.
    const Segment& segment() const { return m_core.object().segment(); }
    /// Where the Dict lives in its segment: with the segment's name, what a container that
    /// holds this Dict stores.
    std::uint64_t offset() const { return m_core.object().offset(); }

private:
    Dict(const Segment& segment, std::string_view name, const DictOptions& options,
         detail::OpenMode mode)
        : m_core(segment, name, options, mode, ObjectKind::dict, type_tag()) {}
    Dict(const Segment& segment, std::uint64_t offset)
        : m_core(segment, offset, ObjectKind::dict, type_tag()) {}

    V decode_value(std::span<const std::byte> bytes) const {
        return detail::decoded_element<Codec, V>(bytes, segment());
    }
    static std::size_t slot_of(const detail::Transaction& txn, key_arg key) {
        const auto slot = txn.find(Keys::of(key));
        if (!slot)
            throw KeyError(Keys::describe(key) + " is not in the dict");
        return *slot;
    }
    static std::span<const std::byte> value_of(const detail::Transaction& txn, key_arg key) {
        return txn.slot(slot_of(txn, key))->value;
    }
    template <class Fn>
    void for_each_item(Fn fn) const {
        detail::Transaction txn(m_core);
        for (std::size_t i = 0; i < txn.slot_count(); ++i)
            if (const auto item = txn.slot(i))
                fn(item->key, item->value);
    }

    detail::ContainerCore m_core;
};

/// A Dict written key type first, as std::map is: DictOf<int, std::string> is
/// Dict<std::string, CerealCodec, int>.
template <class K, class V, class Codec = CerealCodec>
using DictOf = Dict<V, Codec, K>;

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Dict<V>: a Manager dict (Python's multiprocessing.Manager().dict()) with string keys, living
/// in shared memory: no server process, every call works on the shared state under the Dict's
/// robust lock.
///
/// @code
///   shmbus::Dict<int> d;                          // anonymous, default segment: forked
///   d.set("num", 100);                            //   children inherit it
///   d.update("num", [](int& n) { n -= 10; });     // atomic read-modify-write in any process
///   shmbus::Dict<Order> orders(segment, "orders"); // named: an unrelated program opens it
/// @endcode
///
/// Values travel through the codec, the second template argument: CerealCodec (codec.hpp) by
/// default, MsgpackCodec (msgpack_codec.hpp) for a Dict Python reads as shmbus.Manager().dict().
/// Keys keep insertion order, like Python's dict.
/// Each call is atomic; `d.set(k, d.get(k) - 10)` is two calls and races with other processes,
/// while update() reads, applies and writes under one hold of the lock.
///
/// Capacity is fixed at creation (ContainerOptions): set() of an entry that does not fit raises
/// Full and changes nothing. A process killed anywhere inside a call leaves the Dict as it was
/// before that call or as it is after it; the next caller takes the lock over (owner died) and
/// goes on. Lookups hash the key (FNV-1a): O(1) expected.
#pragma once

#include "shmbus/codec.hpp"
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

/// A dict from string keys to V in shared memory, shared by every process that holds, inherits
/// or opens it (Python's Manager().dict(), without the server process). Copies are handles to
/// the same Dict. Each call is atomic; see the top of this file for capacity and crashes.
template <class V, class Codec = CerealCodec>
class Dict {
public:
    /// The value type.
    using mapped_type = V;

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
    /// NotFound when missing; KindMismatch when it is not a Dict of V.
    static Dict open(const Segment& segment, std::string_view name) {
        return Dict(segment, name, {}, detail::OpenMode::open);
    }

    /// Python's d[key]: KeyError when missing.
    V get(std::string_view key) const {
        detail::Transaction txn(m_core);
        return Codec::template decode<V>(value_of(txn, key));
    }
    /// Python's d.get(key, fallback).
    V get(std::string_view key, V fallback) const {
        return try_get(key).value_or(std::move(fallback));
    }
    /// nullopt when missing.
    [[nodiscard]] std::optional<V> try_get(std::string_view key) const {
        detail::Transaction txn(m_core);
        const auto slot = txn.find(key);
        if (!slot)
            return std::nullopt;
        return Codec::template decode<V>(txn.slot(*slot)->value);
    }
    /// Python's d[key] = value. Full when it does not fit (the Dict is unchanged).
    void set(std::string_view key, const V& value) {
        const auto bytes = detail::encoded<Codec>(value);
        detail::Transaction txn(m_core);
        txn.put(key, bytes);
    }
    /// Python's `key in d`.
    bool contains(std::string_view key) const {
        detail::Transaction txn(m_core);
        return txn.find(key).has_value();
    }
    /// Python's del d[key]: KeyError when missing.
    void erase(std::string_view key) {
        detail::Transaction txn(m_core);
        txn.erase(slot_of(txn, key));
    }
    /// Removes the key and returns its value: KeyError when missing.
    V pop(std::string_view key) {
        detail::Transaction txn(m_core);
        const std::size_t slot = slot_of(txn, key);
        V value = Codec::template decode<V>(txn.slot(slot)->value);
        txn.erase(slot);
        return value;
    }
    /// Python's d.pop(key, fallback).
    V pop(std::string_view key, V fallback) {
        detail::Transaction txn(m_core);
        const auto slot = txn.find(key);
        if (!slot)
            return fallback;
        V value = Codec::template decode<V>(txn.slot(*slot)->value);
        txn.erase(*slot);
        return value;
    }
    /// Python's d.setdefault(key, value): the value at `key`, storing `value` first when the key
    /// is missing.
    V setdefault(std::string_view key, const V& value) {
        return update(key, value, [](V&) {});
    }

    /// Atomic read-modify-write: `fn(V&)` changes the value in place, or returns the new value;
    /// the result is stored and returned. KeyError when missing. `fn` runs under the Dict's
    /// lock: it must not use this Dict (UsageError) and should be short. An exception from
    /// `fn` leaves the value unchanged.
    template <class F>
    V update(std::string_view key, F fn) {
        detail::Transaction txn(m_core);
        V value = Codec::template decode<V>(value_of(txn, key));
        detail::apply_update(value, fn);
        txn.put(key, detail::encoded<Codec>(value));
        return value;
    }
    /// As update(key, fn), starting from `initial` when the key is missing.
    template <class F>
    V update(std::string_view key, const V& initial, F fn) {
        detail::Transaction txn(m_core);
        const auto slot = txn.find(key);
        V value = slot ? Codec::template decode<V>(txn.slot(*slot)->value) : initial;
        detail::apply_update(value, fn);
        txn.put(key, detail::encoded<Codec>(value));
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
    std::vector<std::string> keys() const {
        std::vector<std::string> result;
        for_each_item(
            [&](std::string_view key, std::span<const std::byte>) { result.emplace_back(key); });
        return result;
    }
    /// In insertion order; one consistent snapshot.
    std::vector<V> values() const {
        std::vector<V> result;
        for_each_item([&](std::string_view, std::span<const std::byte> value) {
            result.push_back(Codec::template decode<V>(value));
        });
        return result;
    }
    /// Key and value pairs in insertion order; one consistent snapshot.
    std::vector<std::pair<std::string, V>> items() const {
        std::vector<std::pair<std::string, V>> result;
        for_each_item([&](std::string_view key, std::span<const std::byte> value) {
            result.emplace_back(std::string(key), Codec::template decode<V>(value));
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

private:
    Dict(const Segment& segment, std::string_view name, const DictOptions& options,
         detail::OpenMode mode)
        : m_core(segment, name, options, mode, ObjectKind::dict, Codec::template type_tag<V>()) {}

    static std::size_t slot_of(const detail::Transaction& txn, std::string_view key) {
        const auto slot = txn.find(key);
        if (!slot)
            throw KeyError("key '" + std::string(key) + "' is not in the dict");
        return *slot;
    }
    static std::span<const std::byte> value_of(const detail::Transaction& txn,
                                               std::string_view key) {
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

} // namespace shmbus

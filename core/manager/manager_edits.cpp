// SPDX-License-Identifier: Apache-2.0
// Changing a Dict or List. Every edit writes only where the committed root does not reach and
// then commits with one aligned store (manager_store.hpp, "Crash consistency"); compaction
// copies the live records into the idle half first when an edit does not fit.
#include "manager/manager_store.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace shmbus::detail {

std::uint64_t Store::write_record(Root& root, std::string_view key,
                                  std::span<const std::byte> value) {
    const std::uint64_t bytes = record_size(key.size(), value.size());
    if (bytes > m_geometry.heap_bytes - root.used)
        corrupt("live records overflow the heap (overlapping entries?)");
    std::byte* at = heap(root.heap) + root.used;
    const RecordHeader header{static_cast<std::uint32_t>(key.size()),
                              static_cast<std::uint32_t>(value.size())};
    std::memcpy(at, &header, sizeof header);
    if (!key.empty())
        std::memcpy(at + sizeof header, key.data(), key.size());
    if (!value.empty())
        std::memcpy(at + sizeof header + key.size(), value.data(), value.size());
    const std::uint64_t ref = root.used + 1;
    root.used += bytes;
    return ref;
}

Root Store::compact(const Root& root, bool keep_slots) {
    Root next{0, 0, static_cast<std::uint8_t>(root.heap ^ 1U),
              static_cast<std::uint8_t>(root.array ^ 1U), 0};
    const Entry* from = array(root.array);
    Entry* to = array(next.array);
    for (std::uint64_t i = 0; i < root.count; ++i) {
        const Entry entry = from[i];
        if (entry.ref == 0) {
            if (keep_slots)
                to[next.count++] = Entry{0, entry.hash};
            continue;
        }
        const Item item = record(root, entry.ref);
        to[next.count++] = Entry{write_record(next, item.key, item.value), entry.hash};
    }
    publish(next);
    m_state.garbage = 0;
    if (hashed())
        rebuild_table(next);
    return next;
}

void Store::make_room(Root& root, std::uint64_t bytes, std::uint64_t entries, bool keep_slots) {
    if (m_state.live > m_geometry.max_entries)
        corrupt("more live entries than the entry array holds");
    if (entries > m_geometry.max_entries - m_state.live || bytes > m_geometry.heap_bytes)
        full(bytes);
    const bool heap_fits = bytes <= m_geometry.heap_bytes - root.used;
    const bool entries_fit = entries <= m_geometry.max_entries - root.count;
    if (heap_fits && entries_fit)
        return;
    if (m_state.garbage > root.used)
        corrupt("more garbage than records");
    const std::uint64_t live_bytes = root.used - m_state.garbage;
    if (bytes > m_geometry.heap_bytes - live_bytes)
        full(bytes);
    root = compact(root, keep_slots);
    if (bytes > m_geometry.heap_bytes - root.used || entries > m_geometry.max_entries - root.count)
        full(bytes);
}

void Store::append(std::string_view key, std::span<const std::byte> value, std::uint64_t hash) {
    Root r = root();
    make_room(r, record_size(key.size(), value.size()), 1, false);
    const std::uint64_t ref = write_record(r, key, value);
    array(r.array)[r.count] = Entry{ref, hash};
    ++r.count;
    publish(r);
    ++m_state.live;
    if (hashed())
        insert_in_table(hash, r.count - 1);
}

void Store::put(std::string_view key, std::span<const std::byte> value) {
    if (!hashed())
        throw UsageError("put by key on a list");
    if (key.size() > kMaxRecordField || value.size() > kMaxRecordField)
        full(key.size() + value.size());
    const std::uint64_t hash = key_hash(key);
    if (const auto index = probe(root(), key, hash))
        return replace(*index, value);
    append(key, value, hash);
}

void Store::insert(std::uint64_t index, std::span<const std::byte> value) {
    if (hashed())
        throw UsageError("insert at an index of a dict");
    if (value.size() > kMaxRecordField)
        full(value.size());
    Root r = root();
    if (index > r.count)
        throw IndexError("insert at " + std::to_string(index) + " in a list of " +
                         std::to_string(r.count));
    if (index == r.count)
        return append({}, value, 0);
    make_room(r, record_size(0, value.size()), 1, true);
    const std::uint64_t ref = write_record(r, {}, value);
    Root next = r;
    next.array ^= 1U;
    const Entry* from = array(r.array);
    Entry* to = array(next.array);
    std::copy(from, from + index, to);
    to[index] = Entry{ref, 0};
    std::copy(from + index, from + r.count, to + index + 1);
    ++next.count;
    publish(next);
    ++m_state.live;
}

void Store::replace(std::uint64_t index, std::span<const std::byte> value) {
    if (value.size() > kMaxRecordField)
        full(value.size());
    Root r = root();
    if (index >= r.count || array(r.array)[index].ref == 0)
        throw IndexError("no entry at " + std::to_string(index));
    const std::uint64_t key_len = record(r, array(r.array)[index].ref).key.size();
    make_room(r, record_size(key_len, value.size()), 0, true);
    Entry& entry = array(r.array)[index];
    const Item old = record(r, entry.ref);
    const std::uint64_t ref = write_record(r, old.key, value);
    publish(r); // commits only the allocation: the new record is not reachable yet
    // SYNC release: the commit point of the replace; the record is written before it. One
    // aligned 8-byte store, so a writer dying here leaves the old value or the new, never a mix.
    std::atomic_ref<std::uint64_t>(entry.ref).store(ref, std::memory_order_release);
    m_state.garbage += record_size(old);
}

void Store::erase(std::uint64_t index) {
    Root r = root();
    if (index >= r.count || array(r.array)[index].ref == 0)
        throw IndexError("no entry at " + std::to_string(index));
    Entry& entry = array(r.array)[index];
    const std::uint64_t bytes = record_bytes(r, entry.ref);
    if (hashed()) {
        // SYNC release: the commit point of a dict erase, one aligned store; pairs with the
        // mutex acquire of the next holder.
        std::atomic_ref<std::uint64_t>(entry.ref).store(0, std::memory_order_release);
        remove_from_table(entry.hash, index);
        if (index + 1 == r.count)
            drop_erased_tail(r);
    } else {
        Root next = r;
        if (index + 1 != r.count) {
            next.array ^= 1U;
            const Entry* from = array(r.array);
            Entry* to = array(next.array);
            std::copy(from, from + index, to);
            std::copy(from + index + 1, from + r.count, to + index);
        }
        --next.count;
        publish(next);
    }
    --m_state.live;
    m_state.garbage += bytes;
}

void Store::drop_erased_tail(Root root) {
    // Erased entries at the end reach no record and no hash slot: dropping them keeps popitem,
    // which erases the last entry, O(1) instead of scanning past every entry it popped before.
    const Entry* entries = array(root.array);
    while (root.count > 0 && entries[root.count - 1].ref == 0)
        --root.count;
    publish(root);
}

void Store::extend(std::span<const std::span<const std::byte>> values) {
    if (hashed())
        throw UsageError("extend of a dict");
    std::uint64_t bytes = 0;
    for (const auto value : values) {
        if (value.size() > kMaxRecordField)
            full(value.size());
        bytes += record_size(0, value.size());
        if (bytes > m_geometry.heap_bytes)
            full(bytes);
    }
    Root r = root();
    make_room(r, bytes, values.size(), true);
    Entry* entries = array(r.array);
    for (const auto value : values)
        entries[r.count++] = Entry{write_record(r, {}, value), 0};
    publish(r); // the commit point: one root reaches every new entry, or none
    m_state.live += values.size();
}

void Store::permute(std::span<const std::uint64_t> order) {
    if (hashed())
        throw UsageError("reordering a dict");
    const Root r = root();
    if (order.size() != r.count)
        throw UsageError("a reordering of " + std::to_string(order.size()) +
                         " entries for a list of " + std::to_string(r.count));
    std::vector<bool> taken(r.count, false);
    Root next = r;
    next.array ^= 1U;
    const Entry* from = array(r.array);
    Entry* to = array(next.array);
    for (std::uint64_t i = 0; i < r.count; ++i) {
        if (order[i] >= r.count || taken[order[i]])
            throw UsageError("a reordering that is not a permutation");
        taken[order[i]] = true;
        to[i] = from[order[i]];
    }
    publish(next); // the commit point: the idle array holds the new order, written whole
}

void Store::clear() {
    const Root r = root();
    publish(Root{0, 0, r.heap, r.array, 0});
    m_state.live = 0;
    m_state.garbage = 0;
    if (hashed())
        std::memset(table(), 0, m_geometry.hash_slots * sizeof(std::uint32_t));
}

} // namespace shmbus::detail

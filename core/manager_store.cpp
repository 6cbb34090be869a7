// SPDX-License-Identifier: Apache-2.0
#include "detail/manager_store.hpp"

#include "detail/layout.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <string>

namespace shmbus::detail {
namespace {

constexpr std::uint64_t kMaxHeapBytes = std::uint64_t{1} << 40;
// Hash slots hold entry index + 1 in 32 bits, with 0 and kDeletedSlot reserved.
constexpr std::uint64_t kMaxEntries = (std::uint64_t{1} << 31) - 2;
// Record headers hold key and value lengths in 32 bits.
constexpr std::uint64_t kMaxField = 0xffff'ffffU;
constexpr std::uint32_t kEmptySlot = 0;
constexpr std::uint32_t kDeletedSlot = 0xffff'ffffU;

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) {
    return (value + to - 1) / to * to;
}

std::uint64_t record_size(std::uint64_t key_len, std::uint64_t value_len) {
    return round_up(sizeof(RecordHeader) + key_len + value_len, 8);
}

std::uint64_t record_size(const Item& item) {
    return record_size(item.key.size(), item.value.size());
}

bool valid_geometry(const ContainerState& state, ObjectKind kind) {
    const bool hashed = kind == ObjectKind::dict;
    const bool heap_ok = state.heap_bytes >= kCacheLine && state.heap_bytes <= kMaxHeapBytes &&
                         state.heap_bytes % kCacheLine == 0;
    const bool entries_ok = state.max_entries >= 1 && state.max_entries <= kMaxEntries;
    const bool table_ok = hashed ? std::has_single_bit(state.hash_slots) &&
                                       state.hash_slots >= 2 * state.max_entries &&
                                       state.hash_slots <= 4 * kMaxEntries
                                 : state.hash_slots == 0;
    return heap_ok && entries_ok && table_ok;
}

} // namespace

std::uint64_t key_hash(std::string_view key) {
    std::uint64_t hash = 0xcbf2'9ce4'8422'2325ULL;
    for (char c : key)
        hash = (hash ^ static_cast<unsigned char>(c)) * 0x0000'0100'0000'01b3ULL;
    return hash;
}

Geometry Geometry::for_options(const ContainerOptions& options, bool hashed) {
    if (options.capacity_bytes == 0)
        throw UsageError("capacity_bytes must be at least 1");
    // The bound keeps the geometry's arithmetic far from wrapping; like any capacity the
    // segment cannot hold, more is OutOfSpace.
    if (options.capacity_bytes > kMaxHeapBytes)
        throw OutOfSpace("capacity_bytes " + std::to_string(options.capacity_bytes) +
                         " is more than the " + std::to_string(kMaxHeapBytes) +
                         " a Dict or List may hold");
    if (options.max_entries > kMaxEntries)
        throw UsageError("max_entries must be at most " + std::to_string(kMaxEntries));
    const std::uint64_t heap_bytes = round_up(options.capacity_bytes, kCacheLine);
    const std::uint64_t max_entries =
        options.max_entries != 0
            ? options.max_entries
            : std::clamp<std::uint64_t>(options.capacity_bytes / 64, 16, kMaxEntries);
    return of(heap_bytes, max_entries, hashed ? std::bit_ceil(2 * max_entries) : 0);
}

Geometry Geometry::of(std::uint64_t heap_bytes, std::uint64_t max_entries,
                      std::uint64_t hash_slots) {
    Geometry g{heap_bytes, max_entries, hash_slots, 0, 0, 0, 0};
    g.entries_offset = round_up(sizeof(ContainerState), kCacheLine);
    g.hash_offset = g.entries_offset + 2 * max_entries * sizeof(Entry);
    g.heap_offset = round_up(g.hash_offset + hash_slots * sizeof(std::uint32_t), kCacheLine);
    g.total = g.heap_offset + 2 * heap_bytes;
    return g;
}

void Store::init(void* at, const Geometry& geometry, ObjectKind kind) {
    auto* state = new (at) ContainerState{};
    state->magic = kContainerMagic;
    state->version = kContainerVersion;
    state->kind = static_cast<std::uint32_t>(kind);
    state->heap_bytes = geometry.heap_bytes;
    state->max_entries = geometry.max_entries;
    state->hash_slots = geometry.hash_slots;
    state->mutex.init(true); // a Transaction inside a Transaction: UsageError, not deadlock
    // relaxed is enough: the object directory publishes the initialised state.
    state->root_index.store(0, std::memory_order_relaxed);
    // The segment is zero-filled, so the entry arrays and the hash table start empty.
}

Store::Store(const ObjectRef& object, ObjectKind kind)
    : m_state(object.state<ContainerState>()), m_base(&object.state<std::byte>()), m_geometry{},
      m_name(std::string(to_string(kind)) + " at offset " + std::to_string(object.offset()) +
             " of segment '" + object.segment().name() + "'") {
    if (object.size() < sizeof(ContainerState))
        corrupt("state of " + std::to_string(object.size()) + " bytes is too small");
    if (m_state.magic != kContainerMagic || m_state.version != kContainerVersion ||
        m_state.kind != static_cast<std::uint32_t>(kind))
        corrupt("bad magic, version or kind");
    if (!valid_geometry(m_state, kind))
        corrupt("impossible capacity, entry count or hash table size");
    m_geometry = Geometry::of(m_state.heap_bytes, m_state.max_entries, m_state.hash_slots);
    if (m_geometry.total != object.size())
        corrupt("geometry needs " + std::to_string(m_geometry.total) +
                " bytes, the directory says " + std::to_string(object.size()));
}

AcquireResult Store::lock() {
    return m_state.mutex.lock_until(Deadline::never());
}

void Store::unlock() {
    m_state.mutex.unlock();
}

Root Store::root() const {
    // SYNC acquire: pairs with the release in publish() (the mutex orders them as well; this
    // states which store makes a root the committed one).
    const std::uint32_t index = m_state.root_index.load(std::memory_order_acquire);
    if (index > 1)
        corrupt("root index " + std::to_string(index));
    const Root root = m_state.roots[index];
    if (root.heap > 1 || root.array > 1 || root.used > m_geometry.heap_bytes ||
        root.used % 8 != 0 || root.count > m_geometry.max_entries)
        corrupt("root {used " + std::to_string(root.used) + ", count " +
                std::to_string(root.count) + "} does not fit the geometry");
    return root;
}

void Store::publish(const Root& next) {
    // relaxed is enough: only mutex holders write the index, and we hold the mutex.
    const std::uint32_t idle = 1 - m_state.root_index.load(std::memory_order_relaxed);
    m_state.roots[idle] = next;
    // SYNC release: the commit point. Orders the root slot, the entries and the records it
    // reaches before it; pairs with the acquire in root(). A writer dying before this store
    // leaves the old content, after it the new.
    m_state.root_index.store(idle, std::memory_order_release);
}

Entry* Store::array(std::uint8_t which) const {
    return reinterpret_cast<Entry*>(m_base + m_geometry.entries_offset) +
           which * m_geometry.max_entries;
}

std::byte* Store::heap(std::uint8_t which) const {
    return m_base + m_geometry.heap_offset + which * m_geometry.heap_bytes;
}

std::uint32_t* Store::table() const {
    return reinterpret_cast<std::uint32_t*>(m_base + m_geometry.hash_offset);
}

Item Store::record(const Root& root, std::uint64_t ref) const {
    if (ref == 0 || ref > root.used || (ref - 1) % 8 != 0 ||
        root.used - (ref - 1) < sizeof(RecordHeader))
        corrupt("entry refers to offset " + std::to_string(ref - 1) + " outside the " +
                std::to_string(root.used) + " bytes of records");
    const std::byte* at = heap(root.heap) + (ref - 1);
    RecordHeader header;
    std::memcpy(&header, at, sizeof header);
    const std::uint64_t length = std::uint64_t{header.key_len} + header.value_len;
    if (length > root.used - (ref - 1) - sizeof header)
        corrupt("record at offset " + std::to_string(ref - 1) + " claims " +
                std::to_string(length) + " bytes, past the end of the records");
    const std::byte* key = at + sizeof header;
    return {std::string_view(reinterpret_cast<const char*>(key), header.key_len),
            std::span<const std::byte>(key + header.key_len, header.value_len)};
}

std::uint64_t Store::record_bytes(const Root& root, std::uint64_t ref) const {
    return record_size(record(root, ref));
}

std::optional<Item> Store::slot(std::uint64_t index) const {
    const Root r = root();
    if (index >= r.count)
        throw IndexError("slot " + std::to_string(index) + " of " + std::to_string(r.count));
    const std::uint64_t ref = array(r.array)[index].ref;
    if (ref == 0) {
        if (!hashed())
            corrupt("erased entry " + std::to_string(index) + " in a list");
        return std::nullopt;
    }
    return record(r, ref);
}

std::optional<std::uint64_t> Store::probe(const Root& root, std::string_view key,
                                          std::uint64_t hash) const {
    const std::uint32_t* slots = table();
    const std::uint64_t mask = m_geometry.hash_slots - 1;
    for (std::uint64_t n = 0; n < m_geometry.hash_slots; ++n) {
        const std::uint32_t slot = slots[(hash + n) & mask];
        if (slot == kEmptySlot)
            return std::nullopt;
        if (slot == kDeletedSlot)
            continue;
        if (slot - 1U >= root.count)
            corrupt("hash slot names entry " + std::to_string(slot - 1U) + " of " +
                    std::to_string(root.count));
        const Entry& entry = array(root.array)[slot - 1U];
        if (entry.ref != 0 && entry.hash == hash && record(root, entry.ref).key == key)
            return slot - 1U;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> Store::find(std::string_view key) const {
    if (!hashed())
        throw UsageError("find by key on a list");
    return probe(root(), key, key_hash(key));
}

void Store::insert_in_table(std::uint64_t hash, std::uint64_t index) {
    std::uint32_t* slots = table();
    const std::uint64_t mask = m_geometry.hash_slots - 1;
    for (std::uint64_t n = 0; n < m_geometry.hash_slots; ++n) {
        std::uint32_t& slot = slots[(hash + n) & mask];
        if (slot == kEmptySlot || slot == kDeletedSlot) {
            slot = static_cast<std::uint32_t>(index + 1);
            return;
        }
    }
    corrupt("hash table has no free slot");
}

void Store::remove_from_table(std::uint64_t hash, std::uint64_t index) {
    std::uint32_t* slots = table();
    const std::uint64_t mask = m_geometry.hash_slots - 1;
    for (std::uint64_t n = 0; n < m_geometry.hash_slots; ++n) {
        std::uint32_t& slot = slots[(hash + n) & mask];
        if (slot == kEmptySlot)
            return; // a slot already gone is harmless: lookups skip erased entries
        if (slot == index + 1) {
            slot = kDeletedSlot;
            return;
        }
    }
}

void Store::rebuild_table(const Root& root) {
    std::memset(table(), 0, m_geometry.hash_slots * sizeof(std::uint32_t));
    const Entry* entries = array(root.array);
    for (std::uint64_t i = 0; i < root.count; ++i)
        if (entries[i].ref != 0)
            insert_in_table(entries[i].hash, i);
}

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

void Store::make_room(Root& root, std::uint64_t bytes, bool entry, bool keep_slots) {
    const bool heap_fits = bytes <= m_geometry.heap_bytes - root.used;
    const bool entry_fits = !entry || root.count < m_geometry.max_entries;
    if (heap_fits && entry_fits)
        return;
    if (m_state.garbage > root.used)
        corrupt("more garbage than records");
    const std::uint64_t live_bytes = root.used - m_state.garbage;
    if (bytes > m_geometry.heap_bytes - live_bytes ||
        (entry && m_state.live >= m_geometry.max_entries))
        full(bytes);
    root = compact(root, keep_slots);
    if (bytes > m_geometry.heap_bytes - root.used ||
        (entry && root.count >= m_geometry.max_entries))
        full(bytes);
}

void Store::append(std::string_view key, std::span<const std::byte> value, std::uint64_t hash) {
    Root r = root();
    make_room(r, record_size(key.size(), value.size()), true, false);
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
    if (key.size() > kMaxField || value.size() > kMaxField)
        full(key.size() + value.size());
    const std::uint64_t hash = key_hash(key);
    if (const auto index = probe(root(), key, hash))
        return replace(*index, value);
    append(key, value, hash);
}

void Store::insert(std::uint64_t index, std::span<const std::byte> value) {
    if (hashed())
        throw UsageError("insert at an index of a dict");
    if (value.size() > kMaxField)
        full(value.size());
    Root r = root();
    if (index > r.count)
        throw IndexError("insert at " + std::to_string(index) + " in a list of " +
                         std::to_string(r.count));
    if (index == r.count)
        return append({}, value, 0);
    make_room(r, record_size(0, value.size()), true, true);
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
    if (value.size() > kMaxField)
        full(value.size());
    Root r = root();
    if (index >= r.count || array(r.array)[index].ref == 0)
        throw IndexError("no entry at " + std::to_string(index));
    const std::uint64_t key_len = record(r, array(r.array)[index].ref).key.size();
    make_room(r, record_size(key_len, value.size()), false, true);
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

void Store::clear() {
    const Root r = root();
    publish(Root{0, 0, r.heap, r.array, 0});
    m_state.live = 0;
    m_state.garbage = 0;
    if (hashed())
        std::memset(table(), 0, m_geometry.hash_slots * sizeof(std::uint32_t));
}

void Store::recover() {
    const Root r = root();
    const Entry* entries = array(r.array);
    std::uint64_t live = 0;
    std::uint64_t reached = 0;
    for (std::uint64_t i = 0; i < r.count; ++i) {
        if (entries[i].ref == 0) {
            if (!hashed())
                corrupt("erased entry " + std::to_string(i) + " in a list");
            continue;
        }
        const Item item = record(r, entries[i].ref);
        if (hashed() && entries[i].hash != key_hash(item.key))
            corrupt("entry " + std::to_string(i) + " has a hash that is not its key's");
        reached += record_size(item);
        ++live;
    }
    if (reached > r.used)
        corrupt("entries reach more record bytes than were written (overlapping entries)");
    m_state.live = live;
    m_state.garbage = r.used - reached;
    if (hashed())
        rebuild_table(r);
}

void Store::corrupt(const std::string& problem) const {
    throw CorruptSegment(m_name + ": " + problem);
}

void Store::full(std::uint64_t bytes) const {
    throw Full(m_name + " is full: an entry of " + std::to_string(bytes) + " bytes does not fit (" +
               std::to_string(m_state.live) + " of " + std::to_string(m_geometry.max_entries) +
               " entries, " + std::to_string(m_geometry.heap_bytes) + " bytes of capacity)");
}

} // namespace shmbus::detail

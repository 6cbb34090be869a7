// SPDX-License-Identifier: Apache-2.0
#include "manager/manager_store.hpp"

#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
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
constexpr std::uint32_t kEmptySlot = 0;
constexpr std::uint32_t kDeletedSlot = 0xffff'ffffU;

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

std::optional<std::string> validate(const ContainerState& state, std::uint64_t size) {
    if (auto problem = stamp_problem("container", state.magic, kContainerStateMagic, state.version,
                                     kContainerStateVersion))
        return problem;
    const auto kind = static_cast<ObjectKind>(state.kind);
    if (kind != ObjectKind::dict && kind != ObjectKind::list)
        return "container state: kind " + std::to_string(state.kind) + " is neither dict nor list";
    if (!valid_geometry(state, kind))
        return std::string("container state: impossible capacity, entry count or hash table size");
    const std::uint64_t total =
        Geometry::of(state.heap_bytes, state.max_entries, state.hash_slots).total;
    if (total != size)
        return "container state: its geometry needs " + std::to_string(total) +
               " bytes, the directory says " + std::to_string(size);
    return std::nullopt;
}

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
    const std::uint64_t heap_bytes =
        round_up_size(options.capacity_bytes, kCacheLine, "a container's capacity");
    const std::uint64_t max_entries =
        options.max_entries != 0
            ? options.max_entries
            : std::clamp<std::uint64_t>(options.capacity_bytes / 64, 16, kMaxEntries);
    return of(heap_bytes, max_entries, hashed ? std::bit_ceil(2 * max_entries) : 0);
}

Geometry Geometry::of(std::uint64_t heap_bytes, std::uint64_t max_entries,
                      std::uint64_t hash_slots) {
    Geometry g{heap_bytes, max_entries, hash_slots, 0, 0, 0, 0};
    g.entries_offset = round_up_size(sizeof(ContainerState), kCacheLine, "a container");
    g.hash_offset = g.entries_offset + 2 * max_entries * sizeof(Entry);
    g.heap_offset = round_up_size(g.hash_offset + hash_slots * sizeof(std::uint32_t), kCacheLine,
                                  "a container");
    g.total = g.heap_offset + 2 * heap_bytes;
    return g;
}

void Store::init(void* at, const Geometry& geometry, ObjectKind kind) {
    auto* state = new (at) ContainerState{};
    state->magic = kContainerStateMagic;
    state->version = kContainerStateVersion;
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
    : m_state(*StateRef<ContainerState>(object)), m_base(&object.state<std::byte>()),
      m_geometry(Geometry::of(m_state.heap_bytes, m_state.max_entries, m_state.hash_slots)),
      m_name(std::string(to_string(kind)) + " at offset " + std::to_string(object.offset()) +
             " of segment '" + object.segment().name() + "'") {
    if (m_state.kind != static_cast<std::uint32_t>(kind))
        corrupt("state of kind " + std::to_string(m_state.kind) + " under a " +
                std::string(to_string(kind)) + " directory entry");
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

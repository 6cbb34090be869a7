// SPDX-License-Identifier: Apache-2.0
// The shared layout of a Dict or List and the operations on it (all under its robust mutex).
//
// Layout of the object, allocated once at creation (nothing is allocated at run time):
//
//   ContainerState | Entry entries[2][max_entries] | u32 hash[hash_slots] | heap[2][heap_bytes]
//
// A record is {u32 key_len, u32 value_len, key, value}, padded to 8 bytes, written by bumping
// `used` in the active heap half. An Entry refers to a record by offset + 1 (0: erased, Dict
// only). Entries keep insertion order (Dict) or list order (List). A key is the bytes the typed
// view hands down (a string's own, or another key type's encoding, include/shmbus/dict.hpp):
// the store neither knows nor records the key type, the directory's type tag does.
//
// Crash consistency. What the content is follows from one committed Root: the active heap
// half, the active entry array, its count and `used`. A change writes only where the committed
// root does not reach (past `used`, past `count`, the idle entry array, the idle heap half, the
// idle root slot) and then commits with ONE aligned store: the root index, or an Entry's ref
// for an in-place replace or erase. A writer that dies before that store changed nothing
// visible; after it, the change is whole. Everything else in the state (live count, garbage
// bytes, the hash table) is derived from the committed content and rebuilt by recover(), which
// the next holder runs when the robust mutex reports EOWNERDEAD. Compaction copies the live
// records into the idle half and the idle entry array and commits by the root index too: this
// is why the heap is reserved twice. A List's batch (extend) and its reorderings (sort,
// reverse) commit by the root index as well, so each is whole or absent.
//
// Every offset and length read from the segment is checked before use (CorruptSegment).
#pragma once

#include "os/robust_mutex.hpp"
#include "shmbus/detail/manager_core.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shmbus::detail {

inline constexpr std::uint64_t kContainerStateMagic = 0x3154'4e4f'4353'4253ULL; // "SBSCONT1"
inline constexpr std::uint32_t kContainerStateVersion = 1;

/// What the committed content is. Written whole into the idle one of two slots, then published
/// by one store of ContainerState::root_index.
struct Root {
    std::uint64_t used;  ///< bytes of records in the active heap half
    std::uint32_t count; ///< entries in the active array, erased ones included
    std::uint8_t heap;   ///< active heap half, 0 or 1
    std::uint8_t array;  ///< active entry array, 0 or 1
    std::uint16_t reserved;
};
static_assert(sizeof(Root) == 16,
              "shared-memory layout is pinned: changing it needs a new layout version");

struct Entry {
    std::uint64_t ref;  ///< record offset + 1 in the active heap half; 0: erased
    std::uint64_t hash; ///< FNV-1a of the key (Dict); 0 in a List
};
static_assert(sizeof(Entry) == 16,
              "shared-memory layout is pinned: changing it needs a new layout version");

struct RecordHeader {
    std::uint32_t key_len;
    std::uint32_t value_len;
};

struct ContainerState {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t kind;
    std::uint64_t heap_bytes;  ///< per half
    std::uint64_t max_entries; ///< per entry array
    std::uint64_t hash_slots;  ///< a power of two >= 2 * max_entries (Dict), 0 (List)
    RobustMutex mutex;
    std::atomic<std::uint32_t> root_index;
    Root roots[2];
    // Derived from the committed content; rebuilt by recover().
    std::uint64_t live;    ///< entries not erased
    std::uint64_t garbage; ///< bytes of records in the active half that no entry reaches
};

/// Why the `size` bytes at `state` are not a Dict or List of this build, or nullopt
/// (segment/state_ref.hpp). Which of the two it is is the caller's to compare with its kind.
std::optional<std::string> validate(const ContainerState& state, std::uint64_t size);

/// Sizes and offsets of one container, computed from its three parameters.
struct Geometry {
    std::uint64_t heap_bytes;
    std::uint64_t max_entries;
    std::uint64_t hash_slots;
    std::uint64_t entries_offset;
    std::uint64_t hash_offset;
    std::uint64_t heap_offset;
    std::uint64_t total;

    /// UsageError for options that cannot make a container.
    static Geometry for_options(const ContainerOptions& options, bool hashed);
    static Geometry of(std::uint64_t heap_bytes, std::uint64_t max_entries,
                       std::uint64_t hash_slots);
};

/// FNV-1a: stable across programs and builds, unlike std::hash.
std::uint64_t key_hash(std::string_view key);

/// Record headers hold key and value lengths in 32 bits.
inline constexpr std::uint64_t kMaxRecordField = 0xffff'ffffU;

/// Bytes a record of these lengths takes in the heap: header, key and value, padded to 8.
/// Lengths are 32-bit fields, so the sum cannot wrap.
inline std::uint64_t record_size(std::uint64_t key_len, std::uint64_t value_len) {
    return (sizeof(RecordHeader) + key_len + value_len + 7) / 8 * 8;
}
inline std::uint64_t record_size(const Item& item) {
    return record_size(item.key.size(), item.value.size());
}

class Store {
public:
    static void init(void* at, const Geometry& geometry, ObjectKind kind);
    /// Validates the state against its directory entry; CorruptSegment otherwise.
    Store(const ObjectRef& object, ObjectKind kind);

    /// owner_died: the previous holder died; call recover() before anything else.
    AcquireResult lock();
    void unlock();
    /// Rebuilds the derived state from the committed content, validating all of it.
    void recover();

    std::uint64_t live() const { return m_state.live; }
    std::uint64_t slot_count() const { return root().count; }
    std::optional<Item> slot(std::uint64_t index) const;
    std::optional<std::uint64_t> find(std::string_view key) const;
    void put(std::string_view key, std::span<const std::byte> value);
    void erase(std::uint64_t index);
    void insert(std::uint64_t index, std::span<const std::byte> value);
    void replace(std::uint64_t index, std::span<const std::byte> value);
    /// List: appends every value under one commit (all or none are in the list).
    void extend(std::span<const std::span<const std::byte>> values);
    /// List: entry i becomes the entry at order[i] (a permutation), under one commit.
    void permute(std::span<const std::uint64_t> order);
    void clear();

private:
    bool hashed() const { return m_geometry.hash_slots != 0; }
    Root root() const;
    void publish(const Root& next);
    Entry* array(std::uint8_t which) const;
    std::byte* heap(std::uint8_t which) const;
    std::uint32_t* table() const;
    Item record(const Root& root, std::uint64_t ref) const;
    std::uint64_t record_bytes(const Root& root, std::uint64_t ref) const;
    std::optional<std::uint64_t> probe(const Root& root, std::string_view key,
                                       std::uint64_t hash) const;
    /// Makes room for `bytes` of records and `entries` more entries, compacting when that
    /// frees enough; Full, with nothing changed, when nothing can.
    void make_room(Root& root, std::uint64_t bytes, std::uint64_t entries, bool keep_slots);
    /// Dict: commits `root` without the erased entries at its end.
    void drop_erased_tail(Root root);
    Root compact(const Root& root, bool keep_slots);
    /// Writes a record past root.used and returns its ref; the caller commits it.
    std::uint64_t write_record(Root& root, std::string_view key, std::span<const std::byte> value);
    void append(std::string_view key, std::span<const std::byte> value, std::uint64_t hash);
    void rebuild_table(const Root& root);
    void insert_in_table(std::uint64_t hash, std::uint64_t index);
    void remove_from_table(std::uint64_t hash, std::uint64_t index);
    [[noreturn]] void corrupt(const std::string& problem) const;
    [[noreturn]] void full(std::uint64_t bytes) const;

    ContainerState& m_state;
    std::byte* m_base;
    Geometry m_geometry; ///< validated at attach, out of reach of peers
    std::string m_name;
};

} // namespace shmbus::detail

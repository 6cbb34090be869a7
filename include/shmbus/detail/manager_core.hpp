// SPDX-License-Identifier: Apache-2.0
// The untyped core behind Dict<V> and List<V>: byte records in a fixed-capacity heap owned by
// the object, reached only through a Transaction, which holds the object's robust lock. The
// typed views encode and decode values (codec.hpp) around it. core/manager/manager_store.hpp
// has the layout and the crash-consistency argument.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/export.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace shmbus {

struct ContainerOptions; // shmbus/dict.hpp, which includes this header

namespace detail {

class Store;

/// One entry as stored: a key (empty in a List) and the encoded value, both pointing into
/// shared memory and valid only while the Transaction that returned them is alive.
struct Item {
    std::string_view key;
    std::span<const std::byte> value;
};

/// A located Dict or List with its geometry validated once at attach.
class SHMBUS_EXPORT ContainerCore {
public:
    /// `kind` is dict or list; `type_tag` tells value types apart (KindMismatch).
    ContainerCore(const Segment& segment, std::string_view name, const ContainerOptions& options,
                  OpenMode mode, ObjectKind kind, std::uint64_t type_tag);

    /// The existing container at `offset` of `segment` (a reference stored by a nested
    /// container): NotFound when there is none there, KindMismatch when it is another kind or
    /// type.
    ContainerCore(const Segment& segment, std::uint64_t offset, ObjectKind kind,
                  std::uint64_t type_tag);

    const ObjectRef& object() const { return m_object; }

private:
    friend class Transaction;
    ObjectRef m_object;
    std::shared_ptr<Store> m_store;
};

/// Holds the container's lock for its lifetime: every read and change goes through one, so a
/// compound change (read, compute, write) is atomic for every process. Not reentrant: opening a
/// second Transaction on the same container from the holding thread is UsageError.
/// When the previous holder died holding the lock, the constructor drops whatever that holder
/// left half-done and validates the content (CorruptSegment when it does not hold together).
class SHMBUS_EXPORT Transaction {
public:
    explicit Transaction(const ContainerCore& core);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    /// True when the previous holder died holding the lock.
    bool recovered() const { return m_recovered; }

    /// Live entries.
    std::size_t size() const;
    /// Entries including erased ones (a Dict keeps erased slots until it compacts); a List has
    /// no erased slots.
    std::size_t slot_count() const;
    /// The entry at `slot` < slot_count(), nullopt when erased.
    std::optional<Item> slot(std::size_t slot) const;
    /// Removes everything.
    void clear();

    /// Dict: the slot holding `key`.
    std::optional<std::size_t> find(std::string_view key) const;
    /// Dict: inserts at the end or replaces the value in place. Full when it does not fit.
    void put(std::string_view key, std::span<const std::byte> value);
    /// Dict: marks the slot erased; List: removes the entry, shifting the rest down.
    void erase(std::size_t slot);

    /// List: adds an entry at the end. Full when it does not fit.
    void append(std::span<const std::byte> value);
    /// List: inserts before `index` <= size().
    void insert(std::size_t index, std::span<const std::byte> value);
    /// List (and Dict slots): replaces the value at `index`, keeping its place and key.
    void replace(std::size_t index, std::span<const std::byte> value);
    /// List: appends all `values` in one step: Full, with nothing appended, when they do not
    /// all fit; a holder killed inside leaves none of them.
    void extend(std::span<const std::span<const std::byte>> values);
    /// List: entry i becomes the entry that was at order[i], in one step. UsageError unless
    /// `order` is a permutation of [0, size()).
    void permute(std::span<const std::size_t> order);

private:
    Store& m_store;
    bool m_recovered;
};

/// The encoding of `value` by Codec in this thread's codec buffer: valid until its next use.
template <class Codec>
std::span<const std::byte> encoded(const auto& value) {
    ByteBuffer& buffer = codec_scratch();
    buffer.clear();
    Codec::encode(value, buffer);
    return buffer.bytes();
}

/// Applies an update function to `value`: `void(V&)` changes it in place, `R(V&)` returns the
/// new value.
template <class V, class F>
void apply_update(V& value, F& fn) {
    using Result = std::invoke_result_t<F&, V&>;
    if constexpr (std::is_void_v<Result>) {
        fn(value);
    } else {
        static_assert(std::is_convertible_v<Result, V>,
                      "shmbus: an update function returns void (changing its V& argument) or "
                      "the new value");
        value = fn(value);
    }
}

} // namespace detail
} // namespace shmbus

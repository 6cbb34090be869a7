// SPDX-License-Identifier: Apache-2.0
/// @file
/// Array<T>: a fixed-length array of T in shared memory (Python's multiprocessing.Array).
/// operator[], at(), begin()/end() give plain references, as fast as local memory and
/// unsynchronised: hold get_lock() for compound updates. load(i)/store(i, v) are atomic per
/// element (lock-free where std::atomic_ref<T> is, under the lock otherwise).
#pragma once

#include "shmbus/detail/checked_math.hpp"
#include "shmbus/detail/typed_object.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/segment.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace shmbus {

/// A fixed-length array of T in shared memory (Python's multiprocessing.Array); T must be
/// trivially copyable. Element access is plain memory: use load() / store() or get_lock()
/// when processes touch the same elements at once.
template <class T>
class Array {
    static_assert(std::is_trivially_copyable_v<T>,
                  "shmbus::Array<T> keeps T as raw bytes in shared memory, so T must be "
                  "trivially copyable; use a Manager List for other types");

public:
    /// True when load() and store() are lock-free atomics (no lock taken).
    static constexpr bool is_always_lock_free = std::atomic_ref<T>::is_always_lock_free;

    /// An anonymous, zero-initialised Array of `length` elements in the default segment.
    explicit Array(std::size_t length) : Array(Segment::default_segment(), "", length) {}
    /// An anonymous Array holding `values`.
    Array(std::initializer_list<T> values) : Array(values.size()) {
        std::copy(values.begin(), values.end(), begin());
    }
    /// Opens the Array `name`, creating it zero-initialised when missing; an existing Array
    /// of another length is KindMismatch. OutOfSpace when `length` elements do not fit in the
    /// segment (the segment and its directory are then unchanged).
    Array(const Segment& segment, std::string_view name, std::size_t length)
        : Array(segment, name, length, detail::OpenMode::open_or_create) {}
    /// A new zero-initialised Array; AlreadyExists when the name is taken.
    static Array create(const Segment& segment, std::string_view name, std::size_t length) {
        return Array(segment, name, length, detail::OpenMode::create);
    }
    /// Opens an existing Array of any length.
    static Array open(const Segment& segment, std::string_view name) {
        return Array(segment, name, 0, detail::OpenMode::open);
    }

    /// Elements, fixed at creation (Python's len(a)).
    std::size_t size() const { return m_length; }
    /// The first element, in shared memory; unsynchronised.
    T* data() const { return m_data; }
    /// The first element, for range-for and algorithms; unsynchronised.
    T* begin() const { return m_data; }
    /// Past the last element.
    T* end() const { return m_data + m_length; }
    /// Unchecked, unsynchronised access (Python's a[i] without the lock).
    T& operator[](std::size_t index) const { return m_data[index]; }
    /// Bounds-checked access: OutOfRange past the end.
    T& at(std::size_t index) const {
        check(index);
        return m_data[index];
    }

    /// Element `index`, read atomically; OutOfRange past the end.
    T load(std::size_t index) const {
        check(index);
        if constexpr (is_always_lock_free)
            // SYNC seq_cst: per-element atomics in the order Python's locked Array gives.
            return std::atomic_ref<T>(m_data[index]).load(std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        return m_data[index];
    }
    /// Writes element `index` atomically; OutOfRange past the end.
    void store(std::size_t index, T value) {
        check(index);
        if constexpr (is_always_lock_free) {
            // SYNC seq_cst: per-element atomics in the order Python's locked Array gives.
            std::atomic_ref<T>(m_data[index]).store(value, std::memory_order_seq_cst);
        } else {
            std::lock_guard guard(m_lock);
            m_data[index] = value;
        }
    }
    /// A consistent copy, taken under the lock.
    std::vector<T> to_vector() const {
        std::lock_guard guard(m_lock);
        return std::vector<T>(begin(), end());
    }

    /// The RLock guarding compound updates, shared by every handle of this Array.
    RLock& get_lock() { return m_lock; }

private:
    struct alignas(64) Header {
        std::uint64_t length;
        std::uint64_t element_size;
    };
    static constexpr std::size_t kDataOffset =
        (sizeof(Header) + alignof(T) - 1) / alignof(T) * alignof(T);

    Array(const Segment& segment, std::string_view name, std::size_t length, detail::OpenMode mode)
        : Array(name, detail::attach_guarded(segment, name, [&] {
                    return detail::attach_typed(
                        segment, name, ObjectKind::array,
                        mode == detail::OpenMode::open ? 0 : bytes_for(length),
                        std::max(alignof(Header), alignof(T)), detail::type_tag<T>(), mode,
                        [&](void* state) { initialise(state, length); });
                })) {}

    Array(std::string_view name, detail::GuardedObject parts)
        : m_object(std::move(parts.object)), m_lock(std::move(parts.lock)) {
        const auto& header = m_object.state<Header>();
        // Read from shared memory: checked against the directory's size before use.
        if (m_object.size() < kDataOffset || header.element_size != sizeof(T) ||
            header.length > (m_object.size() - kDataOffset) / sizeof(T))
            throw CorruptSegment("array '" + std::string(name) +
                                 "' has a length or element "
                                 "size that does not fit its directory entry");
        m_length = static_cast<std::size_t>(header.length);
        m_data =
            reinterpret_cast<T*>(reinterpret_cast<char*>(&m_object.state<Header>()) + kDataOffset);
    }

    // OutOfSpace when `length` elements cannot be counted in bytes: a wrapped size would make
    // a small object that the value-initialisation below then overruns.
    static std::size_t bytes_for(std::size_t length) {
        return detail::add_size(kDataOffset, detail::mul_size(length, sizeof(T), "an Array"),
                                "an Array");
    }

    static void initialise(void* state, std::size_t length) {
        new (state) Header{length, sizeof(T)};
        T* first = reinterpret_cast<T*>(static_cast<char*>(state) + kDataOffset);
        std::uninitialized_value_construct_n(first, length);
    }

    void check(std::size_t index) const {
        if (index >= m_length)
            throw OutOfRange("index " + std::to_string(index) + " out of range for an Array of " +
                             std::to_string(m_length));
    }

    detail::ObjectRef m_object;
    mutable RLock m_lock;
    std::size_t m_length = 0;
    T* m_data = nullptr;
};

} // namespace shmbus

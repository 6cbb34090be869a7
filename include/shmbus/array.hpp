// SPDX-License-Identifier: Apache-2.0
/// @file
/// Array<T>: a fixed-length array of T in shared memory (Python's multiprocessing.Array).
/// operator[], at(), begin()/end() give plain references, as fast as local memory and
/// unsynchronised: hold get_lock() for compound updates. load(i)/store(i, v) are atomic per
/// element (lock-free where std::atomic_ref<T> is, under the lock otherwise). The lock is the
/// Array's own RLock, or the Lock or RLock given at construction (Python's `lock=`);
/// RawArray<T> has none (Python's RawArray and `Array(..., lock=False)`). Array<char> also
/// reads and writes its bytes as a NUL-terminated string (value()) or whole (raw()), as
/// Python's c_char arrays do.
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
///
/// LockType is what get_lock() returns: RLock (the default: the Array's own "<name>.lock", or
/// an RLock given to the constructor), Lock (given to the constructor), or NoLock
/// (RawArray<T>). A given lock belongs to this handle (see Value).
template <class T, class LockType = RLock>
class Array {
    static_assert(std::is_trivially_copyable_v<T>,
                  "shmbus::Array<T> keeps T as raw bytes in shared memory, so T must be "
                  "trivially copyable; use a Manager List for other types");
    static_assert(detail::SharedDataLock<LockType>,
                  "shmbus::Array<T, LockType>: LockType is RLock, Lock or NoLock");

    static constexpr bool Locked = !std::is_same_v<LockType, NoLock>;
    // A Lock is only ever given: the Array's own lock, when it makes one, is an RLock.
    static constexpr bool OwnLock = !std::is_same_v<LockType, Lock>;
    static constexpr bool Chars = std::is_same_v<T, char>;

public:
    /// True when load() and store() are lock-free atomics (no lock taken).
    static constexpr bool is_always_lock_free = std::atomic_ref<T>::is_always_lock_free;

    /// An anonymous, zero-initialised Array of `length` elements in the default segment.
    explicit Array(std::size_t length) requires OwnLock
        : Array(Segment::default_segment(), "", length) {}
    /// An anonymous Array holding `values`.
    Array(std::initializer_list<T> values) requires OwnLock : Array(values.size()) {
        std::copy(values.begin(), values.end(), begin());
    }
    /// An anonymous, zero-initialised Array guarded by `lock` (Python's `lock=lock`).
    Array(std::size_t length, LockType lock) requires Locked
        : Array(Segment::default_segment(), "", length, std::move(lock)) {}
    /// Opens the Array `name`, creating it zero-initialised when missing; an existing Array
    /// of another length is KindMismatch. OutOfSpace when `length` elements do not fit in the
    /// segment (the segment and its directory are then unchanged).
    Array(const Segment& segment, std::string_view name, std::size_t length) requires OwnLock
        : Array(segment, name, length, detail::OpenMode::open_or_create) {}
    /// As above, guarded by `lock` instead of the Array's own RLock.
    Array(const Segment& segment, std::string_view name, std::size_t length,
          LockType lock) requires Locked
        : Array(name, detail::GuardedObject<LockType>{
                          attach(segment, name, length, detail::OpenMode::open_or_create),
                          std::move(lock)}) {}
    /// A new zero-initialised Array; AlreadyExists when the name is taken.
    static Array create(const Segment& segment, std::string_view name,
                        std::size_t length) requires OwnLock {
        return Array(segment, name, length, detail::OpenMode::create);
    }
    /// A new zero-initialised Array guarded by `lock`; AlreadyExists when the name is taken.
    static Array create(const Segment& segment, std::string_view name, std::size_t length,
                        LockType lock) requires Locked {
        return Array(name,
                     detail::GuardedObject<LockType>{
                         attach(segment, name, length, detail::OpenMode::create), std::move(lock)});
    }
    /// Opens an existing Array of any length.
    static Array open(const Segment& segment, std::string_view name) requires OwnLock {
        return Array(segment, name, 0, detail::OpenMode::open);
    }
    /// Opens an existing Array of any length, guarded by `lock`.
    static Array open(const Segment& segment, std::string_view name,
                      LockType lock) requires Locked {
        return Array(name, detail::GuardedObject<LockType>{
                               attach(segment, name, 0, detail::OpenMode::open), std::move(lock)});
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
        return guarded([&] { return m_data[index]; });
    }
    /// Writes element `index` atomically; OutOfRange past the end.
    void store(std::size_t index, T value) {
        check(index);
        if constexpr (is_always_lock_free) {
            // SYNC seq_cst: per-element atomics in the order Python's locked Array gives.
            std::atomic_ref<T>(m_data[index]).store(value, std::memory_order_seq_cst);
        } else {
            guarded([&] { m_data[index] = value; });
        }
    }
    /// A consistent copy, taken under the lock (an unsynchronised one for a RawArray).
    std::vector<T> to_vector() const {
        return guarded([this] { return std::vector<T>(begin(), end()); });
    }

    /// The bytes up to the first NUL, or all of them when there is none (Python's a.value on
    /// a c_char Array). Under the lock.
    std::string value() const requires Chars {
        return guarded([this] { return std::string(m_data, std::find(begin(), end(), '\0')); });
    }
    /// Writes `text` and, when it is shorter than the Array, a NUL after it (Python's
    /// a.value = b"..."); the bytes after that NUL keep their values. UsageError when `text` is
    /// longer than the Array (Python's ValueError). Under the lock.
    void set_value(std::string_view text) requires Chars {
        check_fits(text);
        guarded([&] {
            std::copy(text.begin(), text.end(), m_data);
            if (text.size() < m_length)
                m_data[text.size()] = '\0';
        });
    }
    /// Every byte, NULs included (Python's a.raw). Under the lock.
    std::string raw() const requires Chars {
        return guarded([this] { return std::string(m_data, m_length); });
    }
    /// Writes `bytes` over the first bytes.size() bytes and adds no NUL (Python's a.raw = ...).
    /// UsageError when longer than the Array. Under the lock.
    void set_raw(std::string_view bytes) requires Chars {
        check_fits(bytes);
        guarded([&] { std::copy(bytes.begin(), bytes.end(), m_data); });
    }

    /// The lock guarding compound updates, shared by every handle of this Array made with the
    /// same lock. Not on a RawArray.
    LockType& get_lock() requires Locked { return m_lock; }
    /// The Array without its lock, the same elements in shared memory (Python's get_obj()).
    Array<T, NoLock> get_obj() const requires Locked {
        return Array<T, NoLock>("", detail::GuardedObject<NoLock>{m_object, NoLock{}});
    }

private:
    struct alignas(64) Header {
        std::uint64_t length;
        std::uint64_t element_size;
    };
    static constexpr std::size_t kDataOffset =
        (sizeof(Header) + alignof(T) - 1) / alignof(T) * alignof(T);

    template <class, class>
    friend class Array;

    static detail::ObjectRef attach(const Segment& segment, std::string_view name,
                                    std::size_t length, detail::OpenMode mode) {
        return detail::attach_typed(segment, name, ObjectKind::array,
                                    mode == detail::OpenMode::open ? 0 : bytes_for(length),
                                    std::max(alignof(Header), alignof(T)), detail::type_tag<T>(),
                                    mode, [&](void* state) { initialise(state, length); });
    }

    Array(const Segment& segment, std::string_view name, std::size_t length, detail::OpenMode mode)
        : Array(name, detail::attach_with_own_lock<LockType>(
                          segment, name, [&] { return attach(segment, name, length, mode); })) {}

    Array(std::string_view name, detail::GuardedObject<LockType> parts)
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

    // Runs `fn` holding the lock; a RawArray has none to hold.
    template <class Fn>
    decltype(auto) guarded(Fn fn) const {
        if constexpr (Locked) {
            std::lock_guard guard(m_lock);
            return fn();
        } else {
            return fn();
        }
    }

    void check_fits(std::string_view bytes) const {
        if (bytes.size() > m_length)
            throw UsageError("a string of " + std::to_string(bytes.size()) +
                             " bytes does not fit an Array of " + std::to_string(m_length));
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
    [[no_unique_address]] mutable LockType m_lock;
    std::size_t m_length = 0;
    T* m_data = nullptr;
};

/// A fixed-length array of T in shared memory without a lock (Python's RawArray, and
/// Array(..., lock=False)).
template <class T>
using RawArray = Array<T, NoLock>;

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Value<T>: one T in shared memory (Python's multiprocessing.Value). Operations are lock-free
/// atomics when std::atomic_ref<T> is lock-free for T, and run under get_lock() otherwise.
/// get_lock() returns the lock for compound updates (`with v.get_lock(): v.value += 1`): the
/// Value's own RLock, or the Lock or RLock given at construction (Python's `lock=`).
/// RawValue<T> is the same T without a lock (Python's RawValue and `Value(..., lock=False)`).
#pragma once

#include "shmbus/detail/typed_object.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/segment.hpp"

#include <atomic>
#include <cstring>
#include <mutex>
#include <string_view>
#include <type_traits>
#include <utility>

namespace shmbus {

/// One T in shared memory, shared by every process that holds, inherits or opens it (Python's
/// multiprocessing.Value). T must be trivially copyable. Every operation is atomic on its own,
/// except on a RawValue of a T that is not lock-free (it has no lock to take).
///
/// LockType is what get_lock() returns: RLock (the default: the Value's own "<name>.lock", or
/// an RLock given to the constructor), Lock (given to the constructor), or NoLock (RawValue<T>:
/// no lock). A given lock belongs to this handle, as `lock=` does to Python's wrapper: every
/// process that opens the Value by name must pass the same lock for them to exclude each other.
/// A Lock is not recursive: with a T that is not lock-free, an operation made while this
/// process holds get_lock() waits for itself (as Python's does).
template <class T, class LockType = RLock>
class Value {
    static_assert(std::is_trivially_copyable_v<T>,
                  "shmbus::Value<T> keeps T as raw bytes in shared memory, so T must be "
                  "trivially copyable; use a Manager Dict or List for other types");
    static_assert(detail::SharedDataLock<LockType>,
                  "shmbus::Value<T, LockType>: LockType is RLock, Lock or NoLock");

    static constexpr bool Arithmetic = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;
    static constexpr bool Locked = !std::is_same_v<LockType, NoLock>;
    // A Lock is only ever given: the Value's own lock, when it makes one, is an RLock.
    static constexpr bool OwnLock = !std::is_same_v<LockType, Lock>;

public:
    /// True when every operation is a lock-free atomic (no lock taken).
    static constexpr bool is_always_lock_free = std::atomic_ref<T>::is_always_lock_free;

    /// An anonymous Value in the default segment, inherited by forked children.
    explicit Value(T initial = T{}) requires OwnLock
        : Value(Segment::default_segment(), "", initial) {}
    /// An anonymous Value guarded by `lock` (Python's `Value(typecode, v, lock=lock)`).
    Value(T initial, LockType lock) requires Locked
        : Value(Segment::default_segment(), "", initial, std::move(lock)) {}
    /// Opens the Value `name` in `segment`, creating it with `initial` when it is missing.
    Value(const Segment& segment, std::string_view name, T initial = T{}) requires OwnLock
        : Value(segment, name, initial, detail::OpenMode::open_or_create) {}
    /// As above, guarded by `lock` instead of the Value's own RLock.
    Value(const Segment& segment, std::string_view name, T initial, LockType lock) requires Locked
        : Value(detail::GuardedObject<LockType>{
              attach(segment, name, initial, detail::OpenMode::open_or_create), std::move(lock)}) {}
    /// A new Value `name` holding `initial`; AlreadyExists when the name is taken.
    static Value create(const Segment& segment, std::string_view name,
                        T initial = T{}) requires OwnLock {
        return Value(segment, name, initial, detail::OpenMode::create);
    }
    /// A new Value `name` holding `initial`, guarded by `lock`; AlreadyExists when the name is
    /// taken.
    static Value create(const Segment& segment, std::string_view name, T initial,
                        LockType lock) requires Locked {
        return Value(detail::GuardedObject<LockType>{
            attach(segment, name, initial, detail::OpenMode::create), std::move(lock)});
    }
    /// NotFound when missing; KindMismatch when it is not a Value of T.
    static Value open(const Segment& segment, std::string_view name) requires OwnLock {
        return Value(segment, name, T{}, detail::OpenMode::open);
    }
    /// Opens the Value `name`, guarded by `lock`; NotFound, KindMismatch as open().
    static Value open(const Segment& segment, std::string_view name,
                      LockType lock) requires Locked {
        return Value(detail::GuardedObject<LockType>{
            attach(segment, name, T{}, detail::OpenMode::open), std::move(lock)});
    }

    /// The current value (Python's v.value).
    T load() const {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().load(std::memory_order_seq_cst);
        return guarded([this] { return raw(); });
    }
    /// Replaces the value (Python's v.value = desired).
    void store(T desired) {
        if constexpr (is_always_lock_free) {
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            ref().store(desired, std::memory_order_seq_cst);
        } else {
            guarded([&] { raw() = desired; });
        }
    }
    /// Replaces the value and returns the one it replaced, in one atomic step.
    T exchange(T desired) {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().exchange(desired, std::memory_order_seq_cst);
        return guarded([&] { return std::exchange(raw(), desired); });
    }
    /// Strong compare-and-exchange of the object representation; on failure `expected`
    /// receives the current value.
    bool compare_exchange(T& expected, T desired) {
        if constexpr (is_always_lock_free)
            return ref().compare_exchange_strong(expected, desired, std::memory_order_seq_cst);
        return guarded([&] {
            if (std::memcmp(&raw(), &expected, sizeof(T)) != 0) {
                expected = raw();
                return false;
            }
            raw() = desired;
            return true;
        });
    }
    /// Adds `delta` atomically and returns the value before (`with v.get_lock(): v.value +=
    /// delta` in Python). Arithmetic types other than bool.
    T fetch_add(T delta) requires Arithmetic {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().fetch_add(delta, std::memory_order_seq_cst);
        return guarded([&] { return std::exchange(raw(), static_cast<T>(raw() + delta)); });
    }
    /// Subtracts `delta` atomically and returns the value before, as fetch_add().
    T fetch_sub(T delta) requires Arithmetic {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().fetch_sub(delta, std::memory_order_seq_cst);
        return guarded([&] { return std::exchange(raw(), static_cast<T>(raw() - delta)); });
    }

    /// The lock guarding compound updates, shared by every handle of this Value made with the
    /// same lock. Not on a RawValue.
    LockType& get_lock() requires Locked { return m_lock; }
    /// The Value without its lock, the same T in shared memory (Python's get_obj()).
    Value<T, NoLock> get_obj() const requires Locked { return Value<T, NoLock>(m_object); }

private:
    template <class, class>
    friend class Value;

    struct State {
        alignas(std::atomic_ref<T>::required_alignment) T value;
    };

    static detail::ObjectRef attach(const Segment& segment, std::string_view name, T initial,
                                    detail::OpenMode mode) {
        return detail::attach_typed(segment, name, ObjectKind::value, sizeof(State), alignof(State),
                                    detail::type_tag<T>(), mode,
                                    [&](void* state) { new (state) State{initial}; });
    }

    Value(const Segment& segment, std::string_view name, T initial, detail::OpenMode mode)
        : Value(detail::attach_with_own_lock<LockType>(
              segment, name, [&] { return attach(segment, name, initial, mode); })) {}
    explicit Value(detail::GuardedObject<LockType> parts)
        : m_object(std::move(parts.object)), m_lock(std::move(parts.lock)) {}
    explicit Value(detail::ObjectRef object) requires(!Locked) : m_object(std::move(object)) {}

    // Runs `fn` holding the lock; a RawValue has none to hold.
    template <class Fn>
    decltype(auto) guarded(Fn fn) const {
        if constexpr (Locked) {
            std::lock_guard guard(m_lock);
            return fn();
        } else {
            return fn();
        }
    }

    // SYNC seq_cst: every lock-free access is seq_cst, the order Python's Value gives under
    // its lock; making one atomic_ref per call is free (it holds a pointer).
    std::atomic_ref<T> ref() const { return std::atomic_ref<T>(raw()); }
    T& raw() const { return m_object.state<State>().value; }

    detail::ObjectRef m_object;
    [[no_unique_address]] mutable LockType m_lock;
};

/// One T in shared memory without a lock (Python's RawValue, and Value(..., lock=False)).
/// Lock-free types stay atomic per operation; others are plain, unsynchronised copies.
template <class T>
using RawValue = Value<T, NoLock>;

} // namespace shmbus

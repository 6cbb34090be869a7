// SPDX-License-Identifier: Apache-2.0
/// @file
/// Value<T>: one T in shared memory (Python's multiprocessing.Value). Operations are lock-free
/// atomics when std::atomic_ref<T> is lock-free for T, and run under get_lock() otherwise.
/// get_lock() returns the RLock for compound updates (`with v.get_lock(): v.value += 1`).
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
/// multiprocessing.Value). T must be trivially copyable. Every operation is atomic on its own.
template <class T>
class Value {
    static_assert(std::is_trivially_copyable_v<T>,
                  "shmbus::Value<T> keeps T as raw bytes in shared memory, so T must be "
                  "trivially copyable; use a Manager Dict or List for other types");

    static constexpr bool Arithmetic = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

public:
    /// True when every operation is a lock-free atomic (no lock taken).
    static constexpr bool is_always_lock_free = std::atomic_ref<T>::is_always_lock_free;

    /// An anonymous Value in the default segment, inherited by forked children.
    explicit Value(T initial = T{}) : Value(Segment::default_segment(), "", initial) {}
    /// Opens the Value `name` in `segment`, creating it with `initial` when it is missing.
    Value(const Segment& segment, std::string_view name, T initial = T{})
        : Value(segment, name, initial, detail::OpenMode::open_or_create) {}
    /// A new Value `name` holding `initial`; AlreadyExists when the name is taken.
    static Value create(const Segment& segment, std::string_view name, T initial = T{}) {
        return Value(segment, name, initial, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it is not a Value of T.
    static Value open(const Segment& segment, std::string_view name) {
        return Value(segment, name, T{}, detail::OpenMode::open);
    }

    /// The current value (Python's v.value).
    T load() const {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().load(std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        return raw();
    }
    /// Replaces the value (Python's v.value = desired).
    void store(T desired) {
        if constexpr (is_always_lock_free) {
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            ref().store(desired, std::memory_order_seq_cst);
        } else {
            std::lock_guard guard(m_lock);
            raw() = desired;
        }
    }
    /// Replaces the value and returns the one it replaced, in one atomic step.
    T exchange(T desired) {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().exchange(desired, std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        return std::exchange(raw(), desired);
    }
    /// Strong compare-and-exchange of the object representation; on failure `expected`
    /// receives the current value.
    bool compare_exchange(T& expected, T desired) {
        if constexpr (is_always_lock_free)
            return ref().compare_exchange_strong(expected, desired, std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        if (std::memcmp(&raw(), &expected, sizeof(T)) != 0) {
            expected = raw();
            return false;
        }
        raw() = desired;
        return true;
    }
    /// Adds `delta` atomically and returns the value before (`with v.get_lock(): v.value +=
    /// delta` in Python). Arithmetic types other than bool.
    T fetch_add(T delta) requires Arithmetic {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().fetch_add(delta, std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        return std::exchange(raw(), static_cast<T>(raw() + delta));
    }
    /// Subtracts `delta` atomically and returns the value before, as fetch_add().
    T fetch_sub(T delta) requires Arithmetic {
        if constexpr (is_always_lock_free)
            // seq_cst: Python's Value promises nothing weaker; pairs with every other access.
            return ref().fetch_sub(delta, std::memory_order_seq_cst);
        std::lock_guard guard(m_lock);
        return std::exchange(raw(), static_cast<T>(raw() - delta));
    }

    /// The RLock guarding compound updates, shared by every handle of this Value.
    RLock& get_lock() { return m_lock; }

private:
    struct State {
        alignas(std::atomic_ref<T>::required_alignment) T value;
    };

    Value(const Segment& segment, std::string_view name, T initial, detail::OpenMode mode)
        : Value(detail::attach_guarded(segment, name, [&] {
              return detail::attach_typed(segment, name, ObjectKind::value, sizeof(State),
                                          alignof(State), detail::type_tag<T>(), mode,
                                          [&](void* state) { new (state) State{initial}; });
          })) {}
    explicit Value(detail::GuardedObject parts)
        : m_object(std::move(parts.object)), m_lock(std::move(parts.lock)) {}

    // SYNC seq_cst: every lock-free access is seq_cst, the order Python's Value gives under
    // its lock; making one atomic_ref per call is free (it holds a pointer).
    std::atomic_ref<T> ref() const { return std::atomic_ref<T>(raw()); }
    T& raw() const { return m_object.state<State>().value; }

    detail::ObjectRef m_object;
    mutable RLock m_lock;
};

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// What Value<T> and Array<T> share: attaching the object together with its companion RLock.
#pragma once

#include "shmbus/detail/object.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/lock.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace shmbus::detail {

/// An object and the lock that guards it (NoLock: none).
template <class LockType>
struct GuardedObject {
    ObjectRef object;
    LockType lock;
};

/// The lock types a Value or Array may carry: its companion or a given RLock, a given Lock, or
/// none (RawValue, RawArray).
template <class LockType>
concept SharedDataLock = std::is_same_v<LockType, RLock> || std::is_same_v<LockType, Lock> ||
    std::is_same_v<LockType, NoLock>;

/// Attaches the object with `attach` and its RLock, "<name>.lock" in the same segment (an
/// anonymous object gets an anonymous lock, reachable only through handles of the object). Both
/// are made in one CreationScope: when the lock does not fit, the object is not left behind.
template <class Attach>
GuardedObject<RLock> attach_guarded(const Segment& segment, std::string_view name, Attach attach) {
    CreationScope scope(segment);
    ObjectRef object = attach();
    RLock lock = name.empty() ? RLock(segment, "") : RLock(segment, std::string(name) + ".lock");
    scope.commit();
    return {std::move(object), std::move(lock)};
}

/// The object with the lock a Value or Array gets when none is given: its companion RLock
/// (attach_guarded), or nothing for NoLock.
template <class LockType, class Attach>
GuardedObject<LockType> attach_with_own_lock(const Segment& segment, std::string_view name,
                                             Attach attach) {
    if constexpr (std::is_same_v<LockType, NoLock>)
        return {attach(), NoLock{}};
    else
        return attach_guarded(segment, name, attach);
}

/// Opens (or, when `mode` allows, creates) the object and runs `init` only on creation.
template <class Init>
ObjectRef attach_typed(const Segment& segment, std::string_view name, ObjectKind kind,
                       std::size_t size, std::size_t align, std::uint64_t tag, OpenMode mode,
                       Init init) {
    return attach_object(segment, name, ObjectSpec{kind, size, align, tag}, mode,
                         [&](void* state) { init(state); });
}

} // namespace shmbus::detail

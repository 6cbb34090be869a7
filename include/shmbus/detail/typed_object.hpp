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

/// An object and the RLock that guards it.
struct GuardedObject {
    ObjectRef object;
    RLock lock;
};

/// Attaches the object with `attach` and its RLock, "<name>.lock" in the same segment (an
/// anonymous object gets an anonymous lock, reachable only through handles of the object). Both
/// are made in one CreationScope: when the lock does not fit, the object is not left behind.
template <class Attach>
GuardedObject attach_guarded(const Segment& segment, std::string_view name, Attach attach) {
    CreationScope scope(segment);
    ObjectRef object = attach();
    RLock lock = name.empty() ? RLock(segment, "") : RLock(segment, std::string(name) + ".lock");
    scope.commit();
    return {std::move(object), std::move(lock)};
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

// SPDX-License-Identifier: Apache-2.0
// What Value<T> and Array<T> share: a type tag for T and how a companion RLock is named.
#pragma once

#include "shmbus/detail/object.hpp"
#include "shmbus/lock.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace shmbus::detail {

/// Tells Value<int> from Value<float>: size, alignment and the broad category of T.
template <class T>
constexpr std::uint64_t type_tag_of() {
    const std::uint64_t category = std::is_floating_point_v<T> ? 1
                                   : std::is_signed_v<T>       ? 2
                                   : std::is_integral_v<T>     ? 3
                                                               : 4;
    return sizeof(T) | (std::uint64_t{alignof(T)} << 32) | (category << 48);
}

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

// SPDX-License-Identifier: Apache-2.0
/// @file
/// ObjectKind: what a segment's directory entry holds. Part of the on-segment layout, so the
/// layout specification (core/segment/layout.hpp) includes this header and not segment.hpp.
#pragma once

#include "shmbus/export.hpp"

#include <cstdint>
#include <string_view>

namespace shmbus {

/// What a directory entry holds. Values are part of the on-segment layout: append only.
enum class ObjectKind : std::uint32_t {
    lock = 1,              ///< Lock
    rlock = 2,             ///< RLock
    semaphore = 3,         ///< Semaphore
    bounded_semaphore = 4, ///< BoundedSemaphore
    event = 5,             ///< Event
    condition = 6,         ///< Condition
    barrier = 7,           ///< Barrier
    value = 8,             ///< Value<T>
    array = 9,             ///< Array<T>
    queue = 10,            ///< Queue<T> or SimpleQueue<T>
    joinable_queue = 11,   ///< JoinableQueue<T>
    pipe = 12,             ///< both ends of a Pipe
    dict = 13,             ///< Dict<V>
    list = 14,             ///< List<V>
    pool = 15,             ///< the state block of a Pool, which `shmbus inspect` shows
    topic = 16,            ///< Topic<T>
};

/// "lock", "bounded_semaphore", ...; "unknown" for a value outside the enumeration.
SHMBUS_EXPORT std::string_view to_string(ObjectKind kind);

} // namespace shmbus

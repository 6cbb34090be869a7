// SPDX-License-Identifier: Apache-2.0
/// @file
/// Manager: Python's multiprocessing.Manager() without the server process. Its Dict and List
/// live in shared memory; every process that holds (or inherits, or opens by name) one works
/// on the shared state itself, under the object's robust lock.
///
/// @code
///   shmbus::Manager m;                             // the default segment: forked children
///   auto d = m.dict<int>();                        //   inherit d and l
///   auto l = m.list<std::string>();
///
///   shmbus::Manager named(shmbus::Segment::open_or_create("app")); // unrelated programs:
///   auto orders = named.dict<Order>("orders");     //   the same name, the same Dict
/// @endcode
///
/// Unlike Python there is nothing to start or shut down, and values are typed: Dict<V> and
/// List<V> carry V through the codec (codec.hpp). dict.hpp and list.hpp describe the
/// containers, their capacity (ContainerOptions) and what happens when a process dies in a call.
#pragma once

#include "shmbus/dict.hpp"
#include "shmbus/export.hpp"
#include "shmbus/list.hpp"
#include "shmbus/segment.hpp"

#include <string_view>
#include <utility>

namespace shmbus {

/// Makes Dict and List containers in one segment, like Python's SyncManager.dict() and
/// .list(). A value type holding only the segment: copy it freely.
class SHMBUS_EXPORT Manager {
public:
    /// Makes its containers in Segment::default_segment().
    Manager() : m_segment(Segment::default_segment()) {}
    /// Makes its containers in `segment`.
    explicit Manager(Segment segment) : m_segment(std::move(segment)) {}

    /// The Dict `name`, created with `options` when missing; an empty name makes a new
    /// anonymous one (reachable through the returned handle and its copies only).
    template <class V, class Codec = CerealCodec>
    Dict<V, Codec> dict(std::string_view name = "", const DictOptions& options = {}) const {
        return Dict<V, Codec>(m_segment, name, options);
    }
    /// The List `name`, as dict().
    template <class V, class Codec = CerealCodec>
    List<V, Codec> list(std::string_view name = "", const ListOptions& options = {}) const {
        return List<V, Codec>(m_segment, name, options);
    }

    /// The segment its containers live in.
    const Segment& segment() const { return m_segment; }

private:
    Segment m_segment;
};

} // namespace shmbus

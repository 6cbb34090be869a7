// SPDX-License-Identifier: Apache-2.0
/// @file
/// Manager: Python's multiprocessing.Manager() (a SyncManager) without the server process. What
/// it makes lives in shared memory; every process that holds (or inherits, or opens by name) an
/// object works on the shared state itself.
///
/// @code
///   shmbus::Manager m;                             // the default segment: forked children
///   auto d = m.dict<int>();                        //   inherit what it makes
///   auto l = m.list<std::string>();
///   auto q = m.queue<int>();                       // Python: q = manager.Queue()
///   auto lock = m.lock();                          //         lock = manager.Lock()
///   auto ns = m.namespace_();                      //         ns = manager.Namespace()
///
///   shmbus::Manager named(shmbus::Segment::open_or_create("app")); // unrelated programs:
///   auto orders = named.dict<Order>("orders");     //   the same name, the same Dict
/// @endcode
///
/// Unlike Python there is nothing to start or shut down, and values are typed: Dict<V> and
/// List<V> carry V through the codec (codec.hpp). dict.hpp and list.hpp describe the
/// containers, their key types, nesting, capacity (ContainerOptions) and what happens when a
/// process dies in a call. The other factories make the same objects as the types' own
/// constructors do (anonymous, in the Manager's segment), taking the arguments Python's
/// SyncManager methods take: `manager.Semaphore(2)` is `m.semaphore(2)`, `manager.Value('i', 0)`
/// is `m.value<int>(0)`; Python's proxies become the objects themselves.
#pragma once

#include "shmbus/array.hpp"
#include "shmbus/barrier.hpp"
#include "shmbus/codec.hpp"
#include "shmbus/condition.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/event.hpp"
#include "shmbus/export.hpp"
#include "shmbus/joinable_queue.hpp"
#include "shmbus/list.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/namespace.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/semaphore.hpp"
#include "shmbus/value.hpp"

#include <string_view>
#include <utility>

namespace shmbus {

/// Makes shared objects in one segment, like Python's SyncManager: dict(), list(), Value, Array,
/// Queue, JoinableQueue, Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
/// and Namespace. A value type holding only the segment: copy it freely.
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

    /// As dict(), with keys of type K (DictOf<K, V>): Python's dict with int or tuple keys.
    template <class K, class V, class Codec = CerealCodec>
    DictOf<K, V, Codec> dict_of(std::string_view name = "", const DictOptions& options = {}) const {
        return DictOf<K, V, Codec>(m_segment, name, options);
    }

    /// Python's manager.Value(typecode, value): a new Value<T>; `args` are those of Value's
    /// constructor after the segment and name (the initial value, ...).
    template <class T, class... Args>
    Value<T> value(Args&&... args) const {
        return Value<T>(m_segment, "", std::forward<Args>(args)...);
    }
    /// Python's manager.Array(typecode, size): a new Array<T>; `args` are those of Array's
    /// constructor after the segment and name (the length, ...).
    template <class T, class... Args>
    Array<T> array(Args&&... args) const {
        return Array<T>(m_segment, "", std::forward<Args>(args)...);
    }
    /// Python's manager.Queue(maxsize): a new Queue<T> (QueueOptions::maxsize).
    template <class T, class Codec = CerealCodec>
    Queue<T, Codec> queue(const QueueOptions& options = {}) const {
        return Queue<T, Codec>(m_segment, "", options);
    }
    /// Python's manager.JoinableQueue(maxsize).
    template <class T, class Codec = CerealCodec>
    JoinableQueue<T, Codec> joinable_queue(const QueueOptions& options = {}) const {
        return JoinableQueue<T, Codec>(m_segment, "", options);
    }
    /// Python's manager.Lock().
    Lock lock() const { return Lock(m_segment, ""); }
    /// Python's manager.RLock().
    RLock rlock() const { return RLock(m_segment, ""); }
    /// Python's manager.Semaphore(value).
    Semaphore semaphore(unsigned value = 1) const { return Semaphore(m_segment, "", value); }
    /// Python's manager.BoundedSemaphore(value).
    BoundedSemaphore bounded_semaphore(unsigned value = 1) const {
        return BoundedSemaphore(m_segment, "", value);
    }
    /// Python's manager.Event().
    Event event() const { return Event(m_segment, ""); }
    /// Python's manager.Condition(): over a new RLock of its own.
    Condition condition() const { return Condition(m_segment, ""); }
    /// Python's manager.Condition(lock): over `lock`, which must live in this Manager's segment.
    template <ConditionLock L>
    Condition condition(const L& lock) const {
        return Condition(m_segment, "", lock);
    }
    /// Python's manager.Barrier(parties, ...): `args` are those of Barrier's constructor after
    /// the segment and name.
    template <class... Args>
    Barrier barrier(Args&&... args) const {
        return Barrier(m_segment, "", std::forward<Args>(args)...);
    }
    /// Python's manager.Namespace() (namespace is a C++ keyword, hence the underscore); see
    /// namespace.hpp.
    Namespace namespace_(const ContainerOptions& options = {}) const {
        return Namespace(m_segment, "", options);
    }

    /// The segment its objects live in.
    const Segment& segment() const { return m_segment; }

private:
    Segment m_segment;
};

} // namespace shmbus

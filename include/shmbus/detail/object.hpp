// SPDX-License-Identifier: Apache-2.0
// How a view (Lock, Value, Queue, ...) finds its state in a segment.
#pragma once

#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"
#include "shmbus/segment.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace shmbus::detail {

enum class OpenMode : std::uint8_t { create, open, open_or_create };

struct ObjectSpec {
    ObjectKind kind;
    /// Bytes of state. When opening, 0 accepts any size (a view that reads its length from
    /// the state, like Array::open, then checks it against ObjectRef::size()).
    std::size_t size;
    std::size_t align;
    /// Tells apart objects of one kind that are not interchangeable (Value<int> vs
    /// Value<double>, Array lengths). Opening with another tag is KindMismatch.
    std::uint64_t type_tag = 0;
};

/// A located object: the address of its state in this process and the segment that keeps the
/// mapping alive.
class SHMBUS_EXPORT ObjectRef {
public:
    ObjectRef(Segment segment, void* address, std::uint64_t offset, std::uint64_t size,
              bool created)
        : m_segment(std::move(segment)), m_address(address), m_offset(offset), m_size(size),
          m_created(created) {}

    template <class State>
    State& state() const {
        return *static_cast<State*>(m_address);
    }
    const Segment& segment() const { return m_segment; }
    std::uint64_t offset() const { return m_offset; }
    /// The size recorded in the directory (validated to lie inside the segment).
    std::uint64_t size() const { return m_size; }
    /// True when this call created (and initialised) the object.
    bool created() const { return m_created; }

private:
    Segment m_segment;
    void* m_address;
    std::uint64_t m_offset;
    std::uint64_t m_size;
    bool m_created;
};

/// Finds or creates the object `name` (empty: a new anonymous object). `init` constructs the
/// state in place exactly once, before any other process can see the object.
SHMBUS_EXPORT ObjectRef attach_object(const Segment& segment, std::string_view name,
                                      const ObjectSpec& spec, OpenMode mode,
                                      const std::function<void(void*)>& init);

/// Opens an existing object with open(), or makes it with create() when it is missing, and
/// tries again while another process races us (NotFound, then AlreadyExists).
template <class Open, class Create>
ObjectRef open_or_create_object(Open open, Create create) {
    for (;;) {
        try {
            return open();
        } catch (const NotFound&) {
        }
        try {
            return create();
        } catch (const AlreadyExists&) {
        }
    }
}

/// Makes the objects this thread creates in one segment, until commit(), a single step: the
/// segment's directory stays locked for the scope (attach_object on this thread and segment
/// does not lock it again), and a scope left without commit() frees every entry made in it and
/// puts the heap back, so no other process ever sees half of the set. For an object and its
/// companion (a Value and its RLock) when the second does not fit.
class SHMBUS_EXPORT CreationScope {
public:
    explicit CreationScope(const Segment& segment);
    ~CreationScope();
    CreationScope(const CreationScope&) = delete;
    CreationScope& operator=(const CreationScope&) = delete;
    void commit() noexcept;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

/// The object at `offset`, which must be a ready directory entry of kind `kind`.
SHMBUS_EXPORT ObjectRef object_at(const Segment& segment, std::uint64_t offset, ObjectKind kind);

} // namespace shmbus::detail

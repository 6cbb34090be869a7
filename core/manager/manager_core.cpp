// SPDX-License-Identifier: Apache-2.0
#include "shmbus/detail/manager_core.hpp"

#include "manager/manager_store.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "shmbus/dict.hpp"
#include "shmbus/errors.hpp"

namespace shmbus::detail {
namespace {

ObjectRef attach_container(const Segment& segment, std::string_view name,
                           const ContainerOptions& options, OpenMode mode, ObjectKind kind,
                           std::uint64_t type_tag) {
    if (mode == OpenMode::open)
        return attach_object(segment, name, ObjectSpec{kind, 0, kCacheLine, type_tag}, mode,
                             [](void*) {});
    if (mode == OpenMode::open_or_create && !name.empty()) {
        // Open whatever exists, whatever options it was made with; create only when missing.
        return open_or_create_object(
            [&] {
                return attach_container(segment, name, options, OpenMode::open, kind, type_tag);
            },
            [&] {
                return attach_container(segment, name, options, OpenMode::create, kind, type_tag);
            });
    }
    const Geometry geometry = Geometry::for_options(options, kind == ObjectKind::dict);
    return attach_object(segment, name, ObjectSpec{kind, geometry.total, kCacheLine, type_tag},
                         OpenMode::create, [&](void* at) { Store::init(at, geometry, kind); });
}

// Stops at the first match: the directory holds 4096 entries, and a nested container is opened
// every time its element is read.
ObjectRef container_at(const Segment& segment, std::uint64_t offset, ObjectKind kind,
                       std::uint64_t type_tag) {
    SegmentHeader& header = mapping_of(segment).header();
    const DirEntry* entries = directory(header);
    for (std::uint32_t i = 0; i < kMaxObjects; ++i) {
        const DirEntry& entry = entries[i];
        // SYNC acquire: pairs with the release that marks an entry ready in attach_object.
        if (entry.state.load(std::memory_order_acquire) != EntryState::ready ||
            entry.offset != offset)
            continue;
        ObjectRef found = object_at(segment, offset, entry.kind); // validates the entry
        if (entry.kind != kind || entry.type_tag != type_tag)
            throw KindMismatch("object '" + std::string(entry.name) + "' of segment '" +
                               segment.name() + "' is not the " + std::string(to_string(kind)) +
                               " type a stored reference expects");
        return found;
    }
    throw NotFound("no object at offset " + std::to_string(offset) + " of segment '" +
                   segment.name() + "' (a stored reference to a Dict or List)");
}

} // namespace

ContainerCore::ContainerCore(const Segment& segment, std::string_view name,
                             const ContainerOptions& options, OpenMode mode, ObjectKind kind,
                             std::uint64_t type_tag)
    : m_object(attach_container(segment, name, options, mode, kind, type_tag)),
      m_store(std::make_shared<Store>(m_object, kind)) {}

ContainerCore::ContainerCore(const Segment& segment, std::uint64_t offset, ObjectKind kind,
                             std::uint64_t type_tag)
    : m_object(container_at(segment, offset, kind, type_tag)),
      m_store(std::make_shared<Store>(m_object, kind)) {}

Transaction::Transaction(const ContainerCore& core) : m_store(*core.m_store) {
    m_recovered = m_store.lock().owner_died;
    if (!m_recovered)
        return;
    try {
        m_store.recover();
    } catch (...) {
        m_store.unlock();
        throw;
    }
}

Transaction::~Transaction() {
    m_store.unlock();
}

std::size_t Transaction::size() const {
    return m_store.live();
}

std::size_t Transaction::slot_count() const {
    return m_store.slot_count();
}

std::optional<Item> Transaction::slot(std::size_t slot) const {
    return m_store.slot(slot);
}

void Transaction::clear() {
    m_store.clear();
}

std::optional<std::size_t> Transaction::find(std::string_view key) const {
    return m_store.find(key);
}

void Transaction::put(std::string_view key, std::span<const std::byte> value) {
    m_store.put(key, value);
}

void Transaction::erase(std::size_t slot) {
    m_store.erase(slot);
}

void Transaction::append(std::span<const std::byte> value) {
    m_store.insert(m_store.slot_count(), value);
}

void Transaction::insert(std::size_t index, std::span<const std::byte> value) {
    m_store.insert(index, value);
}

void Transaction::replace(std::size_t index, std::span<const std::byte> value) {
    m_store.replace(index, value);
}

void Transaction::extend(std::span<const std::span<const std::byte>> values) {
    m_store.extend(values);
}

void Transaction::permute(std::span<const std::size_t> order) {
    m_store.permute(order);
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
#include "shmbus/detail/object.hpp"

#include "detail/layout.hpp"
#include "detail/mapping.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <cstring>

namespace shmbus::detail {
namespace {

// How long a directory update may wait for another process's update; it holds the lock
// only for a few microseconds, so hitting this means a peer is stuck or hostile.
constexpr auto kDirectoryLockTimeout = std::chrono::seconds(5);

void validate_object_name(std::string_view name) {
    if (name.size() > kObjectNameMax)
        throw InvalidName("object name '" + std::string(name) + "' is longer than " +
                          std::to_string(kObjectNameMax) + " characters");
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            throw InvalidName("object name '" + std::string(name) +
                              "' may only hold letters, digits, '.', '_' and '-'");
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) {
    return (value + to - 1) / to * to;
}

// A creator that died between claiming an entry and marking it ready leaves it `creating`.
// Its state may be half-built, so the entry is dropped (its heap bytes stay unused).
void drop_unfinished_entries(SegmentHeader& header) {
    DirEntry* entries = directory(header);
    for (std::uint32_t i = 0; i < kMaxObjects; ++i)
        if (entries[i].state.load(std::memory_order_relaxed) == EntryState::creating)
            // relaxed is enough: we hold the directory lock, the only writer of `creating`.
            entries[i].state.store(EntryState::free, std::memory_order_relaxed);
}

const DirEntry& checked(const DirEntry& entry, const SegmentHeader& header,
                        const std::string& segment) {
    if (auto problem = validate_entry(entry, header))
        throw CorruptSegment("segment '" + segment + "': " + *problem);
    return entry;
}

ObjectRef ref_to(const Segment& segment, const DirEntry& entry, bool created) {
    return ObjectRef(segment, segment.mapping().base() + entry.offset, entry.offset, entry.size,
                     created);
}

void check_same_kind(const DirEntry& entry, const ObjectSpec& spec) {
    const std::string name(entry.name);
    if (entry.kind != spec.kind)
        throw KindMismatch("object '" + name + "' is a " + std::string(to_string(entry.kind)) +
                           ", not a " + std::string(to_string(spec.kind)));
    if (entry.type_tag != spec.type_tag || (spec.size != 0 && entry.size != spec.size))
        throw KindMismatch("object '" + name + "' is a " + std::string(to_string(entry.kind)) +
                           " of another element type, size or capacity");
}

DirEntry* find_ready(SegmentHeader& header, std::string_view name, const std::string& segment) {
    DirEntry* entries = directory(header);
    for (std::uint32_t i = 0; i < kMaxObjects; ++i) {
        // SYNC acquire: pairs with the release that marks an entry ready in create_entry.
        if (entries[i].state.load(std::memory_order_acquire) != EntryState::ready)
            continue;
        if (checked(entries[i], header, segment).name == name)
            return &entries[i];
    }
    return nullptr;
}

DirEntry& create_entry(SegmentHeader& header, std::string_view name, const ObjectSpec& spec,
                       const std::string& segment) {
    DirEntry* entries = directory(header);
    DirEntry* entry = std::find_if(entries, entries + kMaxObjects, [](const DirEntry& e) {
        // relaxed is enough: entries change state only under the directory mutex we hold.
        return e.state.load(std::memory_order_relaxed) == EntryState::free;
    });
    if (entry == entries + kMaxObjects)
        throw OutOfSpace("segment '" + segment + "': its directory holds " +
                         std::to_string(kMaxObjects) + " objects already");
    const std::uint64_t align = std::max<std::uint64_t>(spec.align, kCacheLine);
    const std::uint64_t offset = round_up(kHeapOffset + header.heap_used, align);
    if (offset > header.total_size || spec.size > header.total_size - offset)
        throw OutOfSpace(
            "segment '" + segment + "': no room for a " + std::string(to_string(spec.kind)) +
            " of " + std::to_string(spec.size) + " bytes (" +
            std::to_string(header.total_size - kHeapOffset - header.heap_used) + " bytes free)");
    std::memset(entry->name, 0, sizeof entry->name);
    if (name.empty()) {
        const std::string anonymous =
            std::string(to_string(spec.kind)) + "#" + std::to_string(++header.anonymous_count);
        std::memcpy(entry->name, anonymous.data(), std::min(anonymous.size(), kObjectNameMax));
    } else {
        std::memcpy(entry->name, name.data(), name.size());
    }
    entry->kind = spec.kind;
    entry->offset = offset;
    entry->size = spec.size;
    entry->type_tag = spec.type_tag;
    entry->creator_pid = getpid();
    // relaxed is enough: `creating` entries are read only under the directory lock.
    entry->state.store(EntryState::creating, std::memory_order_relaxed);
    header.heap_used = offset + spec.size - kHeapOffset;
    return *entry;
}

} // namespace

ObjectRef attach_object(const Segment& segment, std::string_view name, const ObjectSpec& spec,
                        OpenMode mode, const std::function<void(void*)>& init) {
    validate_object_name(name);
    SegmentHeader& header = segment.mapping().header();
    const std::string& segment_name = segment.name();
    RobustGuard guard(header.directory_lock, Deadline::after(kDirectoryLockTimeout));
    if (guard.owner_died())
        drop_unfinished_entries(header);
    if (!name.empty()) {
        if (DirEntry* found = find_ready(header, name, segment_name)) {
            if (mode == OpenMode::create)
                throw AlreadyExists("object '" + std::string(name) + "' already exists in '" +
                                    segment_name + "'");
            check_same_kind(*found, spec);
            return ref_to(segment, *found, false);
        }
        if (mode == OpenMode::open)
            throw NotFound("no object '" + std::string(name) + "' in segment '" + segment_name +
                           "'");
    }
    if (spec.size == 0)
        throw NotFound("no object '" + std::string(name) + "' in segment '" + segment_name +
                       "' (and no size given to create one)");
    DirEntry& entry = create_entry(header, name, spec, segment_name);
    try {
        segment.mapping().reserve(entry.offset, entry.size);
        init(segment.mapping().base() + entry.offset);
    } catch (...) {
        // relaxed is enough: still under the directory mutex; no reader saw the entry ready.
        entry.state.store(EntryState::free, std::memory_order_relaxed);
        throw;
    }
    // SYNC release: publishes the initialised state; pairs with the acquire in find_ready.
    entry.state.store(EntryState::ready, std::memory_order_release);
    return ref_to(segment, entry, true);
}

ObjectRef object_at(const Segment& segment, std::uint64_t offset, ObjectKind kind) {
    SegmentHeader& header = segment.mapping().header();
    DirEntry* entries = directory(header);
    for (std::uint32_t i = 0; i < kMaxObjects; ++i) {
        // SYNC acquire: pairs with the release that marks an entry ready in attach_object.
        if (entries[i].state.load(std::memory_order_acquire) == EntryState::ready &&
            entries[i].offset == offset && entries[i].kind == kind)
            return ref_to(segment, checked(entries[i], header, segment.name()), false);
    }
    throw CorruptSegment("segment '" + segment.name() + "': no " + std::string(to_string(kind)) +
                         " at offset " + std::to_string(offset));
}

} // namespace shmbus::detail

namespace shmbus {

std::vector<ObjectInfo> Segment::objects() const {
    detail::SegmentHeader& header = m_mapping->header();
    const detail::DirEntry* entries = detail::directory(header);
    std::vector<ObjectInfo> result;
    for (std::uint32_t i = 0; i < detail::kMaxObjects; ++i) {
        const detail::DirEntry& entry = entries[i];
        // SYNC acquire: pairs with the release that marks an entry ready in attach_object.
        if (entry.state.load(std::memory_order_acquire) != detail::EntryState::ready)
            continue;
        if (auto problem = detail::validate_entry(entry, header))
            throw CorruptSegment("segment '" + name() + "': " + *problem);
        result.push_back({entry.name, entry.kind, entry.offset, entry.size, entry.creator_pid});
    }
    return result;
}

} // namespace shmbus

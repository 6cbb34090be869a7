// SPDX-License-Identifier: Apache-2.0
#include "shmbus/detail/object.hpp"

#include "segment/directory.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <vector>

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
        if (!is_name_char(c))
            throw InvalidName("object name '" + std::string(name) +
                              "' may only hold letters, digits, '.', '_' and '-'");
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
    return ObjectRef(segment, detail::mapping_of(segment).base() + entry.offset, entry.offset,
                     entry.size, created);
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

// Where a new object of `spec` would start: past the heap's fill level, aligned. The fill level
// is read from shared memory, so it is checked against our own mapping before use.
std::uint64_t next_offset(const SegmentHeader& header, std::uint64_t mapped, const ObjectSpec& spec,
                          const std::string& segment) {
    if (header.heap_used > mapped - kHeapOffset)
        throw CorruptSegment("segment '" + segment + "': heap fill level " +
                             std::to_string(header.heap_used) + " lies beyond its " +
                             std::to_string(mapped) + " mapped bytes");
    if (spec.align == 0 || !std::has_single_bit(spec.align))
        throw UsageError("object alignment " + std::to_string(spec.align) +
                         " is not a power of two");
    const std::uint64_t align = std::max<std::uint64_t>(spec.align, kCacheLine);
    return round_up_size(kHeapOffset + header.heap_used, align, "an object's start");
}

// The bound is our own mapping, not the header's recorded size: a forged total_size must not
// let an object's initialisation write past the end of what this process mapped.
DirEntry& create_entry(SegmentHeader& header, std::uint64_t mapped, std::string_view name,
                       const ObjectSpec& spec, const std::string& segment) {
    DirEntry* entries = directory(header);
    DirEntry* entry = std::find_if(entries, entries + kMaxObjects, [](const DirEntry& e) {
        // relaxed is enough: entries change state only under the directory mutex we hold.
        return e.state.load(std::memory_order_relaxed) == EntryState::free;
    });
    if (entry == entries + kMaxObjects)
        throw OutOfSpace("segment '" + segment + "': its directory holds " +
                         std::to_string(kMaxObjects) + " objects already");
    const std::uint64_t offset = next_offset(header, mapped, spec, segment);
    const std::optional<std::uint64_t> end = checked_add(offset, spec.size);
    if (!end || *end > mapped)
        throw OutOfSpace("segment '" + segment + "': no room for a " +
                         std::string(to_string(spec.kind)) + " of " + std::to_string(spec.size) +
                         " bytes (" + std::to_string(mapped - kHeapOffset - header.heap_used) +
                         " bytes free)");
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
    header.heap_used = *end - kHeapOffset;
    return *entry;
}

// Undoes create_entry after the object's initialisation failed, so the directory and the heap
// are as they were: the entry is free again, the anonymous counter and the heap fill level are
// back, and the bytes the failed initialisation wrote are zero again (new objects rely on a
// zero-filled heap). We still hold the directory lock, so the entry is the last allocation.
void undo_entry(SegmentHeader& header, DirEntry& entry, char* base, std::uint64_t heap_used,
                std::uint64_t anonymous_count) {
    std::memset(base + entry.offset, 0, entry.size);
    header.heap_used = heap_used;
    header.anonymous_count = anonymous_count;
    // relaxed is enough: still under the directory mutex; no reader saw the entry ready.
    entry.state.store(EntryState::free, std::memory_order_relaxed);
}

// The scope this thread has open, if any; attach_object joins it for the scope's segment.
struct OpenScope {
    SegmentHeader* header;
    char* base;
    std::uint64_t heap_used;
    std::uint64_t anonymous_count;
    std::vector<DirEntry*> created;
};
thread_local OpenScope* t_open_scope = nullptr;

OpenScope* scope_for(const SegmentHeader& header) {
    return t_open_scope != nullptr && t_open_scope->header == &header ? t_open_scope : nullptr;
}

} // namespace

struct CreationScope::State {
    State(const Segment& segment, SegmentHeader& header)
        : guard(header.directory_lock, Deadline::after(kDirectoryLockTimeout)),
          scope{&header,
                detail::mapping_of(segment).base(),
                header.heap_used,
                header.anonymous_count,
                {}} {
        if (guard.owner_died())
            drop_unfinished_entries(header);
    }
    RobustGuard guard;
    OpenScope scope;
    bool committed = false;
};

CreationScope::CreationScope(const Segment& segment) {
    SegmentHeader& header = detail::mapping_of(segment).header();
    if (t_open_scope != nullptr)
        throw UsageError("creation scopes do not nest");
    m_state = std::make_unique<State>(segment, header);
    t_open_scope = &m_state->scope;
}

// Still under the directory lock and nothing was allocated after the scope began, so the
// entries made in it are the last allocations and the heap goes back exactly.
CreationScope::~CreationScope() {
    t_open_scope = nullptr;
    if (m_state->committed)
        return;
    OpenScope& scope = m_state->scope;
    for (auto it = scope.created.rbegin(); it != scope.created.rend(); ++it) {
        DirEntry& entry = **it;
        // SYNC release: pairs with the acquire in Segment::objects; readers stop listing it
        // before its bytes are cleared.
        entry.state.store(EntryState::free, std::memory_order_release);
        std::memset(scope.base + entry.offset, 0, entry.size);
    }
    scope.header->heap_used = scope.heap_used;
    scope.header->anonymous_count = scope.anonymous_count;
}

void CreationScope::commit() noexcept {
    m_state->committed = true;
}

ObjectRef attach_object(const Segment& segment, std::string_view name, const ObjectSpec& spec,
                        OpenMode mode, const std::function<void(void*)>& init) {
    validate_object_name(name);
    SegmentHeader& header = detail::mapping_of(segment).header();
    const std::string& segment_name = segment.name();
    OpenScope* scope = scope_for(header);
    std::optional<RobustGuard> guard;
    if (scope == nullptr) {
        guard.emplace(header.directory_lock, Deadline::after(kDirectoryLockTimeout));
        if (guard->owner_died())
            drop_unfinished_entries(header);
    }
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
    const std::uint64_t heap_used = header.heap_used;
    const std::uint64_t anonymous_count = header.anonymous_count;
    DirEntry& entry =
        create_entry(header, detail::mapping_of(segment).size(), name, spec, segment_name);
    try {
        detail::mapping_of(segment).reserve(entry.offset, entry.size);
        init(detail::mapping_of(segment).base() + entry.offset);
    } catch (...) {
        undo_entry(header, entry, detail::mapping_of(segment).base(), heap_used, anonymous_count);
        throw;
    }
    // SYNC release: publishes the initialised state; pairs with the acquire in find_ready.
    entry.state.store(EntryState::ready, std::memory_order_release);
    if (scope != nullptr)
        scope->created.push_back(&entry);
    return ref_to(segment, entry, true);
}

std::vector<const DirEntry*> ready_entries(const Segment& segment) {
    SegmentHeader& header = mapping_of(segment).header();
    const DirEntry* entries = directory(header);
    std::vector<const DirEntry*> result;
    for (std::uint32_t i = 0; i < kMaxObjects; ++i) {
        // SYNC acquire: pairs with the release that marks an entry ready in attach_object.
        if (entries[i].state.load(std::memory_order_acquire) == EntryState::ready)
            result.push_back(&checked(entries[i], header, segment.name()));
    }
    return result;
}

ObjectRef object_at(const Segment& segment, std::uint64_t offset, ObjectKind kind) {
    SegmentHeader& header = detail::mapping_of(segment).header();
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
    std::vector<ObjectInfo> result;
    for (const detail::DirEntry* entry : detail::ready_entries(*this))
        result.push_back(
            {entry->name, entry->kind, entry->offset, entry->size, entry->creator_pid});
    return result;
}

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// Gathering for `inspect` and `watch`: reads a segment through observe_file (segment_file.hpp),
// which maps it only after probing it, and decodes its header and object states only through
// core/segment/layout.hpp and the state headers, after the validate() the library runs
// (core/segment/state_ref.hpp).
#include "cli.hpp"
#include "decode_messaging.hpp"
#include "manager/manager_store.hpp"
#include "messaging/pipe_state.hpp"
#include "messaging/queue_state.hpp"
#include "messaging/topic_state.hpp"
#include "os/liveness.hpp"
#include "process/pool_state.hpp"
#include "segment/directory.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "segment/state_ref.hpp"
#include "segment_file.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/type_tag.hpp"
#include "shmbus/errors.hpp"
#include "sync/sync_state.hpp"

#include <atomic>
#include <chrono>

namespace shmbus::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A creator still initialising a segment finishes within microseconds; a tool should not hang
// on one that never will.
constexpr std::chrono::milliseconds kReadyTimeout{200};

template <class T>
T peek(const std::atomic<T>& field) {
    // relaxed is enough: a display snapshot, each field read once.
    return field.load(std::memory_order_relaxed);
}

// The exception `inspect` raises for a file that is not a segment it can show.
[[noreturn]] void throw_unusable(const ObservedFile& file) {
    const std::string where = "segment '" + file.summary.name + "': ";
    switch (file.kind) {
    case FileKind::gone:
        throw NotFound(where + "no such segment");
    case FileKind::foreign:
        throw CorruptSegment(where + "not a shmbus segment (bad magic or not a regular file)");
    case FileKind::unreadable:
        throw PermissionDenied(where + file.summary.problem + " (" + ownership(file.summary) + ")");
    default:
        throw CorruptSegment(where + file.summary.problem);
    }
}

// ---- object states --------------------------------------------------------------------------

struct Holder {
    bool held = false;
    std::int32_t pid = 0;
    bool alive = false;
};

std::string holder_summary(const Holder& holder, const std::string& extra = "") {
    if (!holder.held)
        return "free";
    return "held by " + std::to_string(holder.pid) + extra + (holder.alive ? "" : " (owner dead)");
}

void decode_lock(ObjectReport& report, const detail::LockState& state) {
    const std::uint32_t word = peek(state.word);
    const std::uint64_t owner = peek(state.owner);
    Holder holder{word != 0, static_cast<std::int32_t>(word), false};
    holder.alive = holder.held && detail::lock_holder_alive(word, owner);
    report.state = {{"held", holder.held},
                    {"owner_pid", holder.held ? json(holder.pid) : json(nullptr)},
                    {"owner_dead", holder.held && !holder.alive},
                    {"waiters", peek(state.waiters)},
                    {"recoveries", peek(state.recoveries)}};
    report.summary = holder_summary(holder);
}

void decode_rlock(ObjectReport& report, const detail::RLockState& state) {
    const detail::OwnerId owner = peek(state.owner);
    const std::int32_t pid = peek(state.owner_pid);
    const std::uint32_t count = peek(state.count);
    Holder holder{owner != detail::kNoOwner, pid, false};
    holder.alive = holder.held && detail::owner_alive(owner);
    report.state = {{"held", holder.held},
                    {"owner_pid", holder.held ? json(pid) : json(nullptr)},
                    {"owner_dead", holder.held && !holder.alive},
                    {"count", count},
                    {"recoveries", peek(state.recoveries)}};
    report.summary = holder_summary(holder, " (count " + std::to_string(count) + ")");
}

void decode_semaphore(ObjectReport& report, const detail::SemaphoreState& state) {
    const std::uint32_t value = peek(state.count);
    const bool bounded = report.kind == ObjectKind::bounded_semaphore;
    report.state = {{"value", value},
                    {"bound", bounded ? json(state.bound) : json(nullptr)},
                    {"initial", state.initial},
                    {"waiters", peek(state.waiters)}};
    report.summary = "value " + std::to_string(value) +
                     (bounded ? " (bound " + std::to_string(state.bound) + ")" : "");
}

void decode_event(ObjectReport& report, const detail::EventState& state) {
    const bool set = (peek(state.word) & detail::kEventSetBit) != 0;
    report.state = {{"set", set}, {"waiters", peek(state.waiters)}};
    report.summary = set ? "set" : "clear";
}

void decode_condition(ObjectReport& report, const detail::ConditionState& state) {
    const std::uint32_t waiters = peek(state.waiters);
    report.state = {
        {"waiters", waiters},
        {"lock_kind", std::string(to_string(state.lock_kind))},
        {"lock_offset", state.lock_offset == 0 ? json(nullptr) : json(state.lock_offset)}};
    report.summary = std::to_string(waiters) + " waiting";
}

void decode_barrier(ObjectReport& report, const detail::BarrierState& state) {
    const std::uint32_t waiting = peek(state.count);
    const bool broken = peek(state.broken) != 0;
    report.state = {{"parties", state.parties},
                    {"waiting", waiting},
                    {"broken", broken},
                    {"generation", peek(state.generation)}};
    report.summary = std::to_string(waiting) + "/" + std::to_string(state.parties) + " waiting" +
                     (broken ? " (broken)" : "");
}

// detail::type_tag<T>() (shmbus/detail/type_tag.hpp): the size in the low 32 bits, the
// category (1 floating point, 2 signed integral, 3 unsigned integral or bool, 4 anything else,
// 5 a character type) and the encoding (2: through the codec, as bool is) above.
struct TypeTag {
    std::uint64_t size;
    std::uint64_t category;
    std::uint64_t encoding;
};
TypeTag decode_tag(std::uint64_t tag) {
    return {tag & 0xffff'ffffU, (tag >> detail::kTagCategoryShift) & 0xffU,
            (tag >> detail::kTagEncodingShift) & 0xffU};
}

std::string type_name(TypeTag tag) {
    if (tag.category == 3 && tag.size == 1 && tag.encoding == 2)
        return "bool";
    switch (tag.category) {
    case 5:
        return tag.size == 1 ? "char" : "char" + std::to_string(tag.size * 8);
    case 1:
        return tag.size == 4   ? "float"
               : tag.size == 8 ? "double"
                               : "float" + std::to_string(tag.size * 8);
    case 2:
        return "int" + std::to_string(tag.size * 8);
    case 3:
        return "uint" + std::to_string(tag.size * 8);
    default:
        return "bytes" + std::to_string(tag.size);
    }
}

template <class T>
json load_number(void* address) {
    // relaxed is enough: a display snapshot. Value<T> of these types is lock-free (atomic_ref).
    return std::atomic_ref<T>(*static_cast<T*>(address)).load(std::memory_order_relaxed);
}

// The Value's number, or null for a type this tool does not decode.
json load_value(void* address, TypeTag tag) {
    switch (tag.category * 100 + tag.size) {
    case 104:
        return load_number<float>(address);
    case 108:
        return load_number<double>(address);
    case 201:
        return load_number<std::int8_t>(address);
    case 202:
        return load_number<std::int16_t>(address);
    case 204:
        return load_number<std::int32_t>(address);
    case 208:
        return load_number<std::int64_t>(address);
    case 301:
        return load_number<std::uint8_t>(address);
    case 302:
        return load_number<std::uint16_t>(address);
    case 304:
        return load_number<std::uint32_t>(address);
    case 308:
        return load_number<std::uint64_t>(address);
    default:
        return nullptr;
    }
}

void decode_value(ObjectReport& report, void* address, std::uint64_t type_tag) {
    const TypeTag tag = decode_tag(type_tag);
    // The directory's size bounds the read: never past the object, whatever the tag says.
    const json value = tag.size <= report.size ? load_value(address, tag) : json(nullptr);
    report.state = {{"type", type_name(tag)}, {"value", value}};
    report.summary = type_name(tag) + " " + (value.is_null() ? "(not decoded)" : value.dump());
}

// Array<T>'s state starts with {u64 length, u64 element_size}.
void decode_array(ObjectReport& report, const std::uint64_t* header, std::uint64_t type_tag) {
    const TypeTag tag = decode_tag(type_tag);
    report.state = {
        {"length", header[0]}, {"element_size", header[1]}, {"element_type", type_name(tag)}};
    report.summary = std::to_string(header[0]) + " x " + type_name(tag);
}

template <class T>
T peek_plain(const T& field) {
    // relaxed is enough: a display snapshot of a field its writers change under the mutex.
    return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

// A Dict or List: entries and heap use of its committed root (core/manager/manager_store.hpp).
void decode_container(ObjectReport& report, const detail::ContainerState& state) {
    const detail::Root& root = state.roots[peek(state.root_index) & 1U];
    const std::uint64_t entries = peek_plain(state.live);
    const std::uint64_t used = peek_plain(root.used);
    report.state = {{"entries", entries},
                    {"max_entries", state.max_entries},
                    {"heap_used", used},
                    {"heap_bytes", state.heap_bytes},
                    {"garbage", peek_plain(state.garbage)}};
    report.summary = std::to_string(entries) + " entries (max " +
                     std::to_string(state.max_entries) + "), heap " + std::to_string(used) + "/" +
                     std::to_string(state.heap_bytes) + " bytes";
}

// Shows the state of `ref` as a State with `show` once validate() (segment/state_ref.hpp), the
// check the library runs, accepts it; reports it corrupt, with the reason, otherwise.
template <class State, class Show>
void decode_validated(ObjectReport& report, const detail::ObjectRef& ref, Show show) {
    if (auto problem = detail::state_problem<State>(&ref.state<char>(), report.size)) {
        report.decoded = false;
        report.problem = *problem;
        report.summary = "corrupt: " + *problem;
        return;
    }
    show(report, ref.state<State>());
}

void decode(ObjectReport& report, const Segment& segment, std::uint64_t type_tag) {
    const detail::ObjectRef ref = detail::object_at(segment, report.offset, report.kind);
    report.decoded = true;
    switch (report.kind) {
    case ObjectKind::lock:
        return decode_validated<detail::LockState>(report, ref, decode_lock);
    case ObjectKind::rlock:
        // No stamp to check (core/sync/sync_state.hpp): the size is all there is.
        if (report.size >= sizeof(detail::RLockState))
            return decode_rlock(report, ref.state<detail::RLockState>());
        break;
    case ObjectKind::semaphore:
    case ObjectKind::bounded_semaphore:
        return decode_validated<detail::SemaphoreState>(report, ref, decode_semaphore);
    case ObjectKind::event:
        return decode_validated<detail::EventState>(report, ref, decode_event);
    case ObjectKind::condition:
        return decode_validated<detail::ConditionState>(report, ref, decode_condition);
    case ObjectKind::barrier:
        return decode_validated<detail::BarrierState>(report, ref, decode_barrier);
    case ObjectKind::value:
        return decode_value(report, &ref.state<char>(), type_tag);
    case ObjectKind::array:
        if (report.size >= 2 * sizeof(std::uint64_t))
            return decode_array(report, &ref.state<std::uint64_t>(), type_tag);
        break;
    case ObjectKind::queue:
    case ObjectKind::joinable_queue:
        return decode_validated<detail::QueueState>(report, ref, decode_queue);
    case ObjectKind::dict:
    case ObjectKind::list:
        return decode_validated<detail::ContainerState>(report, ref, decode_container);
    case ObjectKind::pipe:
        return decode_validated<detail::PipeState>(report, ref, decode_pipe);
    case ObjectKind::pool:
        return decode_validated<detail::PoolState>(report, ref, decode_pool);
    case ObjectKind::topic:
        return decode_validated<detail::TopicState>(report, ref, decode_topic);
    default:
        report.decoded = false;
        report.summary = std::to_string(report.size) + " bytes (not decoded by this version)";
        return;
    }
    report.decoded = false;
    report.summary = "state does not match its kind (" + std::to_string(report.size) +
                     " bytes, or another layout version)";
}

} // namespace

std::string_view to_string(SegmentStatus status) {
    switch (status) {
    case SegmentStatus::ok:
        return "ok";
    case SegmentStatus::stale:
        return "stale";
    case SegmentStatus::unknown:
        break;
    case SegmentStatus::corrupt:
        return "corrupt";
    case SegmentStatus::unreadable:
        return "unreadable";
    }
    return "unknown";
}

std::vector<ObjectReport> object_reports(const Segment& segment) {
    std::vector<ObjectReport> result;
    for (const detail::DirEntry* entry : detail::ready_entries(segment)) {
        ObjectReport report;
        report.name = entry->name;
        report.kind = entry->kind;
        report.offset = entry->offset;
        report.size = entry->size;
        report.creator_pid = entry->creator_pid;
        decode(report, segment, entry->type_tag);
        result.push_back(std::move(report));
    }
    return result;
}

SegmentReport inspect_segment(std::string_view name, const fs::path& directory) {
    Segment::validate_name(name);
    ReadyBudget budget(kReadyTimeout, kReadyTimeout);
    ObservedFile file = observe_file(name, directory, budget);
    if (file.kind != FileKind::segment)
        throw_unusable(file);
    SegmentReport report;
    report.segment = std::move(file.summary);
    report.objects = object_reports(*file.segment);
    return report;
}

} // namespace shmbus::cli

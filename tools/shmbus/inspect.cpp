// Gathering: reads segments through Segment::observe and decodes their headers and object
// states only through core/detail/layout.hpp and core/detail/sync_state.hpp.
#include "cli.hpp"
#include "decode_messaging.hpp"
#include "detail/layout.hpp"
#include "detail/liveness.hpp"
#include "detail/manager_store.hpp"
#include "detail/mapping.hpp"
#include "detail/sync_state.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <pwd.h>
#include <sys/stat.h>
#include <type_traits>

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

std::string user_name(std::uint32_t uid) {
    if (const passwd* entry = ::getpwuid(uid))
        return entry->pw_name;
    return std::to_string(uid);
}

// Size, mode and owner as the operating system reports them; false when the file is gone.
bool fill_file_facts(SegmentSummary& summary) {
    struct stat info {};
    if (::stat(summary.path.c_str(), &info) != 0)
        return false;
    summary.size = static_cast<std::uint64_t>(info.st_size);
    summary.mode = info.st_mode & 07777;
    summary.uid = info.st_uid;
    summary.owner = user_name(info.st_uid);
    return true;
}

void fill_segment_facts(SegmentSummary& summary, const Segment& segment) {
    const detail::SegmentHeader& header = segment.mapping().header();
    summary.layout_version = header.layout_version;
    summary.creator_pid = header.creator_pid;
    summary.creator_alive = detail::process_alive(header.creator_pid, header.creator_start_time);
    summary.heap_used = header.total_size - detail::kHeapOffset - segment.bytes_free();
    summary.bytes_free = segment.bytes_free();
    summary.object_count = segment.objects().size();
    bool any_alive = false;
    for (const AttachedProcess& process : segment.processes()) {
        summary.processes.push_back({process.pid, process.start_time, process.alive});
        any_alive = any_alive || process.alive;
    }
    summary.status = any_alive ? SegmentStatus::ok : SegmentStatus::stale;
}

// The library's messages start with "segment 'NAME': "; a listing already shows the name.
std::string without_name(std::string message, const std::string& name) {
    const std::string prefix = "segment '" + name + "': ";
    return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

SegmentSummary summarise(const std::string& name, const fs::path& directory) {
    SegmentSummary summary;
    summary.name = name;
    summary.path = (directory / name).string();
    if (!fill_file_facts(summary))
        throw NotFound("segment '" + name + "': no such segment");
    try {
        fill_segment_facts(summary, Segment::observe(name, kReadyTimeout));
    } catch (const CorruptSegment& e) {
        summary.status = SegmentStatus::corrupt;
        summary.problem = without_name(e.what(), name);
    } catch (const PermissionDenied& e) {
        summary.status = SegmentStatus::unreadable;
        summary.problem = without_name(e.what(), name);
    }
    return summary;
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
    // The start time guards against pid reuse only when the record names the pid in `word`.
    const std::uint64_t start = owner != 0 && detail::owner_pid_of(owner) == holder.pid
                                    ? detail::owner_start_time_of(owner)
                                    : 0;
    holder.alive = holder.held && detail::process_alive(holder.pid, start);
    report.state = {{"held", holder.held},
                    {"owner_pid", holder.held ? json(holder.pid) : json(nullptr)},
                    {"owner_dead", holder.held && !holder.alive},
                    {"waiters", peek(state.waiters)},
                    {"recoveries", peek(state.recoveries)}};
    report.summary = holder_summary(holder);
}

void decode_rlock(ObjectReport& report, const detail::RLockState& state) {
    const std::int32_t pid = peek(state.owner_pid);
    const std::uint32_t count = peek(state.count);
    Holder holder{pid != 0, pid, false};
    holder.alive = holder.held && detail::process_alive(pid, peek(state.owner_start_time));
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

// detail::type_tag_of<T>(): sizeof(T) | alignof(T) << 32 | category << 48, where category is
// 1 floating point, 2 signed integral, 3 unsigned integral (bool included), 4 anything else.
struct TypeTag {
    std::uint64_t size;
    std::uint64_t category;
};
TypeTag decode_tag(std::uint64_t tag) {
    return {tag & 0xffff'ffffU, tag >> 48};
}

std::string type_name(TypeTag tag) {
    switch (tag.category) {
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

// A Dict or List: entries and heap use of its committed root (core/detail/manager_store.hpp).
bool decode_container(ObjectReport& report, const detail::ContainerState& state) {
    if (state.magic != detail::kContainerMagic || state.version != detail::kContainerVersion)
        return false;
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
    return true;
}

template <class State>
bool fits(const ObjectReport& report) {
    return report.size >= sizeof(State);
}

void decode(ObjectReport& report, const Segment& segment, std::uint64_t type_tag) {
    const detail::ObjectRef ref = detail::object_at(segment, report.offset, report.kind);
    report.decoded = true;
    switch (report.kind) {
    case ObjectKind::lock:
        if (fits<detail::LockState>(report))
            return decode_lock(report, ref.state<detail::LockState>());
        break;
    case ObjectKind::rlock:
        if (fits<detail::RLockState>(report))
            return decode_rlock(report, ref.state<detail::RLockState>());
        break;
    case ObjectKind::semaphore:
    case ObjectKind::bounded_semaphore:
        if (fits<detail::SemaphoreState>(report))
            return decode_semaphore(report, ref.state<detail::SemaphoreState>());
        break;
    case ObjectKind::event:
        if (fits<detail::EventState>(report))
            return decode_event(report, ref.state<detail::EventState>());
        break;
    case ObjectKind::condition:
        if (fits<detail::ConditionState>(report))
            return decode_condition(report, ref.state<detail::ConditionState>());
        break;
    case ObjectKind::barrier:
        if (fits<detail::BarrierState>(report))
            return decode_barrier(report, ref.state<detail::BarrierState>());
        break;
    case ObjectKind::value:
        return decode_value(report, &ref.state<char>(), type_tag);
    case ObjectKind::array:
        if (report.size >= 2 * sizeof(std::uint64_t))
            return decode_array(report, &ref.state<std::uint64_t>(), type_tag);
        break;
    case ObjectKind::queue:
    case ObjectKind::joinable_queue:
        if (decode_queue(report, &ref.state<char>()))
            return;
        break;
    case ObjectKind::dict:
    case ObjectKind::list:
        if (fits<detail::ContainerState>(report) &&
            decode_container(report, ref.state<detail::ContainerState>()))
            return;
        break;
    case ObjectKind::pipe:
        if (decode_pipe(report, &ref.state<char>()))
            return;
        break;
    case ObjectKind::pool:
        if (decode_pool(report, &ref.state<char>()))
            return;
        break;
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
    case SegmentStatus::corrupt:
        return "corrupt";
    case SegmentStatus::unreadable:
        return "unreadable";
    }
    return "unknown";
}

bool has_segment_magic(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::uint64_t magic = 0;
    return in.read(reinterpret_cast<char*>(&magic), sizeof magic) && magic == detail::kSegmentMagic;
}

std::vector<SegmentSummary> list_segments(const fs::path& directory) {
    std::vector<SegmentSummary> result;
    std::error_code error;
    for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
        const std::string name = entry.path().filename().string();
        std::error_code ignored;
        if (!entry.is_regular_file(ignored) || !has_segment_magic(entry.path()))
            continue;
        try {
            Segment::validate_name(name);
            result.push_back(summarise(name, directory));
        } catch (const NotFound&) {    // removed while we looked: not worth listing
        } catch (const InvalidName&) { // shmbus never creates such a name
        }
    }
    std::sort(result.begin(), result.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return result;
}

std::vector<ObjectReport> object_reports(const Segment& segment) {
    detail::SegmentHeader& header = segment.mapping().header();
    const detail::DirEntry* entries = detail::directory(header);
    std::vector<ObjectReport> result;
    for (std::uint32_t i = 0; i < detail::kMaxObjects; ++i) {
        const detail::DirEntry& entry = entries[i];
        // SYNC acquire: pairs with the release that marks an entry ready in attach_object.
        if (entry.state.load(std::memory_order_acquire) != detail::EntryState::ready)
            continue;
        if (auto problem = detail::validate_entry(entry, header))
            throw CorruptSegment("segment '" + segment.name() + "': " + *problem);
        ObjectReport report;
        report.name = entry.name;
        report.kind = entry.kind;
        report.offset = entry.offset;
        report.size = entry.size;
        report.creator_pid = entry.creator_pid;
        decode(report, segment, entry.type_tag);
        result.push_back(std::move(report));
    }
    return result;
}

SegmentReport inspect_segment(std::string_view name, const fs::path& directory) {
    const Segment segment = Segment::observe(name, kReadyTimeout);
    SegmentReport report;
    report.segment.name = std::string(name);
    report.segment.path = (directory / std::string(name)).string();
    fill_file_facts(report.segment);
    fill_segment_facts(report.segment, segment);
    report.objects = object_reports(segment);
    return report;
}

std::vector<std::string> collect_garbage(bool dry_run, std::string_view prefix,
                                         const fs::path& directory) {
    std::vector<std::string> removed;
    for (const SegmentSummary& summary : list_segments(directory)) {
        if (summary.status != SegmentStatus::stale || !summary.name.starts_with(prefix))
            continue;
        if (!dry_run) {
            // Check again just before unlinking: a process may have attached since ls ran.
            try {
                if (!Segment::observe(summary.name, kReadyTimeout).stale() ||
                    !Segment::unlink(summary.name))
                    continue;
            } catch (const Error&) { // gone, replaced by a corrupt file, or not ours to remove
                continue;
            }
        }
        removed.push_back(summary.name);
    }
    return removed;
}

void remove_segment(std::string_view name, bool force, const fs::path& directory) {
    Segment::validate_name(name);
    const fs::path path = directory / std::string(name);
    std::error_code error;
    if (!fs::exists(path, error))
        throw NotFound("segment '" + std::string(name) + "': no such segment");
    if (!force && !has_segment_magic(path))
        throw CorruptSegment(
            "segment '" + std::string(name) +
            "': not a shmbus segment (bad magic); use --force to remove it anyway");
    if (!Segment::unlink(name))
        throw NotFound("segment '" + std::string(name) + "': no such segment");
}

} // namespace shmbus::cli

#include "shmbus/segment.hpp"

#include "detail/liveness.hpp"
#include "detail/mapping.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/errors.hpp"

#include <array>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace bip = boost::interprocess;

namespace shmbus {
namespace {

using detail::Deadline;
using detail::kHeapOffset;
using detail::Mapping;
using detail::SegmentHeader;

constexpr std::array kKindNames{
    "unknown", "lock",  "rlock", "semaphore", "bounded_semaphore", "event", "condition",
    "barrier", "value", "array", "queue",     "joinable_queue",    "pipe",  "dict",
    "list",    "pool"};

[[noreturn]] void rethrow_os_error(const bip::interprocess_exception& e, std::string_view name) {
    const std::string where = "segment '" + std::string(name) + "': ";
    switch (e.get_error_code()) {
    case bip::already_exists_error:
        throw AlreadyExists(where + "already exists");
    case bip::not_found_error:
    case bip::not_such_file_or_directory:
        throw NotFound(where + "no such segment");
    case bip::security_error:
        throw PermissionDenied(where + "permission denied");
    case bip::out_of_space_error:
    case bip::out_of_memory_error:
        throw OutOfSpace(where + e.what());
    default:
        throw SystemError(where + e.what());
    }
}

std::size_t round_up(std::size_t value, std::size_t to) {
    return (value + to - 1) / to * to;
}

std::uint64_t object_size(const bip::shared_memory_object& shm) {
    bip::offset_t size = 0;
    return shm.get_size(size) ? static_cast<std::uint64_t>(size) : 0;
}

void initialise_header(SegmentHeader& header, std::uint64_t size, unsigned mode) {
    const detail::ProcessIdentity& self = detail::self_identity();
    new (&header) SegmentHeader{};
    header.magic = detail::kSegmentMagic;
    header.layout_version = detail::kLayoutVersion;
    header.creator_pid = self.pid;
    header.creator_start_time = self.start_time;
    header.header_size = detail::kHeaderSize;
    header.total_size = size;
    header.mode = mode;
    header.max_processes = detail::kMaxProcesses;
    header.max_objects = detail::kMaxObjects;
    header.process_table_offset = detail::kProcessTableOffset;
    header.directory_offset = detail::kDirectoryOffset;
    header.heap_offset = kHeapOffset;
    header.directory_lock.init();
    // SYNC release: publishes every field above; pairs with the acquire in validate_header.
    header.ready.store(detail::kReadyMark, std::memory_order_release);
}

// A file that carries our magic but was never made ready by a creator that is now dead:
// the leftover of a crash during create, safe to replace.
bool abandoned_during_create(const bip::shared_memory_object& shm) {
    // The creator sizes the object right after its O_EXCL create: an empty object is only
    // abandoned when it stays empty for a while (else we would unlink a creation in progress).
    const Deadline sized_by = Deadline::after(std::chrono::seconds(1));
    std::uint64_t size = object_size(shm);
    while (size == 0 && !sized_by.expired()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        size = object_size(shm);
    }
    if (size < sizeof(SegmentHeader))
        return size == 0;
    bip::mapped_region region(shm, bip::read_only, 0, sizeof(SegmentHeader));
    const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
    // SYNC acquire: pairs with the creator's release of kReadyMark.
    return header.magic == detail::kSegmentMagic &&
           header.ready.load(std::memory_order_acquire) != detail::kReadyMark &&
           !detail::process_alive(header.creator_pid, header.creator_start_time);
}

// Unlinks `name` only if it still names the object `shm` refers to. The exclusive flock
// makes concurrent open_or_create calls that found the same stale segment take turns, so a
// late one never removes the fresh segment an early one created in its place.
void unlink_if_same(const bip::shared_memory_object& shm, std::string_view name) {
    const int fd = shm.get_mapping_handle().handle;
    if (::flock(fd, LOCK_EX) != 0)
        return;
    struct stat by_fd {};
    struct stat by_name {};
    const std::string path = "/dev/shm/" + std::string(name);
    if (::fstat(fd, &by_fd) == 0 && ::stat(path.c_str(), &by_name) == 0 &&
        by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev)
        bip::shared_memory_object::remove(std::string(name).c_str());
    ::flock(fd, LOCK_UN);
}

bip::shared_memory_object open_object(std::string_view name) {
    try {
        return bip::shared_memory_object(bip::open_only, std::string(name).c_str(),
                                         bip::read_write);
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
}

Segment map_opened(bip::shared_memory_object& shm, std::string_view name, Deadline ready_by,
                   bool attach) {
    // The creator sizes the object right after creating it: give it until the deadline.
    while (object_size(shm) < detail::kMinSegmentSize) {
        if (ready_by.expired())
            throw CorruptSegment("segment '" + std::string(name) +
                                 "': " + std::to_string(object_size(shm)) +
                                 " bytes, too small to be a shmbus segment");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const std::uint64_t size = object_size(shm);
    bip::mapped_region region(shm, bip::read_write, 0, size);
    const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
    std::optional<std::string> problem;
    // All-zero (magic 0): sized but not yet initialised by its creator; wait for it as well.
    while ((problem = detail::validate_header(header, size)) &&
           (header.magic == detail::kSegmentMagic || header.magic == 0) &&
           header.ready.load(std::memory_order_acquire) != detail::kReadyMark &&
           !ready_by.expired())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (problem)
        throw CorruptSegment("segment '" + std::string(name) + "': " + *problem);
    return Segment(std::make_shared<Mapping>(std::string(name), std::move(region), false, attach));
}

std::size_t default_segment_size() {
    if (const char* env = std::getenv("SHMBUS_DEFAULT_SEGMENT_SIZE")) {
        char* end = nullptr;
        const unsigned long long parsed = std::strtoull(env, &end, 0);
        if (end != env && *end == '\0' && parsed >= detail::kMinSegmentSize)
            return static_cast<std::size_t>(parsed);
    }
    return std::size_t{256} << 20;
}

struct DefaultSegment {
    std::mutex mutex;
    std::shared_ptr<Mapping> mapping;
};

DefaultSegment& default_slot() {
    static DefaultSegment* slot = new DefaultSegment; // never destroyed: read by the exit hook
    return *slot;
}

void remove_default_segment_at_exit() {
    detail::remove_default_segment_if_created_here();
}

} // namespace

void detail::remove_default_segment_if_created_here() noexcept {
    DefaultSegment& slot = default_slot();
    try {
        if (slot.mapping && slot.mapping->created_by_this_process())
            Segment::unlink(slot.mapping->name());
    } catch (...) { // best effort on the way out: a failed unlink leaves work for `shmbus gc`
    }
}

std::string_view to_string(ObjectKind kind) {
    const auto index = static_cast<std::uint32_t>(kind);
    return index < kKindNames.size() ? kKindNames[index] : kKindNames[0];
}

void Segment::validate_name(std::string_view name) {
    const auto allowed = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    };
    if (name.empty() || name.size() > kMaxNameLength)
        throw InvalidName("segment name must have 1 to 200 characters, got " +
                          std::to_string(name.size()));
    if (name == "." || name == "..")
        throw InvalidName("segment name '" + std::string(name) + "' is reserved");
    for (char c : name)
        if (!allowed(c))
            throw InvalidName("segment name '" + std::string(name) +
                              "' may only hold letters, digits, '.', '_' and '-'");
}

Segment::Segment(std::shared_ptr<detail::Mapping> mapping) : m_mapping(std::move(mapping)) {}

Segment Segment::create(std::string_view name, std::size_t size, unsigned mode) {
    validate_name(name);
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (size < detail::kMinSegmentSize)
        throw OutOfSpace("segment size " + std::to_string(size) + " is below the minimum of " +
                         std::to_string(detail::kMinSegmentSize) + " bytes");
    size = round_up(size, page);
    const std::string cname(name);
    bip::shared_memory_object shm;
    try {
        shm = bip::shared_memory_object(bip::create_only, cname.c_str(), bip::read_write,
                                        bip::permissions(mode));
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
    try {
        shm.truncate(static_cast<bip::offset_t>(size));
        bip::mapped_region region(shm, bip::read_write, 0, size);
        initialise_header(*static_cast<SegmentHeader*>(region.get_address()), size, mode);
        return Segment(std::make_shared<Mapping>(cname, std::move(region), true, true));
    } catch (const bip::interprocess_exception& e) {
        bip::shared_memory_object::remove(cname.c_str());
        rethrow_os_error(e, name);
    } catch (...) {
        bip::shared_memory_object::remove(cname.c_str());
        throw;
    }
}

Segment Segment::open(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    bip::shared_memory_object shm = open_object(name);
    return map_opened(shm, name, Deadline::after(ready_timeout), true);
}

Segment Segment::observe(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    bip::shared_memory_object shm = open_object(name);
    return map_opened(shm, name, Deadline::after(ready_timeout), false);
}

Segment Segment::open_or_create(std::string_view name, std::size_t size, unsigned mode) {
    validate_name(name);
    constexpr int kAttempts = 8; // each failed attempt means another process won a race
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        try {
            return create(name, size, mode);
        } catch (const AlreadyExists&) {
        }
        std::optional<bip::shared_memory_object> shm;
        try {
            shm.emplace(open_object(name));
        } catch (const NotFound&) {
            continue; // removed between our create and open: create again
        }
        if (abandoned_during_create(*shm)) {
            unlink_if_same(*shm, name);
            continue;
        }
        Segment segment = map_opened(*shm, name, Deadline::after(std::chrono::seconds(1)), false);
        if (!segment.stale()) {
            segment.mapping().attach_this_process();
            return segment;
        }
        unlink_if_same(*shm, name);
    }
    throw SystemError("segment '" + std::string(name) + "': open_or_create lost " +
                      std::to_string(kAttempts) + " races in a row");
}

bool Segment::unlink(std::string_view name) {
    validate_name(name);
    if (bip::shared_memory_object::remove(std::string(name).c_str()))
        return true;
    if (errno == EACCES || errno == EPERM)
        throw PermissionDenied("segment '" + std::string(name) + "': permission denied");
    return false;
}

Segment Segment::default_segment() {
    DefaultSegment& slot = default_slot();
    std::lock_guard lock(slot.mutex);
    if (!slot.mapping) {
        const detail::ProcessIdentity& self = detail::self_identity();
        const std::string name =
            "shmbus.default." + std::to_string(self.pid) + "." + std::to_string(self.start_time);
        slot.mapping = open_or_create(name, default_segment_size()).m_mapping;
        static const bool registered = std::atexit(remove_default_segment_at_exit) == 0;
        (void)registered;
    }
    return Segment(slot.mapping);
}

const std::string& Segment::name() const {
    return m_mapping->name();
}

std::size_t Segment::size() const {
    return m_mapping->size();
}

std::size_t Segment::bytes_free() const {
    const SegmentHeader& header = m_mapping->header();
    // Read without the directory lock: an estimate, as documented.
    const std::uint64_t used = std::min<std::uint64_t>(header.heap_used, size() - kHeapOffset);
    return static_cast<std::size_t>(size() - kHeapOffset - used);
}

std::vector<AttachedProcess> Segment::processes() const {
    std::vector<AttachedProcess> result;
    detail::ProcessSlot* table = detail::process_table(m_mapping->header());
    for (std::uint32_t i = 0; i < detail::kMaxProcesses; ++i) {
        // relaxed is enough: a snapshot for display and stale detection, checked for liveness.
        const std::int32_t pid = table[i].pid.load(std::memory_order_relaxed);
        const std::uint64_t start = table[i].start_time.load(std::memory_order_relaxed);
        if (pid != 0)
            result.push_back({pid, start, detail::process_alive(pid, start)});
    }
    return result;
}

Liveness Segment::liveness() const {
    for (const AttachedProcess& process : processes())
        if (process.alive)
            return Liveness::live;
    return Liveness::stale;
}

bool Segment::stale() const {
    return liveness() == Liveness::stale;
}

std::string_view to_string(Liveness liveness) {
    switch (liveness) {
    case Liveness::live:
        return "live";
    case Liveness::stale:
        return "stale";
    case Liveness::unknown:
        break;
    }
    return "unknown";
}

} // namespace shmbus

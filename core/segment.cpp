#include "shmbus/segment.hpp"

#include "detail/liveness.hpp"
#include "detail/mapping.hpp"
#include "detail/presence.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/errors.hpp"

#include <array>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <new>
#include <pthread.h>
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

constexpr int kRaceAttempts = 8; // each failed attempt means another process won a race
constexpr std::string_view kDefaultSegmentPrefix = "shmbus.default.";
constexpr std::string_view kPoolSegmentPrefix = "shmbus.pool.";

constexpr std::array kKindNames{
    "unknown", "lock",  "rlock", "semaphore", "bounded_semaphore", "event", "condition",
    "barrier", "value", "array", "queue",     "joinable_queue",    "pipe",  "dict",
    "list",    "pool"};

[[noreturn]] void rethrow_os_error(const bip::interprocess_exception& e, std::string_view name) {
    const std::string where = "segment '" + std::string(name) + "': ";
    if (e.get_native_error() == ELOOP)
        throw CorruptSegment(where + "a symbolic link, not a segment: refused");
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

std::uint64_t file_size(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
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

// True when the file holds a segment of this layout (else it is foreign, corrupt or of
// another version, and nobody can tell whether it is in use). Read with pread: nothing mapped.
bool holds_this_layout(int fd) {
    std::uint64_t magic = 0;
    std::uint32_t version = 0;
    return ::pread(fd, &magic, sizeof magic, offsetof(SegmentHeader, magic)) == sizeof magic &&
           ::pread(fd, &version, sizeof version, offsetof(SegmentHeader, layout_version)) ==
               sizeof version &&
           magic == detail::kSegmentMagic && version == detail::kLayoutVersion;
}

enum class Removal { removed, in_use, replaced, undecidable };

// Removes `name` when the file open on `fd` is still its file and nobody uses it: a remover
// holds the presence byte exclusively (detail/presence.hpp), so no process can attach while
// it checks and unlinks, and one that attached before makes the lock fail. An empty file is
// the leftover of a create that died before sizing it (a creator in its first microseconds,
// not yet present, fails its presence lock and creates again).
Removal remove_if_unused(int fd, std::string_view name) {
    if (!detail::lock_for_removal(fd))
        return Removal::in_use;
    if (file_size(fd) != 0 && !holds_this_layout(fd)) {
        detail::unlock_presence(fd);
        return Removal::undecidable;
    }
    if (!detail::names_same_file(fd, name))
        return Removal::replaced;
    if (!bip::shared_memory_object::remove(std::string(name).c_str()) &&
        (errno == EACCES || errno == EPERM))
        throw PermissionDenied("segment '" + std::string(name) +
                               "': nobody uses it, but this user may not remove it");
    return Removal::removed;
}

bip::shared_memory_object open_object(std::string_view name) {
    try {
        // glibc's shm_open opens with O_NOFOLLOW: a symlink planted under the name is refused.
        return bip::shared_memory_object(bip::open_only, std::string(name).c_str(),
                                         bip::read_write);
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
}

bip::mapped_region map_region(bip::shared_memory_object& shm, std::uint64_t size,
                              std::string_view name) {
    try {
        return bip::mapped_region(shm, bip::read_write, 0, size);
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
}

// Waits for the creator to size and initialise the segment, then checks the header against
// the file's size before mapping the whole file: a forged size cannot make us map terabytes.
std::uint64_t wait_until_ready(bip::shared_memory_object& shm, int fd, std::string_view name,
                               Deadline ready_by) {
    const auto fail = [&](const std::string& problem) -> std::uint64_t {
        throw CorruptSegment("segment '" + std::string(name) + "': " + problem);
    };
    // A creator sizes its file in one step right after creating it empty: only an empty file
    // may still become a segment.
    while (file_size(fd) < detail::kMinSegmentSize) {
        if (file_size(fd) != 0 || ready_by.expired())
            return fail(std::to_string(file_size(fd)) + " bytes, too small to be a shmbus segment");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    bip::mapped_region region = map_region(shm, sizeof(SegmentHeader), name);
    const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
    std::optional<std::string> problem;
    // All-zero (magic 0): sized but not yet initialised by its creator; wait for it as well.
    while ((problem = detail::validate_header(header, file_size(fd))) &&
           (header.magic == detail::kSegmentMagic || header.magic == 0) &&
           header.ready.load(std::memory_order_acquire) != detail::kReadyMark &&
           !ready_by.expired())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!problem && header.total_size > Segment::kMaxSize)
        problem = "records " + std::to_string(header.total_size) + " bytes, beyond the " +
                  std::to_string(Segment::kMaxSize) + " a segment may have";
    return problem ? fail(*problem) : header.total_size;
}

std::shared_ptr<Mapping> map_opened(bip::shared_memory_object& shm, std::string_view name,
                                    Deadline ready_by) {
    detail::FileHandle file = detail::FileHandle::duplicate(shm.get_mapping_handle().handle);
    const std::uint64_t size = wait_until_ready(shm, file.get(), name, ready_by);
    bip::mapped_region region = map_region(shm, size, name);
    if (auto problem = detail::validate_header(
            *static_cast<const SegmentHeader*>(region.get_address()), file_size(file.get())))
        throw CorruptSegment("segment '" + std::string(name) + "': " + *problem);
    return std::make_shared<Mapping>(std::string(name), std::move(region), std::move(file), false);
}

// Joins an opened segment. False when it was removed meanwhile (a remover held it, or the
// name now names another file): the caller opens the name again.
bool attach_if_current(Mapping& mapping, std::string_view name) {
    if (!mapping.attach_this_process())
        return false;
    if (detail::names_same_file(mapping.file(), name))
        return true;
    mapping.detach_this_process();
    return false;
}

// One attempt at Segment::create: nullopt when a remover took the new file before this
// process was present in it (it then removes the name: create again).
std::optional<Segment> try_create(std::string_view name, std::size_t size, unsigned mode) {
    const std::string cname(name);
    bip::shared_memory_object shm;
    try {
        shm = bip::shared_memory_object(bip::create_only, cname.c_str(), bip::read_write,
                                        bip::permissions(mode));
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
    detail::FileHandle file = detail::FileHandle::duplicate(shm.get_mapping_handle().handle);
    if (!detail::lock_presence(file.get()) || !detail::names_same_file(file.get(), name))
        return std::nullopt;
    try {
        // Sparse: only the tables are reserved now, and each object when it is made.
        if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0)
            throw OutOfSpace("segment '" + cname + "': cannot size it to " + std::to_string(size) +
                             " bytes: " + std::strerror(errno));
        detail::reserve_bytes(file.get(), 0, kHeapOffset, name);
        bip::mapped_region region = map_region(shm, size, name);
        initialise_header(*static_cast<SegmentHeader*>(region.get_address()), size, mode);
        auto mapping = std::make_shared<Mapping>(cname, std::move(region), std::move(file), true);
        mapping->attach_this_process();
        return Segment(std::move(mapping));
    } catch (...) {
        bip::shared_memory_object::remove(cname.c_str());
        throw;
    }
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
    static DefaultSegment* slot = [] {
        auto* made = new DefaultSegment; // never destroyed: read by the exit hook
        // A fork while another thread holds the mutex must not leave it locked in the child.
        pthread_atfork([] { default_slot().mutex.lock(); }, [] { default_slot().mutex.unlock(); },
                       [] { default_slot().mutex.unlock(); });
        return made;
    }();
    return *slot;
}

bool names_a_tree_segment(std::string_view name) {
    return name.starts_with(kDefaultSegmentPrefix) || name.starts_with(kPoolSegmentPrefix);
}

// The default and pool segments of process trees that died without cleaning up (kill -9, a
// crash): removed by the next tree that starts, so that a crash loop cannot fill /dev/shm.
// Only files of this layout that nobody uses go; anything else is left alone.
void remove_dead_tree_segments() noexcept {
    DIR* dir = ::opendir(std::string(detail::kShmDirectory).c_str());
    if (dir == nullptr)
        return;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (entry->d_type != DT_REG || !names_a_tree_segment(name))
            continue;
        try {
            Segment::unlink_if_stale(name);
        } catch (const std::exception&) { // another user's, or gone meanwhile: not ours to clean
        }
    }
    ::closedir(dir);
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
    if (size < detail::kMinSegmentSize || size > kMaxSize)
        throw OutOfSpace("segment size " + std::to_string(size) + " lies outside [" +
                         std::to_string(detail::kMinSegmentSize) + ", " + std::to_string(kMaxSize) +
                         "] bytes");
    size = round_up(size, page);
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt)
        if (std::optional<Segment> segment = try_create(name, size, mode))
            return *std::move(segment);
    throw SystemError("segment '" + std::string(name) + "': removed by a stale-segment remover " +
                      std::to_string(kRaceAttempts) + " times while being created");
}

Segment Segment::open(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    const Deadline ready_by = Deadline::after(ready_timeout);
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt) {
        bip::shared_memory_object shm = open_object(name);
        std::shared_ptr<Mapping> mapping = map_opened(shm, name, ready_by);
        if (attach_if_current(*mapping, name))
            return Segment(std::move(mapping));
    }
    throw NotFound("segment '" + std::string(name) + "': removed while being opened");
}

Segment Segment::observe(std::string_view name, std::chrono::milliseconds ready_timeout) {
    validate_name(name);
    bip::shared_memory_object shm = open_object(name);
    return Segment(map_opened(shm, name, Deadline::after(ready_timeout)));
}

Segment Segment::open_or_create(std::string_view name, std::size_t size, unsigned mode) {
    validate_name(name);
    for (int attempt = 0; attempt < kRaceAttempts; ++attempt) {
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
        const int fd = shm->get_mapping_handle().handle;
        switch (remove_if_unused(fd, name)) {
        case Removal::removed:
        case Removal::replaced:
            continue;
        case Removal::undecidable:
            throw CorruptSegment("segment '" + std::string(name) +
                                 "': not a segment of this shmbus layout; not replaced");
        case Removal::in_use:
            break;
        }
        std::shared_ptr<Mapping> mapping =
            map_opened(*shm, name, Deadline::after(std::chrono::seconds(1)));
        if (attach_if_current(*mapping, name))
            return Segment(std::move(mapping));
    }
    throw SystemError("segment '" + std::string(name) + "': open_or_create lost " +
                      std::to_string(kRaceAttempts) + " races in a row");
}

bool Segment::unlink(std::string_view name) {
    validate_name(name);
    if (bip::shared_memory_object::remove(std::string(name).c_str()))
        return true;
    if (errno == EACCES || errno == EPERM)
        throw PermissionDenied("segment '" + std::string(name) + "': permission denied");
    return false;
}

bool Segment::unlink_if_stale(std::string_view name) {
    validate_name(name);
    bip::shared_memory_object shm = open_object(name);
    return remove_if_unused(shm.get_mapping_handle().handle, name) == Removal::removed;
}

Liveness Segment::liveness_of(std::string_view name) {
    validate_name(name);
    try {
        bip::shared_memory_object shm = open_object(name);
        const int fd = shm.get_mapping_handle().handle;
        if (!holds_this_layout(fd))
            return Liveness::unknown;
        return detail::presence_of(fd) == detail::Presence::present ? Liveness::live
                                                                    : Liveness::stale;
    } catch (const Error&) {
        return Liveness::unknown;
    }
}

Segment Segment::default_segment() {
    DefaultSegment& slot = default_slot();
    std::lock_guard lock(slot.mutex);
    if (!slot.mapping) {
        remove_dead_tree_segments();
        const detail::ProcessIdentity& self = detail::self_identity();
        const std::string name = std::string(kDefaultSegmentPrefix) + std::to_string(self.pid) +
                                 "." + std::to_string(self.start_time);
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
    const detail::ProcessSlot* table = detail::process_table(m_mapping->header());
    const std::uint64_t here = detail::this_pid_namespace();
    for (std::uint32_t i = 0; i < detail::kMaxProcesses; ++i) {
        // relaxed is enough: a description of the slot's holder; its lock says if it lives.
        const std::int32_t pid = table[i].pid.load(std::memory_order_relaxed);
        const std::uint64_t start = table[i].start_time.load(std::memory_order_relaxed);
        const std::uint64_t ns = table[i].pid_namespace.load(std::memory_order_relaxed);
        if (pid != 0)
            result.push_back({pid, start, m_mapping->slot_alive(i), ns == here});
    }
    return result;
}

Liveness Segment::liveness() const {
    return m_mapping->presence() == detail::Presence::present ? Liveness::live : Liveness::stale;
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

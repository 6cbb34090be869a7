// SPDX-License-Identifier: Apache-2.0
#include "segment/segment_file.hpp"

#include "os/liveness.hpp"
#include "os/presence.hpp"
#include "shmbus/errors.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace bip = boost::interprocess;

namespace shmbus::detail {
namespace {

std::uint64_t file_size(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

void initialise_header(SegmentHeader& header, std::uint64_t size, unsigned mode) {
    const ProcessIdentity& self = self_identity();
    new (&header) SegmentHeader{};
    header.magic = kSegmentMagic;
    header.layout_version = kLayoutVersion;
    header.creator_pid = self.pid;
    header.creator_start_time = self.start_time;
    header.header_size = kHeaderSize;
    header.total_size = size;
    header.mode = mode;
    header.max_processes = kMaxProcesses;
    header.max_objects = kMaxObjects;
    header.process_table_offset = kProcessTableOffset;
    header.directory_offset = kDirectoryOffset;
    header.heap_offset = kHeapOffset;
    header.directory_lock.init();
    // SYNC release: publishes every field above; pairs with the acquire in validate_header.
    header.ready.store(kReadyMark, std::memory_order_release);
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
    while (file_size(fd) < kMinSegmentSize) {
        if (file_size(fd) != 0 || ready_by.expired())
            return fail(std::to_string(file_size(fd)) + " bytes, too small to be a shmbus segment");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    bip::mapped_region region = map_region(shm, sizeof(SegmentHeader), name);
    const auto& header = *static_cast<const SegmentHeader*>(region.get_address());
    std::optional<std::string> problem;
    // All-zero (magic 0): sized but not yet initialised by its creator; wait for it as well.
    while ((problem = validate_header(header, file_size(fd))) &&
           (header.magic == kSegmentMagic || header.magic == 0) &&
           header.ready.load(std::memory_order_acquire) != kReadyMark && !ready_by.expired())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!problem && header.total_size > Segment::kMaxSize)
        problem = "records " + std::to_string(header.total_size) + " bytes, beyond the " +
                  std::to_string(Segment::kMaxSize) + " a segment may have";
    return problem ? fail(*problem) : header.total_size;
}

} // namespace

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

bip::shared_memory_object open_object(std::string_view name) {
    try {
        // glibc's shm_open opens with O_NOFOLLOW: a symlink planted under the name is refused.
        return bip::shared_memory_object(bip::open_only, std::string(name).c_str(),
                                         bip::read_write);
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
}

// Read with pread: nothing mapped.
bool holds_this_layout(int fd) {
    std::uint64_t magic = 0;
    std::uint32_t version = 0;
    return ::pread(fd, &magic, sizeof magic, offsetof(SegmentHeader, magic)) == sizeof magic &&
           ::pread(fd, &version, sizeof version, offsetof(SegmentHeader, layout_version)) ==
               sizeof version &&
           magic == kSegmentMagic && version == kLayoutVersion;
}

// Removes `name` when the file open on `fd` is still its file and nobody uses it: a remover
// holds the presence byte exclusively (os/presence.hpp), so no process can attach while
// it checks and unlinks, and one that attached before makes the lock fail. An empty file of
// this user is the leftover of a create that died before sizing it (a creator in its first
// microseconds, not yet present, fails its presence lock and creates again); another user's
// empty file was not made by this user's shmbus and is left alone.
Removal remove_if_unused(int fd, std::string_view name) {
    if (!lock_for_removal(fd))
        return Removal::in_use;
    struct stat st {};
    const bool ours_if_empty =
        ::fstat(fd, &st) == 0 && (st.st_size != 0 || st.st_uid == ::geteuid());
    if (!ours_if_empty || (st.st_size != 0 && !holds_this_layout(fd))) {
        unlock_presence(fd);
        return Removal::undecidable;
    }
    if (!names_same_file(fd, name))
        return Removal::replaced;
    if (!bip::shared_memory_object::remove(std::string(name).c_str()) &&
        (errno == EACCES || errno == EPERM))
        throw PermissionDenied("segment '" + std::string(name) +
                               "': nobody uses it, but this user may not remove it");
    return Removal::removed;
}

std::shared_ptr<Mapping> map_opened(bip::shared_memory_object& shm, std::string_view name,
                                    Deadline ready_by) {
    FileHandle file = FileHandle::duplicate(shm.get_mapping_handle().handle);
    const std::uint64_t size = wait_until_ready(shm, file.get(), name, ready_by);
    bip::mapped_region region = map_region(shm, size, name);
    if (auto problem = validate_header(*static_cast<const SegmentHeader*>(region.get_address()),
                                       file_size(file.get())))
        throw CorruptSegment("segment '" + std::string(name) + "': " + *problem);
    return std::make_shared<Mapping>(std::string(name), std::move(region), std::move(file), false);
}

bool attach_if_current(Mapping& mapping, std::string_view name) {
    if (!mapping.attach_this_process())
        return false;
    if (names_same_file(mapping.file(), name))
        return true;
    mapping.detach_this_process();
    return false;
}

std::optional<Segment> try_create(std::string_view name, std::size_t size, unsigned mode) {
    const std::string cname(name);
    bip::shared_memory_object shm;
    try {
        shm = bip::shared_memory_object(bip::create_only, cname.c_str(), bip::read_write,
                                        bip::permissions(mode));
    } catch (const bip::interprocess_exception& e) {
        rethrow_os_error(e, name);
    }
    FileHandle file = FileHandle::duplicate(shm.get_mapping_handle().handle);
    if (!lock_presence(file.get()) || !names_same_file(file.get(), name))
        return std::nullopt;
    try {
        // Sparse: only the tables are reserved now, and each object when it is made.
        if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0)
            throw OutOfSpace("segment '" + cname + "': cannot size it to " + std::to_string(size) +
                             " bytes: " + std::strerror(errno));
        reserve_bytes(file.get(), 0, kHeapOffset, name);
        bip::mapped_region region = map_region(shm, size, name);
        initialise_header(*static_cast<SegmentHeader*>(region.get_address()), size, mode);
        auto mapping = std::make_shared<Mapping>(cname, std::move(region), std::move(file), true);
        mapping->attach_this_process();
        return detail::SegmentAccess::make(std::move(mapping));
    } catch (...) {
        bip::shared_memory_object::remove(cname.c_str());
        throw;
    }
}

std::string tree_segment_name(std::string_view role, std::uint64_t n) {
    return "shmbus." + std::string(role) + "." + std::to_string(self_identity().pid) + "." +
           std::to_string(n);
}

bool names_a_tree_segment(std::string_view name) {
    for (const std::string_view role : {kDefaultSegmentRole, kPoolSegmentRole})
        if (name.starts_with("shmbus." + std::string(role) + "."))
            return true;
    return false;
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// Probing files in /dev/shm without trusting them: see segment_file.hpp.
#include "segment_file.hpp"

#include "decode_bridge.hpp"
#include "os/liveness.hpp"
#include "segment/layout.hpp"
#include "segment/mapping.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <new>
#include <pwd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace shmbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptor however the probe ends.
class Descriptor {
public:
    explicit Descriptor(int fd) : m_fd(fd) {}
    ~Descriptor() {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    int get() const { return m_fd; }

private:
    int m_fd;
};

std::string user_name(std::uint32_t uid) {
    if (const passwd* entry = ::getpwuid(uid))
        return entry->pw_name;
    return std::to_string(uid);
}

void record_facts(SegmentSummary& summary, const struct stat& info) {
    summary.size = static_cast<std::uint64_t>(info.st_size);
    summary.mode = info.st_mode & 07777;
    summary.uid = info.st_uid;
    summary.owner = user_name(info.st_uid);
}

// Every shmbus segment is at least kMinSegmentSize bytes and a whole number of pages
// (Segment::create rounds up): a file we may not read is listed only when it could be one.
bool could_be_segment(std::uint64_t size) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    return size >= detail::kMinSegmentSize && size % page == 0;
}

FileKind with_problem(SegmentSummary& summary, FileKind kind, std::string problem) {
    summary.problem = std::move(problem);
    return kind;
}

// The first sizeof(SegmentHeader) bytes, or fewer when the file is shorter.
struct HeaderBytes {
    alignas(detail::SegmentHeader) unsigned char bytes[sizeof(detail::SegmentHeader)];
    std::size_t length = 0;

    const detail::SegmentHeader& header() const {
        return *std::launder(reinterpret_cast<const detail::SegmentHeader*>(bytes));
    }
    bool has_magic() const {
        std::uint64_t magic = 0;
        if (length >= sizeof magic)
            std::memcpy(&magic, bytes, sizeof magic);
        return magic == detail::kSegmentMagic;
    }
    bool complete() const { return length == sizeof bytes; }
};

HeaderBytes read_header(int fd) {
    HeaderBytes result;
    while (result.length < sizeof result.bytes) {
        const ssize_t got =
            ::pread(fd, result.bytes + result.length, sizeof result.bytes - result.length,
                    static_cast<off_t>(result.length));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        result.length += static_cast<std::size_t>(got);
    }
    return result;
}

bool ready(const detail::SegmentHeader& header) {
    // relaxed is enough: a private copy of the bytes read with pread, not shared memory.
    return header.ready.load(std::memory_order_relaxed) == detail::kReadyMark;
}

// A creator publishes the header within microseconds of sizing the file: wait for the ready
// mark (re-reading with pread, nothing mapped) until `deadline`, then judge what is there.
FileKind judge_header(int fd, SegmentSummary& summary, Clock::time_point deadline) {
    HeaderBytes copy = read_header(fd);
    while (copy.has_magic() && copy.complete() && !ready(copy.header()) &&
           Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        copy = read_header(fd);
    }
    if (!copy.has_magic())
        return FileKind::foreign;
    if (!copy.complete())
        return with_problem(summary, FileKind::corrupt,
                            "size " + std::to_string(summary.size) +
                                " is too small for a shmbus header");
    const detail::SegmentHeader& header = copy.header();
    if (header.layout_version == detail::kLayoutVersion && ready(header) &&
        header.total_size != summary.size)
        return with_problem(summary, FileKind::corrupt,
                            "size " + std::to_string(summary.size) + " does not match header (" +
                                std::to_string(header.total_size) + ")");
    if (auto problem = detail::validate_header(header, summary.size))
        return with_problem(summary, FileKind::corrupt, *problem);
    return FileKind::segment;
}

FileKind judge_open_error(SegmentSummary& summary, int error) {
    switch (error) {
    case ENOENT:
        return FileKind::gone;
    case ELOOP: // replaced by a symlink since lstat
        return with_problem(summary, FileKind::corrupt, "symlink");
    case EACCES:
    case EPERM:
        return could_be_segment(summary.size)
                   ? with_problem(summary, FileKind::unreadable, "permission denied")
                   : FileKind::foreign;
    default:
        return with_problem(summary, FileKind::corrupt, std::strerror(error));
    }
}

// The kernel's name of a live process; empty when it cannot be known: a dead process's pid may
// name another process now, and another PID namespace's pid names a different one here.
std::string process_name(const AttachedProcess& process) {
    if (!process.alive || !process.in_this_pid_namespace)
        return {};
    std::ifstream comm("/proc/" + std::to_string(process.pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return name;
}

void fill_segment_facts(SegmentSummary& summary, const Segment& segment) {
    const detail::SegmentHeader& header = detail::mapping_of(segment).header();
    summary.layout_version = header.layout_version;
    summary.creator_pid = header.creator_pid;
    summary.creator_alive = detail::process_alive(header.creator_pid, header.creator_start_time);
    summary.heap_used = header.total_size - detail::kHeapOffset - segment.bytes_free();
    summary.bytes_free = segment.bytes_free();
    summary.object_count = segment.objects().size();
    summary.bridges = bridge_rows(segment);
    for (const AttachedProcess& process : segment.processes())
        summary.processes.push_back(
            {process.pid, process.start_time, process.alive, process_name(process)});
    summary.liveness = segment.liveness();
}

SegmentStatus status_of(FileKind kind, Liveness liveness) {
    switch (kind) {
    case FileKind::corrupt:
        return SegmentStatus::corrupt;
    case FileKind::unreadable:
        return SegmentStatus::unreadable;
    default:
        break;
    }
    switch (liveness) {
    case Liveness::live:
        return SegmentStatus::ok;
    case Liveness::stale:
        return SegmentStatus::stale;
    case Liveness::unknown:
        break;
    }
    return SegmentStatus::unknown;
}

// The library's messages start with "segment 'NAME': "; a listing already shows the name.
std::string without_name(std::string message, std::string_view name) {
    const std::string prefix = "segment '" + std::string(name) + "': ";
    return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

// Maps a file the probe found valid. It may have changed since (grown, been replaced), so any
// failure to map or validate it becomes a kind, not an exception.
void observe_probed(ObservedFile& file, std::string_view name) {
    try {
        // No second wait: the probe saw the ready mark.
        file.segment.emplace(Segment::observe(name, std::chrono::milliseconds(0)));
        fill_segment_facts(file.summary, *file.segment);
    } catch (const NotFound&) {
        file.kind = FileKind::gone;
    } catch (const PermissionDenied& e) { // readable, but observe needs write access too
        file.kind = FileKind::unreadable;
        file.summary.problem = without_name(e.what(), name);
    } catch (const Error& e) { // CorruptSegment: it changed since the probe
        file.kind = FileKind::corrupt;
        file.summary.problem = without_name(e.what(), name);
    } catch (const std::exception& e) { // the system refused the mapping (a huge file)
        file.kind = FileKind::corrupt;
        file.summary.problem =
            "cannot map " + std::to_string(file.summary.size) + " bytes: " + e.what();
    }
    if (file.kind != FileKind::segment) {
        file.segment.reset();
        file.summary.processes.clear();
    }
}

} // namespace

ReadyBudget::ReadyBudget(std::chrono::milliseconds per_file, std::chrono::milliseconds total)
    : m_per_file(per_file), m_end(Clock::now() + total) {}

Clock::time_point ReadyBudget::next_deadline() const {
    return std::min(Clock::now() + m_per_file, m_end);
}

FileKind probe_file(SegmentSummary& summary, ReadyBudget& budget) {
    struct stat link {};
    if (::lstat(summary.path.c_str(), &link) != 0)
        return errno == ENOENT ? FileKind::gone
                               : with_problem(summary, FileKind::unreadable, std::strerror(errno));
    record_facts(summary, link);
    // A symlink in our namespace is never followed: it could point anywhere (another user's
    // segment, a huge file, a device), and shm_open refuses it anyway.
    if (S_ISLNK(link.st_mode))
        return with_problem(summary, FileKind::corrupt, "symlink");
    if (!S_ISREG(link.st_mode))
        return FileKind::foreign;
    // O_NONBLOCK: should the name become a FIFO after lstat, opening it must not hang.
    const Descriptor fd(
        ::open(summary.path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (fd.get() < 0)
        return judge_open_error(summary, errno);
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0 || !S_ISREG(opened.st_mode))
        return FileKind::foreign;
    record_facts(summary, opened);
    return judge_header(fd.get(), summary, budget.next_deadline());
}

ObservedFile observe_file(std::string_view name, const std::filesystem::path& directory,
                          ReadyBudget& budget) {
    ObservedFile file;
    file.summary.name = std::string(name);
    file.summary.path = (directory / file.summary.name).string();
    file.kind = probe_file(file.summary, budget);
    if (file.kind == FileKind::segment)
        observe_probed(file, name);
    file.summary.status = status_of(file.kind, file.summary.liveness);
    if (file.summary.status == SegmentStatus::unknown)
        file.summary.problem = "liveness cannot be decided";
    return file;
}

bool may_unlink(const std::filesystem::path& directory, std::uint32_t owner_uid) {
    const uid_t me = ::geteuid();
    if (me == 0) // root's CAP_FOWNER overrides the sticky bit
        return true;
    struct stat info {};
    if (::stat(directory.c_str(), &info) != 0 ||
        ::faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
        return false;
    return (info.st_mode & S_ISVTX) == 0 || owner_uid == me || info.st_uid == me;
}

std::string ownership(const SegmentSummary& summary) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", summary.mode);
    return "owner " + summary.owner + ", mode " + mode;
}

} // namespace shmbus::cli

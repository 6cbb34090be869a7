// The segment a Pool lives in. Created with O_EXCL, so a name that is taken needs a look:
// a segment whose every attached process is dead (a pool killed with SIGKILL, a reused pid)
// is removed and the name taken over; a live one, or a file that is not ours to read (another
// user's, a foreign or corrupt file), is left alone: a default-named pool takes the next
// number, a pool named by the user reports who holds the name.
#include "detail/pool_engine.hpp"
#include "shmbus/errors.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <optional>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmbus::detail {
namespace {

// Names a default-named pool tries before it gives up: each one skipped is held by a live
// pool or by a file someone else planted.
constexpr int kDefaultNameTries = 64;
// Takeovers of a stale name before giving up: each one lost means another process that
// found the same stale segment won the race.
constexpr int kTakeoverTries = 8;
// How long observe() waits for a segment's creator to finish initialising it. A default name
// holds our pid, so no live creator can be half-way; a user's name may be another pool's.
constexpr auto kDefaultReadyTimeout = std::chrono::milliseconds(100);
constexpr auto kNamedReadyTimeout = std::chrono::seconds(1);

std::atomic<unsigned> g_pool_counter{0};

std::string default_segment_name() {
    // relaxed is enough: the counter only hands out distinct numbers.
    const unsigned n = g_pool_counter.fetch_add(1, std::memory_order_relaxed);
    return "shmbus.pool." + std::to_string(::getpid()) + "." + std::to_string(n);
}

std::string shm_path(const std::string& name) {
    return "/dev/shm/" + name;
}

std::optional<struct stat> stat_of(const std::string& name) {
    struct stat st {};
    if (::stat(shm_path(name).c_str(), &st) != 0)
        return std::nullopt;
    return st;
}

std::string owner_of(const std::string& name) {
    const auto st = stat_of(name);
    return st ? "owner uid " + std::to_string(st->st_uid) : "owner unknown";
}

enum class Holder { gone, stale, live, foreign };

// What holds `name` now. stale only when every process attached to it is dead.
Holder holder_of(const std::string& name, std::chrono::milliseconds ready_timeout) {
    try {
        const Segment held = Segment::observe(name, ready_timeout);
        return held.liveness() == Liveness::stale ? Holder::stale : Holder::live;
    } catch (const NotFound&) {
        return Holder::gone;
    } catch (const PermissionDenied&) {
        return Holder::foreign;
    } catch (const CorruptSegment&) {
        return Holder::foreign;
    }
}

// Removes `name` only while it still names the file `seen` (inode and device): a process
// that found the same stale segment and already put a fresh one there keeps it. The flock
// is the one Segment::open_or_create takes for the same purpose. False when we may not
// remove it (another user's file in the sticky /dev/shm).
bool unlink_if_still(const std::string& name, const struct stat& seen) {
    const int fd = ::open(shm_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != EACCES && errno != EPERM;
    bool allowed = true;
    if (::flock(fd, LOCK_EX) == 0) {
        struct stat by_fd {};
        const auto by_name = stat_of(name);
        if (::fstat(fd, &by_fd) == 0 && by_name && by_fd.st_ino == seen.st_ino &&
            by_fd.st_dev == seen.st_dev && by_name->st_ino == seen.st_ino &&
            by_name->st_dev == seen.st_dev && ::unlink(shm_path(name).c_str()) != 0)
            allowed = errno != EACCES && errno != EPERM;
        ::flock(fd, LOCK_UN);
    }
    ::close(fd);
    return allowed;
}

// Creates `name`, taking it over from a dead holder. nullopt when a live or foreign file
// holds it; `holder` then says which.
std::optional<Segment> create_or_take_over(const std::string& name, std::size_t size,
                                           std::chrono::milliseconds ready_timeout,
                                           Holder& holder) {
    for (int attempt = 0; attempt < kTakeoverTries; ++attempt) {
        try {
            return Segment::create(name, size);
        } catch (const AlreadyExists&) {
        } catch (const OutOfSpace& e) { // segments are allocated whole when created
            throw OutOfSpace("Pool: its segment needs " + std::to_string(size >> 20) +
                             " MiB of /dev/shm (" + e.what() +
                             "): use fewer processes or a smaller max_message_size");
        }
        const auto seen = stat_of(name);
        holder = seen ? holder_of(name, ready_timeout) : Holder::gone;
        if (holder == Holder::live || holder == Holder::foreign)
            return std::nullopt;
        if (holder == Holder::stale && !unlink_if_still(name, *seen)) {
            holder = Holder::foreign;
            return std::nullopt;
        }
    }
    throw AlreadyExists("Pool: segment '" + name + "' was taken over by another process " +
                        std::to_string(kTakeoverTries) + " times in a row");
}

Segment create_named(const std::string& name, std::size_t size) {
    Holder holder = Holder::gone;
    if (auto segment = create_or_take_over(name, size, kNamedReadyTimeout, holder))
        return std::move(*segment);
    const std::string file = shm_path(name) + " (" + owner_of(name) + ")";
    if (holder == Holder::live)
        throw AlreadyExists("Pool: segment_name '" + name +
                            "' is in use by a live process: " + file + "; choose another name");
    throw PermissionDenied("Pool: segment_name '" + name + "' is held by " + file +
                           ", which this process cannot use as a shmbus segment (another "
                           "user's, or not a shmbus segment); remove it or choose another name");
}

std::pair<std::string, Segment> create_default_named(std::size_t size) {
    for (int tries = 0; tries < kDefaultNameTries; ++tries) {
        std::string name = default_segment_name();
        Holder holder = Holder::gone;
        if (auto segment = create_or_take_over(name, size, kDefaultReadyTimeout, holder))
            return {std::move(name), std::move(*segment)};
    }
    throw AlreadyExists("Pool: the next " + std::to_string(kDefaultNameTries) +
                        " names shmbus.pool." + std::to_string(::getpid()) +
                        ".<n> are all held by live pools or by files of other users in /dev/shm");
}

std::pair<std::string, Segment> create_pool_segment(const std::string& requested,
                                                    std::size_t size) {
    if (requested.empty())
        return create_default_named(size);
    return {requested, create_named(requested, size)};
}

} // namespace

OwnedSegment::OwnedSegment(const std::string& requested_name, std::size_t size)
    : OwnedSegment(create_pool_segment(requested_name, size)) {}

OwnedSegment::OwnedSegment(std::pair<std::string, Segment> created)
    : m_name(std::move(created.first)), m_segment(std::move(created.second)) {}

OwnedSegment::~OwnedSegment() {
    try {
        Segment::unlink(m_name);
    } catch (const std::exception& e) { // a destructor must not throw; the name stays behind
        std::fprintf(stderr, "shmbus Pool: %s\n", e.what());
    }
}

} // namespace shmbus::detail

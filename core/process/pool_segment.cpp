// SPDX-License-Identifier: Apache-2.0
// The segment a Pool lives in. Created with O_EXCL, so a name that is taken needs a look:
// a segment that nobody uses (a pool killed with SIGKILL, a reused pid) is removed and the
// name taken over; a live one, or a file that is not ours to use (another user's, a foreign
// or corrupt file), is left alone: a default-named pool takes the next number, a pool named
// by the user reports who holds the name.
#include "os/presence.hpp"
#include "process/pool_engine.hpp"
#include "segment/segment_file.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/log.hpp"

#include <atomic>
#include <optional>
#include <string>
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

std::atomic<unsigned> g_pool_counter{0};

std::string default_segment_name() {
    // relaxed is enough: the counter only hands out distinct numbers.
    const unsigned n = g_pool_counter.fetch_add(1, std::memory_order_relaxed);
    return detail::tree_segment_name(detail::kPoolSegmentRole, n);
}

std::string owner_of(const std::string& name) {
    struct stat st {};
    return ::stat(detail::shm_path(name).c_str(), &st) == 0
               ? "owner uid " + std::to_string(st.st_uid)
               : "owner unknown";
}

enum class Holder { gone, live, foreign };

// Removes `name` when nobody uses it (atomically with respect to processes attaching to it,
// in any PID namespace); else says who holds it.
Holder remove_if_stale(const std::string& name) {
    try {
        if (Segment::unlink_if_stale(name))
            return Holder::gone;
        return Segment::liveness_of(name) == Liveness::live ? Holder::live : Holder::foreign;
    } catch (const NotFound&) {
        return Holder::gone;
    } catch (const Error&) { // another user's file, a symlink, not a segment
        return Holder::foreign;
    }
}

// Creates `name`, taking it over from a dead holder. nullopt when a live or foreign file
// holds it; `holder` then says which.
std::optional<Segment> create_or_take_over(const std::string& name, std::size_t size,
                                           Holder& holder) {
    for (int attempt = 0; attempt < kTakeoverTries; ++attempt) {
        try {
            return Segment::create(name, size);
        } catch (const AlreadyExists&) {
        } catch (const OutOfSpace& e) {
            throw OutOfSpace("Pool: its segment of " + std::to_string(size >> 20) +
                             " MiB cannot be made (" + e.what() +
                             "): use fewer processes or a smaller max_message_size");
        }
        holder = remove_if_stale(name);
        if (holder != Holder::gone)
            return std::nullopt;
    }
    throw AlreadyExists("Pool: segment '" + name + "' was taken over by another process " +
                        std::to_string(kTakeoverTries) + " times in a row");
}

Segment create_named(const std::string& name, std::size_t size) {
    Holder holder = Holder::gone;
    if (auto segment = create_or_take_over(name, size, holder))
        return std::move(*segment);
    const std::string file = detail::shm_path(name) + " (" + owner_of(name) + ")";
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
        if (auto segment = create_or_take_over(name, size, holder))
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
        detail::log(LogLevel::error, "shmbus Pool: ", e.what());
    }
}

} // namespace shmbus::detail

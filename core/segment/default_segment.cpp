// SPDX-License-Identifier: Apache-2.0
// The default segment: one per process tree, made on first use, inherited by forked children,
// removed when its creator exits; and the sweep that removes dead trees' segments.
#include "os/liveness.hpp"
#include "os/presence.hpp"
#include "segment/mapping.hpp"
#include "segment/segment_file.hpp"
#include "shmbus/segment.hpp"

#include <cstdlib>
#include <dirent.h>
#include <mutex>
#include <pthread.h>
#include <string>

namespace shmbus {
namespace {

using detail::Mapping;

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
        // Prepare handlers run in reverse order of registration: registered after the mapping
        // registry's, ours takes this mutex before the registry's, as default_segment() does.
        detail::register_mapping_fork_handlers();
        pthread_atfork([] { default_slot().mutex.lock(); }, [] { default_slot().mutex.unlock(); },
                       [] { default_slot().mutex.unlock(); });
        return made;
    }();
    return *slot;
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
        if (entry->d_type != DT_REG || !detail::names_a_tree_segment(name))
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

Segment Segment::default_segment() {
    DefaultSegment& slot = default_slot();
    std::lock_guard lock(slot.mutex);
    if (!slot.mapping) {
        remove_dead_tree_segments();
        const detail::ProcessIdentity& self = detail::self_identity();
        const std::string name =
            detail::tree_segment_name(detail::kDefaultSegmentRole, self.start_time);
        slot.mapping = open_or_create(name, default_segment_size()).m_mapping;
        static const bool registered = std::atexit(remove_default_segment_at_exit) == 0;
        (void)registered;
    }
    return Segment(slot.mapping);
}

} // namespace shmbus

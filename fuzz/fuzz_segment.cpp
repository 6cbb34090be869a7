// SPDX-License-Identifier: Apache-2.0
// Segment attach and validation: opens a patched segment image (segment_image.hpp) and every
// object in its directory through the public API, with non-blocking operations only. Any
// outcome but a shmbus::Error (CorruptSegment, KindMismatch, ...) or success is a bug: a
// crash, a sanitizer report, or a hang (libFuzzer -timeout).
#include "segment_image.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace {

using namespace shmbus;

void use_lock(const Segment& segment, const std::string& name) {
    auto lock = Lock::open(segment, name);
    if (lock.try_acquire().acquired)
        lock.release();
}

void use_semaphore(const Segment& segment, const std::string& name) {
    auto semaphore = Semaphore::open(segment, name);
    (void)semaphore.get_value();
    if (semaphore.try_acquire())
        semaphore.release();
}

void use_bounded(const Segment& segment, const std::string& name) {
    auto semaphore = BoundedSemaphore::open(segment, name);
    (void)semaphore.get_value();
    if (semaphore.try_acquire())
        semaphore.release();
}

void use_event(const Segment& segment, const std::string& name) {
    auto event = Event::open(segment, name);
    const bool was_set = event.is_set();
    event.set();
    (void)event.wait_for(std::chrono::milliseconds(0));
    if (!was_set)
        event.clear();
}

void use_queue(const Segment& segment, const std::string& name) {
    auto queue = Queue<std::string>::open(segment, name);
    (void)queue.qsize();
    (void)queue.full();
    for (int i = 0; i < 8; ++i)
        (void)queue.try_get();
    (void)queue.try_put("fuzz");
    (void)queue.recover_dead();
}

void use_joinable(const Segment& segment, const std::string& name) {
    auto queue = JoinableQueue<int>::open(segment, name);
    (void)queue.try_get();
    (void)queue.try_put(1);
    queue.task_done();
}

void use_array(const Segment& segment, const std::string& name) {
    auto array = Array<std::int64_t>::open(segment, name);
    if (array.size() != 0)
        (void)array.load(array.size() - 1);
}

// Robust pthread mutexes (RLock, Barrier, Condition's RLock) are only opened: a mutex left
// locked on this thread's robust list across inputs would be a harness artefact.
void use(const Segment& segment, const ObjectInfo& info) {
    switch (info.kind) {
    case ObjectKind::lock:
        return use_lock(segment, info.name);
    case ObjectKind::rlock:
        (void)RLock::open(segment, info.name);
        return;
    case ObjectKind::semaphore:
        return use_semaphore(segment, info.name);
    case ObjectKind::bounded_semaphore:
        return use_bounded(segment, info.name);
    case ObjectKind::event:
        return use_event(segment, info.name);
    case ObjectKind::condition:
        (void)Condition::open(segment, info.name);
        return;
    case ObjectKind::barrier:
        (void)Barrier::open(segment, info.name, 3).broken();
        return;
    case ObjectKind::value:
        (void)Value<int>::open(segment, info.name).load();
        return;
    case ObjectKind::array:
        return use_array(segment, info.name);
    case ObjectKind::queue:
        return use_queue(segment, info.name);
    case ObjectKind::joinable_queue:
        return use_joinable(segment, info.name);
    default:
        return;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fuzz::SegmentImage image;
    image.load(data, size, false);
    try {
        const Segment segment = Segment::observe(image.name(), std::chrono::milliseconds(0));
        (void)segment.bytes_free();
        (void)segment.stale();
        for (const ObjectInfo& info : segment.objects()) {
            try {
                use(segment, info);
            } catch (const Error&) {
            }
        }
    } catch (const Error&) {
    }
    return 0;
}

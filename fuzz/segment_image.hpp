// SPDX-License-Identifier: Apache-2.0
// What the segment and inspect fuzzers share: a real named segment holding one object of
// every kind, whose bytes are restored before each input and then patched with it. Inputs
// are lists of patches, so the fuzzer mutates a valid image (reaching the per-object
// checks) instead of random bytes that fail at the magic.
//
// Input format: repeated [u8 region][u16 offset, little endian][u8 length][length bytes];
// region (mod 5) picks the header's fixed fields, its heap counters, the process table, the
// first directory entries or the used heap; the offset wraps inside it. A truncated record
// ends the list.
#pragma once

#include "segment/layout.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <shmbus/shmbus.hpp>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace shmbus::fuzz {

/// Builds the objects every image starts with; returns the pipe ends it made (kept alive).
inline void populate(const Segment& segment) {
    auto lock = Lock::create(segment, "lock");
    (void)lock.try_acquire();
    RLock::create(segment, "rlock");
    Semaphore::create(segment, "sem", 3);
    BoundedSemaphore::create(segment, "bsem", 2);
    Event::create(segment, "event").set();
    Condition::create(segment, "cond");
    Barrier::create(segment, "barrier", 3);
    Value<int>::create(segment, "int", 42);
    Value<double>::create(segment, "double", 2.5);
    Array<std::int64_t>::create(segment, "array", 8);
    auto queue = Queue<std::string>::create(
        segment, "queue", QueueOptions{.max_message_size = 512, .capacity_bytes = 2048});
    for (int i = 0; i < 5; ++i)
        queue.put(std::string(static_cast<std::size_t>(10 + 60 * i), 'q'));
    (void)queue.get();
    auto joinable =
        JoinableQueue<int>::create(segment, "jqueue", QueueOptions{.max_message_size = 64});
    joinable.put(7);
    auto pipe = Pipe(segment, true, PipeOptions{.capacity_bytes = 256, .max_message_size = 1024});
    pipe.first.send_bytes(std::string_view("hello through the pipe"));
}

class SegmentImage {
public:
    SegmentImage()
        : m_name("shmbus-fuzz-" + std::to_string(getpid())),
          m_segment(Segment::create(m_name, detail::kMinSegmentSize + (64 << 10))) {
        populate(m_segment);
        const int fd = ::open(("/dev/shm/" + m_name).c_str(), O_RDWR);
        if (fd < 0)
            throw std::runtime_error("cannot open the fuzz segment");
        m_size = m_segment.size();
        m_bytes = static_cast<unsigned char*>(
            mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
        ::close(fd);
        if (m_bytes == MAP_FAILED)
            throw std::runtime_error("cannot map the fuzz segment");
        const auto& header = *reinterpret_cast<const detail::SegmentHeader*>(m_bytes);
        m_heap_used = std::max<std::uint64_t>(header.heap_used, 64);
        m_template.assign(m_bytes, m_bytes + m_size);
    }
    ~SegmentImage() {
        munmap(m_bytes, m_size);
        Segment::unlink(m_name);
    }
    SegmentImage(const SegmentImage&) = delete;
    SegmentImage& operator=(const SegmentImage&) = delete;

    const std::string& name() const { return m_name; }

    /// Restores the template, then applies the patches in `data`. `keep_ready` leaves the
    /// ready mark alone (an unready segment only makes openers wait for it).
    void load(const std::uint8_t* data, std::size_t size, bool keep_ready) {
        std::memcpy(m_bytes, m_template.data(), m_size);
        while (size >= 4) {
            const std::uint8_t region = data[0];
            const std::size_t offset = data[1] | (std::size_t{data[2]} << 8);
            const std::size_t length = std::min<std::size_t>(data[3], size - 4);
            apply(region, offset, data + 4, length);
            data += 4 + length;
            size -= 4 + length;
        }
        if (keep_ready)
            std::memcpy(m_bytes + offsetof(detail::SegmentHeader, ready),
                        m_template.data() + offsetof(detail::SegmentHeader, ready), 4);
    }

private:
    // The directory lock's own bytes are left out: a forged lock word only makes every
    // directory access wait out its 5 s timeout (then Timeout), which fuzzing cannot speed up.
    void apply(std::uint8_t region, std::size_t offset, const std::uint8_t* bytes,
               std::size_t length) {
        static constexpr std::size_t kDirectoryBytes = 32 * sizeof(detail::DirEntry);
        const std::size_t starts[5] = {0, offsetof(detail::SegmentHeader, heap_used),
                                       detail::kProcessTableOffset, detail::kDirectoryOffset,
                                       detail::kHeapOffset};
        const std::size_t spans[5] = {offsetof(detail::SegmentHeader, directory_lock), 16,
                                      16 * sizeof(detail::ProcessSlot), kDirectoryBytes,
                                      static_cast<std::size_t>(m_heap_used)};
        const std::size_t r = region % 5;
        const std::size_t at = starts[r] + offset % spans[r];
        const std::size_t end = r == 0 ? spans[0] : r == 1 ? starts[1] + spans[1] : m_size;
        std::memcpy(m_bytes + at, bytes, std::min(length, end - at));
    }

    std::string m_name;
    Segment m_segment;
    std::size_t m_size = 0;
    unsigned char* m_bytes = nullptr;
    std::uint64_t m_heap_used = 0;
    std::vector<unsigned char> m_template;
};

} // namespace shmbus::fuzz

// SPDX-License-Identifier: Apache-2.0
// Sizes from the input: each record creates one object whose length, capacity or count comes
// from the fuzzer, in a segment holding one object of every kind (segment_image.hpp, restored
// before each input), and feeds the same number to the rings' bytes_for. A create must either
// give a usable object or raise OutOfSpace / UsageError with the directory and the heap fill
// level unchanged; bytes_for must either be exact or raise OutOfSpace. Anything else (a wrap,
// a write past the segment, another exception) is a bug.
//
// Input format: repeated [u8 kind][u64 size, little endian]; a truncated record ends the list.
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"
#include "segment/mapping.hpp"
#include "segment_image.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

namespace {

using namespace shmbus;
using namespace shmbus::detail;

constexpr std::size_t kRecordBytes = 9;
constexpr int kKinds = 12;

template <class T>
void use_array(const Segment& segment, std::uint64_t length) {
    Array<T> array(segment, "", length);
    if (array.size() != length || (length != 0 && array[length - 1] != T{}))
        __builtin_trap();
}

void use_pipe(const Segment& segment, bool duplex, const PipeOptions& options) {
    auto [receiver, sender] = Pipe(segment, duplex, options);
    sender.send(std::uint8_t{5});
    if (receiver.recv<std::uint8_t>() != 5)
        __builtin_trap();
}

void use_queue(const Segment& segment, const QueueOptions& options) {
    Queue<std::uint8_t> queue(segment, "", options);
    if (!queue.try_put(9) || queue.try_get() != std::uint8_t{9})
        __builtin_trap();
}

void use_dict(const Segment& segment, const DictOptions& options) {
    Dict<int> dict(segment, "", options);
    dict.set("k", 3);
    if (dict.get("k") != 3)
        __builtin_trap();
}

void use_list(const Segment& segment, const ListOptions& options) {
    List<int> list(segment, "", options);
    list.append(4);
    if (list.at(0) != 4)
        __builtin_trap();
}

void create_and_use(const Segment& segment, int kind, std::uint64_t n) {
    switch (kind) {
    case 0:
        return use_array<char>(segment, n);
    case 1:
        return use_array<std::int64_t>(segment, n);
    case 2:
        return use_pipe(segment, true, {.capacity_bytes = n});
    case 3:
        return use_pipe(segment, false, {.capacity_bytes = n, .max_message_size = n});
    case 4:
        return use_queue(segment, {.max_message_size = 64, .capacity_bytes = n});
    case 5:
        return use_queue(segment, {.maxsize = n, .max_message_size = 64});
    case 6:
        return use_queue(segment, {.max_message_size = n});
    case 7:
        return use_dict(segment, {.capacity_bytes = n});
    case 8:
        return use_dict(segment, {.capacity_bytes = 1024, .max_entries = n});
    case 9:
        return use_list(segment, {.capacity_bytes = n, .max_entries = n});
    case 10:
        (void)Barrier(segment, "", static_cast<unsigned>(n)).parties();
        return;
    default:
        (void)Semaphore(segment, "", static_cast<unsigned>(n)).get_value();
        return;
    }
}

void check_create(const Segment& segment, int kind, std::uint64_t size) {
    const auto before = segment.objects();
    const std::uint64_t heap_used = detail::mapping_of(segment).header().heap_used;
    try {
        create_and_use(segment, kind, size);
        return;
    } catch (const OutOfSpace&) {
    } catch (const UsageError&) {
    }
    if (segment.objects() != before || detail::mapping_of(segment).header().heap_used != heap_used)
        __builtin_trap();
}

// bytes_for is exact or OutOfSpace: a result that wrapped would be smaller than the product.
void check_bytes_for(std::uint64_t size) {
    try {
        if (SpscRing::bytes_for(size) - sizeof(SpscRingHeader) != size)
            __builtin_trap();
    } catch (const OutOfSpace&) {
        if (size <= ~std::uint64_t{0} - sizeof(SpscRingHeader))
            __builtin_trap();
    }
    const std::uint64_t per_slot = sizeof(RingControl) + kSlotBytes;
    const std::uint64_t fixed = MpmcRing::bytes_for(0);
    try {
        const std::uint64_t bytes = MpmcRing::bytes_for(size);
        if (bytes < fixed || (bytes - fixed) % per_slot != 0 || (bytes - fixed) / per_slot != size)
            __builtin_trap();
    } catch (const OutOfSpace&) {
        if (size <= (~std::uint64_t{0} - fixed) / per_slot)
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fuzz::SegmentImage image;
    static const Segment segment = Segment::open(image.name());
    image.load(nullptr, 0, true);
    for (; size >= kRecordBytes; data += kRecordBytes, size -= kRecordBytes) {
        std::uint64_t value = 0;
        for (int i = 8; i >= 1; --i)
            value = (value << 8) | data[i];
        check_bytes_for(value);
        check_create(segment, data[0] % kKinds, value);
    }
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
// Ring frame decoding: an MPMC ring (Queue's transport) and an SPSC byte ring (Pipe's) holding
// a few frames are restored before each input and patched with it (format as in
// segment_image.hpp: [u8 region][u16 offset][u8 length][bytes]...). Then every operation runs
// a bounded number of times, a loan and a borrow among them. Attaching may give
// CorruptSegment; the operations may give CorruptSegment or a status; nothing may crash,
// over-read, or spin forever.
#include "os/membarrier.hpp"
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <shmbus/errors.hpp>
#include <span>
#include <vector>

namespace {

using namespace shmbus;
using namespace shmbus::detail;

constexpr std::uint64_t kSlots = 64;
constexpr std::uint64_t kSpscCapacity = 256;

struct Region {
    std::size_t start;
    std::size_t span;
};

// 64-byte aligned bytes holding one ring, with a pristine copy to restore from.
class RingImage {
public:
    explicit RingImage(std::size_t bytes)
        : m_bytes(bytes), m_memory(static_cast<unsigned char*>(
                              ::operator new (bytes, std::align_val_t{kCacheLine}))) {
        std::memset(m_memory, 0, bytes);
    }
    ~RingImage() { ::operator delete (m_memory, std::align_val_t{kCacheLine}); }
    RingImage(const RingImage&) = delete;
    RingImage& operator=(const RingImage&) = delete;

    unsigned char* data() { return m_memory; }
    std::size_t size() const { return m_bytes; }
    void snapshot() { m_template.assign(m_memory, m_memory + m_bytes); }
    void restore() { std::memcpy(m_memory, m_template.data(), m_bytes); }
    void patch(const Region& region, std::size_t offset, const std::uint8_t* bytes,
               std::size_t length) {
        const std::size_t at = region.start + offset % region.span;
        std::memcpy(m_memory + at, bytes, std::min(length, m_bytes - at));
    }

private:
    std::size_t m_bytes;
    unsigned char* m_memory;
    std::vector<unsigned char> m_template;
};

std::vector<std::byte> frame(std::size_t size, unsigned char fill) {
    return std::vector<std::byte>(size, std::byte{fill});
}

RingImage& mpmc_image() {
    static RingImage image(MpmcRing::bytes_for(kSlots));
    static const bool filled = [] {
        MpmcRing::init(image.data(), kSlots, heavy_barrier_ready()); // patched bias fields too
        MpmcRing ring(image.data(), image.size());
        ByteBuffer out;
        for (std::size_t size : {8, 64, 65, 300, 1000, 40})
            (void)ring.try_put(frame(size, static_cast<unsigned char>(size)));
        (void)ring.try_get(out);
        image.snapshot();
        return true;
    }();
    (void)filled;
    return image;
}

RingImage& spsc_image() {
    static RingImage image(SpscRing::bytes_for(kSpscCapacity));
    static const bool filled = [] {
        SpscRing::init(image.data(), kSpscCapacity);
        SpscRing ring(image.data(), image.size());
        const std::array<std::byte, 100> bytes{};
        (void)ring.write_some(bytes);
        std::array<std::byte, 30> out{};
        (void)ring.read_some(out);
        (void)ring.write_some(bytes, bytes);
        image.snapshot();
        return true;
    }();
    (void)filled;
    return image;
}

// Every borrowed byte is read into this, so that ASan checks the whole borrow lies in the ring.
volatile unsigned borrowed_byte_sink = 0;

// A loan written and published, then a borrow read to its last byte and released.
void exercise_loans(MpmcRing& ring) {
    RingClaim loan;
    if (ring.try_loan(200, loan) == RingStatus::ok) {
        std::memset(loan.bytes.data(), 0x33, loan.bytes.size());
        ring.publish_loan(loan, 150);
    }
    RingClaim borrowed;
    if (ring.try_borrow(borrowed) == RingStatus::ok) {
        for (std::span<std::byte> part : {borrowed.bytes, borrowed.rest})
            for (std::byte b : part)
                borrowed_byte_sink = std::to_integer<unsigned>(b);
        ring.release_borrow(borrowed);
    }
}

void exercise_mpmc(RingImage& image) {
    try {
        MpmcRing ring(image.data(), image.size());
        ByteBuffer out;
        for (std::uint64_t i = 0; i < 2 * kSlots + 4; ++i) {
            const RingStatus got = ring.try_get(out);
            if (i % 3 == 0)
                (void)ring.try_put(frame(1 + i * 13 % 700, 0x5a));
            if (got != RingStatus::ok && i % 3 != 0)
                break;
        }
        exercise_loans(ring);
        (void)ring.recover_dead();
        (void)ring.size_guess();
        (void)ring.slots_used_guess();
        (void)ring.recovered_total();
    } catch (const CorruptSegment&) {
    } catch (const MessageTooLarge&) {
    } catch (const OutOfSpace&) { // every lease forged as held by a live thread
    } catch (const UsageError&) { // our own lease forged with a claim in flight
    }
}

void exercise_spsc(RingImage& image) {
    try {
        SpscRing ring(image.data(), image.size());
        std::array<std::byte, 700> buffer{};
        for (int i = 0; i < 8; ++i) {
            (void)ring.readable(4);
            (void)ring.peek(std::span(buffer).first(4));
            (void)ring.read_some(std::span(buffer).first(static_cast<std::size_t>(100 * i + 1)));
            (void)ring.writable();
            (void)ring.write_some(std::span(buffer).first(static_cast<std::size_t>(90 * i)));
        }
    } catch (const CorruptSegment&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    RingImage& mpmc = mpmc_image();
    RingImage& spsc = spsc_image();
    mpmc.restore();
    spsc.restore();
    const Region regions[6] = {
        {0, sizeof(MpmcRingHeader)},
        {sizeof(MpmcRingHeader), 4 * sizeof(RingLease)},
        {sizeof(MpmcRingHeader) + kRingLeases * sizeof(RingLease), kSlots * sizeof(RingControl)},
        {sizeof(MpmcRingHeader) + kRingLeases * sizeof(RingLease) + kSlots * sizeof(RingControl),
         kSlots * kSlotBytes},
        {0, sizeof(SpscRingHeader)},
        {sizeof(SpscRingHeader), kSpscCapacity},
    };
    while (size >= 4) {
        const std::size_t r = data[0] % 6;
        const std::size_t offset = data[1] | (std::size_t{data[2]} << 8);
        const std::size_t length = std::min<std::size_t>(data[3], size - 4);
        (r < 4 ? mpmc : spsc).patch(regions[r], offset, data + 4, length);
        data += 4 + length;
        size -= 4 + length;
    }
    exercise_mpmc(mpmc);
    exercise_spsc(spsc);
    return 0;
}

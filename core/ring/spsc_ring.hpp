// SPDX-License-Identifier: Apache-2.0
// A single-producer single-consumer byte ring inside a segment: the transport of one Pipe
// direction (core/messaging/pipe_core.cpp frames messages on it, each with a header word
// committed in band, and streams frames that do not fit at once through it in chunks). Offsets
// only; capacity set at runtime.
//
// BENCHMARK (bench_ring_bench, same run as the MPMC figures in mpmc_ring.hpp): see the block
// "MEASURED" there; this hand-rolled ring was chosen over boost::lockfree::spsc_queue<char,
// capacity<N>> for the reasons given there.
//
//   SpscRingHeader  geometry                                 (line 0)
//                   write_pos + cached_read   writer only      (line 2; line 1 padding)
//                   read_pos + cached_write   reader only      (line 4; line 3 padding)
//   bytes[capacity] capacity a power of two; byte p lives at p mod capacity
//
// Positions are 64-bit byte counters (no wrap in practice: 584 years at 1 GB/s). Each side keeps
// a cached copy of the other side's position on its own line and reloads the real one only
// when the cached copy says full (writer) or empty (reader), so in steady streaming each side
// reads the far line once per ring's worth of data, not once per message.
//
// Contract: at most one writer and one reader at a time (across all processes); the cached
// copies are atomics only so that a hand-over between processes is not a data race.
#pragma once

#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/checked_math.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace shmbus::detail {

inline constexpr std::uint64_t kSpscRingHeaderMagic = 0x3143'5053'5253'4253ULL; // "SBSRSPC1"
inline constexpr std::uint32_t kSpscRingHeaderVersion = 1;

struct alignas(kCacheLine) SpscRingHeader {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t reserved;
    std::uint64_t capacity;
    alignas(kCacheLine) unsigned char pad_writer[kCacheLine];
    std::atomic<std::uint64_t> write_pos;
    std::atomic<std::uint64_t> cached_read;      ///< the writer's copy of read_pos
    std::atomic<std::uint64_t> messages_written; ///< framed by the user of the ring (Pipe)
    alignas(kCacheLine) unsigned char pad_reader[kCacheLine];
    std::atomic<std::uint64_t> read_pos;
    std::atomic<std::uint64_t> cached_write; ///< the reader's copy of write_pos
    std::atomic<std::uint64_t> messages_read;
};

static_assert(offsetof(SpscRingHeader, capacity) == 16,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SpscRingHeader, write_pos) == 2 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(offsetof(SpscRingHeader, read_pos) == 4 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(sizeof(SpscRingHeader) == 5 * kCacheLine,
              "shared-memory layout is pinned: changing it needs a new layout version");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared atomics must be lock-free: a lock would live in one process only");

/// Why the `bytes` bytes at `header` are not an SPSC ring of this build, or nullopt
/// (segment/state_ref.hpp).
inline std::optional<std::string> validate(const SpscRingHeader& header, std::uint64_t bytes) {
    if (auto problem = stamp_problem("spsc ring", header.magic, kSpscRingHeaderMagic,
                                     header.version, kSpscRingHeaderVersion))
        return problem;
    const std::uint64_t capacity = header.capacity;
    if (capacity == 0 || (capacity & (capacity - 1)) != 0 ||
        capacity > bytes - sizeof(SpscRingHeader))
        return "spsc ring: header does not describe a ring that fits in " + std::to_string(bytes) +
               " bytes";
    return std::nullopt;
}

/// A view of an SPSC byte ring. @concurrent single writer and single reader.
class SpscRing {
public:
    /// OutOfSpace when the sum does not fit in 64 bits.
    static std::size_t bytes_for(std::uint64_t capacity) {
        return add_size(sizeof(SpscRingHeader), capacity, "an SPSC ring");
    }
    /// @pre capacity is a power of two; `at` is 64-byte aligned with bytes_for(capacity) bytes.
    static void init(void* at, std::uint64_t capacity) {
        auto* header = new (at) SpscRingHeader{};
        header->magic = kSpscRingHeaderMagic;
        header->version = kSpscRingHeaderVersion;
        header->capacity = capacity;
        // The first frame's header word reads "none yet" (the segment's space may be reused).
        std::memset(static_cast<std::byte*>(at) + sizeof(SpscRingHeader), 0,
                    std::min<std::uint64_t>(capacity, sizeof(std::uint64_t)));
    }

    /// CorruptSegment unless `at` holds a ring that fits in `bytes`.
    SpscRing(void* at, std::size_t bytes)
        : m_header(static_cast<SpscRingHeader*>(at)),
          m_data(static_cast<std::byte*>(at) + sizeof(SpscRingHeader)),
          m_mask(m_header->capacity - 1) {
        if (auto problem = state_problem<SpscRingHeader>(at, bytes))
            throw CorruptSegment(*problem);
    }

    std::uint64_t capacity() const { return m_mask + 1; }

    /// Writer: one more whole message is in. A statistic on the writer's own line.
    void count_message_written() { bump(m_header->messages_written); }
    /// Reader: one more whole message is out.
    void count_message_read() { bump(m_header->messages_read); }

    /// Writer: copies as much of `first`, then `second`, as fits, publishing it all at once.
    /// Returns the bytes taken (0 when full).
    std::size_t write_some(std::span<const std::byte> first,
                           std::span<const std::byte> second = {}) {
        // relaxed is enough: only the writer stores write_pos.
        const std::uint64_t pos = m_header->write_pos.load(std::memory_order_relaxed);
        const std::size_t wanted = first.size() + second.size();
        std::uint64_t room = free_at(pos, wanted);
        const std::size_t taken_first = std::min<std::size_t>(first.size(), room);
        copy_in(pos, first.first(taken_first));
        const std::size_t taken_second = std::min<std::size_t>(second.size(), room - taken_first);
        copy_in(pos + taken_first, second.first(taken_second));
        const std::size_t taken = taken_first + taken_second;
        if (taken != 0)
            // SYNC release: pairs with the acquire of write_pos in available_at: the bytes are in.
            m_header->write_pos.store(pos + taken, std::memory_order_release);
        return taken;
    }

    /// Reader: copies up to out.size() bytes out without consuming them; returns how many.
    std::size_t peek(std::span<std::byte> out) const {
        // relaxed is enough: only the reader stores read_pos.
        const std::uint64_t pos = m_header->read_pos.load(std::memory_order_relaxed);
        const std::size_t count =
            std::min<std::uint64_t>(out.size(), available_at(pos, out.size()));
        copy_out(pos, out.first(count));
        return count;
    }

    /// Reader: copies up to out.size() bytes out and consumes them; returns how many.
    std::size_t read_some(std::span<std::byte> out) { return skip_and_read(0, out); }

    /// Reader: consumes `skip` bytes already looked at (peek) and then up to out.size() more,
    /// copied out, with one store of the read position; returns the bytes copied.
    /// @pre `skip` bytes are readable.
    std::size_t skip_and_read(std::size_t skip, std::span<std::byte> out) {
        // relaxed is enough: only the reader stores read_pos.
        const std::uint64_t pos = m_header->read_pos.load(std::memory_order_relaxed);
        const std::size_t count =
            std::min<std::uint64_t>(out.size(), available_at(pos, skip + out.size()) - skip);
        copy_out(pos + skip, out.first(count));
        if (skip + count != 0)
            consume(skip + count);
        return count;
    }

    /// Reader: bytes ready to read; the cached write position is refreshed when it shows
    /// fewer than `wanted`.
    std::size_t readable(std::size_t wanted = 1) const {
        // relaxed is enough: only the reader stores read_pos.
        return available_at(m_header->read_pos.load(std::memory_order_relaxed), wanted);
    }
    /// Writer: bytes that fit now; the cached read position is refreshed when it shows fewer
    /// than `wanted`.
    std::size_t writable(std::size_t wanted = 1) const {
        // relaxed is enough: only the writer stores write_pos.
        return free_at(m_header->write_pos.load(std::memory_order_relaxed), wanted);
    }
    /// Either side: bytes in the ring. @concurrent result may be stale.
    std::size_t size_guess() const {
        // relaxed is enough: the result may be stale by definition.
        return m_header->write_pos.load(std::memory_order_relaxed) -
               m_header->read_pos.load(std::memory_order_relaxed);
    }

    // ---- in place (Pipe loans and borrows) --------------------------------------------------

    /// Writer: bytes ever written (published or not).
    std::uint64_t write_position() const {
        // relaxed is enough: only the writer stores write_pos.
        return m_header->write_pos.load(std::memory_order_relaxed);
    }
    /// Reader: bytes ever read.
    std::uint64_t read_position() const {
        // relaxed is enough: only the reader stores read_pos.
        return m_header->read_pos.load(std::memory_order_relaxed);
    }
    /// The byte at position `pos`, in place; the next capacity() - (pos mod capacity()) bytes
    /// follow it contiguously.
    std::byte* data_at(std::uint64_t pos) const { return m_data + (pos & m_mask); }
    /// The `count` bytes from position `pos` on, in place: in two pieces when they wrap the
    /// ring's end, else the second is empty. @pre count <= capacity().
    std::pair<std::span<std::byte>, std::span<std::byte>> bytes_at(std::uint64_t pos,
                                                                   std::size_t count) const {
        const std::size_t head = std::min<std::uint64_t>(count, capacity() - (pos & m_mask));
        return {{data_at(pos), head}, {data_at(pos + head), count - head}};
    }
    /// Writer: copies `from` to position `pos`, unpublished. @pre the bytes are free.
    void write_at(std::uint64_t pos, std::span<const std::byte> from) { copy_in(pos, from); }
    /// Reader: copies the bytes at position `pos` out. @pre they are readable.
    void read_at(std::uint64_t pos, std::span<std::byte> to) const { copy_out(pos, to); }
    /// Writer: publishes every byte written before position `pos`.
    void publish_to(std::uint64_t pos) {
        // SYNC release: pairs with the acquire of write_pos in available_at: the bytes are in.
        m_header->write_pos.store(pos, std::memory_order_release);
    }

    // ---- words committed in band (Pipe frame headers) ---------------------------------------

    /// Reader: the 8-byte word at position `pos`, a multiple of 8.
    std::uint64_t word_at(std::uint64_t pos) const {
        // SYNC acquire: pairs with the release in commit_word: the bytes written before it are in.
        return word(pos).load(std::memory_order_acquire);
    }
    /// Writer: stores `value` at position `pos`, a multiple of 8, after every byte written
    /// before it.
    void commit_word(std::uint64_t pos, std::uint64_t value) {
        // SYNC release: pairs with the acquire in word_at.
        word(pos).store(value, std::memory_order_release);
    }
    /// Writer: zeroes the word at position `pos`, a multiple of 8. @pre the bytes are free.
    void clear_word(std::uint64_t pos) {
        // relaxed is enough: the commit_word or publish_to that follows publishes it.
        word(pos).store(0, std::memory_order_relaxed);
    }
    /// Reader: consumes `count` bytes that a committed word showed to be there.
    void advance(std::size_t count) { consume(count); }

    /// Whether this process holds a loan (send side) or a borrow (receive side) of the ring,
    /// during which no other send or recv may move its position. Process-local: the view is
    /// shared by the copies of one Pipe end's handle.
    bool held() const { return m_held; }
    void set_held(bool held) { m_held = held; }

private:
    // One side owns the counter: a relaxed load and store, no read-modify-write. relaxed is
    // enough: a statistic, read only for display.
    static void bump(std::atomic<std::uint64_t>& counter) {
        counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    // Room for the writer at `pos`: from the cached read position, reloaded when it leaves less
    // than `wanted`.
    std::uint64_t free_at(std::uint64_t pos, std::size_t wanted) const {
        // relaxed is enough: writer-private.
        std::uint64_t read = m_header->cached_read.load(std::memory_order_relaxed);
        if (capacity() - (pos - read) < wanted) {
            // SYNC acquire: pairs with the release of read_pos in consume: the reader is done
            // with the bytes we are about to overwrite.
            read = m_header->read_pos.load(std::memory_order_acquire);
            // relaxed is enough: writer-private.
            m_header->cached_read.store(read, std::memory_order_relaxed);
        }
        return checked(capacity() - (pos - read));
    }

    std::uint64_t available_at(std::uint64_t pos, std::size_t wanted) const {
        // relaxed is enough: reader-private.
        std::uint64_t write = m_header->cached_write.load(std::memory_order_relaxed);
        // A reader that advanced past frames committed in band may be ahead of its copy.
        if (write - pos < wanted || write < pos) {
            // SYNC acquire: pairs with the release of write_pos in write_some.
            write = m_header->write_pos.load(std::memory_order_acquire);
            // relaxed is enough: reader-private.
            m_header->cached_write.store(write, std::memory_order_relaxed);
        }
        return checked(write - pos);
    }

    // Positions a peer forged (or a stray write) could announce more bytes than the ring
    // holds; every copy is bounded by the count returned here, so this one check suffices.
    std::uint64_t checked(std::uint64_t bytes) const {
        if (bytes > capacity()) [[unlikely]]
            throw_positions_apart(bytes, capacity());
        return bytes;
    }
    // Out of line, so that the check above costs a compare on every call.
    [[noreturn, gnu::cold, gnu::noinline]] static void
    throw_positions_apart(std::uint64_t bytes, std::uint64_t capacity) {
        throw CorruptSegment("spsc ring: positions " + std::to_string(bytes) +
                             " bytes apart in a ring of " + std::to_string(capacity));
    }

    // The ring's data starts on a cache line and a Pipe's capacity is a power of two of at
    // least a line (pipe_core.cpp), so a word at a multiple of 8 is aligned and never crosses
    // the end. Positions only ever move by multiples of 8; another one was forged, and its word
    // could reach past the ring's last byte.
    std::atomic_ref<std::uint64_t> word(std::uint64_t pos) const {
        if (pos % sizeof(std::uint64_t) != 0) [[unlikely]]
            throw_misaligned(pos);
        return std::atomic_ref<std::uint64_t>(
            *std::launder(reinterpret_cast<std::uint64_t*>(m_data + (pos & m_mask))));
    }
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_misaligned(std::uint64_t pos) {
        throw CorruptSegment("spsc ring: a word at position " + std::to_string(pos) +
                             ", not a multiple of 8");
    }

    void consume(std::size_t count) {
        // relaxed is enough: only the reader stores read_pos.
        const std::uint64_t pos = m_header->read_pos.load(std::memory_order_relaxed);
        // SYNC release: pairs with the acquire of read_pos in free_at.
        m_header->read_pos.store(pos + count, std::memory_order_release);
    }

    void copy_in(std::uint64_t pos, std::span<const std::byte> from) {
        if (from.empty())
            return;
        const std::size_t at = pos & m_mask;
        const std::size_t head = std::min<std::size_t>(from.size(), capacity() - at);
        std::memcpy(m_data + at, from.data(), head);
        if (head != from.size())
            std::memcpy(m_data, from.data() + head, from.size() - head);
    }

    void copy_out(std::uint64_t pos, std::span<std::byte> to) const {
        if (to.empty())
            return;
        const std::size_t at = pos & m_mask;
        const std::size_t head = std::min<std::size_t>(to.size(), capacity() - at);
        std::memcpy(to.data(), m_data + at, head);
        if (head != to.size())
            std::memcpy(to.data() + head, m_data, to.size() - head);
    }

    SpscRingHeader* m_header;
    std::byte* m_data;
    std::uint64_t m_mask;
    bool m_held = false;
};

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// The side-by-side run that chose shmbus's rings: every candidate in one process tree, on one
// machine state, with memcpy bandwidth as the yardstick (this VM moves between a fast and a
// slow placement, so only figures from one run compare).
//
//   MPMC (Queue):  shmbus MpmcRing (sequenced slots, multi-slot frames)
//                  vs boost::lockfree::queue<u32, fixed_sized, capacity> carrying slot indices
//                     (a free-index queue and a ready-index queue over fixed slots)
//                  plus QueueCore (the ring with Queue's futex notification and item counting)
//   SPSC (Pipe):   shmbus SpscRing (cached far indices, runtime capacity)
//                  vs boost::lockfree::spsc_queue<char, capacity<N>> placed in shared memory
//
// Producers and consumers are forked processes sharing one MAP_SHARED mapping (a segment for
// QueueCore). A failed try spins with pause and yields every 64 tries, so 2P2C on 2 cores makes
// progress. Throughput is counted from the start signal to the last consumer's end.
//
// Usage: bench_ring_bench [scale]   (scale multiplies the message counts; default 1)
#include "measure.hpp"
#include "os/membarrier.hpp"
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/segment.hpp"
#include "wait/park.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sched.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using shmbus::detail::ByteBuffer;

constexpr std::uint64_t kSentinel = ~std::uint64_t{0};

// ---- shared memory and processes ----------------------------------------------------------

void* map_shared(std::size_t bytes) {
    void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (at == MAP_FAILED) {
        std::perror("mmap");
        std::exit(1);
    }
    return at;
}

struct Control {
    std::atomic<int> ready;
    std::atomic<int> go;
    std::atomic<std::int64_t> start_ns;
    std::atomic<std::int64_t> end_ns[8];
    std::atomic<std::uint64_t> received[8];
    std::atomic<std::uint64_t> order_errors;
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

void backoff(unsigned& tries) {
    if (++tries % 64 == 0)
        sched_yield();
    else
        shmbus::detail::cpu_relax();
}

struct Result {
    double seconds;
    std::uint64_t messages;
    std::uint64_t errors;
};

// Forks `producers` + `consumers` children running the given bodies; returns when all ended.
Result run_processes(int producers, int consumers, std::uint64_t per_producer,
                     const std::function<void(int)>& produce,
                     const std::function<std::uint64_t(int, Control&)>& consume) {
    auto* control = new (map_shared(sizeof(Control))) Control{};
    std::vector<pid_t> children;
    std::fflush(nullptr);
    for (int i = 0; i < producers + consumers; ++i) {
        const pid_t pid = fork();
        if (pid == 0) {
            control->ready.fetch_add(1);
            while (control->go.load(std::memory_order_acquire) == 0)
                shmbus::detail::cpu_relax();
            if (i < producers) {
                produce(i);
            } else {
                const int c = i - producers;
                control->received[c].store(consume(c, *control));
                control->end_ns[c].store(now_ns());
            }
            _exit(0);
        }
        children.push_back(pid);
    }
    while (control->ready.load() != producers + consumers)
        sched_yield();
    control->start_ns.store(now_ns());
    control->go.store(1, std::memory_order_release);
    for (pid_t pid : children)
        waitpid(pid, nullptr, 0);
    std::int64_t end = 0;
    std::uint64_t received = 0;
    for (int c = 0; c < consumers; ++c) {
        end = std::max(end, control->end_ns[c].load());
        received += control->received[c].load();
    }
    Result result{static_cast<double>(end - control->start_ns.load()) / 1e9, received,
                  control->order_errors.load()};
    if (received != per_producer * static_cast<std::uint64_t>(producers))
        result.errors += 1;
    munmap(control, sizeof(Control));
    return result;
}

void report(const char* candidate, int producers, int consumers, std::size_t size,
            const Result& r) {
    const double rate = static_cast<double>(r.messages) / r.seconds;
    std::printf("%-22s %dP%dC %6zu B  %8.2f M msg/s  %9.1f MB/s%s\n", candidate, producers,
                consumers, size, rate / 1e6, rate * static_cast<double>(size) / 1e6,
                r.errors != 0 ? "  ERRORS" : "");
    std::fflush(stdout);
}

// ---- message stamping: [producer u32][unused u32][seq u64] ------------------------------

void stamp(std::vector<std::byte>& message, std::uint32_t producer, std::uint64_t seq) {
    std::memcpy(message.data(), &producer, sizeof producer);
    std::memcpy(message.data() + 8, &seq, sizeof seq);
}

struct OrderCheck {
    std::uint64_t next[8] = {};
    // True at a sentinel; counts per-producer order violations (each consumer sees an
    // increasing subsequence of every producer's messages).
    bool take(const std::byte* message, Control& control) {
        std::uint32_t producer;
        std::uint64_t seq;
        std::memcpy(&producer, message, sizeof producer);
        std::memcpy(&seq, message + 8, sizeof seq);
        if (seq == kSentinel)
            return true;
        if (producer >= 8 || seq < next[producer])
            control.order_errors.fetch_add(1);
        else
            next[producer] = seq + 1;
        return false;
    }
};

// Generic MPMC workload over try_put(span) -> bool and try_get(ByteBuffer&) -> bool.
template <class Ring>
Result mpmc_workload(Ring& ring, int producers, int consumers, std::size_t size,
                     std::uint64_t per_producer) {
    const auto produce = [&](int p) {
        std::vector<std::byte> message(size, std::byte{0x5a});
        unsigned tries = 0;
        for (std::uint64_t seq = 0; seq < per_producer; ++seq) {
            stamp(message, static_cast<std::uint32_t>(p), seq);
            while (!ring.try_put(message))
                backoff(tries);
        }
        for (int c = p; c < consumers; c += producers) {
            stamp(message, static_cast<std::uint32_t>(p), kSentinel);
            while (!ring.try_put(message))
                backoff(tries);
        }
    };
    const auto consume = [&](int, Control& control) {
        ByteBuffer buffer;
        OrderCheck order;
        std::uint64_t count = 0;
        unsigned tries = 0;
        for (;;) {
            if (!ring.try_get(buffer)) {
                backoff(tries);
                continue;
            }
            if (order.take(buffer.data(), control))
                return count;
            ++count;
        }
    };
    return run_processes(producers, consumers, per_producer, produce, consume);
}

// ---- MPMC candidates ----------------------------------------------------------------------

struct ShmbusMpmc {
    explicit ShmbusMpmc(std::uint64_t slots)
        : bytes(shmbus::detail::MpmcRing::bytes_for(slots)), memory(map_shared(bytes)),
          ring(
              (shmbus::detail::MpmcRing::init(memory, slots, shmbus::detail::heavy_barrier_ready()),
               memory),
              bytes) {}
    ~ShmbusMpmc() { munmap(memory, bytes); }
    bool try_put(const std::vector<std::byte>& m) {
        return ring.try_put(m) == shmbus::detail::RingStatus::ok;
    }
    bool try_get(ByteBuffer& out) { return ring.try_get(out) == shmbus::detail::RingStatus::ok; }

    std::size_t bytes;
    void* memory;
    shmbus::detail::MpmcRing ring;
};

template <std::size_t SlotBytes, std::size_t Slots>
struct BoostIndexState {
    using IndexQueue = boost::lockfree::queue<std::uint32_t, boost::lockfree::fixed_sized<true>,
                                              boost::lockfree::capacity<Slots>>;
    struct alignas(64) Slot {
        std::uint32_t size;
        std::byte bytes[SlotBytes];
    };
    IndexQueue free_slots;
    IndexQueue ready;
    Slot slots[Slots];

    BoostIndexState() {
        for (std::uint32_t i = 0; i < Slots; ++i)
            free_slots.push(i);
    }
};

template <std::size_t SlotBytes, std::size_t Slots>
struct BoostMpmc {
    using State = BoostIndexState<SlotBytes, Slots>;
    BoostMpmc() : state(new (map_shared(sizeof(State))) State) {}
    ~BoostMpmc() { munmap(state, sizeof(State)); }
    bool try_put(const std::vector<std::byte>& m) {
        std::uint32_t index;
        if (!state->free_slots.pop(index))
            return false;
        state->slots[index].size = static_cast<std::uint32_t>(m.size());
        std::memcpy(state->slots[index].bytes, m.data(), m.size());
        state->ready.push(index);
        return true;
    }
    bool try_get(ByteBuffer& out) {
        std::uint32_t index;
        if (!state->ready.pop(index))
            return false;
        const auto& slot = state->slots[index];
        std::memcpy(out.resize_for_overwrite(slot.size), slot.bytes, slot.size);
        state->free_slots.push(index);
        return true;
    }
    State* state;
};

struct ShmbusQueueCore {
    explicit ShmbusQueueCore(std::size_t capacity)
        : name("ring-bench-" + std::to_string(getpid())),
          segment(shmbus::Segment::create(name, capacity + (std::size_t{4} << 20))),
          core(segment, "bench", shmbus::QueueOptions{0, std::size_t{64} << 10, capacity, {}},
               shmbus::detail::OpenMode::create, shmbus::ObjectKind::queue, 0) {
        // The mapping outlives the name: unlinked at once, a killed run leaves nothing behind.
        shmbus::Segment::unlink(name);
    }
    bool try_put(const std::vector<std::byte>& m) {
        return core.try_put(m) == shmbus::detail::QueueStatus::ok;
    }
    bool try_get(ByteBuffer& out) { return core.try_get(out) == shmbus::detail::QueueStatus::ok; }

    std::string name;
    shmbus::Segment segment;
    shmbus::detail::QueueCore core;
};

// ---- SPSC candidates: frames [u32 length][payload] on a byte stream ------------------------

struct ShmbusSpsc {
    explicit ShmbusSpsc(std::uint64_t capacity)
        : bytes(shmbus::detail::SpscRing::bytes_for(capacity)), memory(map_shared(bytes)),
          ring((shmbus::detail::SpscRing::init(memory, capacity), memory), bytes) {}
    ~ShmbusSpsc() { munmap(memory, bytes); }
    std::size_t push(const std::byte* data, std::size_t n) { return ring.write_some({data, n}); }
    std::size_t pop(std::byte* data, std::size_t n) { return ring.read_some({data, n}); }
    std::size_t bytes;
    void* memory;
    shmbus::detail::SpscRing ring;
};

template <std::size_t Capacity>
struct BoostSpsc {
    using Queue = boost::lockfree::spsc_queue<char, boost::lockfree::capacity<Capacity>>;
    BoostSpsc() : queue(new (map_shared(sizeof(Queue))) Queue) {}
    ~BoostSpsc() { munmap(queue, sizeof(Queue)); }
    std::size_t push(const std::byte* data, std::size_t n) {
        return queue->push(reinterpret_cast<const char*>(data), n);
    }
    std::size_t pop(std::byte* data, std::size_t n) {
        return queue->pop(reinterpret_cast<char*>(data), n);
    }
    Queue* queue;
};

template <class Stream>
void write_all(Stream& stream, const std::byte* data, std::size_t n) {
    unsigned tries = 0;
    while (n != 0) {
        const std::size_t taken = stream.push(data, n);
        if (taken == 0)
            backoff(tries);
        data += taken;
        n -= taken;
    }
}

template <class Stream>
void read_all(Stream& stream, std::byte* data, std::size_t n) {
    unsigned tries = 0;
    while (n != 0) {
        const std::size_t got = stream.pop(data, n);
        if (got == 0)
            backoff(tries);
        data += got;
        n -= got;
    }
}

template <class Stream>
Result spsc_workload(Stream& stream, std::size_t size, std::uint64_t messages) {
    const auto produce = [&](int) {
        // One contiguous frame per message, for both candidates alike.
        std::vector<std::byte> frame(4 + size, std::byte{0x5a});
        const auto length = static_cast<std::uint32_t>(size);
        std::memcpy(frame.data(), &length, 4);
        std::vector<std::byte> message(size);
        for (std::uint64_t seq = 0; seq <= messages; ++seq) {
            const std::uint64_t stamp_seq = seq == messages ? kSentinel : seq;
            std::memcpy(frame.data() + 4, "\0\0\0\0\0\0\0\0", 8);
            std::memcpy(frame.data() + 12, &stamp_seq, 8);
            write_all(stream, frame.data(), frame.size());
        }
    };
    const auto consume = [&](int, Control& control) {
        std::vector<std::byte> message;
        OrderCheck order;
        std::uint64_t count = 0;
        for (;;) {
            std::uint32_t length = 0;
            read_all(stream, reinterpret_cast<std::byte*>(&length), 4);
            message.resize(length);
            read_all(stream, message.data(), length);
            if (order.take(message.data(), control))
                return count;
            ++count;
        }
    };
    return run_processes(1, 1, messages, produce, consume);
}

// ---- memcpy yardstick (the harness's, as in `shmbus bench`) ----------------------------

double memcpy_gbps(std::size_t span_bytes, std::chrono::milliseconds budget) {
    const auto copied = shmbus::bench::measure_memcpy(std::size_t{64} << 10, span_bytes, budget);
    return copied.messages_per_s() * static_cast<double>(std::size_t{64} << 10) / 1e9;
}

} // namespace

int main(int argc, char** argv) {
    double scale = 1.0;
    CLI::App app{"ring_bench: shmbus's MPMC and SPSC rings against Boost.Lockfree queues in "
                 "shared memory, with memcpy bandwidth as the yardstick",
                 "bench_ring_bench"};
    app.add_option("scale", scale,
                   "Multiplies the message counts (2*10^6 small, 2*10^4 large messages)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    const auto small_count = static_cast<std::uint64_t>(2'000'000 * scale);
    const auto large_count = static_cast<std::uint64_t>(20'000 * scale);
    constexpr std::size_t kSmall = 64;
    constexpr std::size_t kLarge = std::size_t{64} << 10;

    std::printf("memcpy 64 KiB blocks, in cache (64 KiB):  %6.1f GB/s\n",
                memcpy_gbps(kLarge, std::chrono::milliseconds(300)));
    std::printf("memcpy 64 KiB blocks, DRAM (256 MiB):     %6.1f GB/s\n",
                memcpy_gbps(std::size_t{256} << 20, std::chrono::milliseconds(500)));
    std::printf("messages: %llu x 64 B, %llu x 64 KiB per producer\n",
                static_cast<unsigned long long>(small_count),
                static_cast<unsigned long long>(large_count));

    for (const auto& [p, c] : {std::pair{1, 1}, std::pair{2, 2}}) {
        {
            ShmbusMpmc ring(std::uint64_t{1} << 13); // 512 KiB
            report("shmbus MpmcRing", p, c, kSmall, mpmc_workload(ring, p, c, kSmall, small_count));
        }
        {
            BoostMpmc<64, 4096> ring; // 4096 x 128 B slots = 512 KiB
            report("boost queue<index>", p, c, kSmall,
                   mpmc_workload(ring, p, c, kSmall, small_count));
        }
        {
            ShmbusQueueCore queue(std::size_t{512} << 10);
            report("shmbus QueueCore", p, c, kSmall,
                   mpmc_workload(queue, p, c, kSmall, small_count));
        }
        {
            ShmbusMpmc ring(std::uint64_t{1} << 15); // 2 MiB
            report("shmbus MpmcRing", p, c, kLarge, mpmc_workload(ring, p, c, kLarge, large_count));
        }
        {
            BoostMpmc<kLarge, 32> ring; // 32 x 64 KiB slots = 2 MiB
            report("boost queue<index>", p, c, kLarge,
                   mpmc_workload(ring, p, c, kLarge, large_count));
        }
        {
            ShmbusQueueCore queue(std::size_t{2} << 20);
            report("shmbus QueueCore", p, c, kLarge,
                   mpmc_workload(queue, p, c, kLarge, large_count));
        }
    }
    {
        ShmbusSpsc ring(std::uint64_t{256} << 10);
        report("shmbus SpscRing", 1, 1, kSmall, spsc_workload(ring, kSmall, 4 * small_count));
    }
    {
        BoostSpsc<(std::size_t{256} << 10)> ring;
        report("boost spsc_queue<char>", 1, 1, kSmall,
               spsc_workload(ring, kSmall, 4 * small_count));
    }
    {
        ShmbusSpsc ring(std::uint64_t{256} << 10);
        report("shmbus SpscRing", 1, 1, kLarge, spsc_workload(ring, kLarge, large_count));
    }
    {
        BoostSpsc<(std::size_t{256} << 10)> ring;
        report("boost spsc_queue<char>", 1, 1, kLarge, spsc_workload(ring, kLarge, large_count));
    }
    return 0;
}

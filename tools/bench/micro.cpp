// SPDX-License-Identifier: Apache-2.0
// Single-process micro-benchmarks (Google Benchmark) of the pieces on shmbus's message path:
// ring put/get without a peer, the semaphore's syscall-free fast path next to the futex wake it
// avoids, Queue and Pipe without a peer, and the codec. Cross-process figures (round trips,
// throughput against pipes and message queues) are `shmbus bench`'s, from the same harness.
//
//   bench_micro [--benchmark_filter=REGEX] [--benchmark_min_time=0.1]
#include "os/futex.hpp"
#include "os/membarrier.hpp"
#include "processes.hpp"
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"

#include <array>
#include <atomic>
#include <benchmark/benchmark.h>
#include <map>
#include <shmbus/codec.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using shmbus::bench::SharedMemory;
using shmbus::detail::ByteBuffer;

/// A private segment for the objects of one benchmark, unlinked at once (the mapping stays).
shmbus::Segment scratch_segment() {
    static int counter = 0;
    const std::string name =
        "shmbus-micro-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    auto segment = shmbus::Segment::create(name, std::size_t{16} << 20);
    shmbus::Segment::unlink(name);
    return segment;
}

// ---- rings: one put and one get per iteration, same thread ---------------------------------

void BM_MpmcRing_PutGet(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    constexpr std::uint64_t kSlots = 1 << 12;
    SharedMemory memory(shmbus::detail::MpmcRing::bytes_for(kSlots));
    shmbus::detail::MpmcRing::init(memory.data(), kSlots, shmbus::detail::heavy_barrier_ready());
    shmbus::detail::MpmcRing ring(memory.data(), memory.size());
    const std::vector<std::byte> message(size, std::byte{7});
    ByteBuffer out;
    for (auto _ : state) {
        if (ring.try_put(message) != shmbus::detail::RingStatus::ok ||
            ring.try_get(out) != shmbus::detail::RingStatus::ok)
            state.SkipWithError("ring refused a put or a get");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MpmcRing_PutGet)->Arg(8)->Arg(64)->Arg(1024)->Arg(65536);

void BM_SpscRing_WriteRead(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    constexpr std::uint64_t kCapacity = std::uint64_t{256} << 10;
    SharedMemory memory(shmbus::detail::SpscRing::bytes_for(kCapacity));
    shmbus::detail::SpscRing::init(memory.data(), kCapacity);
    shmbus::detail::SpscRing ring(memory.data(), memory.size());
    const std::vector<std::byte> message(size, std::byte{7});
    std::vector<std::byte> out(size);
    for (auto _ : state) {
        if (ring.write_some(message) != size || ring.read_some(out) != size)
            state.SkipWithError("ring took or gave a partial message");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SpscRing_WriteRead)->Arg(8)->Arg(64)->Arg(1024)->Arg(65536);

// ---- Queue and Pipe without a peer: the whole API path (codec, ring, notification) ---------

void BM_Queue_PutGet64(benchmark::State& state) {
    using Message = std::array<std::byte, 64>;
    const shmbus::Segment segment = scratch_segment();
    auto queue = shmbus::Queue<Message>::create(segment, "q");
    const Message message{};
    for (auto _ : state) {
        queue.put(message);
        benchmark::DoNotOptimize(queue.get());
    }
}
BENCHMARK(BM_Queue_PutGet64);

void BM_Pipe_SendRecvBytes64(benchmark::State& state) {
    const shmbus::Segment segment = scratch_segment();
    auto [left, right] = shmbus::Pipe(segment);
    const std::vector<std::byte> message(64, std::byte{7});
    std::vector<std::byte> out(64);
    for (auto _ : state) {
        left.send_bytes(message);
        benchmark::DoNotOptimize(right.recv_bytes_into(out));
    }
}
BENCHMARK(BM_Pipe_SendRecvBytes64);

// ---- the futex fast path -------------------------------------------------------------------

/// release + acquire with nobody waiting: no syscall at all.
void BM_Semaphore_ReleaseAcquire(benchmark::State& state) {
    const shmbus::Segment segment = scratch_segment();
    shmbus::Semaphore semaphore(segment, "s", 0);
    for (auto _ : state) {
        semaphore.release();
        semaphore.acquire();
    }
}
BENCHMARK(BM_Semaphore_ReleaseAcquire);

/// What the waiter count saves: FUTEX_WAKE on a word nobody waits on is still a syscall.
void BM_FutexWake_NobodyWaiting(benchmark::State& state) {
    SharedMemory memory(64);
    auto* word = new (memory.data()) std::atomic<std::uint32_t>(0);
    for (auto _ : state)
        benchmark::DoNotOptimize(shmbus::detail::futex_wake(*word, 1));
}
BENCHMARK(BM_FutexWake_NobodyWaiting);

// ---- codec ---------------------------------------------------------------------------------

template <class T>
void round_trip_codec(benchmark::State& state, const T& value) {
    ByteBuffer buffer;
    for (auto _ : state) {
        buffer.clear();
        shmbus::encode(value, buffer);
        benchmark::DoNotOptimize(shmbus::decode<T>(buffer.bytes()));
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buffer.size()));
}

struct Order {
    std::uint64_t id;
    double price;
    std::int32_t quantity;
};

void BM_Codec_TrivialStruct(benchmark::State& state) {
    round_trip_codec(state, Order{1, 2.5, 3});
}
BENCHMARK(BM_Codec_TrivialStruct);

void BM_Codec_String(benchmark::State& state) {
    round_trip_codec(state, std::string(static_cast<std::size_t>(state.range(0)), 'x'));
}
BENCHMARK(BM_Codec_String)->Arg(8)->Arg(64)->Arg(1024);

void BM_Codec_VectorOfInt(benchmark::State& state) {
    round_trip_codec(state, std::vector<int>(static_cast<std::size_t>(state.range(0)), 42));
}
BENCHMARK(BM_Codec_VectorOfInt)->Arg(16)->Arg(256);

void BM_Codec_Map(benchmark::State& state) {
    std::map<std::string, int> value;
    for (int i = 0; i < 16; ++i)
        value["key" + std::to_string(i)] = i;
    round_trip_codec(state, value);
}
BENCHMARK(BM_Codec_Map);

} // namespace

BENCHMARK_MAIN();

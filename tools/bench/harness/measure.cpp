// SPDX-License-Identifier: Apache-2.0
#include "measure.hpp"

#include "processes.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <new>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmbus::bench {
namespace {

constexpr std::size_t kStampBytes = sizeof(std::uint64_t);
constexpr std::size_t kPage = 4096;

void stamp(const AlignedBytes& message, std::uint64_t seq) {
    std::memcpy(message.data(), &seq, std::min(kStampBytes, message.size()));
}

void check_stamp(const AlignedBytes& message, std::uint64_t seq) {
    std::uint64_t got = 0;
    std::memcpy(&got, message.data(), std::min(kStampBytes, message.size()));
    if (message.size() < kStampBytes)
        seq &= (std::uint64_t{1} << (8 * message.size())) - 1;
    if (got != seq)
        throw std::runtime_error("message " + std::to_string(seq) + " arrived as " +
                                 std::to_string(got) + ": lost or reordered");
}

void finish(Peer& peer) {
    if (!peer.join())
        throw std::runtime_error("the peer process failed (see its message above)");
}

/// Words the two processes share besides the channel, each on its own cache line.
struct alignas(64) Word {
    std::atomic<std::uint64_t> value{0};
};
struct Control {
    Word limit; ///< latency: round trips the peer echoes before it exits
    Word ready; ///< throughput: the peer runs
    Word go;    ///< throughput: start sending
    Word stop;  ///< throughput: stop sending (the budget has passed)
    Word sent;  ///< throughput: messages whose send returned
    Word done;  ///< throughput: the peer sends no more
};

class SharedControl {
public:
    SharedControl() : m_memory(sizeof(Control)), m_control(new (m_memory.data()) Control) {}
    Control* operator->() const { return m_control; }
    Control& get() const { return *m_control; }

private:
    SharedMemory m_memory;
    Control* m_control;
};

void wait_for(const Word& word) {
    // SYNC acquire: pairs with the other process's release store of this word.
    while (word.value.load(std::memory_order_acquire) == 0)
        sched_yield();
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t to) {
    return (value + to - 1) / to * to;
}

/// Which channel carries a round trip, the same schedule on both sides: they take turns in chunks
/// of `chunk` round trips, the order rotating by one every cycle, so that each channel follows
/// each other one as often (a turn after a blocking channel's starts on a sleeping peer).
std::size_t channel_of(std::uint64_t round_trip, std::uint64_t chunk, std::size_t channels) {
    const std::uint64_t turn = round_trip / chunk;
    return static_cast<std::size_t>((turn + turn / channels) % channels);
}

void echo(const std::vector<Channel*>& channels, const LatencyPlan& plan, const Control& control) {
    for (Channel* channel : channels)
        channel->enter(Side::child);
    const AlignedBytes message(plan.size);
    // SYNC acquire: pairs with the parent's release store of limit before its last send.
    for (std::uint64_t i = 0; i < control.limit.value.load(std::memory_order_acquire); ++i) {
        Channel& channel = *channels[channel_of(i, plan.chunk, channels.size())];
        channel.recv(Side::child, message.span());
        channel.send(Side::child, message.span());
    }
}

void produce(Channel& channel, const ThroughputPlan& plan, Control& control) {
    channel.enter(Side::child);
    const AlignedBytes message(plan.size);
    // SYNC release: pairs with the parent's wait_for(ready).
    control.ready.value.store(1, std::memory_order_release);
    wait_for(control.go);
    const std::uint64_t total = plan.warmup + plan.messages;
    // SYNC relaxed: stop is only a hint; what counts is sent, published below.
    for (std::uint64_t i = 0; i < total && control.stop.value.load(std::memory_order_relaxed) == 0;
         ++i) {
        stamp(message, i);
        channel.send(Side::child, message.span());
        // SYNC release: pairs with the parent's acquire: message i is in the channel.
        control.sent.value.store(i + 1, std::memory_order_release);
    }
    // SYNC release: pairs with the parent's acquire of done; sent is final.
    control.done.value.store(1, std::memory_order_release);
}

/// After stop: receives what the peer sent before it saw stop. A message counted in sent is in
/// the channel, so recv never blocks; a peer blocked on a full channel has sent > received.
void drain(Channel& channel, const Control& control, const AlignedBytes& message,
           std::uint64_t& received) {
    for (;;) {
        // SYNC acquire: pairs with the peer's release of done; sent is final after it.
        const bool done = control.done.value.load(std::memory_order_acquire) != 0;
        // SYNC acquire: pairs with the peer's release of sent: those messages are in the channel.
        const std::uint64_t sent = control.sent.value.load(std::memory_order_acquire);
        if (received < sent) {
            channel.recv(Side::parent, message.span());
            check_stamp(message, received++);
        } else if (done) {
            return;
        } else {
            sched_yield();
        }
    }
}

} // namespace

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

LatencySummary measure_latency(Channel& channel, const LatencyPlan& plan) {
    return measure_latency_interleaved({&channel}, plan).front();
}

std::vector<LatencySummary> measure_latency_interleaved(const std::vector<Channel*>& channels,
                                                        const LatencyPlan& plan) {
    const std::size_t n = channels.size();
    SharedControl control;
    // Whole chunks per channel, so that every channel gets as many round trips.
    const std::uint64_t unit = n > 1 ? plan.chunk : 1;
    // A switch of channel costs its first round trips (cold lines; a peer waking from the
    // previous channel's blocking wait): not recorded.
    const std::uint64_t settling = n > 1 ? plan.chunk / 8 : 0;
    const std::uint64_t warmup = n * round_up(plan.warmup, unit);
    std::uint64_t total = warmup + n * round_up(plan.round_trips, unit);
    control->limit.value.store(total, std::memory_order_relaxed); // before the fork
    CpuPin cpu(0, plan.pin);
    Peer peer([&] { echo(channels, plan, control.get()); }, plan.pin);
    for (Channel* channel : channels)
        channel->enter(Side::parent);
    const AlignedBytes message(plan.size);
    std::vector<Histogram> histograms(n);
    const auto fewest = [&] {
        std::uint64_t count = ~std::uint64_t{0};
        for (const Histogram& histogram : histograms)
            count = std::min(count, histogram.count());
        return count;
    };
    std::uint64_t deadline = ~std::uint64_t{0};
    for (std::uint64_t i = 0; i < total; ++i) {
        if (i == warmup) // the budget counts from the end of the warm-up
            deadline = now_ns() + static_cast<std::uint64_t>(plan.budget.count());
        if (i + 1 < total && i > warmup && fewest() >= kMinimumSamples && now_ns() > deadline) {
            total = i + 1;
            // SYNC release: pairs with the peer's acquire after it echoes round trip i.
            control->limit.value.store(total, std::memory_order_release);
        }
        const std::size_t index = channel_of(i, plan.chunk, n);
        Channel& channel = *channels[index];
        stamp(message, i);
        const std::uint64_t start = now_ns();
        channel.send(Side::parent, message.span());
        channel.recv(Side::parent, message.span());
        const std::uint64_t elapsed = now_ns() - start;
        check_stamp(message, i);
        if (i >= warmup && i % plan.chunk >= settling)
            histograms[index].record(elapsed);
    }
    finish(peer);
    std::vector<LatencySummary> summaries;
    for (const Histogram& histogram : histograms)
        summaries.push_back(summarize(histogram));
    return summaries;
}

Throughput measure_throughput(Channel& channel, const ThroughputPlan& plan) {
    SharedControl control;
    CpuPin cpu(0, plan.pin);
    Peer peer([&] { produce(channel, plan, control.get()); }, plan.pin);
    channel.enter(Side::parent);
    const AlignedBytes message(plan.size);
    wait_for(control->ready);
    // SYNC release: the start signal; pairs with the peer's wait_for(go).
    control->go.value.store(1, std::memory_order_release);
    std::uint64_t received = 0;
    for (; received < plan.warmup; ++received) {
        channel.recv(Side::parent, message.span());
        check_stamp(message, received);
    }
    const std::uint64_t start = now_ns();
    const std::uint64_t deadline = start + static_cast<std::uint64_t>(plan.budget.count());
    const std::uint64_t total = plan.warmup + plan.messages;
    while (received < total) {
        if (received >= plan.warmup + kMinimumSamples && received % 64 == 0 &&
            now_ns() > deadline) {
            // SYNC relaxed: a hint; the peer's sent and done carry the ordering.
            control->stop.value.store(1, std::memory_order_relaxed);
            drain(channel, control.get(), message, received);
            break;
        }
        channel.recv(Side::parent, message.span());
        check_stamp(message, received++);
    }
    const std::uint64_t end = now_ns();
    finish(peer);
    return {received - plan.warmup, static_cast<double>(end - start) / 1e9};
}

CopyBuffers::CopyBuffers(std::size_t span)
    : m_span(span), m_destination((span + kPage - 1) / kPage * kPage + kPage / 2),
      m_memory(m_destination + span) {}

Throughput measure_memcpy(const CopyBuffers& buffers, std::size_t block,
                          std::chrono::nanoseconds budget) {
    const std::size_t blocks = std::max<std::size_t>(buffers.span() / block, 1);
    // Reads the clock about every MiB copied: often enough to stop on time, rarely enough not
    // to be measured.
    const std::size_t per_check = std::max<std::size_t>((std::size_t{1} << 20) / block, 1);
    const std::uint64_t start = now_ns();
    const auto limit = static_cast<std::uint64_t>(budget.count());
    std::uint64_t copies = 0;
    std::uint64_t elapsed = 0;
    std::size_t at = 0;
    do {
        for (std::size_t i = 0; i < per_check; ++i, ++copies) {
            std::memcpy(buffers.destination() + at * block, buffers.source() + at * block, block);
            // Keeps the compiler from merging or dropping copies whose result nobody reads.
            asm volatile("" : : "r"(buffers.destination()) : "memory");
            at = at + 1 == blocks ? 0 : at + 1;
        }
        elapsed = now_ns() - start;
    } while (elapsed < limit);
    return {copies, static_cast<double>(elapsed) / 1e9};
}

Throughput measure_memcpy(std::size_t block, std::size_t span, std::chrono::nanoseconds budget) {
    return measure_memcpy(CopyBuffers(std::max(span, block)), block, budget);
}

std::size_t last_level_cache_bytes() {
    std::size_t largest = 0;
    for (int index = 0; index < 16; ++index) {
        std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) +
                         "/size");
        std::size_t value = 0;
        std::string unit;
        if (!(in >> value))
            break;
        in >> unit;
        const std::size_t scale = unit == "K" ? 1024 : unit == "M" ? 1024 * 1024 : 1;
        largest = std::max(largest, value * scale);
    }
    return largest;
}

} // namespace shmbus::bench

// SPDX-License-Identifier: Apache-2.0
#include "channels.hpp"

#include "processes.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <mqueue.h>
#include <new>
#include <sched.h>
#include <shmbus/pipe.hpp>
#include <shmbus/queue.hpp>
#include <shmbus/segment.hpp>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace shmbus::bench {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

/// "shmbus-bench-<pid>-<n>": unique per channel, so that runs never collide.
std::string unique_name(std::string_view prefix = "shmbus-bench") {
    static int counter = 0;
    return std::string(prefix) + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

/// A pause, and a yield every 1024 of them: on a loaded machine the peer may be preempted on
/// its own CPU, and spinning through its whole time slice would measure the scheduler. The floor
/// and the ring both wait with it (as shmbus's spin does): the pause also spares the pipeline
/// flush a bare load loop takes when the line finally changes.
void spin_pause(unsigned& spins) {
    if (++spins % 1024 == 0) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

constexpr std::size_t kLine = 64;
constexpr std::size_t kPage = 4096;

constexpr std::size_t round_up(std::size_t value, std::size_t to) {
    return (value + to - 1) / to * to;
}

// ---- the floor: one cache line each way, nothing else ---------------------------------------

/// One direction of the floor: a sequence number alone on its line.
struct alignas(kLine) FloorLine {
    std::atomic<std::uint64_t> seq{0};
};

/// The least two processes can do to hand a message back and forth: the sender writes its line,
/// the receiver spins reading it, then writes its own. Only the sequence number travels (the
/// receiver waits for exactly the next one, so nothing can be lost or reordered); the payload
/// does not, so the floor is the same at every size: the cost of the handoff alone. It cannot
/// stream (a second send would overwrite an unread first), so it has latency rows only. Each
/// side's line is on a page of its own, as each direction of the reference ring is: two lines
/// of one 128-byte pair would be fetched together by the adjacent-line prefetcher, and each
/// side's poll would then pull the other's line too (the ring's 8 B exchange, one line each
/// way like this one, measured 5-15% below such a floor).
class FloorChannel final : public Channel {
public:
    FloorChannel() : m_memory(2 * kPage) {
        new (m_memory.data()) FloorLine;
        new (static_cast<std::byte*>(m_memory.data()) + kPage) FloorLine;
    }
    void send(Side from, std::span<const std::byte>) override {
        // SYNC release: pairs with recv's acquire load; orders nothing else (no payload).
        line_from(from).seq.store(++m_sent, std::memory_order_release);
    }
    void recv(Side at, std::span<std::byte>) override {
        const FloorLine& line = line_from(other(at));
        const std::uint64_t expected = ++m_received;
        unsigned spins = 0;
        // SYNC acquire: pairs with send's release store of seq.
        while (line.seq.load(std::memory_order_acquire) != expected)
            spin_pause(spins);
    }

private:
    FloorLine& line_from(Side side) const {
        auto* page = static_cast<std::byte*>(m_memory.data()) + (side == Side::parent ? 0 : kPage);
        return *std::launder(reinterpret_cast<FloorLine*>(page));
    }

    SharedMemory m_memory;
    // Process-local after the fork: each side counts its own sends and receives.
    std::uint64_t m_sent = 0;
    std::uint64_t m_received = 0;
};

// ---- the reference ring: a plain SPSC ring, no features --------------------------------------

/// Where a slot's payload starts and how far apart slots are. Up to 56 bytes the sequence word
/// and the payload share one line; larger payloads start on their own line; from a page up they
/// start half a page into a page-aligned slot, so that a copy from or to a page-aligned buffer
/// is never 4 KiB-aliased (a destination just past the source modulo 4 KiB slows `rep movsb`).
struct SlotLayout {
    std::size_t payload_offset;
    std::size_t stride;
};

constexpr SlotLayout slot_layout(std::size_t size) {
    constexpr std::size_t word = sizeof(std::atomic<std::uint64_t>);
    if (size <= kLine - word)
        return {word, kLine};
    if (size < kPage)
        return {kLine, kLine + round_up(size, kLine)};
    return {kPage / 2, round_up(kPage / 2 + size, kPage)};
}

/// One direction: Vyukov's bounded SPSC scheme. Slot i % slots holds message i when its
/// sequence word reads i + 1 and is free for message i when it reads i; nothing but the slot is
/// shared (no head or tail), which is what a competent hand-written ring costs.
class SlotRing {
public:
    SlotRing(std::size_t size, std::size_t slots)
        : m_layout(slot_layout(size)), m_slots(slots), m_memory(m_layout.stride * slots) {
        for (std::size_t i = 0; i < slots; ++i)
            new (word(i)) std::atomic<std::uint64_t>(i);
    }
    void push(std::uint64_t index, std::span<const std::byte> message) {
        std::atomic<std::uint64_t>& seq = *word(index % m_slots);
        unsigned spins = 0;
        // SYNC acquire: pairs with pop's release, so the reader is done with the old payload.
        while (seq.load(std::memory_order_acquire) != index)
            spin_pause(spins);
        std::memcpy(payload(index % m_slots), message.data(), message.size());
        // SYNC release: publishes the payload; pairs with pop's acquire.
        seq.store(index + 1, std::memory_order_release);
    }
    void pop(std::uint64_t index, std::span<std::byte> message) {
        std::atomic<std::uint64_t>& seq = *word(index % m_slots);
        unsigned spins = 0;
        // SYNC acquire: pairs with push's release, so the payload is visible.
        while (seq.load(std::memory_order_acquire) != index + 1)
            spin_pause(spins);
        std::memcpy(message.data(), payload(index % m_slots), message.size());
        // SYNC release: hands the slot back for message index + slots; pairs with push's acquire.
        seq.store(index + m_slots, std::memory_order_release);
    }

private:
    std::byte* slot(std::size_t i) const {
        return static_cast<std::byte*>(m_memory.data()) + i * m_layout.stride;
    }
    std::atomic<std::uint64_t>* word(std::size_t i) const {
        return static_cast<std::atomic<std::uint64_t>*>(static_cast<void*>(slot(i)));
    }
    std::byte* payload(std::size_t i) const { return slot(i) + m_layout.payload_offset; }

    SlotLayout m_layout;
    std::size_t m_slots;
    SharedMemory m_memory;
};

/// Two SlotRings, one per direction, of about 1 MiB each (at least 2 slots, at most 256).
class RingChannel final : public Channel {
public:
    explicit RingChannel(std::size_t size)
        : m_to_child(size, slots_for(size)), m_to_parent(size, slots_for(size)) {}
    void send(Side from, std::span<const std::byte> message) override {
        ring_from(from).push(m_sent++, message);
    }
    void recv(Side at, std::span<std::byte> message) override {
        ring_from(other(at)).pop(m_received++, message);
    }

private:
    static std::size_t slots_for(std::size_t size) {
        return std::clamp<std::size_t>((std::size_t{1} << 20) / slot_layout(size).stride, 2, 256);
    }
    SlotRing& ring_from(Side side) { return side == Side::parent ? m_to_child : m_to_parent; }

    SlotRing m_to_child;
    SlotRing m_to_parent;
    // Process-local after the fork: each side only counts its own messages.
    std::uint64_t m_sent = 0;
    std::uint64_t m_received = 0;
};

// ---- file descriptors: pipe(2) and a Unix socketpair --------------------------------------

void write_all(int fd, std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("write");
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

void read_all(int fd, std::span<std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::read(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw_errno("read");
        if (n == 0)
            throw std::runtime_error("the peer closed the channel");
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

/// Each side writes to one fd and reads from another; enter() closes the other side's pair so
/// that a dead peer shows as end of file instead of a hang.
class FdChannel : public Channel {
public:
    ~FdChannel() override {
        for (int fd : m_fds)
            if (fd >= 0)
                ::close(fd);
    }
    void enter(Side side) override {
        const std::size_t gone = side == Side::parent ? 2 : 0;
        for (std::size_t i = gone; i < gone + 2; ++i) {
            ::close(m_fds[i]);
            m_fds[i] = -1;
        }
    }
    void send(Side from, std::span<const std::byte> message) override {
        write_all(m_fds[from == Side::parent ? 0 : 2], message);
    }
    void recv(Side at, std::span<std::byte> message) override {
        read_all(m_fds[at == Side::parent ? 1 : 3], message);
    }

protected:
    /// {parent writes, parent reads, child writes, child reads}
    std::array<int, 4> m_fds{-1, -1, -1, -1};
};

class PipeChannel final : public FdChannel {
public:
    PipeChannel() {
        int to_child[2], to_parent[2];
        if (::pipe(to_child) != 0)
            throw_errno("pipe");
        if (::pipe(to_parent) != 0) {
            ::close(to_child[0]);
            ::close(to_child[1]);
            throw_errno("pipe");
        }
        m_fds = {to_child[1], to_parent[0], to_parent[1], to_child[0]};
    }
};

class SocketChannel final : public FdChannel {
public:
    SocketChannel() {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
            throw_errno("socketpair");
        const int child_end = ::dup(pair[1]);
        const int parent_end = ::dup(pair[0]);
        if (child_end < 0 || parent_end < 0)
            throw_errno("dup");
        m_fds = {pair[0], parent_end, pair[1], child_end};
    }
};

// ---- POSIX message queues -----------------------------------------------------------------

class MqChannel final : public Channel {
public:
    explicit MqChannel(std::size_t size) : m_to_child(open(size)), m_to_parent(-1) {
        try {
            m_to_parent = open(size);
        } catch (...) {
            mq_close(m_to_child);
            throw;
        }
    }
    ~MqChannel() override {
        mq_close(m_to_child);
        mq_close(m_to_parent);
    }
    void send(Side from, std::span<const std::byte> message) override {
        const mqd_t q = from == Side::parent ? m_to_child : m_to_parent;
        while (mq_send(q, reinterpret_cast<const char*>(message.data()), message.size(), 0) != 0)
            if (errno != EINTR)
                throw_errno("mq_send");
    }
    void recv(Side at, std::span<std::byte> message) override {
        const mqd_t q = at == Side::parent ? m_to_parent : m_to_child;
        ssize_t n;
        while ((n = mq_receive(q, reinterpret_cast<char*>(message.data()), message.size(),
                               nullptr)) < 0)
            if (errno != EINTR)
                throw_errno("mq_receive");
        if (static_cast<std::size_t>(n) != message.size())
            throw std::runtime_error("mq_receive: short message");
    }

private:
    /// Opened then unlinked at once: the descriptors survive the fork, the name never lingers.
    static mqd_t open(std::size_t size) {
        mq_attr attr{};
        attr.mq_maxmsg = static_cast<long>(depth_for(size));
        attr.mq_msgsize = static_cast<long>(size);
        const std::string name = "/" + unique_name();
        const mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
        if (q == static_cast<mqd_t>(-1)) {
            if (errno == EINVAL && size > mq_msgsize_max())
                throw Unsupported("message larger than /proc/sys/fs/mqueue/msgsize_max (" +
                                  std::to_string(mq_msgsize_max()) + " B)");
            throw_errno("mq_open");
        }
        mq_unlink(name.c_str());
        return q;
    }

    /// Up to 8 messages (/proc/sys/fs/mqueue/msg_max is 10 by default), fewer for large ones:
    /// the two queues must fit RLIMIT_MSGQUEUE (800 KiB by default) or mq_open fails (EMFILE).
    static std::size_t depth_for(std::size_t size) {
        rlimit limit{};
        std::size_t bytes = 819200;
        if (getrlimit(RLIMIT_MSGQUEUE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            bytes = limit.rlim_cur;
        const std::size_t per_message = size + 64;        // the kernel's bookkeeping per message
        const std::size_t fits = bytes / 2 / per_message; // one spare for the queue's own
        return std::clamp<std::size_t>(fits > 1 ? fits - 1 : 1, 1, 8);
    }

    mqd_t m_to_child;
    mqd_t m_to_parent;
};

// ---- Boost.Interprocess message_queue -----------------------------------------------------

class BoostMqChannel final : public Channel {
    using Queue = boost::interprocess::message_queue;

public:
    explicit BoostMqChannel(std::size_t size)
        : m_to_child(make(size)), m_to_parent(make(size)), m_size(size) {}
    void send(Side from, std::span<const std::byte> message) override {
        (from == Side::parent ? *m_to_child : *m_to_parent).send(message.data(), message.size(), 0);
    }
    void recv(Side at, std::span<std::byte> message) override {
        Queue::size_type received = 0;
        unsigned priority = 0;
        (at == Side::parent ? *m_to_parent : *m_to_child)
            .receive(message.data(), m_size, received, priority);
        if (received != message.size())
            throw std::runtime_error("message_queue: short message");
    }

private:
    /// Removed by name at once: the mapping survives the fork, the name never lingers.
    static std::unique_ptr<Queue> make(std::size_t size) {
        const std::string name = unique_name();
        auto queue =
            std::make_unique<Queue>(boost::interprocess::create_only, name.c_str(), 16, size);
        Queue::remove(name.c_str());
        return queue;
    }

    std::unique_ptr<Queue> m_to_child;
    std::unique_ptr<Queue> m_to_parent;
    std::size_t m_size;
};

// ---- shmbus Queue and Pipe ----------------------------------------------------------------

/// A private segment per channel, unlinked as soon as its objects exist: the mapping survives
/// the fork and the name never lingers in /dev/shm.
Segment private_segment(std::size_t ring_bytes) {
    const std::string name = unique_name();
    return Segment::create(name, (std::size_t{4} << 20) + 4 * ring_bytes);
}

std::size_t ring_bytes_for(std::size_t size) {
    return std::max<std::size_t>(std::size_t{256} << 10, 4 * size);
}

/// Queue<std::array<std::byte, N>>: a fixed-size trivially copyable message, the codec's
/// memcpy path. The harness's message buffer is the caller's T: put reads it in place, and get's
/// result is constructed in it (a prvalue, so no copy of its own), as a caller holding a T
/// would do.
template <std::size_t N>
class QueueChannel final : public Channel {
    using Message = std::array<std::byte, N>;
    using MessageQueue = shmbus::Queue<Message>;
    static_assert(alignof(Message) == 1, "the harness's buffers are byte spans");

public:
    explicit QueueChannel(WaitPolicy policy)
        : m_segment(private_segment(ring_bytes_for(N))),
          m_to_child(MessageQueue::create(m_segment, "to-child", options(policy))),
          m_to_parent(MessageQueue::create(m_segment, "to-parent", options(policy))) {
        Segment::unlink(m_segment.name());
    }
    void send(Side from, std::span<const std::byte> message) override {
        (from == Side::parent ? m_to_child : m_to_parent)
            .put(*std::launder(reinterpret_cast<const Message*>(message.data())));
    }
    void recv(Side at, std::span<std::byte> message) override {
        new (message.data()) Message((at == Side::parent ? m_to_parent : m_to_child).get());
    }

private:
    static QueueOptions options(WaitPolicy policy) {
        return {.maxsize = 0,
                .max_message_size = N,
                .capacity_bytes = ring_bytes_for(N),
                .wait = {.policy = policy}};
    }

    Segment m_segment;
    MessageQueue m_to_child;
    MessageQueue m_to_parent;
};

std::unique_ptr<Channel> open_queue(std::size_t size, WaitPolicy policy) {
    switch (size) {
    case 8:
        return std::make_unique<QueueChannel<8>>(policy);
    case 64:
        return std::make_unique<QueueChannel<64>>(policy);
    case 1024:
        return std::make_unique<QueueChannel<1024>>(policy);
    case 65536:
        return std::make_unique<QueueChannel<65536>>(policy);
    default:
        throw Unsupported("the Queue adapter carries 8, 64, 1024 or 65536 B messages");
    }
}

/// A duplex Pipe, raw bytes both ways (send_bytes / recv_bytes_into): no codec on the path.
class ShmbusPipeChannel final : public Channel {
public:
    ShmbusPipeChannel(std::size_t size, WaitPolicy policy)
        : m_segment(private_segment(ring_bytes_for(size))),
          m_ends(Pipe(m_segment, true,
                      {.capacity_bytes = ring_bytes_for(size),
                       .max_message_size = size,
                       .wait = {.policy = policy}})) {
        Segment::unlink(m_segment.name());
    }
    void send(Side from, std::span<const std::byte> message) override {
        end(from).send_bytes(message);
    }
    void recv(Side at, std::span<std::byte> message) override {
        if (end(at).recv_bytes_into(message) != message.size())
            throw std::runtime_error("Pipe: short message");
    }

private:
    Connection& end(Side side) { return side == Side::parent ? m_ends.first : m_ends.second; }

    Segment m_segment;
    std::pair<Connection, Connection> m_ends;
};

std::string policy_name(WaitPolicy policy) {
    switch (policy) {
    case WaitPolicy::spin:
        return "spin";
    case WaitPolicy::hybrid:
        return "hybrid";
    case WaitPolicy::block:
        return "block";
    }
    return "?";
}

} // namespace

std::vector<Mechanism> channel_mechanisms() {
    std::vector<Mechanism> all;
    all.push_back({kFloorKey, "one-line ping-pong (floor)",
                   [](std::size_t) { return std::make_unique<FloorChannel>(); }, false});
    all.push_back({kRingKey, "plain SPSC ring (reference)",
                   [](std::size_t size) { return std::make_unique<RingChannel>(size); }});
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block})
        all.push_back({"shmbus.queue." + policy_name(policy),
                       "shmbus Queue, " + policy_name(policy),
                       [policy](std::size_t size) { return open_queue(size, policy); }});
    for (WaitPolicy policy : {WaitPolicy::spin, WaitPolicy::hybrid, WaitPolicy::block})
        all.push_back({"shmbus.pipe." + policy_name(policy), "shmbus Pipe, " + policy_name(policy),
                       [policy](std::size_t size) {
                           return std::make_unique<ShmbusPipeChannel>(size, policy);
                       }});
    all.push_back(
        {"pipe2", "pipe(2)", [](std::size_t) { return std::make_unique<PipeChannel>(); }});
    all.push_back({"socketpair", "Unix socketpair",
                   [](std::size_t) { return std::make_unique<SocketChannel>(); }});
    all.push_back({"posix_mq", "POSIX mq",
                   [](std::size_t size) { return std::make_unique<MqChannel>(size); }});
    all.push_back({"boost_mq", "Boost.Interprocess message_queue",
                   [](std::size_t size) { return std::make_unique<BoostMqChannel>(size); }});
    return all;
}

Mechanism find_mechanism(std::string_view key) {
    for (Mechanism& mechanism : channel_mechanisms())
        if (mechanism.key == key)
            return std::move(mechanism);
    throw std::out_of_range("no bench mechanism " + std::string(key));
}

std::size_t mq_msgsize_max() {
    std::ifstream in("/proc/sys/fs/mqueue/msgsize_max");
    std::size_t value = 0;
    in >> value;
    return value;
}

namespace {

bool write_msgsize_max(std::size_t value) {
    std::ofstream out("/proc/sys/fs/mqueue/msgsize_max");
    out << value << "\n";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace

MqSizeLimit::MqSizeLimit(std::size_t bytes) {
    const std::size_t old = mq_msgsize_max();
    if (old >= bytes)
        m_problem = "msgsize_max is already " + std::to_string(old);
    else if (geteuid() != 0)
        m_problem = "not root: msgsize_max stays " + std::to_string(old);
    else if (!write_msgsize_max(bytes))
        m_problem = "could not write /proc/sys/fs/mqueue/msgsize_max";
    else
        m_old = old;
}

MqSizeLimit::~MqSizeLimit() {
    if (m_old != 0)
        write_msgsize_max(m_old);
}

} // namespace shmbus::bench

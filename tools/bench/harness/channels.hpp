// SPDX-License-Identifier: Apache-2.0
// Every mechanism the bench compares is one small adapter: a two-way Channel between a parent
// and a forked child, built before the fork. Adding a mechanism means writing one Channel and
// one line in channel_mechanisms().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::bench {

enum class Side : std::uint8_t { parent, child };
constexpr Side other(Side side) {
    return side == Side::parent ? Side::child : Side::parent;
}

class Channel {
public:
    virtual ~Channel() = default;
    /// Called once in each process right after the fork (to close the other side's fds, say).
    virtual void enter(Side) {}
    /// Sends one message to the other side; blocks while the channel is full.
    virtual void send(Side from, std::span<const std::byte> message) = 0;
    /// Receives one message of exactly message.size() bytes. Throws when the peer is gone.
    virtual void recv(Side at, std::span<std::byte> message) = 0;
};

/// Thrown by a factory for a message size the mechanism cannot carry on this host; the row then
/// reads n/a with this reason.
class Unsupported : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The keys of the baselines: the one-line ping-pong, the reference ring and pipe(2).
inline constexpr const char* kFloorKey = "floor";
inline constexpr const char* kRingKey = "ring";
inline constexpr const char* kPipeKey = "pipe2";

struct Mechanism {
    std::string key;   ///< stable id in the JSON output: "floor", "pipe2", "shmbus.queue.spin"
    std::string label; ///< for tables and plots
    /// A fresh channel for messages of `size` bytes.
    std::function<std::unique_ptr<Channel>(std::size_t size)> open;
    /// False for the floor, which can only ping-pong: it has no throughput rows.
    bool streams = true;
};

/// The floor (one cache line each way), the reference plain SPSC ring, shmbus Queue and Pipe
/// under each wait policy, pipe(2), a Unix socketpair, a POSIX message queue and a
/// Boost.Interprocess message_queue, in table order.
std::vector<Mechanism> channel_mechanisms();

/// The mechanism of channel_mechanisms() with this key; throws std::out_of_range when none.
Mechanism find_mechanism(std::string_view key);

/// While alive, raises /proc/sys/fs/mqueue/msgsize_max to at least `bytes` (root only) and
/// restores the old value afterwards. `raised()` tells whether it changed anything.
class MqSizeLimit {
public:
    explicit MqSizeLimit(std::size_t bytes);
    ~MqSizeLimit();
    MqSizeLimit(const MqSizeLimit&) = delete;
    MqSizeLimit& operator=(const MqSizeLimit&) = delete;
    bool raised() const { return m_old != 0; }
    /// Why it did not raise the limit, when it did not need to or could not.
    const std::string& problem() const { return m_problem; }

private:
    std::size_t m_old = 0;
    std::string m_problem;
};

/// The current /proc/sys/fs/mqueue/msgsize_max (0 when unreadable).
std::size_t mq_msgsize_max();

} // namespace shmbus::bench

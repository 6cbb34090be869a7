// SPDX-License-Identifier: Apache-2.0
// A bridge's record in the local segment: counters and the crash-recovery state of one bridge,
// in an Array<uint64_t> named "shmbus.bridge-<direction>.<queue>" (a topic's:
// "shmbus.topic-bridge-<direction>.<topic>"; layout in core/messaging/bridge_record_layout.hpp),
// plus (outbound) the in-flight message in an Array<std::byte> beside it (".payload"), and a
// Lock (".running") that keeps a second bridge of the same direction off the queue or topic.
// Each field is read and written with the Array's atomic load/store.
#pragma once

#include "messaging/bridge_record_layout.hpp"
#include "shmbus/array.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/nats/bridge.hpp"
#include "shmbus/nats/client.hpp"
#include "shmbus/segment.hpp"

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::nats::bridge {

// The record's words, states and names, shared with the CLI that reads them.
using namespace detail::bridge_layout;

/// The header name carrying the element type tag (hex) of the bridged queue.
inline constexpr const char* kTypeTagHeader = "Shmbus-Type-Tag";

enum class Direction { out, in };

std::string record_name(Direction direction, Bridged kind, std::string_view name);

/// What `options` bridges, and its name; UsageError when they are not a valid bridge's.
Bridged bridged(const BridgeOptions& options);
std::string_view bridged_name(const BridgeOptions& options);

/// Opens (or creates) the record of one bridge.
class Record {
public:
    /// CorruptSegment when an object of that name is not a record this version writes.
    Record(const Segment& segment, Direction direction, Bridged kind, std::string_view name);
    /// Releases the bridge lock when lock_exclusively() took it.
    ~Record();
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;
    std::uint64_t load(Field field) const { return m_fields.load(field); }
    void store(Field field, std::uint64_t value) { m_fields.store(field, value); }
    void increment(Field field) { store(field, load(field) + 1); } // only the lock holder writes
    /// Records what `ls` and `inspect` show beside the counters.
    void set_subject(std::string_view subject);
    void set_last_error(std::string_view error);
    void set_stream_limits(const StreamLimits& limits);
    /// Inbound: the last id number put from the outbound bridge `epoch`, 0 when none.
    std::uint64_t last_id_from(std::uint64_t epoch) const;
    /// Inbound: records `id` as the last put from `epoch`.
    void set_last_id_from(std::uint64_t epoch, std::uint64_t id);
    /// Takes the bridge lock until destruction; UsageError when another bridge holds it.
    void lock_exclusively(std::string_view what);
    BridgeStatus status() const;

private:
    Array<std::uint64_t> m_fields;
    Lock m_lock;
    Bridged m_kind;
    bool m_locked = false;
};

/// The counters of a record; CorruptSegment when it has another layout.
BridgeStatus status_of(const Array<std::uint64_t>& fields);

/// Sleeps `duration` in short steps, returning early once `stop` is set.
void sleep_unless_stopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop);

/// Doubles from 50 ms up to a limit; reset() after a success.
class Backoff {
public:
    explicit Backoff(std::chrono::milliseconds limit) : m_limit(limit) {}
    std::chrono::milliseconds next();
    void reset() { m_next = kFirst; }

private:
    static constexpr std::chrono::milliseconds kFirst{50};
    std::chrono::milliseconds m_limit;
    std::chrono::milliseconds m_next = kFirst;
};

/// The element type tag of the queue (or topic) `name` in `segment`, nullopt when there is none.
std::optional<std::uint64_t> object_type_tag(const Segment& segment, Bridged kind,
                                             std::string_view name);
/// As object_type_tag, NotFound when there is none.
std::uint64_t existing_type_tag(const Segment& segment, Bridged kind, std::string_view name);
/// Hexadecimal digits of `value` (type tags and message ids).
std::string hex(std::uint64_t value);

/// The outbound bridge of a topic (topic_bridge_out.cpp).
void run_topic_bridge_out(const BridgeOptions& options, const std::atomic<bool>& stop,
                          std::ostream& log);

std::string stream_of(const BridgeOptions& options);
/// The stream both directions use: file storage, work-queue retention (a topic's: limits).
StreamOptions stream_options(const BridgeOptions& options);
/// Creates the stream when missing, gives it options.stream_limits when some are set, and
/// records the limits it has in `record`; returns its information.
StreamInfo ensure_stream(JetStream& js, const BridgeOptions& options, Record& record);
/// Reconnects for ever; `name` is what the server shows.
ConnectOptions connect_options(const BridgeOptions& options, std::string_view name);
std::string durable_of(const BridgeOptions& options);

} // namespace shmbus::nats::bridge

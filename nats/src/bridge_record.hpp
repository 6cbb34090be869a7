// SPDX-License-Identifier: Apache-2.0
// A bridge's record in the local segment: counters and the crash-recovery state of one bridge,
// in an Array<uint64_t> named "shmbus.bridge-<direction>.<queue>", plus (outbound) the in-flight
// message in an Array<std::byte> beside it (".payload"), and a Lock (".running") that keeps a
// second bridge of the same direction off the queue. Each field is read and written with the
// Array's atomic load/store.
#pragma once

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

/// The record's fields (indices into the Array).
enum Field : std::size_t {
    state,            ///< RecordState
    epoch,            ///< out: random, nonzero; makes message ids unique across segments
    last_id,          ///< out: the id number the last taken message got (they start at 1)
    in_flight_id,     ///< out: id number of the message in the in-flight record
    in_flight_length, ///< out: its length in bytes
    last_sequence,    ///< in: stream sequence of the last message put
    putting_sequence, ///< in: stream sequence of the message being put
    stream_created,   ///< in: creation time of the stream last_sequence belongs to
    next_origin,      ///< in: the origin slot a new outbound bridge's epoch takes next
    forwarded,        ///< BridgeStatus counters from here on
    republished,
    duplicates_dropped,
    redeliveries_skipped,
    possibly_lost,
    possibly_duplicated,
    errors,
    field_count,
};

/// Inbound: after the fields, kOrigins pairs [epoch, last id number put] of the outbound
/// bridges whose messages it received, replaced round robin.
inline constexpr std::size_t kOrigins = 32;
inline constexpr std::size_t kRecordLength = field_count + 2 * kOrigins;

/// What the bridge was doing; a restart reads it to finish or account for the interrupted step.
enum RecordState : std::uint64_t {
    idle = 0,
    taking = 1,    ///< out: inside the queue's get; a kill here may lose the message taken
    in_flight = 2, ///< out: the in-flight record holds a message not yet acknowledged
    putting = 3,   ///< in: inside the queue's put; a kill here may put the message twice
};

/// The header name carrying the element type tag (hex) of the bridged queue.
inline constexpr const char* kTypeTagHeader = "Shmbus-Type-Tag";

enum class Direction { out, in };

std::string record_name(Direction direction, std::string_view queue);

/// Opens (or creates) the record of one bridge.
class Record {
public:
    Record(const Segment& segment, Direction direction, std::string_view queue);
    /// Releases the bridge lock when lock_exclusively() took it.
    ~Record();
    Record(const Record&) = delete;
    Record& operator=(const Record&) = delete;
    std::uint64_t load(Field field) const { return m_fields.load(field); }
    void store(Field field, std::uint64_t value) { m_fields.store(field, value); }
    void increment(Field field) { store(field, load(field) + 1); } // only the lock holder writes
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

/// The element type tag of the queue `queue` in `segment`, nullopt when there is none.
std::optional<std::uint64_t> queue_type_tag(const Segment& segment, std::string_view queue);

std::string stream_of(const BridgeOptions& options);
/// The stream both directions use: work-queue retention, file storage.
StreamOptions stream_options(const BridgeOptions& options);
/// Reconnects for ever; `name` is what the server shows.
ConnectOptions connect_options(const BridgeOptions& options, std::string_view name);
std::string durable_of(const BridgeOptions& options);

} // namespace shmbus::nats::bridge

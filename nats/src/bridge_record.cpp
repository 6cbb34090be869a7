// SPDX-License-Identifier: Apache-2.0
#include "bridge_record.hpp"

#include "segment/directory.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <thread>

namespace shmbus::nats {
namespace {

// Stream and consumer names may not hold '.', '*', '>', path separators or whitespace.
std::string sanitized(std::string_view text) {
    std::string result(text);
    std::replace_if(
        result.begin(), result.end(),
        [](char c) {
            return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_');
        },
        '_');
    return result;
}

} // namespace

std::string default_stream_name(std::string_view subject) {
    return "SHMBUS_" + sanitized(subject);
}

std::string default_durable_name(std::string_view segment, std::string_view queue) {
    return "shmbus_" + sanitized(segment) + "_" + sanitized(queue);
}

namespace bridge {

std::string record_name(Direction direction, std::string_view queue) {
    return std::string(direction == Direction::out ? "shmbus.bridge-out." : "shmbus.bridge-in.") +
           std::string(queue);
}

Record::Record(const Segment& segment, Direction direction, std::string_view queue)
    : m_fields(segment, record_name(direction, queue), kRecordLength),
      m_lock(segment, record_name(direction, queue) + ".running") {}

Record::~Record() {
    if (m_locked)
        m_lock.release();
}

void Record::lock_exclusively(std::string_view what) {
    // A SIGKILLed predecessor's lock is taken over within Lock::kOwnerProbePeriod.
    if (!m_lock.acquire_for(std::chrono::seconds(2)).acquired)
        throw UsageError("another " + std::string(what) + " bridge runs on this queue");
    m_locked = true;
}

std::uint64_t Record::last_id_from(std::uint64_t epoch) const {
    for (std::size_t slot = field_count; slot < kRecordLength; slot += 2)
        if (m_fields.load(slot) == epoch)
            return m_fields.load(slot + 1);
    return 0;
}

// A known epoch's id is updated in place (one store). A new epoch takes the next slot round
// robin, emptied first, so that a kill in between leaves an empty slot, never a wrong pair.
void Record::set_last_id_from(std::uint64_t epoch, std::uint64_t id) {
    for (std::size_t slot = field_count; slot < kRecordLength; slot += 2)
        if (m_fields.load(slot) == epoch) {
            m_fields.store(slot + 1, id);
            return;
        }
    const std::uint64_t victim = m_fields.load(next_origin) % kOrigins;
    const std::size_t slot = field_count + 2 * victim;
    m_fields.store(slot, 0);
    m_fields.store(slot + 1, id);
    m_fields.store(slot, epoch);
    m_fields.store(next_origin, victim + 1);
}

BridgeStatus Record::status() const {
    return status_of(m_fields);
}

BridgeStatus status_of(const Array<std::uint64_t>& fields) {
    if (fields.size() != kRecordLength)
        throw CorruptSegment("bridge record of another layout");
    BridgeStatus status;
    status.forwarded = fields.load(forwarded);
    status.in_flight = fields.load(state) == in_flight ? 1 : 0;
    status.republished = fields.load(republished);
    status.duplicates_dropped = fields.load(duplicates_dropped);
    status.redeliveries_skipped = fields.load(redeliveries_skipped);
    status.possibly_lost = fields.load(possibly_lost);
    status.possibly_duplicated = fields.load(possibly_duplicated);
    status.last_sequence = fields.load(last_sequence);
    status.errors = fields.load(errors);
    return status;
}

void sleep_unless_stopped(std::chrono::milliseconds duration, const std::atomic<bool>& stop) {
    constexpr std::chrono::milliseconds kStep{20};
    const auto end = std::chrono::steady_clock::now() + duration;
    // relaxed: a plain flag set by a signal handler; nothing is published through it
    while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(kStep);
}

std::chrono::milliseconds Backoff::next() {
    const auto current = m_next;
    m_next = std::min(m_limit, m_next * 2);
    return current;
}

std::optional<std::uint64_t> queue_type_tag(const Segment& segment, std::string_view queue) {
    for (const detail::DirEntry* entry : detail::ready_entries(segment))
        if (entry->kind == ObjectKind::queue && std::string_view(entry->name) == queue)
            return entry->type_tag;
    return std::nullopt;
}

std::string stream_of(const BridgeOptions& options) {
    return options.stream.empty() ? default_stream_name(options.subject) : options.stream;
}

StreamOptions stream_options(const BridgeOptions& options) {
    StreamOptions stream;
    stream.name = stream_of(options);
    stream.subject = options.subject;
    stream.duplicate_window = options.duplicate_window;
    return stream;
}

ConnectOptions connect_options(const BridgeOptions& options, std::string_view name) {
    ConnectOptions connect;
    connect.url = options.url;
    connect.name = name;
    return connect;
}

std::string durable_of(const BridgeOptions& options) {
    return options.durable.empty() ? default_durable_name(options.segment, options.queue)
                                   : options.durable;
}

} // namespace bridge

BridgeStatus bridge_out_status(std::string_view segment, std::string_view queue) {
    const Segment opened = Segment::observe(segment);
    return bridge::status_of(
        Array<std::uint64_t>::open(opened, bridge::record_name(bridge::Direction::out, queue)));
}

BridgeStatus bridge_in_status(std::string_view segment, std::string_view queue) {
    const Segment opened = Segment::observe(segment);
    return bridge::status_of(
        Array<std::uint64_t>::open(opened, bridge::record_name(bridge::Direction::in, queue)));
}

} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
#include "bridge_record.hpp"

#include "segment/directory.hpp"
#include "shmbus/errors.hpp"

#include <algorithm>
#include <array>
#include <sstream>
#include <thread>
#include <unistd.h>

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

std::string host_name() {
    std::array<char, 256> buffer{};
    if (::gethostname(buffer.data(), buffer.size() - 1) != 0)
        return "host";
    return buffer.data();
}

} // namespace

std::string default_stream_name(std::string_view subject) {
    return "SHMBUS_" + sanitized(subject);
}

std::string default_durable_name(std::string_view segment, std::string_view queue) {
    return "shmbus_" + sanitized(segment) + "_" + sanitized(queue);
}

std::string default_topic_durable_name(std::string_view segment, std::string_view topic) {
    return "shmbus_" + sanitized(host_name()) + "_" + sanitized(segment) + "_" + sanitized(topic);
}

namespace bridge {

std::string record_name(Direction direction, Bridged kind, std::string_view name) {
    return std::string(record_prefix(direction == Direction::in, kind == Bridged::topic)) +
           std::string(name);
}

Bridged bridged(const BridgeOptions& options) {
    if (options.queue.empty() == options.topic.empty())
        throw UsageError("a bridge needs exactly one of a queue and a topic");
    if (!options.queue.empty() && options.stream_limits.any())
        throw UsageError("stream limits are for a topic's stream: a queue's work-queue stream "
                         "must not discard messages");
    return options.queue.empty() ? Bridged::topic : Bridged::queue;
}

std::string_view bridged_name(const BridgeOptions& options) {
    return bridged(options) == Bridged::queue ? options.queue : options.topic;
}

Record::Record(const Segment& segment, Direction direction, Bridged kind, std::string_view name)
    : m_fields(segment, record_name(direction, kind, name), kRecordLength),
      m_lock(segment, record_name(direction, kind, name) + ".running"), m_kind(kind) {
    // A new record is all zeros; the magic, stored last, makes it one. Two bridges racing here
    // store the same words.
    if (load(magic) == 0) {
        store(version, kVersion);
        store(flags,
              (direction == Direction::in ? kInbound : 0) | (kind == Bridged::topic ? kTopic : 0));
        store(magic, kMagic);
    }
    const auto word = [this](std::size_t index) { return m_fields.load(index); };
    if (const std::optional<std::string> problem = record_problem(m_fields.size(), word))
        throw CorruptSegment(record_name(direction, kind, name) + ": " + *problem);
}

void Record::set_subject(std::string_view subject) {
    store_text([this](std::size_t index, std::uint64_t value) { m_fields.store(index, value); },
               kSubjectAt, subject);
}

void Record::set_last_error(std::string_view error) {
    store_text([this](std::size_t index, std::uint64_t value) { m_fields.store(index, value); },
               kLastErrorAt, error);
}

Record::~Record() {
    if (m_locked)
        m_lock.release();
}

void Record::lock_exclusively(std::string_view what) {
    // A SIGKILLed predecessor's lock is taken over within Lock::kOwnerProbePeriod.
    if (!m_lock.acquire_for(std::chrono::seconds(2)).acquired)
        throw UsageError("another " + std::string(what) + " bridge runs on this " +
                         (m_kind == Bridged::queue ? "queue" : "topic"));
    m_locked = true;
}

std::uint64_t Record::last_id_from(std::uint64_t epoch) const {
    for (std::size_t slot = kOriginsAt; slot < kOriginsAt + 2 * kOrigins; slot += 2)
        if (m_fields.load(slot) == epoch)
            return m_fields.load(slot + 1);
    return 0;
}

// A known epoch's id is updated in place (one store). A new epoch takes the next slot round
// robin, emptied first, so that a kill in between leaves an empty slot, never a wrong pair.
void Record::set_last_id_from(std::uint64_t epoch, std::uint64_t id) {
    for (std::size_t slot = kOriginsAt; slot < kOriginsAt + 2 * kOrigins; slot += 2)
        if (m_fields.load(slot) == epoch) {
            m_fields.store(slot + 1, id);
            return;
        }
    const std::uint64_t victim = m_fields.load(next_origin) % kOrigins;
    const std::size_t slot = kOriginsAt + 2 * victim;
    m_fields.store(slot, 0);
    m_fields.store(slot + 1, id);
    m_fields.store(slot, epoch);
    m_fields.store(next_origin, victim + 1);
}

void Record::set_stream_limits(const StreamLimits& limits) {
    store(stream_max_age_ms, static_cast<std::uint64_t>(limits.max_age.count()));
    store(stream_max_bytes, static_cast<std::uint64_t>(limits.max_bytes));
    store(stream_max_messages, static_cast<std::uint64_t>(limits.max_messages));
}

BridgeStatus Record::status() const {
    return status_of(m_fields);
}

BridgeStatus status_of(const Array<std::uint64_t>& fields) {
    const auto word = [&fields](std::size_t index) { return fields.load(index); };
    if (const std::optional<std::string> problem = record_problem(fields.size(), word))
        throw CorruptSegment(*problem);
    BridgeStatus status;
    status.forwarded = fields.load(forwarded);
    status.in_flight = fields.load(state) == in_flight ? 1 : 0;
    status.republished = fields.load(republished);
    status.duplicates_dropped = fields.load(duplicates_dropped);
    status.redeliveries_skipped = fields.load(redeliveries_skipped);
    status.kills_settled = fields.load(kills_settled);
    status.possibly_duplicated = fields.load(possibly_duplicated);
    status.last_sequence = fields.load(last_sequence);
    status.errors = fields.load(errors);
    status.missed = fields.load(missed);
    status.stream_limits.max_age = std::chrono::milliseconds(fields.load(stream_max_age_ms));
    status.stream_limits.max_bytes = static_cast<std::int64_t>(fields.load(stream_max_bytes));
    status.stream_limits.max_messages = static_cast<std::int64_t>(fields.load(stream_max_messages));
    status.subject = load_text(word, kSubjectAt);
    status.last_error = load_text(word, kLastErrorAt);
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

std::optional<std::uint64_t> object_type_tag(const Segment& segment, Bridged kind,
                                             std::string_view name) {
    const ObjectKind wanted = kind == Bridged::queue ? ObjectKind::queue : ObjectKind::topic;
    for (const detail::DirEntry* entry : detail::ready_entries(segment))
        if (entry->kind == wanted && std::string_view(entry->name) == name)
            return entry->type_tag;
    return std::nullopt;
}

std::uint64_t existing_type_tag(const Segment& segment, Bridged kind, std::string_view name) {
    if (const std::optional<std::uint64_t> tag = object_type_tag(segment, kind, name))
        return *tag;
    throw NotFound("no " + std::string(kind == Bridged::queue ? "queue" : "topic") + " '" +
                   std::string(name) + "' in segment " + segment.name());
}

std::string hex(std::uint64_t value) {
    std::ostringstream out;
    out << std::hex << value;
    return out.str();
}

std::string stream_of(const BridgeOptions& options) {
    return options.stream.empty() ? default_stream_name(options.subject) : options.stream;
}

StreamOptions stream_options(const BridgeOptions& options) {
    StreamOptions stream;
    stream.name = stream_of(options);
    stream.subject = options.subject;
    stream.duplicate_window = options.duplicate_window;
    stream.retention =
        bridged(options) == Bridged::queue ? Retention::work_queue : Retention::limits;
    stream.limits = options.stream_limits;
    return stream;
}

StreamInfo ensure_stream(JetStream& js, const BridgeOptions& options, Record& record) {
    const StreamOptions stream = stream_options(options);
    js.add_stream(stream);
    StreamInfo info = js.stream_info(stream.name);
    if (options.stream_limits.any() && info.limits != options.stream_limits) {
        js.set_limits(stream.name, options.stream_limits);
        info = js.stream_info(stream.name);
    }
    record.set_stream_limits(info.limits);
    return info;
}

ConnectOptions connect_options(const BridgeOptions& options, std::string_view name) {
    ConnectOptions connect;
    connect.url = options.url;
    connect.name = name;
    return connect;
}

std::string durable_of(const BridgeOptions& options) {
    if (!options.durable.empty())
        return options.durable;
    return bridged(options) == Bridged::queue
               ? default_durable_name(options.segment, options.queue)
               : default_topic_durable_name(options.segment, options.topic);
}

} // namespace bridge

BridgeStatus bridge_out_status(std::string_view segment, std::string_view name, Bridged kind) {
    const Segment opened = Segment::observe(segment);
    return bridge::status_of(Array<std::uint64_t>::open(
        opened, bridge::record_name(bridge::Direction::out, kind, name)));
}

BridgeStatus bridge_in_status(std::string_view segment, std::string_view name, Bridged kind) {
    const Segment opened = Segment::observe(segment);
    return bridge::status_of(
        Array<std::uint64_t>::open(opened, bridge::record_name(bridge::Direction::in, kind, name)));
}

} // namespace shmbus::nats

// SPDX-License-Identifier: Apache-2.0
#include "decode_bridge.hpp"

#include "messaging/bridge_record_layout.hpp"
#include "segment/directory.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/type_tag.hpp"

#include <atomic>

namespace shmbus::cli {
namespace {

using nlohmann::json;
namespace layout = detail::bridge_layout;

// The words of an Array<std::uint64_t> whose directory entry is `size` bytes; empty when its
// header claims more words than the object holds (or another element size).
std::span<std::uint64_t> array_words(void* state, std::uint64_t size) {
    if (size < layout::kArrayDataOffset)
        return {};
    auto* header = static_cast<std::uint64_t*>(state);
    const std::uint64_t length = header[0];
    if (header[1] != sizeof(std::uint64_t) ||
        length > (size - layout::kArrayDataOffset) / sizeof(std::uint64_t))
        return {};
    auto* words =
        reinterpret_cast<std::uint64_t*>(static_cast<char*>(state) + layout::kArrayDataOffset);
    return {words, static_cast<std::size_t>(length)};
}

BridgeRow decode(const layout::RecordName& name, std::span<std::uint64_t> words) {
    BridgeRow row;
    row.inbound = name.inbound;
    row.topic = name.topic;
    row.name = std::string(name.name);
    // relaxed: a display snapshot, each word read once; the bridge writes them the same way.
    const auto load = [words](std::size_t index) {
        return std::atomic_ref<std::uint64_t>(words[index]).load(std::memory_order_relaxed);
    };
    if (words.empty()) {
        row.problem = "bridge record that does not fit its object";
        return row;
    }
    if (const std::optional<std::string> problem = layout::record_problem(words.size(), load)) {
        row.problem = *problem;
        return row;
    }
    row.subject = layout::load_text(load, layout::kSubjectAt);
    row.last_error = layout::load_text(load, layout::kLastErrorAt);
    row.in_flight = load(layout::state) == layout::in_flight ? 1 : 0;
    row.forwarded = load(layout::forwarded);
    row.errors = load(layout::errors);
    row.stream_max_age_ms = load(layout::stream_max_age_ms);
    row.stream_max_bytes = load(layout::stream_max_bytes);
    row.stream_max_messages = load(layout::stream_max_messages);
    return row;
}

} // namespace

std::vector<BridgeRow> bridge_rows(const Segment& segment) {
    std::vector<BridgeRow> rows;
    for (const detail::DirEntry* entry : detail::ready_entries(segment)) {
        const std::optional<layout::RecordName> name = layout::parse_record_name(entry->name);
        // The in-flight payload beside a record is an Array<std::byte>: not a record.
        if (!name || entry->kind != ObjectKind::array ||
            entry->type_tag != detail::type_tag<std::uint64_t>())
            continue;
        const detail::ObjectRef ref = detail::object_at(segment, entry->offset, entry->kind);
        rows.push_back(decode(*name, array_words(&ref.state<char>(), entry->size)));
    }
    return rows;
}

json to_json(const BridgeRow& bridge) {
    const bool valid = bridge.problem.empty();
    const auto counter = [valid](std::uint64_t value) {
        return valid ? json(value) : json(nullptr);
    };
    return {{"direction", bridge.inbound ? "in" : "out"},
            {"bridged", bridge.topic ? "topic" : "queue"},
            {"name", bridge.name},
            {"subject", valid ? json(bridge.subject) : json(nullptr)},
            {"in_flight", counter(bridge.in_flight)},
            {"forwarded", counter(bridge.forwarded)},
            {"errors", counter(bridge.errors)},
            {"stream_max_age_ms", counter(bridge.stream_max_age_ms)},
            {"stream_max_bytes", counter(bridge.stream_max_bytes)},
            {"stream_max_messages", counter(bridge.stream_max_messages)},
            {"last_error",
             valid && !bridge.last_error.empty() ? json(bridge.last_error) : json(nullptr)},
            {"problem", valid ? json(nullptr) : json(bridge.problem)}};
}

namespace {

// "; stream keeps at most 604800000 ms old, 1000000 messages": the limits that are set.
std::string limits_text(const BridgeRow& bridge) {
    std::string limits;
    const auto add = [&limits](std::uint64_t value, const char* unit) {
        if (value != 0)
            limits += (limits.empty() ? "" : ", ") + std::to_string(value) + unit;
    };
    add(bridge.stream_max_age_ms, " ms old");
    add(bridge.stream_max_bytes, " bytes");
    add(bridge.stream_max_messages, " messages");
    return limits.empty() ? "" : "; stream keeps at most " + limits;
}

} // namespace

std::string bridge_line(const BridgeRow& bridge) {
    std::string line = std::string(bridge.inbound ? "in " : "out ") +
                       (bridge.topic ? "topic " : "queue ") + bridge.name;
    if (!bridge.problem.empty())
        return line + ": unreadable: " + bridge.problem;
    line += bridge.inbound ? " <- " : " -> ";
    line += bridge.subject + ": forwarded " + std::to_string(bridge.forwarded) + ", in flight " +
            std::to_string(bridge.in_flight) + ", errors " + std::to_string(bridge.errors) +
            ", last error: " + (bridge.last_error.empty() ? "-" : bridge.last_error);
    return line + limits_text(bridge);
}

} // namespace shmbus::cli

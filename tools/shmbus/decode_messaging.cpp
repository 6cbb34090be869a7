// SPDX-License-Identifier: Apache-2.0
#include "decode_messaging.hpp"

#include "messaging/pipe_state.hpp"
#include "messaging/queue_state.hpp"
#include "messaging/topic_state.hpp"
#include "os/liveness.hpp"
#include "os/owner.hpp"
#include "process/pool_state.hpp"
#include "ring/mpmc_ring.hpp"
#include "ring/spsc_ring.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>

namespace shmbus::cli {
namespace {

using nlohmann::json;

template <class T>
T peek(const std::atomic<T>& field) {
    // relaxed is enough: a display snapshot, each field read once.
    return field.load(std::memory_order_relaxed);
}

template <class Nested>
const Nested& nested_at(const void* state, std::uint64_t offset) {
    return *reinterpret_cast<const Nested*>(static_cast<const char*>(state) + offset);
}

std::string plural(std::uint64_t count, const char* noun) {
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string parked_summary(std::uint32_t readers, std::uint32_t writers) {
    std::string text;
    if (readers != 0)
        text += ", " + plural(readers, "reader") + " parked";
    if (writers != 0)
        text += ", " + plural(writers, "writer") + " parked";
    return text;
}

// A queue's shutdown bits as `shmbus inspect` shows them: "no", "yes" or "immediate".
std::string shut_down_name(std::uint32_t bits) {
    if ((bits & detail::kShutDownImmediate) != 0)
        return "immediate";
    return (bits & detail::kShutDown) != 0 ? "yes" : "no";
}

json queue_state_json(const detail::QueueState& queue, const detail::MpmcRingHeader& ring) {
    const auto [put, got] = detail::message_counts(ring);
    const std::uint64_t tail = peek(ring.tail);
    const std::uint64_t head = peek(ring.head);
    return {
        {"maxsize", queue.maxsize},
        {"max_message_size", queue.max_message_size},
        {"capacity_slots", ring.slot_count},
        {"slot_bytes", detail::kSlotBytes},
        {"depth", put >= got ? put - got : 0},
        {"slots_used", tail >= head ? tail - head : 0},
        {"head", head},
        {"tail", tail},
        {"reclaim", peek(ring.reclaim)},
        {"messages_in", put},
        {"messages_out", got},
        {"closed", peek(ring.closed) != 0},
        {"shut_down", shut_down_name(peek(queue.shut_down))},
        {"getters_parked", peek(queue.items.waiters)},
        {"putters_parked", peek(queue.space.waiters)},
        {"parks", peek(queue.items.parks) + peek(queue.space.parks) + peek(queue.done.parks)},
        {"wakes", peek(queue.items.wakes) + peek(queue.space.wakes) + peek(queue.done.wakes)},
        {"messages_lost", peek(ring.lost_count)},
        {"claims_padded", peek(ring.padded_count)},
        {"unfinished_tasks", queue.joinable != 0 ? json(peek(queue.unfinished)) : json(nullptr)}};
}

std::string queue_summary(const json& state) {
    std::string text = "depth " + state["depth"].dump() + " (" + state["slots_used"].dump() + "/" +
                       state["capacity_slots"].dump() + " slots), in " +
                       state["messages_in"].dump() + " out " + state["messages_out"].dump();
    if (!state["unfinished_tasks"].is_null())
        text += ", unfinished " + state["unfinished_tasks"].dump();
    text += parked_summary(state["getters_parked"].get<std::uint32_t>(),
                           state["putters_parked"].get<std::uint32_t>());
    if (state["messages_lost"].get<std::uint64_t>() != 0)
        text += ", LOST " + state["messages_lost"].dump();
    if (state["shut_down"] != "no")
        text += state["shut_down"] == "immediate" ? ", shut down (immediate)" : ", shut down";
    else if (state["closed"].get<bool>())
        text += ", closed";
    return text;
}

json channel_json(int to_end, const detail::PipeChannelState& channel,
                  const detail::SpscRingHeader& ring) {
    const std::uint64_t written = peek(ring.write_pos);
    const std::uint64_t read = peek(ring.read_pos);
    return {{"to_end", to_end},
            {"capacity", ring.capacity},
            {"buffered", written >= read ? written - read : 0},
            {"bytes_in", written},
            {"messages_in", peek(ring.messages_written)},
            {"messages_out", peek(ring.messages_read)},
            {"readers_parked", peek(channel.data.waiters)},
            {"writers_parked", peek(channel.space.waiters)},
            {"parks", peek(channel.data.parks) + peek(channel.space.parks)},
            {"wakes", peek(channel.data.wakes) + peek(channel.space.wakes)}};
}

std::uint64_t sum_of(const json& channels, const char* field) {
    std::uint64_t total = 0;
    for (const json& channel : channels)
        total += channel[field].get<std::uint64_t>();
    return total;
}

std::string pipe_summary(const json& state) {
    const json& ends = state["ends"];
    std::string text = std::string(state["duplex"].get<bool>() ? "duplex" : "one-way") + ", in " +
                       state["messages_in"].dump() + " out " + state["messages_out"].dump() +
                       ", buffered " + std::to_string(sum_of(state["channels"], "buffered")) + " B";
    std::uint32_t readers = 0;
    std::uint32_t writers = 0;
    for (const json& channel : state["channels"]) {
        readers += channel["readers_parked"].get<std::uint32_t>();
        writers += channel["writers_parked"].get<std::uint32_t>();
    }
    text += parked_summary(readers, writers);
    for (std::size_t end = 0; end < ends.size(); ++end)
        if (ends[end]["closed"].get<bool>())
            text += ", end " + std::to_string(end) + " closed";
        else if (const auto holds = ends[end]["holds"].get<std::uint32_t>(); holds != 1)
            text +=
                ", end " + std::to_string(end) + " held by " + std::to_string(holds) + " processes";
    return text;
}

std::string per_second(double rate) {
    char text[32];
    if (rate >= 1e6)
        std::snprintf(text, sizeof text, "%.2fM/s", rate / 1e6);
    else if (rate >= 1e3)
        std::snprintf(text, sizeof text, "%.1fk/s", rate / 1e3);
    else
        std::snprintf(text, sizeof text, "%.0f/s", rate);
    return text;
}

bool worker_alive(std::int32_t pid) {
    const std::optional<std::uint64_t> start =
        pid > 0 ? detail::process_start_time(pid) : std::nullopt;
    return start && detail::process_alive(pid, *start);
}

json topic_publishers(const detail::TopicLayout& layout) {
    json publishers = json::array();
    for (std::uint32_t i = 0; i < layout.state().max_publishers; ++i) {
        const detail::TopicPublisher& lease = layout.publisher(i);
        const detail::OwnerId owner = peek(lease.owner);
        if (owner == detail::kNoOwner || owner == detail::kReclaimingOwner)
            continue;
        const std::uint64_t claiming = peek(lease.claiming);
        publishers.push_back(
            {{"slot", i},
             {"pid", detail::owner_tid(owner)},
             {"alive", detail::owner_alive(owner)},
             {"published", peek(lease.published)},
             {"writing", claiming == detail::kNotClaiming ? json(nullptr) : json(claiming)}});
    }
    return publishers;
}

json topic_subscribers(const detail::TopicLayout& layout, std::uint64_t next) {
    json subscribers = json::array();
    for (std::uint32_t i = 0; i < layout.state().max_subscribers; ++i) {
        const detail::TopicSubscriber& entry = layout.subscriber(i);
        const detail::OwnerId owner = peek(entry.owner);
        if (owner == detail::kNoOwner || owner == detail::kReclaimingOwner)
            continue;
        const std::uint64_t cursor = peek(entry.cursor);
        subscribers.push_back({{"slot", i},
                               {"pid", detail::owner_tid(owner)},
                               {"alive", detail::owner_alive(owner)},
                               {"cursor", cursor},
                               {"lag", cursor < next ? next - cursor : 0},
                               {"received", peek(entry.received)},
                               {"dropped", peek(entry.dropped)}});
    }
    return subscribers;
}

std::string topic_summary(const json& state) {
    std::uint64_t max_lag = 0;
    std::uint64_t dropped = 0;
    for (const json& subscriber : state["subscribers"]) {
        max_lag = std::max(max_lag, subscriber["lag"].get<std::uint64_t>());
        dropped += subscriber["dropped"].get<std::uint64_t>();
    }
    std::string text = state["slow_subscriber"].get<std::string>() + ", in " +
                       state["messages_in"].dump() + ", " +
                       plural(state["publishers"].size(), "publisher") + ", " +
                       plural(state["subscribers"].size(), "subscriber") + " (max lag " +
                       std::to_string(max_lag) + ")";
    if (dropped != 0)
        text += ", DROPPED " + std::to_string(dropped);
    return text + parked_summary(state["subscribers_parked"].get<std::uint32_t>(),
                                 state["publishers_parked"].get<std::uint32_t>());
}

} // namespace

void decode_topic(ObjectReport& report, const detail::TopicState& topic) {
    // The layout only computes addresses; the CLI never writes through it.
    const detail::TopicLayout layout(const_cast<detail::TopicState&>(topic));
    const std::uint64_t next = peek(topic.next);
    const json subscribers = topic_subscribers(layout, next);
    std::uint64_t delivered = 0;
    for (const json& subscriber : subscribers)
        delivered += subscriber["received"].get<std::uint64_t>();
    const bool overwrite =
        topic.policy == static_cast<std::uint32_t>(detail::TopicPolicy::overwrite);
    report.state = {{"slow_subscriber", overwrite ? "overwrite" : "block"},
                    {"capacity", topic.capacity},
                    {"max_message_size", topic.max_message_size},
                    {"slot_bytes", topic.slot_stride},
                    {"history", topic.history},
                    {"messages_in", next},
                    {"messages_out", delivered},
                    {"publishers", topic_publishers(layout)},
                    {"subscribers", subscribers},
                    {"subscribers_parked", peek(topic.items.waiters)},
                    {"publishers_parked", peek(topic.space.waiters)},
                    {"parks", peek(topic.items.parks) + peek(topic.space.parks)},
                    {"wakes", peek(topic.items.wakes) + peek(topic.space.wakes)}};
    report.summary = topic_summary(report.state);
}

void decode_queue(ObjectReport& report, const detail::QueueState& queue) {
    const auto& ring = nested_at<detail::MpmcRingHeader>(&queue, queue.ring_offset);
    report.state = queue_state_json(queue, ring);
    report.summary = queue_summary(report.state);
}

void decode_pipe(ObjectReport& report, const detail::PipeState& pipe) {
    json channels = json::array();
    for (int to_end = 0; to_end < (pipe.duplex != 0 ? 2 : 1); ++to_end) {
        const detail::PipeChannelState& channel = pipe.channels[to_end];
        const auto& ring = nested_at<detail::SpscRingHeader>(&pipe, channel.ring_offset);
        channels.push_back(channel_json(to_end, channel, ring));
    }
    json ends = json::array();
    for (int end = 0; end < 2; ++end) {
        json holders = json::array();
        for (const auto& slot : pipe.holders[end].slots)
            if (const detail::OwnerId holder = peek(slot); holder != detail::kNoOwner)
                holders.push_back(
                    {{"pid", detail::owner_tid(holder)}, {"alive", detail::owner_alive(holder)}});
        ends.push_back({{"closed", peek(pipe.ends[end].closed) != 0},
                        {"holds", peek(pipe.holders[end].holds)},
                        {"holders", holders}});
    }
    report.state = {{"duplex", pipe.duplex != 0},
                    {"capacity", pipe.capacity},
                    {"max_message_size", pipe.max_message_size},
                    {"messages_in", sum_of(channels, "messages_in")},
                    {"messages_out", sum_of(channels, "messages_out")},
                    {"ends", ends},
                    {"channels", channels}};
    report.summary = pipe_summary(report.state);
}

void decode_pool(ObjectReport& report, const detail::PoolState& pool) {
    json workers = json::array();
    for (std::uint32_t i = 0; i < pool.slot_count; ++i) {
        const detail::PoolWorkerSlot& slot = pool.slot(i);
        const std::int32_t pid = peek(slot.pid);
        workers.push_back({{"slot", i},
                           {"pid", pid},
                           {"alive", worker_alive(pid)},
                           {"busy", peek(slot.busy) != 0},
                           {"chunk", peek(slot.chunk_id)},
                           {"tasks_done", peek(slot.tasks_done)},
                           {"replaced", peek(slot.replaced)}});
    }
    const std::uint64_t submitted = peek(pool.tasks_submitted);
    const std::uint64_t done = peek(pool.tasks_done);
    report.state = {{"workers", workers},
                    {"tasks_submitted", submitted},
                    {"tasks_done", done},
                    {"tasks_pending", submitted > done ? submitted - done : 0},
                    {"tasks_failed", peek(pool.tasks_failed)},
                    {"workers_lost", peek(pool.workers_lost)},
                    {"closed", peek(pool.closed) != 0}};
    report.summary = std::to_string(pool.slot_count) + " workers, " +
                     std::to_string(submitted > done ? submitted - done : 0) + " tasks pending, " +
                     std::to_string(done) + " done" + (peek(pool.closed) != 0 ? ", closed" : "");
}

void add_rates(SegmentReport& now, const SegmentReport& before, double seconds) {
    if (seconds <= 0)
        return;
    std::map<std::uint64_t, const ObjectReport*> earlier;
    for (const ObjectReport& object : before.objects)
        earlier[object.offset] = &object;
    for (ObjectReport& object : now.objects) {
        const auto found = earlier.find(object.offset);
        if (!object.state.contains("messages_in") || found == earlier.end() ||
            !found->second->state.contains("messages_in"))
            continue;
        const json& then = found->second->state;
        const auto rate = [&](const char* field) {
            const auto a = then[field].get<std::uint64_t>();
            const auto b = object.state[field].get<std::uint64_t>();
            return b >= a ? static_cast<double>(b - a) / seconds : 0.0;
        };
        const double in = rate("messages_in");
        const double out = rate("messages_out");
        object.state["in_per_s"] = in;
        object.state["out_per_s"] = out;
        object.summary = per_second(in) + " in, " + per_second(out) + " out | " + object.summary;
    }
}

} // namespace shmbus::cli

// SPDX-License-Identifier: Apache-2.0
// The RAII layer over nats.c (shmbus/nats/client.hpp): each C call's status goes through
// check(), which adds NATS's own text to the NatsError it throws.
#include "shmbus/nats/client.hpp"

#include <array>

namespace shmbus::nats {
namespace {

std::int64_t to_ms(std::chrono::milliseconds duration) {
    return static_cast<std::int64_t>(duration.count());
}

std::int64_t to_ns(std::chrono::milliseconds duration) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
}

// A JetStream API call answered with one of `codes`: the state it asked for already holds.
bool answered(natsStatus status, jsErrCode js_code, std::initializer_list<jsErrCode> codes) {
    if (status == NATS_OK)
        return true;
    for (jsErrCode code : codes)
        if (js_code == code)
            return true;
    return false;
}

struct OptionsDestroy {
    void operator()(natsOptions* options) const { natsOptions_Destroy(options); }
};

std::unique_ptr<natsOptions, OptionsDestroy> make_options(const ConnectOptions& options) {
    natsOptions* raw = nullptr;
    check(natsOptions_Create(&raw), "natsOptions_Create");
    std::unique_ptr<natsOptions, OptionsDestroy> result(raw);
    check(natsOptions_SetURL(raw, options.url.c_str()), "natsOptions_SetURL");
    if (!options.name.empty())
        check(natsOptions_SetName(raw, options.name.c_str()), "natsOptions_SetName");
    check(natsOptions_SetTimeout(raw, to_ms(options.timeout)), "natsOptions_SetTimeout");
    check(natsOptions_SetMaxReconnect(raw, options.max_reconnect), "natsOptions_SetMaxReconnect");
    check(natsOptions_SetReconnectWait(raw, to_ms(options.reconnect_wait)),
          "natsOptions_SetReconnectWait");
    return result;
}

// nats.c's "no limit" is -1 for counts and sizes, 0 for the age; ours is 0 for each.
void apply_limits(jsStreamConfig& config, const StreamLimits& limits) {
    config.MaxAge = to_ns(limits.max_age);
    config.MaxBytes = limits.max_bytes == 0 ? -1 : limits.max_bytes;
    config.MaxMsgs = limits.max_messages == 0 ? -1 : limits.max_messages;
    config.Discard = js_DiscardOld;
}

StreamLimits limits_of(const jsStreamConfig& config) {
    StreamLimits limits;
    limits.max_age = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(config.MaxAge));
    limits.max_bytes = config.MaxBytes < 0 ? 0 : config.MaxBytes;
    limits.max_messages = config.MaxMsgs < 0 ? 0 : config.MaxMsgs;
    return limits;
}

struct StreamInfoDestroy {
    void operator()(jsStreamInfo* info) const { jsStreamInfo_Destroy(info); }
};
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, StreamInfoDestroy>;

} // namespace

bool NatsError::timed_out() const noexcept {
    return m_status == NATS_TIMEOUT;
}

void check(natsStatus status, std::string_view what, jsErrCode js_code) {
    if (status == NATS_OK)
        return;
    std::string message = std::string(what) + " failed: " + natsStatus_GetText(status);
    natsStatus last_status = NATS_OK;
    const char* detail = nats_GetLastError(&last_status);
    if (detail != nullptr && *detail != '\0' && last_status == status)
        message += std::string(" (") + detail + ")";
    if (js_code != 0)
        message += " [JetStream error " + std::to_string(static_cast<int>(js_code)) + "]";
    throw NatsError(message, static_cast<int>(status), static_cast<int>(js_code));
}

void Connection::Destroy::operator()(natsConnection* connection) const {
    natsConnection_Destroy(connection); // closes it first when still open
}

Connection::Connection(const ConnectOptions& options) {
    auto c_options = make_options(options);
    natsConnection* raw = nullptr;
    check(natsConnection_Connect(&raw, c_options.get()), "connecting to " + options.url);
    m_handle.reset(raw);
}

bool Connection::connected() const {
    return natsConnection_Status(m_handle.get()) == NATS_CONN_STATUS_CONNECTED;
}

void Connection::flush(std::chrono::milliseconds timeout) {
    check(natsConnection_FlushTimeout(m_handle.get(), to_ms(timeout)), "natsConnection_Flush");
}

void Connection::publish(Message& message) {
    check(natsConnection_PublishMsg(m_handle.get(), message.get()), "natsConnection_PublishMsg");
}

Subscription Connection::subscribe(std::string_view subject) {
    const std::string subject_text(subject);
    natsSubscription* raw = nullptr;
    check(natsConnection_SubscribeSync(&raw, m_handle.get(), subject_text.c_str()),
          "natsConnection_SubscribeSync " + subject_text);
    return Subscription(raw);
}

Message::Message(std::string_view subject, std::span<const std::byte> data) {
    const std::string subject_text(subject);
    natsMsg* raw = nullptr;
    check(natsMsg_Create(&raw, subject_text.c_str(), nullptr,
                         reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size())),
          "natsMsg_Create");
    m_handle.reset(raw);
}

std::string_view Message::subject() const {
    return natsMsg_GetSubject(m_handle.get());
}

std::span<const std::byte> Message::data() const {
    return {reinterpret_cast<const std::byte*>(natsMsg_GetData(m_handle.get())),
            static_cast<std::size_t>(natsMsg_GetDataLength(m_handle.get()))};
}

std::optional<std::string> Message::header(std::string_view key) const {
    const std::string key_text(key);
    const char* value = nullptr;
    const natsStatus status = natsMsgHeader_Get(m_handle.get(), key_text.c_str(), &value);
    if (status == NATS_NOT_FOUND)
        return std::nullopt;
    check(status, "natsMsgHeader_Get");
    return std::string(value);
}

void Message::set_header(std::string_view key, std::string_view value) {
    const std::string key_text(key);
    const std::string value_text(value);
    check(natsMsgHeader_Set(m_handle.get(), key_text.c_str(), value_text.c_str()),
          "natsMsgHeader_Set");
}

namespace {

struct MetaDataDestroy {
    void operator()(jsMsgMetaData* meta) const { jsMsgMetaData_Destroy(meta); }
};

std::unique_ptr<jsMsgMetaData, MetaDataDestroy> meta_data(natsMsg* message) {
    jsMsgMetaData* raw = nullptr;
    check(natsMsg_GetMetaData(&raw, message), "natsMsg_GetMetaData");
    return std::unique_ptr<jsMsgMetaData, MetaDataDestroy>(raw);
}

} // namespace

std::uint64_t Message::stream_sequence() const {
    return meta_data(m_handle.get())->Sequence.Stream;
}

std::uint64_t Message::delivery_count() const {
    return meta_data(m_handle.get())->NumDelivered;
}

void Message::ack() {
    check(natsMsg_Ack(m_handle.get(), nullptr), "natsMsg_Ack");
}

void Message::in_progress() {
    check(natsMsg_InProgress(m_handle.get(), nullptr), "natsMsg_InProgress");
}

void Subscription::Destroy::operator()(natsSubscription* subscription) const {
    // Destroy without unsubscribing: the durable consumer stays on the server for the next run.
    natsSubscription_Destroy(subscription);
}

std::vector<Message> Subscription::fetch(int batch, std::chrono::milliseconds timeout) {
    natsMsgList list{};
    jsErrCode js_code{};
    const natsStatus status =
        natsSubscription_Fetch(&list, m_handle.get(), batch, to_ms(timeout), &js_code);
    std::vector<Message> messages;
    messages.reserve(static_cast<std::size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
        messages.emplace_back(list.Msgs[i]);
        list.Msgs[i] = nullptr; // owned by `messages` now
    }
    natsMsgList_Destroy(&list);
    if (status != NATS_TIMEOUT)
        check(status, "natsSubscription_Fetch", js_code);
    return messages;
}

std::optional<Message> Subscription::next(std::chrono::milliseconds timeout) {
    natsMsg* raw = nullptr;
    const natsStatus status = natsSubscription_NextMsg(&raw, m_handle.get(), to_ms(timeout));
    if (status == NATS_TIMEOUT)
        return std::nullopt;
    check(status, "natsSubscription_NextMsg");
    return Message(raw);
}

JetStream::JetStream(const Connection& connection, std::chrono::milliseconds wait) {
    jsOptions options;
    check(jsOptions_Init(&options), "jsOptions_Init");
    options.Wait = to_ms(wait);
    jsCtx* raw = nullptr;
    check(natsConnection_JetStream(&raw, connection.get(), &options), "natsConnection_JetStream");
    m_handle.reset(raw);
}

namespace {
bool stream_exists(jsCtx* js, const std::string& name) {
    jsStreamInfo* raw = nullptr;
    jsErrCode js_code{};
    const natsStatus status = js_GetStreamInfo(&raw, js, name.c_str(), nullptr, &js_code);
    const StreamInfoPtr info(raw);
    return status == NATS_OK;
}
} // namespace

void JetStream::add_stream(const StreamOptions& options) {
    jsStreamConfig config;
    check(jsStreamConfig_Init(&config), "jsStreamConfig_Init");
    std::array<const char*, 1> subjects{options.subject.c_str()};
    config.Name = options.name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = 1;
    config.Retention =
        options.retention == Retention::work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
    config.Storage = options.file_storage ? js_FileStorage : js_MemoryStorage;
    config.Duplicates = to_ns(options.duplicate_window);
    apply_limits(config, options.limits);
    jsErrCode js_code{};
    const natsStatus status = js_AddStream(nullptr, m_handle.get(), &config, nullptr, &js_code);
    if (answered(status, js_code, {JSStreamNameExistErr}))
        return;
    // Two clients adding the same stream at once (a Pool and its worker) may get "subjects
    // overlap" for the second instead of "name exists": the stream is there under our name.
    if (js_code == JSStreamSubjectOverlapErr && stream_exists(m_handle.get(), options.name))
        return;
    check(status, "js_AddStream " + options.name, js_code);
}

namespace {
StreamInfoPtr fetch_stream_info(jsCtx* js, const std::string& name) {
    jsStreamInfo* raw = nullptr;
    jsErrCode js_code{};
    check(js_GetStreamInfo(&raw, js, name.c_str(), nullptr, &js_code), "js_GetStreamInfo " + name,
          js_code);
    return StreamInfoPtr(raw);
}

} // namespace

void JetStream::set_limits(std::string_view name, const StreamLimits& limits) {
    const std::string name_text(name);
    const StreamInfoPtr info = fetch_stream_info(m_handle.get(), name_text);
    apply_limits(*info->Config, limits);
    jsStreamInfo* updated = nullptr;
    jsErrCode js_code{};
    check(js_UpdateStream(&updated, m_handle.get(), info->Config, nullptr, &js_code),
          "js_UpdateStream " + name_text, js_code);
    jsStreamInfo_Destroy(updated);
}

StreamInfo JetStream::stream_info(std::string_view name) {
    const StreamInfoPtr info = fetch_stream_info(m_handle.get(), std::string(name));
    return StreamInfo{info->Created, info->State.Msgs, info->State.LastSeq,
                      limits_of(*info->Config)};
}

bool JetStream::delete_stream(std::string_view name) {
    const std::string name_text(name);
    jsErrCode js_code{};
    const natsStatus status = js_DeleteStream(m_handle.get(), name_text.c_str(), nullptr, &js_code);
    if (status == NATS_NOT_FOUND || (status != NATS_OK && js_code == JSStreamNotFoundErr))
        return false;
    check(status, "js_DeleteStream " + name_text, js_code);
    return true;
}

PubAck JetStream::publish(Message& message, const PublishOptions& options) {
    jsPubOptions c_options;
    check(jsPubOptions_Init(&c_options), "jsPubOptions_Init");
    c_options.MaxWait = to_ms(options.timeout);
    if (!options.msg_id.empty())
        c_options.MsgId = options.msg_id.c_str();
    jsPubAck* raw = nullptr;
    jsErrCode js_code{};
    check(js_PublishMsg(&raw, m_handle.get(), message.get(), &c_options, &js_code), "js_PublishMsg",
          js_code);
    PubAck ack{raw->Stream != nullptr ? raw->Stream : "", raw->Sequence, raw->Duplicate};
    jsPubAck_Destroy(raw);
    return ack;
}

PubAck JetStream::publish(std::string_view subject, std::span<const std::byte> data,
                          const PublishOptions& options) {
    Message message(subject, data);
    return publish(message, options);
}

Subscription JetStream::pull_subscribe(std::string_view subject, const ConsumerOptions& options) {
    if (options.stream.empty())
        throw UsageError("pull_subscribe needs ConsumerOptions::stream");
    jsConsumerConfig config;
    check(jsConsumerConfig_Init(&config), "jsConsumerConfig_Init");
    config.Durable = options.durable.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = to_ns(options.ack_wait);
    config.MaxAckPending = options.max_ack_pending;
    config.MaxDeliver = options.max_deliver;
    // Created here, not by js_PullSubscribe, so that the client never deletes it on destroy.
    jsErrCode js_code{};
    const natsStatus added =
        js_AddConsumer(nullptr, m_handle.get(), options.stream.c_str(), &config, nullptr, &js_code);
    if (!answered(added, js_code, {JSConsumerNameExistErr, JSConsumerExistingActiveErr}))
        check(added, "js_AddConsumer " + options.durable, js_code);

    jsSubOptions sub_options;
    check(jsSubOptions_Init(&sub_options), "jsSubOptions_Init");
    sub_options.Stream = options.stream.c_str();
    sub_options.Consumer = options.durable.c_str();
    const std::string subject_text(subject);
    natsSubscription* raw = nullptr;
    js_code = {};
    check(js_PullSubscribe(&raw, m_handle.get(), subject_text.c_str(), options.durable.c_str(),
                           nullptr, &sub_options, &js_code),
          "js_PullSubscribe " + subject_text, js_code);
    return Subscription(raw);
}

} // namespace shmbus::nats

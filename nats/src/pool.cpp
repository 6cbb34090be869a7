// SPDX-License-Identifier: Apache-2.0
// The distributed Pool (shmbus/nats/pool.hpp). Tasks: stream SHMBUS_pool_<name> (work queue)
// on subject shmbus.pool.<name>.tasks, headers Shmbus-Task (the registered name),
// Shmbus-Task-Id and Shmbus-Reply (the caller's result subject), payload the encoded argument
// tuple. Workers share the durable pull consumer "workers". Results: core NATS to Shmbus-Reply,
// headers Shmbus-Task-Id and Shmbus-Status (ok or error), payload the encoded result or the
// error text "<type>: <what>"; an error also names its type in Shmbus-Error-Type, so that the
// caller rethrows standard and shmbus exceptions as themselves (shmbus/detail/task_error.hpp). A
// task the server gave up on (max_deliver) is named by the MAX_DELIVERIES advisory, by stream
// sequence: the caller keeps each task's sequence from its publish ack.
#include "shmbus/nats/pool.hpp"

#include "bridge_record.hpp"
#include "shmbus/detail/task_error.hpp"
#include "shmbus/nats/client.hpp"

#include <boost/core/demangle.hpp>
#include <map>
#include <mutex>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>
#include <typeinfo>

namespace shmbus {
namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, TaskHandler, std::less<>> handlers;
    std::map<std::uintptr_t, std::string> names;
};

Registry& registry() {
    static Registry instance;
    return instance;
}

} // namespace

void register_task_handler(const std::string& name, std::uintptr_t address, TaskHandler handler) {
    Registry& tasks = registry();
    const std::lock_guard lock(tasks.mutex);
    if (address != 0) {
        for (const auto& [known, known_name] : tasks.names)
            if (known_name == name && known != address)
                throw UsageError("task name '" + name + "' is registered for another function");
        tasks.names[address] = name;
    }
    tasks.handlers[name] = std::move(handler);
}

const TaskHandler* find_task(std::string_view name) {
    Registry& tasks = registry();
    const std::lock_guard lock(tasks.mutex);
    const auto found = tasks.handlers.find(name);
    return found == tasks.handlers.end() ? nullptr : &found->second;
}

std::string task_name(std::uintptr_t function) {
    Registry& tasks = registry();
    const std::lock_guard lock(tasks.mutex);
    const auto found = tasks.names.find(function);
    if (found == tasks.names.end())
        throw UsageError("the task function is not registered: SHMBUS_TASK(fn) or "
                         "shmbus::register_task(\"name\", &fn) in the caller and the workers");
    return found->second;
}

namespace nats {
namespace {

constexpr const char* kTaskHeader = "Shmbus-Task";
constexpr const char* kTaskIdHeader = "Shmbus-Task-Id";
constexpr const char* kReplyHeader = "Shmbus-Reply";
constexpr const char* kStatusHeader = "Shmbus-Status";
constexpr const char* kErrorTypeHeader = "Shmbus-Error-Type";
constexpr const char* kWorkers = "workers";

std::string stream_name(const std::string& pool) {
    return default_stream_name("pool." + pool);
}

std::string tasks_subject(const std::string& pool) {
    return "shmbus.pool." + pool + ".tasks";
}

StreamOptions pool_stream(const std::string& pool) {
    StreamOptions stream;
    stream.name = stream_name(pool);
    stream.subject = tasks_subject(pool);
    return stream;
}

// A failed task's exception: its own type when the worker named a rethrowable one, else
// RemoteError with the worker's "<type>: <what>" (a worker of an older build names none).
std::exception_ptr task_error(const Message& message) {
    std::string text(reinterpret_cast<const char*>(message.data().data()), message.data().size());
    const std::optional<std::string> type = message.header(kErrorTypeHeader);
    if (!type || !text.starts_with(*type + ": "))
        return std::make_exception_ptr(RemoteError(text));
    return shmbus::detail::task_exception(*type, text.substr(type->size() + 2));
}

std::span<const std::byte> bytes_of(std::string_view text) {
    return std::as_bytes(std::span(text.data(), text.size()));
}

std::string text_of(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The stream sequence in a MAX_DELIVERIES advisory ({"stream_seq":12,...}); 0 when absent.
std::uint64_t advised_sequence(std::string_view advisory) {
    constexpr std::string_view kKey = "\"stream_seq\":";
    const std::size_t at = advisory.find(kKey);
    if (at == std::string_view::npos)
        return 0;
    return std::strtoull(std::string(advisory.substr(at + kKey.size())).c_str(), nullptr, 10);
}

} // namespace

struct Pool::State {
    State(const std::string& url, const std::string& pool_name, const PoolOptions& pool_options)
        : name(pool_name), options(pool_options), connection(connect(url)), js(connection),
          reply_subject("shmbus.pool." + name + ".results." + random_hex()),
          results((js.add_stream(pool_stream(name)), connection.subscribe(reply_subject))),
          advisories(connection.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." +
                                          stream_name(name) + "." + kWorkers)),
          receiver([this] { receive(); }) {}

    ~State() {
        stopping = true;
        receiver.join();
    }

    static ConnectOptions connect(const std::string& url) {
        ConnectOptions options;
        options.url = url;
        options.name = "shmbus-pool";
        return options;
    }

    static std::string random_hex() {
        std::random_device random;
        std::ostringstream out;
        out << std::hex << ((std::uint64_t{random()} << 32) | random());
        return out.str();
    }

    // Results wait on the long poll; advisories (rare) are looked at between two.
    void receive() {
        constexpr std::chrono::milliseconds kPoll{20};
        constexpr std::chrono::milliseconds kGlance{1};
        while (!stopping) {
            try {
                if (std::optional<Message> result = results.next(kPoll))
                    on_result(*result);
                if (std::optional<Message> advisory = advisories.next(kGlance))
                    on_advisory(*advisory);
            } catch (const NatsError&) {
                std::this_thread::sleep_for(kPoll); // reconnecting: the client retries
            }
        }
    }

    void on_result(const Message& message) {
        const std::optional<std::string> id = message.header(kTaskIdHeader);
        if (!id)
            return;
        const Completion done = take(*id);
        if (!done)
            return; // the second result of a task run twice
        if (message.header(kStatusHeader) == "ok")
            done(message.data(), nullptr);
        else
            done({}, task_error(message));
    }

    void on_advisory(const Message& message) {
        const std::uint64_t sequence = advised_sequence(text_of(message.data()));
        std::string id;
        {
            const std::lock_guard lock(mutex);
            const auto found = ids_by_sequence.find(sequence);
            if (found == ids_by_sequence.end())
                return; // another caller's task
            id = found->second;
        }
        if (const Completion done = take(id))
            done({}, std::make_exception_ptr(WorkerLost(
                         "task " + id + " was delivered " + std::to_string(options.max_deliver) +
                         " times and never finished: its workers died")));
    }

    Completion take(const std::string& id) {
        const std::lock_guard lock(mutex);
        const auto found = pending.find(id);
        if (found == pending.end())
            return nullptr;
        Completion done = std::move(found->second.done);
        ids_by_sequence.erase(found->second.sequence);
        pending.erase(found);
        return done;
    }

    struct Pending {
        Completion done;
        std::uint64_t sequence = 0;
    };

    std::string name;
    PoolOptions options;
    Connection connection;
    JetStream js;
    std::string reply_subject;
    Subscription results;
    Subscription advisories;
    std::mutex mutex;
    std::map<std::string, Pending> pending;
    std::map<std::uint64_t, std::string> ids_by_sequence;
    std::uint64_t next_id = 0;
    std::atomic<bool> stopping{false};
    std::thread receiver;
};

Pool::Pool(const std::string& url, const std::string& name, const PoolOptions& options)
    : m_state(std::make_unique<State>(url, name, options)) {}

Pool::~Pool() = default;

void Pool::submit(const std::string& task, std::vector<std::byte> arguments, Completion done) {
    std::string id;
    {
        const std::lock_guard lock(m_state->mutex);
        id = m_state->reply_subject.substr(m_state->reply_subject.rfind('.') + 1) + "-" +
             std::to_string(++m_state->next_id);
        m_state->pending[id].done = std::move(done); // before publishing: results come fast
    }
    Message message(tasks_subject(m_state->name), arguments);
    message.set_header(kTaskHeader, task);
    message.set_header(kTaskIdHeader, id);
    message.set_header(kReplyHeader, m_state->reply_subject);
    PublishOptions publish;
    publish.msg_id = id;
    try {
        const PubAck ack = m_state->js.publish(message, publish);
        const std::lock_guard lock(m_state->mutex);
        if (const auto found = m_state->pending.find(id); found != m_state->pending.end()) {
            found->second.sequence = ack.sequence;
            m_state->ids_by_sequence[ack.sequence] = id;
        }
    } catch (...) {
        m_state->take(id);
        throw;
    }
}

namespace {

// Runs one task message; returns the result message to send back.
Message run_task(const Message& task) {
    const std::string reply = task.header(kReplyHeader).value_or("");
    const std::string id = task.header(kTaskIdHeader).value_or("");
    const std::string name = task.header(kTaskHeader).value_or("");
    std::vector<std::byte> result;
    std::string error;
    std::string error_type;
    if (const TaskHandler* handler = find_task(name)) {
        try {
            result = (*handler)(task.data());
        } catch (const std::exception& failure) {
            error_type = boost::core::demangle(typeid(failure).name());
            error = error_type + ": " + failure.what();
        }
    } else {
        error_type = "shmbus::UsageError";
        error = error_type + ": no task '" + name + "' is registered in this worker";
    }
    Message message(reply, error.empty() ? std::span<const std::byte>(result) : bytes_of(error));
    message.set_header(kTaskIdHeader, id);
    message.set_header(kStatusHeader, error.empty() ? "ok" : "error");
    if (!error.empty())
        message.set_header(kErrorTypeHeader, error_type);
    return message;
}

void serve_connected(Connection& connection, const std::string& name, const std::atomic<bool>& stop,
                     const PoolOptions& options) {
    JetStream js(connection);
    js.add_stream(pool_stream(name));
    ConsumerOptions consumer;
    consumer.durable = kWorkers;
    consumer.stream = stream_name(name);
    consumer.ack_wait = options.ack_wait;
    consumer.max_deliver = options.max_deliver;
    consumer.max_ack_pending = -1; // every worker may hold a task
    Subscription tasks = js.pull_subscribe(tasks_subject(name), consumer);
    // relaxed: a plain flag; nothing is published through it
    while (!stop.load(std::memory_order_relaxed))
        for (Message& task : tasks.fetch(1, std::chrono::milliseconds(500))) {
            Message result = run_task(task);
            connection.publish(result);
            connection.flush(std::chrono::seconds(5)); // the result is out before the ack
            task.ack();
        }
}

} // namespace

void serve(const std::string& url, const std::string& name, const std::atomic<bool>& stop,
           std::ostream& log, const PoolOptions& options) {
    bridge::Backoff backoff(std::chrono::seconds(2));
    while (!stop.load(std::memory_order_relaxed)) {
        try {
            ConnectOptions connect;
            connect.url = url;
            connect.name = "shmbus-worker";
            Connection connection(connect);
            backoff.reset();
            serve_connected(connection, name, stop, options);
        } catch (const NatsError& error) {
            log << "shmbus worker: " << error.what() << "; retrying" << std::endl;
            bridge::sleep_unless_stopped(backoff.next(), stop);
        }
    }
}

} // namespace nats
} // namespace shmbus

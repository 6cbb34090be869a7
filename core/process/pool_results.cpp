// SPDX-License-Identifier: Apache-2.0
// The Pool's result handler thread in the parent: it takes the workers' results, frees their
// chunks' places in the worker queues for the chunks waiting, and hands each result (or error)
// to its chunk's sink.
#include "process/pool_engine.hpp"
#include "process/pool_state.hpp"
#include "shmbus/codec.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/detail/task_error.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/log.hpp"

#include <chrono>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>

namespace shmbus::detail {
namespace {

using Clock = std::chrono::steady_clock;

// How long the result handler waits for a result before it looks at the workers' health: a
// SIGKILLed worker's task fails within about this long.
constexpr std::chrono::milliseconds kPollPeriod{10};

// The task's own exception type when it is a standard or shmbus one, else RemoteError.
std::exception_ptr remote_error(std::span<const std::byte> payload) {
    const auto [type, what] = decode<std::pair<std::string, std::string>>(payload);
    return task_exception(type, what);
}

} // namespace

void PoolEngine::handler_loop() {
    ByteBuffer message;
    auto next_check = Clock::now() + kPollPeriod;
    // acquire pairs with the release store in stop_handler(); the thread join publishes the rest.
    while (!m_stop.load(std::memory_order_acquire)) {
        try {
            if (m_context->results->get(message, Deadline::after(kPollPeriod)))
                handle_result(message.bytes());
            if (Clock::now() >= next_check) {
                check_workers();
                next_check = Clock::now() + kPollPeriod;
            }
        } catch (const std::exception& e) {
            // Keep serving the other tasks; an error here (fork failing) is retried next round.
            detail::log(LogLevel::error, "shmbus Pool: result handler: ", e.what());
            std::this_thread::sleep_for(kPollPeriod);
        }
    }
}

void PoolEngine::handle_result(std::span<const std::byte> message) {
    const auto header = read_header<ResultHeader>(message);
    if (header.chunk_id == 0)
        return; // a wake-up
    ChunkRecord record;
    {
        std::lock_guard lock(m_mutex);
        const auto found = m_chunks.find(header.chunk_id);
        if (found == m_chunks.end())
            return;
        record = std::move(found->second);
        m_chunks.erase(found);
        if (record.slot >= 0) {
            Queued& queued = m_in_flight[static_cast<std::size_t>(record.slot)];
            --queued.chunks;
            queued.bytes -= record.bytes;
        }
        dispatch_locked();
    }
    deliver(record, header, message.subspan(sizeof(ResultHeader)));
}

void PoolEngine::deliver(ChunkRecord& record, const ResultHeader& header,
                         std::span<const std::byte> payload) {
    count_done(record); // before the sink: whoever sees the result sees the counter
    if (header.status != ResultStatus::ok) {
        std::exception_ptr error;
        try {
            error = remote_error(payload);
        } catch (...) {
            error = std::current_exception();
        }
        return fail_counted(record, error);
    }
    try {
        if (header.count != record.count)
            throw DecodeError("a pool result holds " + std::to_string(header.count) +
                              " results for a chunk of " + std::to_string(record.count));
        record.sink->chunk_done(record.index, header.count, payload);
    } catch (...) {
        return fail_counted(record, std::current_exception());
    }
    settle();
}

void PoolEngine::fail(ChunkRecord& record, std::exception_ptr error) {
    count_done(record);
    fail_counted(record, std::move(error));
}

void PoolEngine::fail_counted(ChunkRecord& record, std::exception_ptr error) {
    // relaxed: display only.
    m_context->state->tasks_failed.fetch_add(record.count, std::memory_order_relaxed);
    record.sink->chunk_failed(record.index, std::move(error));
    settle();
}

void PoolEngine::count_done(const ChunkRecord& record) {
    // relaxed: display only.
    m_context->state->tasks_done.fetch_add(record.count, std::memory_order_relaxed);
}

void PoolEngine::settle() {
    std::lock_guard lock(m_mutex);
    if (--m_unresolved == 0)
        m_idle.notify_all();
}

void PoolEngine::stop_handler() {
    if (!m_handler.joinable())
        return;
    // release pairs with the acquire load in handler_loop().
    m_stop.store(true, std::memory_order_release);
    const ResultHeader wake{0, 0, ResultStatus::ok, 0, 0};
    try {
        m_context->results->try_put(
            std::span(reinterpret_cast<const std::byte*>(&wake), sizeof wake));
    } catch (const std::exception&) { // only a wake-up: the handler looks at m_stop every poll
    }
    m_handler.join();
}

} // namespace shmbus::detail

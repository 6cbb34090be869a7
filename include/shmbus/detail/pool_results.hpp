// SPDX-License-Identifier: Apache-2.0
// The parent's side of Pool jobs: chunk encoding, and the sinks (fed by the result thread)
// that turn result chunks into AsyncResult values and imap items.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/pool_core.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"
#include "shmbus/log.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

namespace shmbus::detail {

/// Runs a user callback; what it throws is reported, never passed to the pool's thread.
template <class Fn>
void run_callback(const Fn& fn) noexcept {
    try {
        fn();
    } catch (const std::exception& e) {
        log(LogLevel::warning, "shmbus Pool: a callback raised: ", e.what());
    } catch (...) {
        log(LogLevel::warning, "shmbus Pool: a callback raised a non-standard exception");
    }
}

/// A failed task as plain data. The result-handling thread makes the exception and reads it
/// here; each caller then throws an exception object of its own, so no exception object is
/// shared between threads (whose reference count the sanitizers cannot see).
class SHMBUS_EXPORT TaskError {
public:
    TaskError() = default;
    /// @pre error is not null.
    explicit TaskError(const std::exception_ptr& error) noexcept {
        try {
            std::rethrow_exception(error);
        } catch (const RemoteError& e) {
            set(Kind::remote, e);
        } catch (const WorkerLost& e) {
            set(Kind::worker_lost, e);
        } catch (const Closed& e) {
            set(Kind::closed, e);
        } catch (const DecodeError& e) {
            set(Kind::decode, e);
        } catch (const std::exception& e) {
            set(Kind::other, e);
        } catch (...) {
            m_kind = Kind::other;
        }
    }
    explicit operator bool() const { return m_kind != Kind::none; }

    [[noreturn]] void raise() const {
        switch (m_kind) {
        case Kind::remote:
            throw RemoteError(m_what);
        case Kind::worker_lost:
            throw WorkerLost(m_what);
        case Kind::closed:
            throw Closed(m_what);
        case Kind::decode:
            throw DecodeError(m_what);
        case Kind::none:
        case Kind::other:
            break;
        }
        throw Error(m_what.empty() ? "a pool task failed" : m_what);
    }

private:
    enum class Kind : std::uint8_t { none, remote, worker_lost, closed, decode, other };

    void set(Kind kind, const std::exception& e) noexcept {
        m_kind = kind;
        try {
            m_what = e.what();
        } catch (...) { // out of memory: keep the kind without the message
        }
    }

    Kind m_kind = Kind::none;
    std::string m_what;
};

/// What an AsyncResult<R> waits for: set once, from the result-handling thread.
template <class R>
class ResultState {
public:
    using Value = Stored<R>;
    using Callback = std::function<void(const Stored<R>&)>;
    using ErrorCallback = std::function<void(const std::exception&)>;

    ResultState(Callback callback, ErrorCallback error_callback)
        : m_callback(std::move(callback)), m_error_callback(std::move(error_callback)) {}

    /// Runs the callback, then makes the value ready (as Python does: get() returns after it).
    void set_value(Value value) noexcept {
        if (m_callback) {
            run_callback([&] { m_callback(value); });
        }
        std::lock_guard lock(m_mutex);
        m_value.emplace(std::move(value));
        m_ready = true;
        m_changed.notify_all();
    }
    void set_error(std::exception_ptr error) noexcept {
        if (m_error_callback) {
            run_callback([&] {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    m_error_callback(e);
                }
            });
        }
        TaskError task_error(error);
        std::lock_guard lock(m_mutex);
        m_error = std::move(task_error);
        m_ready = true;
        m_changed.notify_all();
    }

    bool wait_by(Deadline deadline) {
        std::unique_lock lock(m_mutex);
        if (deadline.is_never())
            m_changed.wait(lock, [this] { return m_ready; });
        else
            m_changed.wait_until(lock, deadline.when(), [this] { return m_ready; });
        return m_ready;
    }
    /// The value (a copy) or the error; Timeout when not ready by the deadline.
    R get_by(Deadline deadline) {
        if (!wait_by(deadline))
            throw Timeout("the pool task's result is not ready");
        std::lock_guard lock(m_mutex);
        if (m_error)
            m_error.raise();
        if constexpr (!std::is_void_v<R>)
            return *m_value;
    }
    /// Waits, then moves the value out: for map(), which owns the only handle.
    R take() {
        wait_by(Deadline::never());
        std::lock_guard lock(m_mutex);
        if (m_error)
            m_error.raise();
        if constexpr (!std::is_void_v<R>)
            return std::move(*m_value);
    }
    bool ready() const {
        std::lock_guard lock(m_mutex);
        return m_ready;
    }
    bool successful() const {
        std::lock_guard lock(m_mutex);
        if (!m_ready)
            throw UsageError("AsyncResult::successful() before the result is ready");
        return !m_error;
    }

private:
    const Callback m_callback;
    const ErrorCallback m_error_callback;
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_ready = false;
    std::optional<Value> m_value;
    TaskError m_error;
};

/// apply / apply_async: one chunk of one task.
template <class R>
class ApplySink final : public ChunkSink {
public:
    explicit ApplySink(std::shared_ptr<ResultState<R>> state) : m_state(std::move(state)) {}
    void chunk_done(std::size_t, std::uint32_t count, std::span<const std::byte> bytes) override {
        ChunkReader<Stored<R>> reader(bytes, count);
        Stored<R> value = reader.next();
        reader.finish();
        m_state->set_value(std::move(value));
    }
    void chunk_failed(std::size_t, std::exception_ptr error) noexcept override {
        m_state->set_error(std::move(error));
    }

private:
    std::shared_ptr<ResultState<R>> m_state;
};

/// map / starmap: results in input order, or the error of the first failed chunk in input order.
template <class R>
class MapSink final : public ChunkSink {
public:
    MapSink(std::shared_ptr<ResultState<std::vector<R>>> state, std::size_t items,
            std::vector<std::size_t> offsets)
        : m_state(std::move(state)), m_results(items), m_offsets(std::move(offsets)),
          m_remaining(m_offsets.size()) {
        m_offsets.push_back(items);
    }
    void chunk_done(std::size_t index, std::uint32_t count,
                    std::span<const std::byte> bytes) override {
        const std::size_t first = m_offsets[index];
        if (count != m_offsets[index + 1] - first)
            throw DecodeError("a pool result chunk holds the wrong number of results");
        ChunkReader<R> reader(bytes, count);
        for (std::size_t i = 0; i < count; ++i)
            m_results[first + i] = reader.next();
        reader.finish();
        settle();
    }
    void chunk_failed(std::size_t index, std::exception_ptr error) noexcept override {
        if (index < m_error_index) {
            m_error_index = index;
            m_error = std::move(error);
        }
        settle();
    }

private:
    // Called once per chunk, only by the thread that feeds sinks.
    void settle() noexcept {
        if (--m_remaining != 0)
            return;
        if (m_error)
            m_state->set_error(m_error);
        else
            m_state->set_value(std::move(m_results));
    }

    std::shared_ptr<ResultState<std::vector<R>>> m_state;
    std::vector<R> m_results;
    std::vector<std::size_t> m_offsets; ///< first item of each chunk, then the item count
    std::size_t m_remaining;
    std::size_t m_error_index = std::numeric_limits<std::size_t>::max();
    std::exception_ptr m_error;
};

/// imap / imap_unordered: chunks kept as they arrive, handed out in input or arrival order.
template <class R>
class ImapSink final : public ChunkSink {
public:
    ImapSink(std::size_t chunks, bool ordered) : m_total(chunks), m_ordered(ordered) {}

    void chunk_done(std::size_t index, std::uint32_t count,
                    std::span<const std::byte> bytes) override {
        Outcome outcome;
        ChunkReader<R> reader(bytes, count);
        outcome.values.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i)
            outcome.values.push_back(reader.next());
        reader.finish();
        store(index, std::move(outcome));
    }
    void chunk_failed(std::size_t index, std::exception_ptr error) noexcept override {
        Outcome outcome;
        outcome.error = TaskError(error);
        store(index, std::move(outcome));
    }

    /// The next result (nullopt after the last; Timeout if none by the deadline); a failed
    /// chunk throws its error in its place.
    std::optional<R> next(Deadline deadline) {
        std::unique_lock lock(m_mutex);
        while (m_position == m_current.size()) {
            if (m_taken == m_total)
                return std::nullopt;
            const auto available = [this] { return has_next(); };
            if (deadline.is_never())
                m_changed.wait(lock, available);
            else if (!m_changed.wait_until(lock, deadline.when(), available))
                throw Timeout("no pool result arrived in time");
            Outcome outcome = take_next();
            m_current = std::move(outcome.values);
            m_position = 0;
            if (outcome.error)
                outcome.error.raise();
        }
        return std::move(m_current[m_position++]);
    }

private:
    struct Outcome {
        std::vector<R> values;
        TaskError error;
    };

    void store(std::size_t index, Outcome outcome) noexcept {
        std::lock_guard lock(m_mutex);
        if (m_ordered)
            m_by_index.emplace(index, std::move(outcome));
        else
            m_by_arrival.push_back(std::move(outcome));
        m_changed.notify_all();
    }
    bool has_next() const {
        return m_ordered ? m_by_index.contains(m_taken) : !m_by_arrival.empty();
    }
    Outcome take_next() {
        Outcome outcome;
        if (m_ordered) {
            outcome = std::move(m_by_index.at(m_taken));
            m_by_index.erase(m_taken);
        } else {
            outcome = std::move(m_by_arrival.front());
            m_by_arrival.pop_front();
        }
        ++m_taken;
        return outcome;
    }

    const std::size_t m_total;
    const bool m_ordered;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::map<std::size_t, Outcome> m_by_index;
    std::deque<Outcome> m_by_arrival;
    std::size_t m_taken = 0;
    std::vector<R> m_current;
    std::size_t m_position = 0;
};

/// A task message header with the chunk id left for the pool to fill in.
template <class Fn, bool Star>
TaskHeader task_header(Fn fn, std::uint32_t count) {
    return TaskHeader{0, reinterpret_cast<std::uintptr_t>(&invoke_chunk<Fn, Star>),
                      reinterpret_cast<std::uintptr_t>(fn), count, 0};
}

/// The chunks of one job and the index of each chunk's first item. A chunk holds up to
/// `chunksize` items and is cut early so that its encoding stays within `limit` bytes.
struct EncodedJob {
    std::vector<EncodedChunk> chunks;
    std::vector<std::size_t> offsets;
};

/// `buffers()` hands out a ByteBuffer for each chunk.
template <class Fn, bool Star, class Range, class Buffers>
EncodedJob encode_job(Fn fn, const Range& inputs, std::size_t chunksize, std::size_t limit,
                      Buffers buffers) {
    using Item = TaskItem<Fn, Star>;
    EncodedJob job;
    std::size_t index = 0;
    auto it = std::ranges::begin(inputs);
    const auto end = std::ranges::end(inputs);
    while (it != end) {
        EncodedChunk chunk{buffers(), 0};
        if constexpr (kCodecByMemcpy<Item> && std::ranges::sized_range<Range>) {
            // Room for the whole chunk at once: no regrowth, no copy of what is written.
            const std::size_t left = std::ranges::size(inputs) - index;
            const std::size_t items = std::min({left, chunksize, limit / sizeof(Item) + 1});
            chunk.message.resize_for_overwrite(sizeof(TaskHeader) + items * sizeof(Item));
        }
        chunk.message.resize_for_overwrite(sizeof(TaskHeader));
        {
            ChunkWriter<Item> writer(chunk.message);
            while (it != end && chunk.count < chunksize) {
                const std::size_t before = chunk.message.size();
                writer.add(Item(*it));
                if (chunk.message.size() - sizeof(TaskHeader) > limit) {
                    if (chunk.count == 0)
                        throw MessageTooLarge(
                            "a pool task's arguments take " +
                            std::to_string(chunk.message.size() - before) +
                            " bytes encoded, above the pool's max_message_size of " +
                            std::to_string(limit));
                    chunk.message.resize_for_overwrite(before); // it starts the next chunk
                    break;
                }
                ++chunk.count;
                ++it;
            }
        }
        const TaskHeader header = task_header<Fn, Star>(fn, chunk.count);
        std::memcpy(chunk.message.data(), &header, sizeof header);
        job.offsets.push_back(index);
        index += chunk.count;
        job.chunks.push_back(std::move(chunk));
    }
    return job;
}

} // namespace shmbus::detail

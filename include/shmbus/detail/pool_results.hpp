// SPDX-License-Identifier: Apache-2.0
// The parent's side of Pool jobs: chunk encoding, and the sinks (fed by the result thread)
// that turn result chunks into AsyncResult values and imap items.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/handoff.hpp"
#include "shmbus/detail/pool_core.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/detail/task_error.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"
#include "shmbus/log.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <typeinfo>
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

/// What an AsyncResult<R> waits for: set once, from the result-handling thread. Waiters sleep
/// on a WakeWord, not a mutex and condition variable: measured faster (handoff.hpp).
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
        m_value.emplace(std::move(value));
        m_ready.bump(); // publishes m_value to every load() that sees it
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
        m_error = TaskError(error);
        m_ready.bump(); // publishes m_error, as above
    }

    bool wait_by(Deadline deadline) {
        while (!ready())
            if (!m_ready.sleep_while(0, deadline))
                return ready();
        return true;
    }
    /// The value (a copy) or the error; Timeout when not ready by the deadline.
    R get_by(Deadline deadline) {
        if (!wait_by(deadline))
            throw Timeout("the pool task's result is not ready");
        if (m_error)
            m_error.raise();
        if constexpr (!std::is_void_v<R>)
            return *m_value;
    }
    /// Waits, then moves the value out: for map(), which owns the only handle.
    R take() {
        wait_by(Deadline::never());
        if (m_error)
            m_error.raise();
        if constexpr (!std::is_void_v<R>)
            return std::move(*m_value);
    }
    bool ready() const { return m_ready.load() != 0; }
    bool successful() const {
        if (!ready())
            throw UsageError("AsyncResult::successful() before the result is ready");
        return !m_error;
    }

private:
    const Callback m_callback;
    const ErrorCallback m_error_callback;
    WakeWord m_ready; ///< 0 until the value or the error is set
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

/// A task message header with the chunk id left for the pool to fill in.
template <class Fn, bool Star>
TaskHeader task_header(Fn fn, std::uint32_t count) {
    return TaskHeader{0, reinterpret_cast<std::uintptr_t>(&invoke_chunk<Fn, Star>),
                      reinterpret_cast<std::uintptr_t>(fn), count, 0};
}

/// Encodes the items from `it` on into one chunk in `message`: up to `chunksize` of them, cut
/// early so that its encoding stays within `limit` bytes; `it` is left at the first item not
/// taken. `first` numbers the chunk's first item in messages; `left` is how many items remain
/// when known (0 otherwise), to size the buffer once. What the iterator or encoding throws
/// goes to `failure` when given (the chunk then holds the items before it), else up.
template <class Fn, bool Star, class It, class End>
EncodedChunk encode_chunk(Fn fn, It& it, const End& end, std::size_t chunksize, std::size_t limit,
                          ByteBuffer message, std::size_t first, std::size_t left,
                          std::exception_ptr* failure) {
    using Item = TaskItem<Fn, Star>;
    EncodedChunk chunk{std::move(message), 0};
    if constexpr (kCodecByMemcpy<Item>) {
        if (left != 0) {
            // Room for the whole chunk at once: no regrowth, no copy of what is written.
            const std::size_t items = std::min({left, chunksize, limit / sizeof(Item) + 1});
            chunk.message.resize_for_overwrite(sizeof(TaskHeader) + items * sizeof(Item));
        }
    }
    chunk.message.resize_for_overwrite(sizeof(TaskHeader));
    std::size_t before = chunk.message.size();
    try {
        ChunkWriter<Item> writer(chunk.message);
        while (it != end && chunk.count < chunksize) {
            before = chunk.message.size();
            const Item item(*it);
            try {
                writer.add(item);
            } catch (const std::exception&) {
                throw_encoding_error("task",
                                     "the arguments of task " + std::to_string(first + chunk.count),
                                     typeid(Item));
            }
            if (chunk.message.size() - sizeof(TaskHeader) > limit) {
                if (chunk.count == 0)
                    throw MessageTooLarge("a pool task's arguments take " +
                                          std::to_string(chunk.message.size() - before) +
                                          " bytes encoded, above the pool's max_message_size of " +
                                          std::to_string(limit));
                chunk.message.resize_for_overwrite(before); // it starts the next chunk
                break;
            }
            ++chunk.count;
            ++it;
        }
    } catch (...) {
        if (failure == nullptr)
            throw;
        *failure = std::current_exception();
        chunk.message.resize_for_overwrite(before); // drops a partly written item
    }
    const TaskHeader header = task_header<Fn, Star>(fn, chunk.count);
    std::memcpy(chunk.message.data(), &header, sizeof header);
    return chunk;
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
    EncodedJob job;
    std::size_t index = 0;
    auto it = std::ranges::begin(inputs);
    const auto end = std::ranges::end(inputs);
    while (it != end) {
        std::size_t left = 0;
        if constexpr (std::ranges::sized_range<Range>)
            left = std::ranges::size(inputs) - index;
        EncodedChunk chunk =
            encode_chunk<Fn, Star>(fn, it, end, chunksize, limit, buffers(), index, left, nullptr);
        job.offsets.push_back(index);
        index += chunk.count;
        job.chunks.push_back(std::move(chunk));
    }
    return job;
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Pool: Python's multiprocessing.Pool over shared memory. N forked workers run task functions
/// on arguments sent through the codec (codec.hpp) and send back results the same way.
///
/// @code
///   int square(int x) { return x * x; }
///   shmbus::Pool pool(4);
///   std::vector<int> squares = pool.map(square, std::vector{1, 2, 3, 4, 5}); // 1 4 9 16 25
///   auto result = pool.apply_async(square, 7);                                // AsyncResult<int>
///   int fortynine = result.get_for(std::chrono::seconds(1));
///   pool.close();
///   pool.join();
/// @endcode
///
/// Task functions are function pointers or lambdas without captures: workers are forks of this
/// process and call the function by its address. Anything else fails to compile with a
/// static_assert that says so. Arguments and results must be Encodable (codec.hpp).
///
/// Work goes out in chunks (one message carries the arguments of many calls) to one task queue
/// per worker, two chunks per worker at a time (up to 64 while they total under 64 KiB); the
/// rest waits in this process for the first worker that frees up. A thread of this process (the
/// result handler) receives results, runs callbacks and error callbacks, and replaces workers that
/// end: after maxtasksperchild tasks, or killed. A worker killed while it runs a chunk fails that
/// chunk with WorkerLost (within ~10 ms); the chunks queued behind it go to its successor; the pool
/// goes on.
///
/// Errors: an exception thrown by a task reaches the caller as RemoteError, whose what() is
/// "<type>: <what()>" of the original; map raises the error of the first failed chunk in input
/// order. Submitting after close() or terminate() raises Closed; join() before either is a
/// UsageError; terminate() kills the workers and fails what is still pending with Closed.
/// The destructor terminates a pool that was not joined (Python's context manager does the
/// same): it never waits for tasks.
///
/// Like a daemon Process, the workers die with the thread that created the pool (and a
/// replacement with the result handler): create a pool in a thread that outlives it.
/// `shmbus inspect <pool.segment_name()>` shows the workers and task counters.
#pragma once

#include "shmbus/async_result.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/detail/imap_results.hpp"
#include "shmbus/detail/pool_core.hpp"
#include "shmbus/detail/pool_results.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/export.hpp"
#include "shmbus/imap_result.hpp"
#include "shmbus/process.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace shmbus {

/// How a Pool is made (Python's Pool(processes, initializer, maxtasksperchild)).
struct PoolOptions {
    /// Worker processes; unset: cpu_count(). Below 1: UsageError (Python's ValueError).
    std::optional<int> processes;
    /// Runs in every worker (replacements included) before its first task. Any callable: it
    /// is copied into the workers by fork.
    std::function<void()> initializer;
    /// Tasks (chunks, as in Python) a worker runs before it is replaced; unset: no limit.
    /// Below 1: UsageError (Python's ValueError).
    std::optional<long> maxtasksperchild;
    /// Largest encoded task chunk or result chunk. Chunks are split to fit; a single task's
    /// arguments beyond it are MessageTooLarge, a chunk's results beyond it fail that chunk.
    std::size_t max_message_size = std::size_t{1} << 20;
    /// The segment holding the queues and the state block "pool" that `shmbus inspect` shows;
    /// empty: "shmbus.pool.<pid>.<n>". Created by the pool and unlinked by its destructor. A
    /// segment of that name left by a dead pool (killed with SIGKILL) is replaced; one in use
    /// by a live process is AlreadyExists, another user's file PermissionDenied (a default
    /// name skips to the next number instead).
    std::string segment_name;
};

/// Worker processes that run task functions on encoded arguments (Python's
/// multiprocessing.Pool). The top of this file describes tasks, chunks, errors and dead
/// workers. Submitting (map, apply_async, ...) raises Closed after close() or terminate(), and
/// MessageTooLarge when one task's arguments exceed PoolOptions::max_message_size.
class SHMBUS_EXPORT Pool {
public:
    /// cpu_count() workers.
    Pool() : Pool(PoolOptions{}) {}
    /// `processes` workers; UsageError (Python's ValueError) below 1.
    explicit Pool(int processes) : Pool(options_for(processes)) {}
    /// Starts the workers described by `options`, in a segment of its own (see
    /// PoolOptions::segment_name for AlreadyExists and PermissionDenied); UsageError for
    /// processes or maxtasksperchild below 1.
    explicit Pool(const PoolOptions& options) : m_core(options) {}

    /// fn(x) for every x of `inputs`, in input order. chunksize 0 picks Python's default
    /// (about four chunks per worker). Rethrows the first failed chunk's error.
    template <class F, class Range>
    auto map(F fn, const Range& inputs, std::size_t chunksize = 0) {
        return map_async(fn, inputs, chunksize).take();
    }
    /// map without waiting: an AsyncResult of the results vector. callback(results) or
    /// error_callback(error) runs on the result-handling thread.
    template <class F, class Range, class Callback = std::nullptr_t,
              class ErrorCallback = std::nullptr_t>
    auto map_async(F fn, const Range& inputs, std::size_t chunksize = 0,
                   Callback callback = nullptr, ErrorCallback error_callback = nullptr) {
        return submit_map<false>(detail::as_task_function(fn), inputs, chunksize,
                                 std::move(callback), std::move(error_callback));
    }
    /// fn(a, b, ...) for every tuple (or pair) of `inputs`.
    template <class F, class Range>
    auto starmap(F fn, const Range& inputs, std::size_t chunksize = 0) {
        return starmap_async(fn, inputs, chunksize).take();
    }
    /// starmap without waiting: an AsyncResult of the results vector; callbacks as map_async.
    template <class F, class Range, class Callback = std::nullptr_t,
              class ErrorCallback = std::nullptr_t>
    auto starmap_async(F fn, const Range& inputs, std::size_t chunksize = 0,
                       Callback callback = nullptr, ErrorCallback error_callback = nullptr) {
        return submit_map<true>(detail::as_task_function(fn), inputs, chunksize,
                                std::move(callback), std::move(error_callback));
    }

    /// Results in input order, each as soon as it and those before it are in. The input is
    /// read lazily (see ImapResult): it may be endless. An rvalue range is kept in the result,
    /// an lvalue one must outlive it.
    template <class F, class Range>
    auto imap(F fn, Range&& inputs, std::size_t chunksize = 1) {
        return submit_imap(detail::as_task_function(fn), std::forward<Range>(inputs), chunksize,
                           true);
    }
    /// Results in the order they arrive; the input as imap.
    template <class F, class Range>
    auto imap_unordered(F fn, Range&& inputs, std::size_t chunksize = 1) {
        return submit_imap(detail::as_task_function(fn), std::forward<Range>(inputs), chunksize,
                           false);
    }

    /// fn(args...) in a worker; waits for it.
    template <class F, class... Args>
    auto apply(F fn, Args&&... args) {
        return apply_async(fn, std::forward<Args>(args)...).take();
    }
    /// fn(args...) in a worker, without waiting: an AsyncResult of its result.
    template <class F, class... Args>
    auto apply_async(F fn, Args&&... args) {
        return apply_async_with(nullptr, nullptr, fn, std::forward<Args>(args)...);
    }
    /// apply_async with Python's callback and error_callback (either may be nullptr):
    /// callback(result) (callback() for a void function) or error_callback(const
    /// std::exception&) runs on the result-handling thread before the result is ready.
    template <class Callback, class ErrorCallback, class F, class... Args>
    auto apply_async_with(Callback callback, ErrorCallback error_callback, F fn, Args&&... args) {
        auto task = detail::as_task_function(fn);
        using Fn = decltype(task);
        using R = detail::TaskResult<Fn>;
        static_assert(sizeof...(Args) == detail::TaskSignature<Fn>::arity,
                      "shmbus::Pool::apply: give as many arguments as the task function takes");
        auto state = std::make_shared<detail::ResultState<R>>(
            callback_of<R>(std::move(callback)), error_callback_of(std::move(error_callback)));
        std::vector<detail::EncodedChunk> chunks(1);
        detail::EncodedChunk& chunk = chunks.front();
        chunk.message.resize_for_overwrite(sizeof(detail::TaskHeader));
        {
            using Item = detail::TaskItem<Fn, true>;
            const Item item(std::forward<Args>(args)...);
            detail::ChunkWriter<Item> writer(chunk.message);
            try {
                writer.add(item);
            } catch (const std::exception&) {
                detail::throw_encoding_error("task", "the arguments of an apply", typeid(Item));
            }
        }
        if (chunk.message.size() - sizeof(detail::TaskHeader) > m_core.max_message_size())
            throw MessageTooLarge("a pool task's arguments take " +
                                  std::to_string(chunk.message.size()) +
                                  " bytes encoded, above the pool's max_message_size of " +
                                  std::to_string(m_core.max_message_size()));
        chunk.count = 1;
        const detail::TaskHeader header = detail::task_header<Fn, true>(task, 1);
        std::memcpy(chunk.message.data(), &header, sizeof header);
        m_core.submit(std::make_shared<detail::ApplySink<R>>(state), std::move(chunks));
        return AsyncResult<R>(std::move(state));
    }

    /// No new work; the workers end once the pending work is done and join() is called.
    void close() { m_core.close(); }
    /// Kills the workers now; pending results fail with Closed.
    void terminate() { m_core.terminate(); }
    /// Waits for the pending work and the workers' exit. UsageError before close()/terminate()
    /// and from a callback.
    void join() { m_core.join(); }

    /// Worker slots (PoolOptions::processes, or cpu_count() when unset).
    unsigned processes() const { return m_core.processes(); }
    /// The current workers' pids, one per slot (a replaced worker's successor in its slot).
    std::vector<pid_t> worker_pids() const { return m_core.worker_pids(); }
    /// The segment holding the pool's queues and its "pool" state block.
    const std::string& segment_name() const { return m_core.segment_name(); }

private:
    static PoolOptions options_for(int processes) {
        PoolOptions options;
        options.processes = processes;
        return options;
    }
    template <class R, class Callback>
    static auto callback_of(Callback callback) {
        typename detail::ResultState<R>::Callback stored;
        if constexpr (std::is_null_pointer_v<Callback>)
            return stored;
        else if constexpr (std::is_void_v<R>)
            stored = [callback = std::move(callback)](const detail::Unit&) { callback(); };
        else
            stored = std::move(callback);
        return stored;
    }
    template <class ErrorCallback>
    static auto error_callback_of(ErrorCallback callback) {
        std::function<void(const std::exception&)> stored;
        if constexpr (!std::is_null_pointer_v<ErrorCallback>)
            stored = std::move(callback);
        return stored;
    }

    /// Python's default: the inputs split into about four chunks per worker.
    std::size_t default_chunksize(std::size_t items) const {
        const std::size_t parts = std::size_t{processes()} * 4;
        return std::max<std::size_t>(1, (items + parts - 1) / parts);
    }

    template <bool Star, class Fn>
    static void check_map_function() {
        static_assert(!std::is_void_v<detail::TaskResult<Fn>>,
                      "shmbus::Pool::map: the task function returns void; use apply_async for "
                      "tasks without a result");
        static_assert(Star || detail::TaskSignature<Fn>::arity == 1,
                      "shmbus::Pool::map/imap: the task function must take exactly one argument; "
                      "use starmap for several");
    }

    template <bool Star, class Fn, class Range, class Callback, class ErrorCallback>
    auto submit_map(Fn fn, const Range& inputs, std::size_t chunksize, Callback callback,
                    ErrorCallback error_callback) {
        check_map_function<Star, Fn>();
        using R = detail::TaskResult<Fn>;
        auto state = std::make_shared<detail::ResultState<std::vector<R>>>(
            callback_of<std::vector<R>>(std::move(callback)),
            error_callback_of(std::move(error_callback)));
        const auto items = static_cast<std::size_t>(std::ranges::distance(inputs));
        detail::EncodedJob job = detail::encode_job<Fn, Star>(
            fn, inputs, chunksize == 0 ? default_chunksize(items) : chunksize,
            m_core.max_message_size(), [this] { return m_core.take_buffer(); });
        auto sink = std::make_shared<detail::MapSink<R>>(state, items, std::move(job.offsets));
        const bool empty = job.chunks.empty();
        m_core.submit(std::move(sink), std::move(job.chunks));
        if (empty)
            state->set_value({});
        return AsyncResult<std::vector<R>>(std::move(state));
    }

    /// Chunks an imap reads ahead of what it handed out, per worker (and at least kImapMinWindow
    /// in all). The feeding runs in the consumer's next(), so the window must cover what the
    /// workers finish during one round trip: with 8 chunks in flight an imap of 10^4 trivial
    /// tasks cost 17-26 us per task against 5.6 us when the whole input was submitted at once
    /// (tools/bench/pool_bench.cpp, 2 workers).
    static constexpr std::size_t kImapChunksPerWorker = 32;
    static constexpr std::size_t kImapMinWindow = 64;

    template <class Fn, class Range>
    auto submit_imap(Fn fn, Range&& inputs, std::size_t chunksize, bool ordered) {
        check_map_function<false, Fn>();
        using R = detail::TaskResult<Fn>;
        if (chunksize == 0)
            throw UsageError("Pool::imap: chunksize must be at least 1");
        m_core.check_open();
        const std::size_t window =
            std::max(kImapMinWindow, kImapChunksPerWorker * std::size_t{processes()});
        auto sink = std::make_shared<detail::ImapSink<R>>(window);
        auto feed =
            imap_feed<Fn>(fn, std::views::all(std::forward<Range>(inputs)), chunksize, sink);
        return ImapResult<R>(
            std::make_shared<detail::ImapReader<R>>(sink, std::move(feed), window, ordered));
    }

    /// The feeder of one imap: each call encodes the next chunks of `view` and submits them.
    template <class Fn, class View, class Sink>
    auto imap_feed(Fn fn, View view, std::size_t chunksize, std::shared_ptr<Sink> sink) {
        struct Input {
            View view;
            std::ranges::iterator_t<View> next;
            std::size_t items = 0; ///< taken so far
        };
        auto input = std::make_shared<Input>(Input{std::move(view), {}, 0});
        input->next = std::ranges::begin(input->view);
        return [input, fn, chunksize, sink = std::move(sink), link = m_core.link(),
                limit = m_core.max_message_size()](std::size_t first, std::size_t count) {
            detail::FeedStep step;
            const auto end = std::ranges::end(input->view);
            std::vector<detail::EncodedChunk> chunks;
            while (chunks.size() < count && !step.error && input->next != end) {
                chunks.push_back(detail::encode_chunk<Fn, false>(fn, input->next, end, chunksize,
                                                                 limit, link.take_buffer(),
                                                                 input->items, 0, &step.error));
                input->items += chunks.back().count;
                if (chunks.back().count == 0)
                    chunks.pop_back();
            }
            if (!chunks.empty()) {
                try {
                    const std::size_t submitted = chunks.size();
                    link.submit(sink, std::move(chunks), first);
                    step.submitted = submitted;
                } catch (...) {
                    step.error = std::current_exception();
                }
            }
            step.more = !step.error && input->next != end;
            return step;
        };
    }

    detail::PoolCore m_core;
};

} // namespace shmbus

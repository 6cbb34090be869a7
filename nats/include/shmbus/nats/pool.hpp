// SPDX-License-Identifier: Apache-2.0
/// @file
/// A Pool across hosts over NATS JetStream: tasks go through a work-queue stream to workers
/// anywhere that run shmbus::nats::serve(); results come back to the caller. A function
/// pointer means nothing on another host, so task functions are registered by name, the same
/// in the caller and in the workers:
///
/// @code
///   int square(int x) { return x * x; }
///   SHMBUS_TASK(square);                                   // or register_task("square", &square)
///
///   // on any host: shmbus::nats::serve(url, "squares", stop);
///   shmbus::nats::Pool pool("nats://nats-host:4222", "squares");
///   std::vector<int> squares = pool.map(square, std::vector{1, 2, 3}); // 1 4 9
///   int nine = pool.apply(square, 3);
///   for (int s : pool.imap_unordered(square, std::vector{4, 5})) ... // 16 25, as they come
/// @endcode
///
/// Delivery: a task is acknowledged by its worker after the worker published the result; a
/// worker that dies before leaves it to be delivered again (after PoolOptions::ack_wait) to
/// another worker. Results carry the task's id, so the second result of a task run twice is
/// ignored. A task delivered PoolOptions::max_deliver times without an acknowledgement (it kept
/// killing its workers) fails with WorkerLost; it never loops for ever. A task must finish
/// within ack_wait, or it is run again meanwhile. Results travel on core NATS: a caller that is
/// gone when they come loses them.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/nats/pool_results.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace shmbus {

/// Runs a registered task on its encoded argument tuple; returns the encoded result.
using TaskHandler = std::function<std::vector<std::byte>(std::span<const std::byte>)>;

/// Registers `handler` under `name`, for the function at `address` (0: none). UsageError when
/// the name is taken by another function.
void register_task_handler(const std::string& name, std::uintptr_t address, TaskHandler handler);
/// The handler registered under `name`; nullptr when none.
const TaskHandler* find_task(std::string_view name);
/// The name `function` was registered under; UsageError when it was not.
std::string task_name(std::uintptr_t function);

/// Registers `fn` as the task `name`: workers run it by that name (SHMBUS_TASK(fn) registers
/// it under its own name). Arguments and result must be Encodable (codec.hpp).
template <class R, class... P>
void register_task(const std::string& name, R (*fn)(P...)) {
    register_task_handler(name, reinterpret_cast<std::uintptr_t>(fn),
                          [fn](std::span<const std::byte> arguments) {
                              auto tuple = from_bytes<std::tuple<std::decay_t<P>...>>(arguments);
                              if constexpr (std::is_void_v<R>) {
                                  std::apply(fn, std::move(tuple));
                                  return std::vector<std::byte>{};
                              } else {
                                  return to_bytes(std::apply(fn, std::move(tuple)));
                              }
                          });
}

/// Registers the function `fn` as a task under its own name, at namespace scope.
#define SHMBUS_TASK(fn)                                                                            \
    [[maybe_unused]] static const bool shmbus_task_registered_##fn =                               \
        (::shmbus::register_task(#fn, &fn), true)

namespace nats {

/// Where a distributed Pool's tasks go and how they are retried.
struct PoolOptions {
    /// Unacknowledged tasks (their worker died, or ran longer) are delivered again after this.
    std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
    /// Deliveries of one task before it fails with WorkerLost.
    int max_deliver = 3;
};

/// The future result of Pool::apply_async.
template <class R>
class AsyncResult {
public:
    /// Wraps the shared state the pool fulfils.
    explicit AsyncResult(std::shared_future<R> future) : m_future(std::move(future)) {}
    /// Waits; rethrows the task's error (its own type when standard or shmbus's, else
    /// RemoteError; WorkerLost, DecodeError, NatsError).
    R get() const { return m_future.get(); }
    /// Timeout when not ready after `timeout`.
    template <class Rep, class Period>
    R get_for(std::chrono::duration<Rep, Period> timeout) const {
        if (m_future.wait_for(timeout) != std::future_status::ready)
            throw Timeout("the task's result did not come in time");
        return m_future.get();
    }
    /// True once the result (or error) is there. Never blocks.
    bool ready() const {
        return m_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    }

private:
    std::shared_future<R> m_future;
};

/// A Pool whose workers are processes on any host running serve(url, name). See the top of
/// this file. Copies are not allowed; the destructor stops receiving results.
class Pool {
public:
    /// Connects and creates the pool's stream when missing. NatsError when unreachable.
    Pool(const std::string& url, const std::string& name, const PoolOptions& options = {});
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// fn(args...) on a worker; waits for the result.
    template <class R, class... P, class... A>
    R apply(R (*fn)(P...), A&&... args) {
        return apply_async(fn, std::forward<A>(args)...).get();
    }
    /// fn(args...) on a worker, without waiting.
    template <class R, class... P, class... A>
    AsyncResult<R> apply_async(R (*fn)(P...), A&&... args) {
        return apply_async_with(nullptr, nullptr, fn, std::forward<A>(args)...);
    }
    /// apply_async with callback(result) or error_callback(const std::exception&) (either may
    /// be nullptr), run on the pool's receiving thread before the result is ready.
    template <class Callback, class ErrorCallback, class R, class... P, class... A>
    AsyncResult<R> apply_async_with(Callback callback, ErrorCallback error_callback, R (*fn)(P...),
                                    A&&... args) {
        static_assert(sizeof...(P) == sizeof...(A),
                      "shmbus::nats::Pool::apply: give as many arguments as the task takes");
        auto promise = std::make_shared<std::promise<R>>();
        AsyncResult<R> result(promise->get_future().share());
        submit(task_name(reinterpret_cast<std::uintptr_t>(fn)),
               to_bytes(std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)),
               [promise, callback, error_callback](std::span<const std::byte> bytes,
                                                   std::exception_ptr error) {
                   fulfil<R>(*promise, bytes, error, callback, error_callback);
               });
        return result;
    }
    /// fn(x) for every x of `inputs`, on the workers; results in input order. The first failed
    /// task (in input order) throws its error.
    template <class R, class P, class Range>
    std::vector<R> map(R (*fn)(P), const Range& inputs) {
        std::vector<AsyncResult<R>> pending;
        for (const auto& input : inputs)
            pending.push_back(apply_async(fn, input));
        return collect(pending);
    }
    /// map without waiting: an AsyncResult of the results vector (or of the first failed
    /// task's error, in input order). callback(results) or error_callback(const
    /// std::exception&) (either may be nullptr) runs on the pool's receiving thread before the
    /// result is ready.
    template <class R, class P, class Range, class Callback = std::nullptr_t,
              class ErrorCallback = std::nullptr_t>
    AsyncResult<std::vector<R>> map_async(R (*fn)(P), const Range& inputs,
                                          Callback callback = nullptr,
                                          ErrorCallback error_callback = nullptr) {
        static_assert(!std::is_void_v<R>, "shmbus::nats::Pool::map_async: a task with a result");
        std::size_t count = 0;
        for (auto it = std::begin(inputs); it != std::end(inputs); ++it)
            ++count;
        auto gather = std::make_shared<pool_detail::MapGather<R>>(count);
        AsyncResult<std::vector<R>> result(gather->promise.get_future().share());
        const auto finish = [gather, callback, error_callback] {
            if (gather->error) {
                try {
                    std::rethrow_exception(gather->error);
                } catch (const std::exception& failure) {
                    if constexpr (!std::is_null_pointer_v<ErrorCallback>)
                        error_callback(failure);
                }
                gather->promise.set_exception(gather->error);
                return;
            }
            std::vector<R> values = gather->take();
            if constexpr (!std::is_null_pointer_v<Callback>)
                callback(values);
            gather->promise.set_value(std::move(values));
        };
        if (count == 0)
            finish();
        std::size_t index = 0;
        for (const auto& input : inputs)
            submit_each(fn, input, [gather, finish, i = index++](pool_detail::Outcome<R> outcome) {
                if (gather->deliver(i, std::move(outcome)))
                    finish();
            });
        return result;
    }
    /// fn(x) for every x of `inputs`, all submitted now; the results in input order as they
    /// come (ImapResults).
    template <class R, class P, class Range>
    ImapResults<R> imap(R (*fn)(P), const Range& inputs) {
        return submit_imap(fn, inputs, true);
    }
    /// As imap, the results in the order they arrive.
    template <class R, class P, class Range>
    ImapResults<R> imap_unordered(R (*fn)(P), const Range& inputs) {
        return submit_imap(fn, inputs, false);
    }
    /// fn(a, b, ...) for every tuple (a, b, ...) of `inputs`, as map.
    template <class R, class... P, class Range>
    std::vector<R> starmap(R (*fn)(P...), const Range& inputs) {
        std::vector<AsyncResult<R>> pending;
        for (const auto& input : inputs)
            pending.push_back(
                std::apply([&](const auto&... args) { return apply_async(fn, args...); }, input));
        return collect(pending);
    }

private:
    using Completion = std::function<void(std::span<const std::byte>, std::exception_ptr)>;
    void submit(const std::string& task, std::vector<std::byte> arguments, Completion done);

    // fn(input) on a worker; `done` gets its result or error on the receiving thread.
    template <class R, class P, class Input, class Done>
    void submit_each(R (*fn)(P), const Input& input, Done done) {
        submit(task_name(reinterpret_cast<std::uintptr_t>(fn)),
               to_bytes(std::tuple<std::decay_t<P>>(input)),
               [done](std::span<const std::byte> bytes, std::exception_ptr error) mutable {
                   done(outcome_of<R>(bytes, error));
               });
    }

    template <class R>
    static pool_detail::Outcome<R> outcome_of(std::span<const std::byte> bytes,
                                              std::exception_ptr error) {
        if (error)
            return pool_detail::Outcome<R>(std::in_place_index<1>, error);
        try {
            return pool_detail::Outcome<R>(std::in_place_index<0>, from_bytes<R>(bytes));
        } catch (const std::exception&) { // not an R: DecodeError in its place
            return pool_detail::Outcome<R>(std::in_place_index<1>, std::current_exception());
        }
    }

    template <class R, class P, class Range>
    ImapResults<R> submit_imap(R (*fn)(P), const Range& inputs, bool ordered) {
        static_assert(!std::is_void_v<R>, "shmbus::nats::Pool::imap: a task with a result");
        auto state = std::make_shared<pool_detail::ImapState<R>>();
        state->ordered = ordered;
        for (auto it = std::begin(inputs); it != std::end(inputs); ++it)
            ++state->total;
        state->by_input.resize(ordered ? state->total : 0);
        std::size_t index = 0;
        for (const auto& input : inputs)
            submit_each(fn, input, [state, i = index++](pool_detail::Outcome<R> outcome) {
                state->deliver(i, std::move(outcome));
            });
        return ImapResults<R>(state);
    }

    template <class R>
    static std::vector<R> collect(std::vector<AsyncResult<R>>& pending) {
        std::vector<R> results;
        results.reserve(pending.size());
        for (AsyncResult<R>& result : pending)
            results.push_back(result.get());
        return results;
    }

    template <class R, class Callback, class ErrorCallback>
    static void fulfil(std::promise<R>& promise, std::span<const std::byte> bytes,
                       std::exception_ptr error, const Callback& callback,
                       const ErrorCallback& error_callback) {
        try {
            if (error)
                std::rethrow_exception(error);
            if constexpr (std::is_void_v<R>) {
                if constexpr (!std::is_null_pointer_v<Callback>)
                    callback();
                promise.set_value();
            } else {
                R value = from_bytes<R>(bytes);
                if constexpr (!std::is_null_pointer_v<Callback>)
                    callback(value);
                promise.set_value(std::move(value));
            }
        } catch (const std::exception& failure) {
            if constexpr (!std::is_null_pointer_v<ErrorCallback>)
                error_callback(failure);
            promise.set_exception(std::current_exception());
        }
    }

    struct State;
    std::unique_ptr<State> m_state;
};

/// Runs the pool `name`'s tasks (those registered in this program) until `stop` becomes true,
/// one at a time; reconnects with back-off while the server is unreachable, logging to `log`.
void serve(const std::string& url, const std::string& name, const std::atomic<bool>& stop,
           std::ostream& log, const PoolOptions& options = {});

} // namespace nats
} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// What travels between a Pool and its workers: a task message is a header naming a chunk, an
// invoker and the task function, followed by the encoded arguments of `count` calls; a result
// message is a header naming the chunk, followed by `count` encoded results or one encoded
// error. Workers are forks of the parent, so the invoker and the function are plain function
// pointer values that are valid in every worker.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/task_error.hpp"
#include "shmbus/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace shmbus::detail {

/// Runs `count` calls of the function `fn` on the encoded arguments in `args` and appends
/// their encoded results to `out`. Throws whatever a call throws.
using ChunkInvoker = void (*)(std::uintptr_t fn, std::span<const std::byte> args,
                              std::uint32_t count, ByteBuffer& out);

struct TaskHeader {
    std::uint64_t chunk_id;
    std::uintptr_t invoker; ///< 0: the worker stops
    std::uintptr_t fn;
    std::uint32_t count;
    std::uint32_t reserved;
};

enum class ResultStatus : std::uint32_t { ok = 0, error = 1 };

struct ResultHeader {
    std::uint64_t chunk_id; ///< 0: a wake-up for the result handler, no result
    std::uint32_t slot;
    ResultStatus status;
    std::uint32_t count;
    std::uint32_t reserved;
};

static_assert(std::is_trivially_copyable_v<TaskHeader> &&
                  std::is_trivially_copyable_v<ResultHeader>,
              "task and result headers travel as bytes through shared memory");

template <class Header>
Header read_header(std::span<const std::byte> message) {
    if (message.size() < sizeof(Header))
        throw DecodeError("pool message of " + std::to_string(message.size()) +
                          " bytes is shorter than its header");
    Header header;
    std::memcpy(&header, message.data(), sizeof header);
    return header;
}

/// The result of a void task function: one byte on the wire.
struct Unit {};

template <class R>
using Stored = std::conditional_t<std::is_void_v<R>, Unit, R>;

/// Encodes the items of one chunk back to back: trivially copyable ones by memcpy, the others
/// through one cereal archive.
template <class T>
class ChunkWriter {
public:
    explicit ChunkWriter(ByteBuffer& out) : m_out(out) {
        if constexpr (!kCodecByMemcpy<T>)
            m_archive.emplace(out);
    }
    void add(const T& item) {
        check_encodable<T>();
        if constexpr (kCodecByMemcpy<T>)
            m_out.append(std::addressof(item), sizeof(T));
        else
            (*m_archive)(item);
    }

private:
    ByteBuffer& m_out;
    std::optional<CodecOutputArchive> m_archive;
};

/// Reads back what ChunkWriter wrote; DecodeError unless `bytes` are exactly `count` items.
template <class T>
class ChunkReader {
public:
    ChunkReader(std::span<const std::byte> bytes, std::uint32_t count) : m_bytes(bytes) {
        if constexpr (kCodecByMemcpy<T>) {
            if (bytes.size() != std::size_t{count} * sizeof(T))
                throw DecodeError("pool chunk of " + std::to_string(bytes.size()) +
                                  " bytes cannot hold " + std::to_string(count) + " items of " +
                                  std::to_string(sizeof(T)) + " bytes");
        } else {
            m_archive.emplace(bytes);
        }
    }
    T next() {
        T item;
        if constexpr (kCodecByMemcpy<T>) {
            std::memcpy(static_cast<void*>(std::addressof(item)), m_bytes.data() + m_read,
                        sizeof(T));
            m_read += sizeof(T);
        } else {
            try {
                (*m_archive)(item);
            } catch (const cereal::Exception& e) {
                throw DecodeError(std::string("pool chunk does not decode: ") + e.what());
            }
        }
        return item;
    }
    /// DecodeError when bytes are left over after the last item.
    void finish() const {
        if constexpr (!kCodecByMemcpy<T>) {
            if (m_archive->remaining() != 0)
                throw DecodeError("pool chunk has " + std::to_string(m_archive->remaining()) +
                                  " bytes left over");
        }
    }

private:
    std::span<const std::byte> m_bytes;
    std::size_t m_read = 0;
    std::optional<CodecInputArchive> m_archive;
};

/// A task function seen through its pointer type: R(*)(Params...).
template <class Fn>
struct TaskSignature;

template <class R, class... Params>
struct TaskSignature<R (*)(Params...)> {
    using Result = R;
    using Args = std::tuple<std::decay_t<Params>...>;
    static constexpr std::size_t arity = sizeof...(Params);
};

template <class R, class... Params>
struct TaskSignature<R (*)(Params...) noexcept> : TaskSignature<R (*)(Params...)> {};

template <class F>
concept ConvertsToFunctionPointer = requires(F f) {
    +f;
}
&&std::is_pointer_v<decltype(+std::declval<F>())>&&
    std::is_function_v<std::remove_pointer_t<decltype(+std::declval<F>())>>;

/// A function pointer, or a lambda without captures (which converts to one).
template <class F>
inline constexpr bool kIsTaskFunction = ConvertsToFunctionPointer<std::decay_t<F>>;

template <class F>
auto as_task_function(F fn) {
    static_assert(kIsTaskFunction<F>,
                  "shmbus::Pool: a task function must be a function pointer or a lambda without "
                  "captures (workers are forks of this process and call it by address). Pass "
                  "what a capture would carry as an argument instead; generic lambdas (auto "
                  "parameters) and std::function are not task functions either.");
    if constexpr (kIsTaskFunction<F>)
        return +fn;
}

template <class Fn>
using TaskResult = typename TaskSignature<Fn>::Result;

/// One call's arguments as they travel: the single parameter itself for map and imap, the
/// tuple of all parameters for starmap and apply.
template <class Fn, bool Star>
struct TaskItemOf {
    using type = typename TaskSignature<Fn>::Args;
};
template <class Fn>
struct TaskItemOf<Fn, false> {
    using type = std::tuple_element_t<0, typename TaskSignature<Fn>::Args>;
};
template <class Fn, bool Star>
using TaskItem = typename TaskItemOf<Fn, Star>::type;

template <class Fn, bool Star>
void invoke_chunk(std::uintptr_t fn_bits, std::span<const std::byte> args, std::uint32_t count,
                  ByteBuffer& out) {
    using R = TaskResult<Fn>;
    const Fn fn = reinterpret_cast<Fn>(fn_bits);
    ChunkReader<TaskItem<Fn, Star>> reader(args, count);
    ChunkWriter<Stored<R>> writer(out);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto call = [&] {
            if constexpr (Star)
                return std::apply(fn, reader.next());
            else
                return fn(reader.next());
        };
        if constexpr (std::is_void_v<R>) {
            call();
            writer.add(Unit{});
        } else {
            const Stored<R> result = call();
            try {
                writer.add(result);
            } catch (const std::exception&) {
                throw_encoding_error("result",
                                     "the result of task " + std::to_string(i) + " of its chunk",
                                     typeid(R));
            }
        }
    }
    reader.finish();
}

} // namespace shmbus::detail

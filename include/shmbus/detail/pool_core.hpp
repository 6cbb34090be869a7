// SPDX-License-Identifier: Apache-2.0
// The untyped engine behind Pool: worker processes, one task queue per worker, one result
// queue, and a result-handling thread in the parent that dispatches chunks, delivers results,
// notices dead workers and replaces them. Pool (pool.hpp) encodes and decodes around it.
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/export.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace shmbus {

struct PoolOptions; // shmbus/pool.hpp, which includes this header

namespace detail {

/// The receiving end of one submitted job. Called on the result-handling thread (or by
/// terminate), one call per chunk.
class SHMBUS_EXPORT ChunkSink {
public:
    virtual ~ChunkSink() = default;
    /// The chunk's `count` encoded results. May throw (DecodeError): the chunk then fails.
    virtual void chunk_done(std::size_t index, std::uint32_t count,
                            std::span<const std::byte> results) = 0;
    virtual void chunk_failed(std::size_t index, std::exception_ptr error) noexcept = 0;
};

/// A task message with its header in place but no chunk id yet.
struct EncodedChunk {
    ByteBuffer message;
    std::uint32_t count = 0;
};

class PoolEngine;

/// What an imap keeps to feed the rest of its input to the pool: it holds the pool weakly, so
/// an imap that outlives its pool gets Closed instead of a dangling pool.
class SHMBUS_EXPORT PoolLink {
public:
    /// Queues more chunks of an imap begun before close(), as chunks first, first + 1, ... of
    /// `sink`; Closed once join() began, after terminate(), or when the pool is gone.
    void submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks,
                std::size_t first) const;
    /// As PoolCore::take_buffer; an empty buffer when the pool is gone.
    ByteBuffer take_buffer() const;

private:
    friend class PoolCore;
    explicit PoolLink(std::weak_ptr<PoolEngine> engine) : m_engine(std::move(engine)) {}
    std::weak_ptr<PoolEngine> m_engine;
};

class SHMBUS_EXPORT PoolCore {
public:
    /// UsageError (Python's ValueError) for processes or maxtasksperchild below 1.
    explicit PoolCore(const PoolOptions& options);
    /// terminate() unless joined; never waits for tasks.
    ~PoolCore();
    PoolCore(const PoolCore&) = delete;
    PoolCore& operator=(const PoolCore&) = delete;

    /// Queues the chunks of one job; chunk i reports to sink as index i. Closed after close()
    /// or terminate().
    void submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks);
    /// Closed after close() or terminate(): for a job that submits its chunks later.
    void check_open() const;
    /// The handle an imap feeds its input through.
    PoolLink link() const { return PoolLink(m_engine); }

    void close();
    void terminate();
    void join();

    /// A buffer for a task message, recycled from a dispatched one when there is: the large
    /// buffers of a map then reuse memory that is already mapped.
    ByteBuffer take_buffer();

    unsigned processes() const;
    std::size_t max_message_size() const;
    /// The pids of the current workers (a replaced worker's slot shows its successor).
    std::vector<pid_t> worker_pids() const;
    const std::string& segment_name() const;

private:
    std::shared_ptr<PoolEngine> m_engine;
};

} // namespace detail
} // namespace shmbus

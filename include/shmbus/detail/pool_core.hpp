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

class SHMBUS_EXPORT PoolCore {
public:
    explicit PoolCore(const PoolOptions& options);
    /// terminate() unless joined; never waits for tasks.
    ~PoolCore();
    PoolCore(const PoolCore&) = delete;
    PoolCore& operator=(const PoolCore&) = delete;

    /// Queues the chunks of one job; chunk i reports to sink as index i. Closed after close()
    /// or terminate().
    void submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks);

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
    std::unique_ptr<PoolEngine> m_engine;
};

} // namespace detail
} // namespace shmbus

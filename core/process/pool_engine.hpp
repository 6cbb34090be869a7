// SPDX-License-Identifier: Apache-2.0
// The Pool engine's private parts, shared by core/process/pool.cpp (the engine: dispatch, close,
// join, terminate), core/process/pool_results.cpp (the result handler thread),
// core/process/pool_supervision.cpp (worker replacement), core/process/pool_worker.cpp (what a
// worker process runs) and core/process/pool_segment.cpp (the segment a pool lives in).
#pragma once

#include "shmbus/detail/byte_buffer.hpp"
#include "shmbus/detail/pool_core.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/process.hpp"
#include "shmbus/segment.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <sys/types.h>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shmbus::detail {

struct PoolState;

/// Everything a worker uses. Set up before the first fork and never changed afterwards: a
/// worker is a fork and sees it as it was then.
struct WorkerContext {
    std::vector<std::unique_ptr<QueueCore>> tasks; ///< one per slot
    std::unique_ptr<QueueCore> results;
    PoolState* state = nullptr;
    std::function<void()> initializer;
    std::size_t maxtasksperchild = 0;
    std::size_t max_message_size = 0;
};

/// Runs the chunks that come to slot `index`'s queue until a stop message or
/// maxtasksperchild; in a worker process.
void run_worker(const WorkerContext& context, std::uint32_t index);

/// The segment a pool lives in, unlinked when the pool goes. Named `requested_name`, or
/// "shmbus.pool.<pid>.<n>" when that is empty. A name whose holder is dead is taken over;
/// see create_pool_segment in pool_segment.cpp for the rest.
class OwnedSegment {
public:
    OwnedSegment(const std::string& requested_name, std::size_t size);
    ~OwnedSegment();
    OwnedSegment(const OwnedSegment&) = delete;
    OwnedSegment& operator=(const OwnedSegment&) = delete;

    const Segment& segment() const { return m_segment; }
    const std::string& name() const { return m_name; }

private:
    explicit OwnedSegment(std::pair<std::string, Segment> created);

    std::string m_name;
    Segment m_segment;
};

class PoolEngine {
public:
    explicit PoolEngine(const PoolOptions& options);
    ~PoolEngine();
    PoolEngine(const PoolEngine&) = delete;
    PoolEngine& operator=(const PoolEngine&) = delete;

    /// Chunk i reports to `sink` as index first_index + i. `continuing`: more of an imap begun
    /// before close(), taken until join() begins.
    void submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks,
                std::size_t first_index = 0, bool continuing = false);
    void check_open() const;
    ByteBuffer take_buffer();
    void close();
    void terminate();
    void join();

    unsigned processes() const { return static_cast<unsigned>(m_workers.size()); }
    std::size_t max_message_size() const { return m_context->max_message_size; }
    std::vector<pid_t> worker_pids() const {
        std::lock_guard lock(m_mutex);
        return m_pids;
    }
    const std::string& segment_name() const { return m_segment.name(); }

private:
    /// A submitted chunk until its result is delivered; slot -1 while still in the parent.
    struct ChunkRecord {
        std::shared_ptr<ChunkSink> sink;
        std::size_t index = 0;
        std::uint32_t count = 0;
        std::size_t bytes = 0; ///< of its task message
        int slot = -1;
    };
    /// What is queued to (or running in) one worker.
    struct Queued {
        std::uint32_t chunks = 0;
        std::size_t bytes = 0;
    };
    struct PendingChunk {
        std::uint64_t id;
        ByteBuffer message;
    };

    WorkerContext* make_context(const PoolOptions& options, unsigned workers);
    void spawn(unsigned slot);
    void handler_loop();
    void handle_result(std::span<const std::byte> message);
    void deliver(ChunkRecord& record, const ResultHeader& header,
                 std::span<const std::byte> payload);
    void fail(ChunkRecord& record, std::exception_ptr error);
    void fail_counted(ChunkRecord& record, std::exception_ptr error);
    void count_done(const ChunkRecord& record);
    void settle();
    void check_workers();
    void replace_worker(unsigned slot);
    void drain_results();
    std::vector<ChunkRecord> reclaim(unsigned slot);
    void dispatch_locked();
    void stop_handler();
    void require_not_handler(const char* what) const;

    OwnedSegment m_segment;
    std::unique_ptr<WorkerContext> m_context;
    /// Touched only by the handler thread while it runs, by the owner's thread otherwise.
    std::vector<std::unique_ptr<Process>> m_workers;
    unsigned m_spawned = 0;

    mutable std::mutex m_mutex; // guards everything below but m_stop
    std::condition_variable m_idle;
    std::deque<PendingChunk> m_pending;
    std::vector<ByteBuffer> m_spare; ///< dispatched task messages' buffers, for reuse
    std::unordered_map<std::uint64_t, ChunkRecord> m_chunks; ///< pending or dispatched
    std::vector<Queued> m_in_flight;
    std::vector<pid_t> m_pids;
    std::uint64_t m_next_id = 1;
    std::size_t m_unresolved = 0; ///< chunks submitted and not yet delivered
    bool m_closed = false;
    bool m_joining = false; ///< join() began: not even an imap's next chunk is taken
    bool m_terminated = false;
    bool m_joined = false;

    std::atomic<bool> m_stop{false};
    std::thread m_handler;
};

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// The Pool engine in the parent: dispatch of chunks to the workers' queues, close, join and
// terminate (results: pool_results.cpp; workers: pool_supervision.cpp, pool_worker.cpp;
// segment: pool_segment.cpp).
#include "shmbus/pool.hpp"

#include "process/pool_engine.hpp"
#include "process/pool_state.hpp"
#include "ring/mpmc_ring.hpp"
#include "segment/layout.hpp"
#include "segment/state_ref.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/log.hpp"
#include "shmbus/queue.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

namespace shmbus::detail {
namespace {

// Chunks queued to one worker at a time. Two at least, so the next one is there when it
// finishes a chunk; more while they are small, so that a worker running tiny tasks need not
// wait for this process to be scheduled between them. The rest stays in the parent for
// whichever worker frees up first.
constexpr std::uint32_t kMinQueuedChunks = 2;
constexpr std::uint32_t kMaxQueuedChunks = 64;
constexpr std::size_t kQueuedBytes = std::size_t{64} << 10;
// Task message buffers kept for reuse: fresh memory costs a page fault per page, which on a
// virtual machine costs more than writing the page.
constexpr std::size_t kSpareBuffers = 16;
// Room in a result message beyond max_message_size, for headers and a remote error's text;
// in a task message, for its header.
constexpr std::size_t kResultSlack = std::size_t{64} << 10;
constexpr std::size_t kTaskSlack = std::size_t{4} << 10;

// One worker's queue holds a largest chunk, or kQueuedBytes of small ones: the dispatcher
// queues no more, and a chunk that does not fit waits in this process for the next result.
// With a queue per worker, this is what a Pool of many workers costs in shared memory.
QueueOptions task_queue_options(std::size_t max_message_size) {
    QueueOptions options;
    options.max_message_size = max_message_size + kTaskSlack;
    options.capacity_bytes = std::bit_ceil(std::max(options.max_message_size, kQueuedBytes));
    return options;
}

// Every worker's results: room for two, so that one is read while the next is written.
QueueOptions result_queue_options(std::size_t max_message_size) {
    QueueOptions options;
    options.max_message_size = max_message_size + kResultSlack;
    options.capacity_bytes = std::bit_ceil(2 * options.max_message_size);
    return options;
}

std::size_t queue_bytes(const QueueOptions& options) {
    return MpmcRing::bytes_for(options.capacity_bytes / kCacheLine) + 4096; // + its state
}

std::size_t segment_bytes(unsigned workers, std::size_t max_message_size) {
    if (max_message_size == 0 || max_message_size > (std::size_t{1} << 30))
        throw UsageError("Pool: max_message_size must lie in [1, 2^30]");
    return kHeapOffset + workers * queue_bytes(task_queue_options(max_message_size)) +
           queue_bytes(result_queue_options(max_message_size)) + PoolState::bytes_for(workers) +
           (1 << 20);
}

// The worker count `options` asks for; UsageError, as Python's ValueError, for processes or
// maxtasksperchild below 1 (unset: cpu_count() workers, no task limit).
unsigned checked_workers(const PoolOptions& options) {
    if (options.processes && *options.processes < 1)
        throw UsageError("Pool: processes must be at least 1, not " +
                         std::to_string(*options.processes) + " (unset: cpu_count())");
    if (options.maxtasksperchild && *options.maxtasksperchild < 1)
        throw UsageError("Pool: maxtasksperchild must be at least 1, not " +
                         std::to_string(*options.maxtasksperchild) + " (unset: no limit)");
    return options.processes ? static_cast<unsigned>(*options.processes) : cpu_count();
}

} // namespace

PoolEngine::PoolEngine(const PoolOptions& options)
    : m_segment(options.segment_name,
                segment_bytes(checked_workers(options), options.max_message_size)) {
    const unsigned workers = checked_workers(options);
    m_context.reset(make_context(options, workers));
    m_workers.resize(workers);
    m_in_flight.assign(workers, Queued{});
    m_pids.assign(workers, 0);
    // The first workers are forked here, before the handler thread exists: a program that
    // has no other threads forks them single-threaded.
    for (unsigned slot = 0; slot < workers; ++slot)
        spawn(slot);
    m_handler = std::thread([this] { handler_loop(); });
}

WorkerContext* PoolEngine::make_context(const PoolOptions& options, unsigned workers) {
    auto context = std::make_unique<WorkerContext>();
    const Segment& segment = m_segment.segment();
    const QueueOptions tasks = task_queue_options(options.max_message_size);
    for (unsigned slot = 0; slot < workers; ++slot)
        context->tasks.push_back(
            std::make_unique<QueueCore>(segment, "pool.tasks." + std::to_string(slot), tasks,
                                        OpenMode::create, ObjectKind::queue, 0));
    context->results = std::make_unique<QueueCore>(segment, "pool.results",
                                                   result_queue_options(options.max_message_size),
                                                   OpenMode::create, ObjectKind::queue, 0);
    const ObjectRef state = attach_object(
        segment, "pool",
        ObjectSpec{ObjectKind::pool, PoolState::bytes_for(workers), alignof(PoolState), 0},
        OpenMode::create, [workers](void* at) {
            auto* block = new (at) PoolState{};
            block->magic = kPoolStateMagic;
            block->version = kPoolStateVersion;
            block->slot_count = workers;
            for (unsigned i = 0; i < workers; ++i)
                new (&block->slot(i)) PoolWorkerSlot{};
        });
    context->state = StateRef<PoolState>(state).get();
    context->initializer = options.initializer;
    context->maxtasksperchild =
        options.maxtasksperchild ? static_cast<std::size_t>(*options.maxtasksperchild) : 0;
    context->max_message_size = options.max_message_size;
    return context.release();
}

PoolEngine::~PoolEngine() {
    try {
        if (!m_joined)
            terminate();
    } catch (const std::exception& e) { // a destructor must not throw; the workers are gone
        detail::log(LogLevel::error, "shmbus Pool: ", e.what());
    } catch (...) {
        detail::log(LogLevel::error, "shmbus Pool: terminate failed with a non-standard exception");
    }
    // Whatever failed above, a joinable std::thread left to its destructor would abort.
    try {
        stop_handler();
    } catch (...) { // join itself failed: nothing more can be done here
    }
}

void PoolEngine::check_open() const {
    std::lock_guard lock(m_mutex);
    if (m_closed)
        throw Closed("the pool is closed: it takes no new tasks");
}

void PoolEngine::submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks,
                        std::size_t first_index, bool continuing) {
    std::uint64_t tasks = 0;
    std::lock_guard lock(m_mutex);
    if (continuing && (m_joining || m_terminated))
        throw Closed("the pool was joined or terminated before this imap's input was all "
                     "submitted");
    if (m_closed && !continuing)
        throw Closed("the pool is closed: it takes no new tasks");
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const std::uint64_t id = m_next_id++;
        std::memcpy(chunks[i].message.data() + offsetof(TaskHeader, chunk_id), &id, sizeof id);
        m_chunks.emplace(
            id, ChunkRecord{sink, first_index + i, chunks[i].count, chunks[i].message.size(), -1});
        m_pending.push_back({id, std::move(chunks[i].message)});
        tasks += chunks[i].count;
    }
    m_unresolved += chunks.size();
    // relaxed: display only.
    m_context->state->tasks_submitted.fetch_add(tasks, std::memory_order_relaxed);
    dispatch_locked();
}

ByteBuffer PoolEngine::take_buffer() {
    std::lock_guard lock(m_mutex);
    if (m_spare.empty())
        return {};
    ByteBuffer buffer = std::move(m_spare.back());
    m_spare.pop_back();
    return buffer;
}

void PoolEngine::dispatch_locked() {
    while (!m_pending.empty()) {
        const auto least =
            std::min_element(m_in_flight.begin(), m_in_flight.end(),
                             [](const Queued& a, const Queued& b) { return a.chunks < b.chunks; });
        PendingChunk& next = m_pending.front();
        const std::size_t size = next.message.size();
        if (least->chunks >= kMinQueuedChunks &&
            (least->chunks >= kMaxQueuedChunks || least->bytes + size > kQueuedBytes))
            return;
        const auto slot = static_cast<unsigned>(least - m_in_flight.begin());
        // Full only when two large chunks do not fit together: the next result retries.
        if (m_context->tasks[slot]->try_put(next.message.bytes()) != QueueStatus::ok)
            return;
        m_chunks.at(next.id).slot = static_cast<int>(slot);
        ++least->chunks;
        least->bytes += size;
        if (m_spare.size() < kSpareBuffers)
            m_spare.push_back(std::move(next.message));
        m_pending.pop_front();
    }
}

void PoolEngine::require_not_handler(const char* what) const {
    if (std::this_thread::get_id() == m_handler.get_id())
        throw UsageError(std::string("Pool::") + what +
                         " from a callback would wait for the thread running it");
}

void PoolEngine::close() {
    std::lock_guard lock(m_mutex);
    m_closed = true;
    // relaxed: display only.
    m_context->state->closed.store(1, std::memory_order_relaxed);
}

void PoolEngine::join() {
    require_not_handler("join");
    {
        std::unique_lock lock(m_mutex);
        if (!m_closed)
            throw UsageError("Pool::join() before close() or terminate()");
        if (m_joined || m_terminated)
            return;
        m_joining = true;
        m_idle.wait(lock, [this] { return m_unresolved == 0; });
    }
    stop_handler();
    const TaskHeader stop{0, 0, 0, 0, 0};
    for (auto& worker : m_workers) {
        if (!worker)
            continue;
        const auto slot = static_cast<std::size_t>(&worker - m_workers.data());
        m_context->tasks[slot]->put(
            std::span(reinterpret_cast<const std::byte*>(&stop), sizeof stop), Deadline::never());
        worker->join();
    }
    std::lock_guard lock(m_mutex);
    m_joined = true;
}

void PoolEngine::terminate() {
    require_not_handler("terminate");
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
        if (m_terminated || m_joined)
            return;
        m_terminated = true;
        m_pending.clear(); // their records stay and fail below
    }
    m_context->state->closed.store(1, std::memory_order_relaxed); // relaxed: display only
    stop_handler();
    for (auto& worker : m_workers) {
        if (!worker)
            continue;
        worker->kill();
        worker->join();
    }
    drain_results(); // what finished before the kill is delivered
    std::vector<ChunkRecord> left;
    {
        std::lock_guard lock(m_mutex);
        for (auto& entry : m_chunks)
            left.push_back(std::move(entry.second));
        m_chunks.clear();
    }
    for (ChunkRecord& record : left)
        fail(record,
             std::make_exception_ptr(Closed("the pool was terminated before this task finished")));
}

void PoolLink::submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks,
                      std::size_t first) const {
    const std::shared_ptr<PoolEngine> engine = m_engine.lock();
    if (!engine)
        throw Closed("the pool was destroyed before this imap's input was all submitted");
    engine->submit(std::move(sink), std::move(chunks), first, true);
}
ByteBuffer PoolLink::take_buffer() const {
    const std::shared_ptr<PoolEngine> engine = m_engine.lock();
    return engine ? engine->take_buffer() : ByteBuffer{};
}

PoolCore::PoolCore(const PoolOptions& options) : m_engine(std::make_shared<PoolEngine>(options)) {}
PoolCore::~PoolCore() = default;

void PoolCore::submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks) {
    m_engine->submit(std::move(sink), std::move(chunks));
}
void PoolCore::check_open() const {
    m_engine->check_open();
}
ByteBuffer PoolCore::take_buffer() {
    return m_engine->take_buffer();
}
void PoolCore::close() {
    m_engine->close();
}
void PoolCore::terminate() {
    m_engine->terminate();
}
void PoolCore::join() {
    m_engine->join();
}
unsigned PoolCore::processes() const {
    return m_engine->processes();
}
std::size_t PoolCore::max_message_size() const {
    return m_engine->max_message_size();
}
std::vector<pid_t> PoolCore::worker_pids() const {
    return m_engine->worker_pids();
}
const std::string& PoolCore::segment_name() const {
    return m_engine->segment_name();
}

} // namespace shmbus::detail

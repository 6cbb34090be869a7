// SPDX-License-Identifier: Apache-2.0
#include "detail/exception_type.hpp"
#include "detail/layout.hpp"
#include "detail/mpmc_ring.hpp"
#include "detail/pool_state.hpp"
#include "shmbus/codec.hpp"
#include "shmbus/detail/object.hpp"
#include "shmbus/detail/pool_core.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/detail/queue_core.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/log.hpp"
#include "shmbus/process.hpp"
#include "shmbus/segment.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <typeinfo>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace shmbus::detail {
namespace {

using Clock = std::chrono::steady_clock;

// How long the result handler waits for a result before it looks at the workers' health: a
// SIGKILLed worker's task fails within about this long.
constexpr std::chrono::milliseconds kPollPeriod{10};
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
// Room in a queue message beyond max_message_size, for headers and a remote error's text.
constexpr std::size_t kMessageSlack = std::size_t{64} << 10;
constexpr std::size_t kMaxErrorText = std::size_t{16} << 10;

std::atomic<unsigned> g_pool_counter{0};

std::string default_segment_name() {
    // relaxed is enough: the counter only hands out distinct numbers.
    const unsigned n = g_pool_counter.fetch_add(1, std::memory_order_relaxed);
    return "shmbus-pool-" + std::to_string(::getpid()) + "-" + std::to_string(n);
}

// Called inside a catch block: the current exception's type name and what().
std::pair<std::string, std::string> describe_current_exception() {
    std::pair<std::string, std::string> error{current_exception_type(), ""};
    try {
        throw;
    } catch (const std::exception& e) {
        error.second = std::string(e.what()).substr(0, kMaxErrorText);
    } catch (...) { // not a std::exception: the type name is all there is
    }
    return error;
}

std::exception_ptr remote_error(std::span<const std::byte> payload) {
    const auto [type, what] = decode<std::pair<std::string, std::string>>(payload);
    return std::make_exception_ptr(RemoteError(what.empty() ? type : type + ": " + what));
}

QueueOptions queue_options(std::size_t max_message_size) {
    QueueOptions options;
    options.max_message_size = max_message_size + kMessageSlack;
    options.capacity_bytes = std::bit_ceil(2 * options.max_message_size);
    return options;
}

std::size_t segment_bytes(unsigned workers, std::size_t max_message_size) {
    if (max_message_size == 0 || max_message_size > (std::size_t{1} << 30))
        throw UsageError("Pool: max_message_size must lie in [1, 2^30]");
    const QueueOptions options = queue_options(max_message_size);
    const std::size_t queue = MpmcRing::bytes_for(options.capacity_bytes / kCacheLine) + 4096;
    return kHeapOffset + (workers + 1) * queue + PoolState::bytes_for(workers) + (1 << 20);
}

/// Runs one chunk into `out` as a result message: its results, or the error it raised.
void run_chunk(const TaskHeader& task, std::span<const std::byte> args, std::uint32_t slot,
               std::size_t limit, ByteBuffer& out) {
    ResultHeader header{task.chunk_id, slot, ResultStatus::ok, task.count, 0};
    out.clear();
    out.append(&header, sizeof header);
    try {
        reinterpret_cast<ChunkInvoker>(task.invoker)(task.fn, args, task.count, out);
        if (out.size() - sizeof header > limit)
            throw MessageTooLarge("the results of a chunk of " + std::to_string(task.count) +
                                  " tasks take " + std::to_string(out.size() - sizeof header) +
                                  " bytes encoded, above the pool's max_message_size of " +
                                  std::to_string(limit) + ": use a smaller chunksize");
    } catch (...) {
        const auto error = describe_current_exception();
        header.status = ResultStatus::error;
        out.clear();
        out.append(&header, sizeof header);
        encode(error, out);
    }
}

} // namespace

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

namespace {

void run_worker(const WorkerContext& context, std::uint32_t index) {
    if (context.initializer)
        context.initializer();
    QueueCore& tasks = *context.tasks[index];
    PoolWorkerSlot& slot = context.state->slot(index);
    ByteBuffer in;
    ByteBuffer out;
    for (std::size_t done = 0; context.maxtasksperchild == 0 || done < context.maxtasksperchild;
         ++done) {
        tasks.get(in, Deadline::never());
        const auto task = read_header<TaskHeader>(in.bytes());
        if (task.invoker == 0)
            return;
        // relaxed: display-only fields for `shmbus inspect`, nothing is published through them.
        slot.chunk_id.store(task.chunk_id, std::memory_order_relaxed);
        slot.busy.store(1, std::memory_order_relaxed);
        run_chunk(task, in.bytes().subspan(sizeof(TaskHeader)), index, context.max_message_size,
                  out);
        context.results->put(out.bytes(), Deadline::never());
        // relaxed: display-only, as above.
        slot.busy.store(0, std::memory_order_relaxed);
        slot.tasks_done.fetch_add(task.count, std::memory_order_relaxed);
    }
}

/// A segment this pool created, unlinked when the pool goes.
class OwnedSegment {
public:
    OwnedSegment(std::string name, std::size_t size)
        : m_name(std::move(name)), m_segment(Segment::create(m_name, size)) {}
    ~OwnedSegment() { Segment::unlink(m_name); }
    OwnedSegment(const OwnedSegment&) = delete;
    OwnedSegment& operator=(const OwnedSegment&) = delete;

    const Segment& segment() const { return m_segment; }
    const std::string& name() const { return m_name; }

private:
    std::string m_name;
    Segment m_segment;
};

} // namespace

class PoolEngine {
public:
    explicit PoolEngine(const PoolOptions& options);
    ~PoolEngine();
    PoolEngine(const PoolEngine&) = delete;
    PoolEngine& operator=(const PoolEngine&) = delete;

    void submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks);
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
    bool m_terminated = false;
    bool m_joined = false;

    std::atomic<bool> m_stop{false};
    std::thread m_handler;
};

PoolEngine::PoolEngine(const PoolOptions& options)
    : m_segment(options.segment_name.empty() ? default_segment_name() : options.segment_name,
                segment_bytes(options.processes == 0 ? cpu_count() : options.processes,
                              options.max_message_size)) {
    const unsigned workers = options.processes == 0 ? cpu_count() : options.processes;
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
    const QueueOptions queue = queue_options(options.max_message_size);
    for (unsigned slot = 0; slot < workers; ++slot)
        context->tasks.push_back(
            std::make_unique<QueueCore>(segment, "pool.tasks." + std::to_string(slot), queue,
                                        OpenMode::create, ObjectKind::queue, 0));
    context->results = std::make_unique<QueueCore>(segment, "pool.results", queue, OpenMode::create,
                                                   ObjectKind::queue, 0);
    const ObjectRef state = attach_object(
        segment, "pool",
        ObjectSpec{ObjectKind::pool, PoolState::bytes_for(workers), alignof(PoolState), 0},
        OpenMode::create, [workers](void* at) {
            auto* block = new (at) PoolState{};
            block->magic = kPoolMagic;
            block->version = kPoolVersion;
            block->slot_count = workers;
            for (unsigned i = 0; i < workers; ++i)
                new (&block->slot(i)) PoolWorkerSlot{};
        });
    context->state = &state.state<PoolState>();
    context->initializer = options.initializer;
    context->maxtasksperchild = options.maxtasksperchild;
    context->max_message_size = options.max_message_size;
    return context.release();
}

PoolEngine::~PoolEngine() {
    try {
        if (!m_joined)
            terminate();
    } catch (const std::exception& e) { // a destructor must not throw; the workers are gone
        detail::log(LogLevel::error, "shmbus Pool: ", e.what());
    }
}

void PoolEngine::spawn(unsigned slot) {
    const WorkerContext* context = m_context.get();
    auto worker = std::make_unique<Process>([context, slot] { run_worker(*context, slot); });
    worker->set_name("ForkPoolWorker-" + std::to_string(++m_spawned));
    worker->set_daemon(true);
    worker->start();
    // relaxed: display only.
    context->state->slot(slot).pid.store(worker->pid(), std::memory_order_relaxed);
    {
        std::lock_guard lock(m_mutex);
        m_pids[slot] = worker->pid();
    }
    m_workers[slot] = std::move(worker);
}

void PoolEngine::submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks) {
    std::uint64_t tasks = 0;
    std::lock_guard lock(m_mutex);
    if (m_closed)
        throw Closed("the pool is closed: it takes no new tasks");
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const std::uint64_t id = m_next_id++;
        std::memcpy(chunks[i].message.data() + offsetof(TaskHeader, chunk_id), &id, sizeof id);
        m_chunks.emplace(id, ChunkRecord{sink, i, chunks[i].count, chunks[i].message.size(), -1});
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
            detail::log(LogLevel::warning, "shmbus Pool: result handler: ", e.what());
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

void PoolEngine::check_workers() {
    for (unsigned slot = 0; slot < m_workers.size(); ++slot) {
        if (!m_workers[slot] || !m_workers[slot]->is_alive())
            replace_worker(slot);
    }
}

void PoolEngine::replace_worker(unsigned slot) {
    if (Process* ended = m_workers[slot].get()) {
        // First what it finished, then what it left unread: the rest it had taken is lost.
        drain_results();
        std::vector<ChunkRecord> lost = reclaim(slot);
        const std::optional<int> code = ended->exitcode();
        const std::string what =
            "pool worker process " + std::to_string(ended->pid()) +
            (code && *code < 0 ? " was killed by signal " + std::to_string(-*code)
                               : " exited with code " + std::to_string(code.value_or(-1))) +
            " while running this task";
        PoolState& state = *m_context->state;
        // relaxed: display only.
        state.slot(slot).replaced.fetch_add(1, std::memory_order_relaxed);
        if (!lost.empty())
            state.workers_lost.fetch_add(1, std::memory_order_relaxed);
        m_workers[slot].reset();
        for (ChunkRecord& record : lost)
            fail(record, std::make_exception_ptr(WorkerLost(what)));
    }
    spawn(slot);
}

void PoolEngine::drain_results() {
    m_context->results->recover_dead(); // a worker killed inside put leaves a claim
    ByteBuffer message;
    while (m_context->results->try_get(message) == QueueStatus::ok)
        handle_result(message.bytes());
}

std::vector<PoolEngine::ChunkRecord> PoolEngine::reclaim(unsigned slot) {
    std::lock_guard lock(m_mutex); // no dispatch to this slot while its queue is taken apart
    QueueCore& queue = *m_context->tasks[slot];
    queue.recover_dead();
    std::vector<ByteBuffer> unread;
    std::unordered_set<std::uint64_t> unread_ids;
    ByteBuffer message;
    while (queue.try_get(message) == QueueStatus::ok) {
        const std::uint64_t id = read_header<TaskHeader>(message.bytes()).chunk_id;
        if (m_chunks.contains(id)) {
            unread_ids.insert(id);
            unread.push_back(std::exchange(message, ByteBuffer{}));
        }
    }
    std::vector<ChunkRecord> lost;
    for (auto it = m_chunks.begin(); it != m_chunks.end();) {
        if (it->second.slot == static_cast<int>(slot) && !unread_ids.contains(it->first)) {
            lost.push_back(std::move(it->second));
            it = m_chunks.erase(it);
        } else {
            ++it;
        }
    }
    // The unread chunks wait in the same queue for the successor, in their order.
    m_in_flight[slot] = Queued{};
    for (ByteBuffer& chunk : unread) {
        ++m_in_flight[slot].chunks;
        m_in_flight[slot].bytes += chunk.size();
        if (queue.try_put(chunk.bytes()) != QueueStatus::ok)
            throw SystemError("pool: a reclaimed chunk no longer fits its queue");
    }
    return lost;
}

void PoolEngine::stop_handler() {
    if (!m_handler.joinable())
        return;
    // release pairs with the acquire load in handler_loop().
    m_stop.store(true, std::memory_order_release);
    const ResultHeader wake{0, 0, ResultStatus::ok, 0, 0};
    m_context->results->try_put(std::span(reinterpret_cast<const std::byte*>(&wake), sizeof wake));
    m_handler.join();
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

PoolCore::PoolCore(const PoolOptions& options) : m_engine(std::make_unique<PoolEngine>(options)) {}
PoolCore::~PoolCore() = default;

void PoolCore::submit(std::shared_ptr<ChunkSink> sink, std::vector<EncodedChunk> chunks) {
    m_engine->submit(std::move(sink), std::move(chunks));
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

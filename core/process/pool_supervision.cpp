// SPDX-License-Identifier: Apache-2.0
// The parent's care of the Pool's worker processes: forking them, noticing those that ended,
// failing the chunk each was running and handing what it left unread to its successor.
#include "process/pool_engine.hpp"
#include "process/pool_state.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/errors.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace shmbus::detail {

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

} // namespace shmbus::detail

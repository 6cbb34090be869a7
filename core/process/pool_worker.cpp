// SPDX-License-Identifier: Apache-2.0
// What a Pool worker process runs: chunks from its task queue, results to the result queue.
#include "os/exception_type.hpp"
#include "process/pool_engine.hpp"
#include "process/pool_state.hpp"
#include "shmbus/codec.hpp"
#include "shmbus/detail/pool_task.hpp"
#include "shmbus/errors.hpp"

#include <exception>
#include <string>
#include <utility>

namespace shmbus::detail {
namespace {

constexpr std::size_t kMaxErrorText = std::size_t{16} << 10;

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

} // namespace shmbus::detail

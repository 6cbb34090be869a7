// SPDX-License-Identifier: Apache-2.0
/// @file
/// JoinableQueue<T>: a Queue<T> that counts unfinished tasks, like Python's JoinableQueue.
/// Every put adds one; task_done() removes one; join() returns once the count is zero, in any
/// process. More task_done calls than items put is UsageError.
#pragma once

#include "shmbus/queue.hpp"

namespace shmbus {

/// A Queue<T> with task counting (Python's multiprocessing.JoinableQueue): a distinct kind in
/// the segment, so a Queue and a JoinableQueue cannot open each other (KindMismatch).
template <class T, class Codec = CerealCodec>
class JoinableQueue : public Queue<T, Codec> {
public:
    /// An anonymous JoinableQueue in the default segment.
    JoinableQueue() : JoinableQueue(QueueOptions{}) {}
    /// An anonymous JoinableQueue in the default segment, made with `options`.
    explicit JoinableQueue(const QueueOptions& options)
        : Queue<T, Codec>(Segment::default_segment(), "", options, detail::OpenMode::create,
                          ObjectKind::joinable_queue) {}
    /// Opens `name` in `segment`, creating it when missing.
    JoinableQueue(const Segment& segment, std::string_view name, const QueueOptions& options = {})
        : Queue<T, Codec>(segment, name, options, detail::OpenMode::open_or_create,
                          ObjectKind::joinable_queue) {}
    /// AlreadyExists when the name is taken.
    static JoinableQueue create(const Segment& segment, std::string_view name,
                                const QueueOptions& options = {}) {
        return JoinableQueue(segment, name, options, detail::OpenMode::create);
    }
    /// NotFound when missing; KindMismatch when it is not a JoinableQueue of T.
    static JoinableQueue open(const Segment& segment, std::string_view name,
                              const WaitOptions& wait = {}) {
        return JoinableQueue(segment, name, QueueOptions{.wait = wait}, detail::OpenMode::open);
    }

    /// Marks one item got earlier as processed. UsageError when no item is outstanding.
    /// @concurrent any thread / any process.
    void task_done() { this->m_core.task_done(); }
    /// Blocks until every item put has been marked done.
    void join() { this->m_core.join(detail::Deadline::never()); }
    /// False when items are still unfinished after `timeout`.
    template <class Rep, class Period>
    [[nodiscard]] bool join_for(std::chrono::duration<Rep, Period> timeout) {
        return this->m_core.join(detail::Deadline::after(timeout));
    }
    /// False when items are still unfinished at `deadline`.
    template <class C, class D>
    [[nodiscard]] bool join_until(std::chrono::time_point<C, D> deadline) {
        return this->m_core.join(detail::Deadline::at(deadline));
    }
    /// True when every item put has been marked done; never blocks.
    [[nodiscard]] bool try_join() { return this->m_core.join(detail::Deadline::immediate()); }
    /// Items put and not yet marked done. @concurrent result may be stale.
    std::size_t unfinished_tasks() const { return this->m_core.unfinished_tasks(); }

private:
    JoinableQueue(const Segment& segment, std::string_view name, const QueueOptions& options,
                  detail::OpenMode mode)
        : Queue<T, Codec>(segment, name, options, mode, ObjectKind::joinable_queue) {}
};

} // namespace shmbus

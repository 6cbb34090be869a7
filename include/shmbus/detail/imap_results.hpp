// SPDX-License-Identifier: Apache-2.0
// The two sides of a Pool's imap / imap_unordered (ImapResult, imap_result.hpp): the
// result-handling thread's ImapSink and the consumer's ImapReader, which feeds the input lazily.
#pragma once

#include "shmbus/detail/handoff.hpp"
#include "shmbus/detail/pool_results.hpp"

#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace shmbus::detail {

/// One finished imap chunk, from the result-handling thread to the consumer.
template <class R>
struct ImapArrival {
    std::size_t index = 0;
    std::vector<R> values;
    TaskError error;
};

/// imap / imap_unordered, the result-handling thread's side: each chunk's outcome goes to the
/// consumer through a PointerHandOff (boost::lockfree::spsc_queue; measured faster than the
/// mutex, condition variable and deque it replaced: docs/design/pool.md). The consumer submits
/// at most `capacity` chunks ahead of what it took, so the hand-off never fills up.
template <class R>
class ImapSink final : public ChunkSink {
public:
    explicit ImapSink(std::size_t capacity) : m_arrivals(capacity) {}
    ~ImapSink() override {
        while (void* left = m_arrivals.pop(Deadline::immediate()))
            delete static_cast<ImapArrival<R>*>(left);
    }
    ImapSink(const ImapSink&) = delete;
    ImapSink& operator=(const ImapSink&) = delete;

    void chunk_done(std::size_t index, std::uint32_t count,
                    std::span<const std::byte> bytes) override {
        auto arrival = std::make_unique<ImapArrival<R>>();
        arrival->index = index;
        ChunkReader<R> reader(bytes, count);
        arrival->values.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i)
            arrival->values.push_back(reader.next());
        reader.finish();
        hand_off(std::move(arrival));
    }
    void chunk_failed(std::size_t index, std::exception_ptr error) noexcept override {
        try {
            auto arrival = std::make_unique<ImapArrival<R>>();
            arrival->index = index;
            arrival->error = TaskError(error);
            hand_off(std::move(arrival));
        } catch (const std::bad_alloc&) {
            log(LogLevel::error, "shmbus Pool: out of memory reporting a failed imap chunk");
        }
    }

    /// The next chunk to arrive, or nullptr when none did by the deadline. Consumer only.
    std::unique_ptr<ImapArrival<R>> take(Deadline deadline) {
        return std::unique_ptr<ImapArrival<R>>(
            static_cast<ImapArrival<R>*>(m_arrivals.pop(deadline)));
    }

private:
    void hand_off(std::unique_ptr<ImapArrival<R>> arrival) noexcept {
        // Never full: the consumer keeps at most the capacity in flight.
        if (m_arrivals.push(arrival.get()))
            arrival.release();
        else
            log(LogLevel::error, "shmbus Pool: an imap result found its hand-off full");
    }

    PointerHandOff m_arrivals;
};

/// One step of an imap feeder: how many chunks it submitted, whether input is left, and what
/// the input iterator (or the encoding of its item, or the submission) threw.
struct FeedStep {
    std::size_t submitted = 0;
    bool more = false;
    std::exception_ptr error;
};

/// imap / imap_unordered, the consumer's side: feeds the input lazily, at most `window` chunks
/// ahead of what it has handed out (so an endless input works and memory stays bounded),
/// reorders for imap, and raises an input error at its position once the results before it
/// are out.
template <class R>
class ImapReader {
public:
    /// feed(first, count) encodes the next `count` chunks of the input (fewer where it ends)
    /// and submits them at once as chunks first, first + 1, ...
    using Feed = std::function<FeedStep(std::size_t first, std::size_t count)>;

    ImapReader(std::shared_ptr<ImapSink<R>> sink, Feed feed, std::size_t window, bool ordered)
        : m_sink(std::move(sink)), m_feed(std::move(feed)), m_window(window), m_ordered(ordered) {
        top_up();
    }

    /// The next result (nullopt after the last; Timeout if none by the deadline); a failed
    /// chunk throws its error in its place, a failed input its error after the results before
    /// it, and then the results end.
    std::optional<R> next(Deadline deadline) {
        while (m_position == m_current.size()) {
            top_up();
            if (m_taken == m_submitted) {
                if (!m_input_error)
                    return std::nullopt;
                std::rethrow_exception(std::exchange(m_input_error, nullptr));
            }
            std::unique_ptr<ImapArrival<R>> arrival = next_arrival(deadline);
            ++m_taken;
            m_current = std::move(arrival->values);
            m_position = 0;
            if (arrival->error)
                arrival->error.raise();
        }
        return std::move(m_current[m_position++]);
    }

private:
    // Refills once half the window is free, all of it in one submission: one chunk per next()
    // would take the pool's lock and wake a worker for every result.
    void top_up() {
        const std::size_t out = m_submitted - m_taken;
        if (m_more && (m_submitted == 0 || out <= m_window / 2)) {
            FeedStep step = m_feed(m_submitted, m_window - out);
            m_submitted += step.submitted;
            if (!step.more) {
                m_more = false;
                m_input_error = std::move(step.error);
                m_feed = nullptr; // lets go of the input
            }
        }
    }
    std::unique_ptr<ImapArrival<R>> next_arrival(Deadline deadline) {
        if (m_ordered) {
            while (!m_early.contains(m_taken))
                stash(wait_arrival(deadline));
            auto found = m_early.find(m_taken);
            std::unique_ptr<ImapArrival<R>> arrival = std::move(found->second);
            m_early.erase(found);
            return arrival;
        }
        return wait_arrival(deadline);
    }
    std::unique_ptr<ImapArrival<R>> wait_arrival(Deadline deadline) {
        std::unique_ptr<ImapArrival<R>> arrival = m_sink->take(deadline);
        if (!arrival)
            throw Timeout("no pool result arrived in time");
        return arrival;
    }
    void stash(std::unique_ptr<ImapArrival<R>> arrival) {
        const std::size_t index = arrival->index;
        m_early.emplace(index, std::move(arrival));
    }

    std::shared_ptr<ImapSink<R>> m_sink;
    Feed m_feed;
    const std::size_t m_window;
    const bool m_ordered;
    bool m_more = true;
    std::exception_ptr m_input_error;
    std::size_t m_submitted = 0;                                    ///< chunks
    std::size_t m_taken = 0;                                        ///< chunks handed out
    std::map<std::size_t, std::unique_ptr<ImapArrival<R>>> m_early; ///< imap: ahead of m_taken
    std::vector<R> m_current;
    std::size_t m_position = 0;
};

} // namespace shmbus::detail

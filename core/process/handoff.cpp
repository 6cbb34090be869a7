// SPDX-License-Identifier: Apache-2.0
// In-process hand-offs (shmbus/detail/handoff.hpp). tools/bench/handoff_bench.cpp measured each
// against the mutex + condition variable it replaces, in one run (docs/design/pool.md): the
// futex word wins for a one-shot result, boost::lockfree::spsc_queue plus the word for a stream
// of results; a boost::lockfree::queue (MPMC) loses to both on streams and is not used.
#include "shmbus/detail/handoff.hpp"

#include "os/futex.hpp"

// imap results: 8.1 M items/s against 2.4 M for the mutex + deque before (docs/design/pool.md)
#include <boost/lockfree/spsc_queue.hpp>
#include <climits>

namespace shmbus::detail {

std::uint32_t WakeWord::load() const noexcept {
    // acquire: pairs with the seq_cst fetch_add in bump().
    return m_word.load(std::memory_order_acquire);
}

void WakeWord::bump() noexcept {
    // SYNC seq_cst: pairs with the seq_cst m_sleeping store in sleep_while() (Dekker: either the
    // sleeper sees the new value or this sees the sleeper).
    m_word.fetch_add(1, std::memory_order_seq_cst);
    // SYNC seq_cst, as above; the exchange lets one change of a burst make the syscall.
    if (m_sleeping.load(std::memory_order_seq_cst) != 0 &&
        m_sleeping.exchange(0, std::memory_order_seq_cst) != 0)
        futex_wake(m_word, INT_MAX);
}

bool WakeWord::sleep_while(std::uint32_t seen, Deadline deadline) const {
    for (;;) {
        // SYNC seq_cst: pairs with bump()'s seq_cst loads of m_sleeping (Dekker).
        m_sleeping.store(1, std::memory_order_seq_cst);
        // SYNC seq_cst: the other half of the pair.
        if (m_word.load(std::memory_order_seq_cst) != seen)
            return true;
        if (futex_wait(m_word, seen, deadline) == FutexWait::timed_out)
            return load() != seen;
        if (load() != seen)
            return true;
    }
}

struct PointerHandOff::Queue {
    explicit Queue(std::size_t capacity) : items(capacity) {}
    boost::lockfree::spsc_queue<void*> items;
};

PointerHandOff::PointerHandOff(std::size_t capacity) : m_queue(std::make_unique<Queue>(capacity)) {}

PointerHandOff::~PointerHandOff() = default;

bool PointerHandOff::push(void* item) noexcept {
    if (!m_queue->items.push(item)) // release inside: pairs with the pop's acquire
        return false;
    m_pushed.bump();
    return true;
}

void* PointerHandOff::pop(Deadline deadline) {
    for (;;) {
        const std::uint32_t seen = m_pushed.load();
        void* item = nullptr;
        if (m_queue->items.pop(item)) // acquire inside: pairs with the push's release
            return item;
        if (!m_pushed.sleep_while(seen, deadline) && !m_queue->items.pop(item))
            return nullptr;
        if (item != nullptr)
            return item;
    }
}

} // namespace shmbus::detail

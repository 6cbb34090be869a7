// SPDX-License-Identifier: Apache-2.0
// The Pool's in-process hand-offs between its result-handling thread and the threads that wait
// for results: a word to sleep on until it changes (an AsyncResult's ready flag), and a queue
// of pointers from one thread to another (imap's results, over boost::lockfree::spsc_queue).
// Chosen by measurement against a mutex + condition variable: docs/design/pool.md, "In-process
// hand-offs" (tools/bench/handoff_bench.cpp). Boost stays out of this header: an installed
// shmbus does not need it.
#pragma once

#include "shmbus/detail/deadline.hpp"
#include "shmbus/export.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace shmbus::detail {

/// A 32-bit word that threads of this process sleep on until another thread changes it. The
/// changer makes a wake syscall only when a sleeper announced itself since the last wake, so a
/// burst of changes costs one syscall at most.
class SHMBUS_EXPORT WakeWord {
public:
    /// The current value (acquire: what the changer wrote before bump() is visible).
    std::uint32_t load() const noexcept;
    /// Adds one to the word and wakes every sleeper.
    void bump() noexcept;
    /// Sleeps while the word holds `seen`; false when the deadline passed first.
    bool sleep_while(std::uint32_t seen, Deadline deadline) const;

private:
    std::atomic<std::uint32_t> m_word{0};
    mutable std::atomic<std::uint32_t> m_sleeping{0};
};

/// Pointers from one producer thread to one consumer thread, in order, over a
/// boost::lockfree::spsc_queue of fixed capacity; the consumer sleeps on a WakeWord when there
/// are none. The owner frees what is left in it.
class SHMBUS_EXPORT PointerHandOff {
public:
    /// Room for `capacity` pointers at once.
    explicit PointerHandOff(std::size_t capacity);
    ~PointerHandOff();
    PointerHandOff(const PointerHandOff&) = delete;
    PointerHandOff& operator=(const PointerHandOff&) = delete;

    /// Producer only. False when `capacity` pointers are waiting.
    [[nodiscard]] bool push(void* item) noexcept;
    /// Consumer only. The oldest pointer, nullptr when none came by the deadline.
    void* pop(Deadline deadline);

private:
    struct Queue;
    std::unique_ptr<Queue> m_queue;
    WakeWord m_pushed;
};

} // namespace shmbus::detail

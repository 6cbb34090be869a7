// SPDX-License-Identifier: Apache-2.0
#include "shmbus/log.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace shmbus {
namespace {

void write_to_stderr(LogLevel, std::string_view message) {
    std::fwrite(message.data(), 1, message.size(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

// Atomic rather than behind a mutex: a Pool's result thread may log while another thread
// replaces the handler, and the swap holds the pointer's lock bit for nanoseconds only, so a
// child forked meanwhile is not left with a lock held across a handler call.
std::atomic<std::shared_ptr<const LogHandler>>& current_handler() {
    static std::atomic<std::shared_ptr<const LogHandler>> handler{
        std::make_shared<const LogHandler>(write_to_stderr)};
    return handler;
}

} // namespace

void set_log_handler(LogHandler handler) {
    if (!handler)
        handler = write_to_stderr;
    // SYNC release: pairs with the acquire load in detail::log, which then sees the whole handler.
    current_handler().store(std::make_shared<const LogHandler>(std::move(handler)),
                            std::memory_order_release);
}

namespace detail {

void log(LogLevel level, std::string_view message) noexcept {
    try {
        // SYNC acquire: pairs with the release store in set_log_handler.
        const std::shared_ptr<const LogHandler> handler =
            current_handler().load(std::memory_order_acquire);
        (*handler)(level, message);
    } catch (...) { // a handler that throws loses its message; the library carries on
    }
}

void log(LogLevel level, std::string_view prefix, std::string_view message) noexcept {
    try {
        std::string joined(prefix);
        joined += message;
        log(level, joined);
    } catch (const std::bad_alloc&) {
        log(level, prefix);
    }
}

} // namespace detail
} // namespace shmbus

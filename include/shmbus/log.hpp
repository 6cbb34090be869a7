// SPDX-License-Identifier: Apache-2.0
/// @file
/// Where the library's own messages go. shmbus never prints on its own account: the few things
/// it cannot report by an exception (a Pool that fails while being destroyed, a child process's
/// uncaught exception) are passed to a log handler, by default one that writes to stderr.
#pragma once

#include "shmbus/export.hpp"

#include <functional>
#include <string_view>

namespace shmbus {

/// How serious a logged message is.
enum class LogLevel {
    warning, ///< something failed and is retried or worked around
    error,   ///< something failed for good (a child process died of an exception)
};

/// Receives one message, without a trailing newline. Called from whichever process and thread
/// met the problem (a forked child inherits the handler); it must not throw.
using LogHandler = std::function<void(LogLevel level, std::string_view message)>;

/// Replaces the log handler for this process and the children it forks later; an empty handler
/// restores the default, which writes each message and a newline to stderr.
SHMBUS_EXPORT void set_log_handler(LogHandler handler);

namespace detail {
/// Passes a message to the current handler; an exception from the handler is swallowed.
SHMBUS_EXPORT void log(LogLevel level, std::string_view message) noexcept;
/// The same for prefix + message, joined without allocating in the caller (so a destructor's
/// catch handler can log without risking std::bad_alloc).
SHMBUS_EXPORT void log(LogLevel level, std::string_view prefix, std::string_view message) noexcept;
} // namespace detail

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
// shmbus::atexit: a fork-safe list of this process's exit handlers (std::atexit handlers cannot
// be told apart from the parent's in a child, nor run selectively).
#include "process/exit_handlers.hpp"

#include "os/exception_type.hpp"
#include "os/fork_safe_registry.hpp"
#include "shmbus/log.hpp"
#include "shmbus/process.hpp"

#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace shmbus {
namespace {

using Handler = std::function<void()>;
using HandlerRegistry = detail::ForkSafeRegistry<Handler>;

// The parent's handlers a forked child inherited: never run nor destroyed there (their captures'
// destructors are the parent's business), but kept reachable, so that a leak checker in the
// child does not report them.
std::vector<Handler*>& inherited() {
    static auto* kept = new std::vector<Handler*>;
    return *kept;
}

// A forked child forgets the parent's handlers.
HandlerRegistry& handlers() {
    return HandlerRegistry::instance([](HandlerRegistry& in_child) {
        in_child.for_each([](Handler& handler) { inherited().push_back(&handler); });
        in_child.clear();
    });
}

// Takes every handler out of the registry, so one that registers another does not run it in
// this round, and a second run finds none.
std::vector<Handler*> take_handlers() {
    std::vector<Handler*> taken;
    HandlerRegistry& registry = handlers();
    registry.for_each([&](Handler& handler) { taken.push_back(&handler); });
    for (Handler* handler : taken)
        registry.remove(handler);
    return taken;
}

// Called inside a catch handler.
void log_handler_exception() noexcept {
    try {
        std::string message = detail::current_exception_type();
        try {
            throw;
        } catch (const std::exception& e) {
            message += ": ";
            message += e.what();
        } catch (...) {
        }
        detail::log(LogLevel::error, "Error in an exit handler:\n" + message);
    } catch (...) {
        detail::log(LogLevel::error, "Error in an exit handler");
    }
}

} // namespace

namespace detail {

void run_exit_handlers() noexcept {
    std::vector<Handler*> taken = take_handlers();
    for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
        try {
            (**it)();
        } catch (...) {
            log_handler_exception();
        }
        delete *it;
    }
}

} // namespace detail

void atexit(std::function<void()> handler) {
    // A process that is no Process child ends through std::exit; a child runs them itself.
    static std::once_flag registered;
    std::call_once(registered, [] { std::atexit(detail::run_exit_handlers); });
    handlers().add(new Handler(std::move(handler)));
}

} // namespace shmbus

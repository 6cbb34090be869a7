// SPDX-License-Identifier: Apache-2.0
// The handlers shmbus::atexit registers: run by a Process child before _exit, or by std::exit.
#pragma once

namespace shmbus::detail {

/// Runs this process's exit handlers, last registered first, and forgets them; logs what a
/// handler throws and goes on.
void run_exit_handlers() noexcept;

} // namespace shmbus::detail

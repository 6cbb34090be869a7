// SPDX-License-Identifier: Apache-2.0
// The demangled type of the exception being handled, for messages that say what a child or a
// task threw ("std::invalid_argument: ...") the way Python's traceback header does.
#pragma once

#include <string>

namespace shmbus::detail {

/// Call inside a catch handler; "unknown exception" when there is none.
std::string current_exception_type();

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// A Pool task's exception between processes and threads. A worker sends the demangled type
// name and what(); the parent rethrows the same type when it is one of the standard exceptions
// with a message constructor (the std::logic_error and std::runtime_error families),
// std::bad_alloc or a shmbus error, and RemoteError("<type>: <what>") for any other type.
#pragma once

#include "shmbus/export.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

namespace shmbus::detail {

/// The index of the exception type named `name` (demangled, "std::invalid_argument") among
/// those a Pool rethrows as themselves; -1 for any other type.
SHMBUS_EXPORT int rethrowable_type(std::string_view name) noexcept;

/// Throws an exception of rethrowable type `type` (from rethrowable_type) with `what`.
[[noreturn]] SHMBUS_EXPORT void throw_rethrowable(int type, const std::string& what);

/// The exception a worker's (type name, what) stands for: that type when rethrowable, else
/// RemoteError("<type>: <what>").
SHMBUS_EXPORT std::exception_ptr task_exception(const std::string& type, const std::string& what);

/// Called in a catch handler: throws MaybeEncodingError saying that `what` (of C++ type `type`)
/// could not be encoded to be sent as a `kind` ("task" or "result"), and why (the exception
/// being handled), in the words of Python's: "Error sending result: '...'. Reason: '...'".
[[noreturn]] SHMBUS_EXPORT void throw_encoding_error(const char* kind, const std::string& what,
                                                     const std::type_info& type);

/// A failed task as plain data. The result-handling thread makes the exception and reads it
/// here; each caller then throws an exception object of its own, so no exception object is
/// shared between threads (whose reference count the sanitizers cannot see).
class SHMBUS_EXPORT TaskError {
public:
    TaskError() = default;
    /// @pre error is not null.
    explicit TaskError(const std::exception_ptr& error) noexcept;
    /// True when it holds an error.
    explicit operator bool() const { return m_type != kNone; }
    /// Throws a new exception of the held type, with the held what().
    [[noreturn]] void raise() const;

private:
    static constexpr int kNone = -2;
    static constexpr int kOther = -1; ///< not rethrowable: raised as shmbus::Error(what)

    int m_type = kNone;
    std::string m_what;
};

} // namespace shmbus::detail

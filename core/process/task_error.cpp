// SPDX-License-Identifier: Apache-2.0
// The exception types a Pool rethrows as themselves (shmbus/detail/task_error.hpp): those whose
// constructor takes the message, so that the caller's exception says what the worker's said.
// Others (a user's class, std::system_error and its error code) cannot be rebuilt from a name
// and a message in another process: they stay RemoteError.
#include "shmbus/detail/task_error.hpp"

#include "shmbus/errors.hpp"

#include <array>
#include <boost/core/demangle.hpp>
#include <new>
#include <stdexcept>
#include <typeinfo>
#include <utility>

namespace shmbus::detail {
namespace {

using Thrower = void (*)(const std::string& what);

template <class E>
[[noreturn]] void throw_as(const std::string& what) {
    if constexpr (std::is_same_v<E, std::bad_alloc>)
        throw std::bad_alloc(); // its what() is fixed
    else
        throw E(what);
}

#define SHMBUS_RETHROWABLE(Type) std::pair<std::string_view, Thrower>(#Type, &throw_as<Type>)

const auto kRethrowable = std::array{
    SHMBUS_RETHROWABLE(std::logic_error),
    SHMBUS_RETHROWABLE(std::invalid_argument),
    SHMBUS_RETHROWABLE(std::domain_error),
    SHMBUS_RETHROWABLE(std::length_error),
    SHMBUS_RETHROWABLE(std::out_of_range),
    SHMBUS_RETHROWABLE(std::runtime_error),
    SHMBUS_RETHROWABLE(std::range_error),
    SHMBUS_RETHROWABLE(std::overflow_error),
    SHMBUS_RETHROWABLE(std::underflow_error),
    SHMBUS_RETHROWABLE(std::bad_alloc),
    SHMBUS_RETHROWABLE(shmbus::Error),
    SHMBUS_RETHROWABLE(shmbus::Full),
    SHMBUS_RETHROWABLE(shmbus::Empty),
    SHMBUS_RETHROWABLE(shmbus::Timeout),
    SHMBUS_RETHROWABLE(shmbus::EndOfStream),
    SHMBUS_RETHROWABLE(shmbus::MessageTooLarge),
    SHMBUS_RETHROWABLE(shmbus::CorruptSegment),
    SHMBUS_RETHROWABLE(shmbus::InvalidName),
    SHMBUS_RETHROWABLE(shmbus::PermissionDenied),
    SHMBUS_RETHROWABLE(shmbus::RemoteError),
    SHMBUS_RETHROWABLE(shmbus::WorkerLost),
    SHMBUS_RETHROWABLE(shmbus::Closed),
    SHMBUS_RETHROWABLE(shmbus::ShutDown),
    SHMBUS_RETHROWABLE(shmbus::NotFound),
    SHMBUS_RETHROWABLE(shmbus::AlreadyExists),
    SHMBUS_RETHROWABLE(shmbus::KindMismatch),
    SHMBUS_RETHROWABLE(shmbus::UsageError),
    SHMBUS_RETHROWABLE(shmbus::OutOfSpace),
    SHMBUS_RETHROWABLE(shmbus::OutOfRange),
    SHMBUS_RETHROWABLE(shmbus::IndexError),
    SHMBUS_RETHROWABLE(shmbus::KeyError),
    SHMBUS_RETHROWABLE(shmbus::BrokenBarrier),
    SHMBUS_RETHROWABLE(shmbus::DecodeError),
    SHMBUS_RETHROWABLE(shmbus::SystemError),
    SHMBUS_RETHROWABLE(shmbus::MaybeEncodingError),
};

#undef SHMBUS_RETHROWABLE

} // namespace

int rethrowable_type(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kRethrowable.size(); ++i)
        if (kRethrowable[i].first == name)
            return static_cast<int>(i);
    return -1;
}

void throw_rethrowable(int type, const std::string& what) {
    kRethrowable.at(static_cast<std::size_t>(type)).second(what);
    throw Error(what); // not reached: every thrower throws
}

std::exception_ptr task_exception(const std::string& type, const std::string& what) {
    const int known = rethrowable_type(type);
    try {
        if (known >= 0)
            throw_rethrowable(known, what);
        throw RemoteError(what.empty() ? type : type + ": " + what);
    } catch (...) {
        return std::current_exception();
    }
}

void throw_encoding_error(const char* kind, const std::string& what, const std::type_info& type) {
    std::string reason;
    try {
        throw;
    } catch (const std::exception& e) {
        reason = boost::core::demangle(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        reason = "a non-standard exception";
    }
    throw MaybeEncodingError(std::string("Error sending ") + kind + ": '" + what + " (a " +
                             boost::core::demangle(type.name()) + ")'. Reason: '" + reason + "'");
}

TaskError::TaskError(const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        m_type = kOther;
        try {
            const int known = rethrowable_type(boost::core::demangle(typeid(e).name()));
            m_type = known >= 0 ? known : kOther;
            m_what = e.what();
        } catch (...) { // out of memory: keep what is known
        }
    } catch (...) {
        m_type = kOther;
    }
}

void TaskError::raise() const {
    if (m_type >= 0)
        throw_rethrowable(m_type, m_what);
    throw Error(m_what.empty() ? "a pool task failed" : m_what);
}

} // namespace shmbus::detail

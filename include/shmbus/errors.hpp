// SPDX-License-Identifier: Apache-2.0
/// @file
/// The one exception hierarchy of shmbus. Every error the library raises derives from
/// shmbus::Error, itself a std::runtime_error; the names follow Python's multiprocessing
/// where Python has one (Full, Empty, EOFError -> EndOfStream, BrokenBarrierError ->
/// BrokenBarrier).
#pragma once

#include "shmbus/export.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmbus {

/// The base of every error shmbus raises; what() says what failed and why.
class SHMBUS_EXPORT Error : public std::runtime_error {
public:
    /// Takes the what() message, as std::runtime_error.
    using std::runtime_error::runtime_error;
};

/// Defines the error class `Name` derived from `Base`, with Base's constructors. Undefined
/// at the end of this header.
#define SHMBUS_DEFINE_ERROR(Name, Base)                                                            \
    class SHMBUS_EXPORT Name : public Base {                                                       \
    public:                                                                                        \
        using Base::Base;                                                                          \
    }

/// put_nowait on a full queue.
SHMBUS_DEFINE_ERROR(Full, Error);
/// get_nowait on an empty queue.
SHMBUS_DEFINE_ERROR(Empty, Error);
/// A blocking call with a time limit ran out of time.
SHMBUS_DEFINE_ERROR(Timeout, Error);
/// recv on a drained connection whose peer closed (Python's EOFError).
SHMBUS_DEFINE_ERROR(EndOfStream, Error);
/// A message larger than the limit fixed when the queue or pipe was created.
SHMBUS_DEFINE_ERROR(MessageTooLarge, Error);
/// A segment or an object in it fails validation: foreign file, wrong version, bad offsets.
SHMBUS_DEFINE_ERROR(CorruptSegment, Error);
/// A segment or object name outside [A-Za-z0-9._-] or too long.
SHMBUS_DEFINE_ERROR(InvalidName, Error);
/// The operating system refused access (mode, owner).
SHMBUS_DEFINE_ERROR(PermissionDenied, Error);
/// An exception raised in another process (a Pool worker); what() names its type and message.
SHMBUS_DEFINE_ERROR(RemoteError, Error);
/// A worker process died while it ran a task.
SHMBUS_DEFINE_ERROR(WorkerLost, Error);
/// An operation on a closed queue, connection or pool.
SHMBUS_DEFINE_ERROR(Closed, Error);
/// A put on a queue that was shut down, or a get on one shut down and drained (Python 3.13's
/// queue.ShutDown). A Closed, so that code written for close() catches it too.
SHMBUS_DEFINE_ERROR(ShutDown, Closed);
/// A named segment or object that does not exist.
SHMBUS_DEFINE_ERROR(NotFound, Error);
/// create() of a segment or object whose name is taken.
SHMBUS_DEFINE_ERROR(AlreadyExists, Error);
/// An object opened as a kind it is not (a Queue opened as a Lock), or with another type or size.
SHMBUS_DEFINE_ERROR(KindMismatch, Error);
/// A call the object's state forbids: releasing an unheld lock, over-releasing a
/// BoundedSemaphore, starting a Process twice (Python's ValueError/RuntimeError/AssertionError).
SHMBUS_DEFINE_ERROR(UsageError, Error);
/// A segment has no room left for another object or process.
SHMBUS_DEFINE_ERROR(OutOfSpace, Error);
/// An index outside an Array.
SHMBUS_DEFINE_ERROR(OutOfRange, Error);
/// An index outside a Manager List, or pop from an empty one (Python's IndexError).
SHMBUS_DEFINE_ERROR(IndexError, OutOfRange);
/// A key missing from a Manager Dict (Python's KeyError).
SHMBUS_DEFINE_ERROR(KeyError, Error);
/// A Barrier that was aborted, reset, or timed out while a party waited.
SHMBUS_DEFINE_ERROR(BrokenBarrier, Error);
/// A message that does not decode as the type asked for (truncated, wrong type, bad length).
SHMBUS_DEFINE_ERROR(DecodeError, Error);
/// An operating-system call failed for a reason none of the above names.
SHMBUS_DEFINE_ERROR(SystemError, Error);
/// A Pool task's arguments or result that could not be encoded (Python's MaybeEncodingError):
/// what() names the value's type, its task and the reason. The worker goes on.
SHMBUS_DEFINE_ERROR(MaybeEncodingError, Error);

#undef SHMBUS_DEFINE_ERROR

/// A Topic subscriber fell behind under SlowSubscriber::overwrite: missed() messages were
/// overwritten before it read them. The subscriber has moved on to the oldest message still
/// retained, which its next recv returns.
class SHMBUS_EXPORT Lagged : public Error {
public:
    /// Carries the number of messages lost.
    explicit Lagged(std::uint64_t missed)
        : Error("subscriber lagged: " + std::to_string(missed) +
                " messages were overwritten before it read them"),
          m_missed(missed) {}
    /// Messages lost since the previous recv.
    std::uint64_t missed() const noexcept { return m_missed; }

private:
    std::uint64_t m_missed;
};

/// Connection::recv_bytes_into with a buffer shorter than the message (Python's
/// BufferTooShort): the message was consumed, and message() holds all of it. A MessageTooLarge,
/// so that code written for the earlier behaviour still catches it.
class SHMBUS_EXPORT BufferTooShort : public MessageTooLarge {
public:
    /// Carries the whole message, which did not fit in a buffer of `buffer_size` bytes.
    BufferTooShort(std::vector<std::byte> message, std::size_t buffer_size)
        : MessageTooLarge("a message of " + std::to_string(message.size()) +
                          " bytes does not fit in a buffer of " + std::to_string(buffer_size) +
                          "; it was consumed and travels in the exception"),
          m_message(std::make_shared<const std::vector<std::byte>>(std::move(message))) {}
    /// The whole message (Python's e.args[0]).
    const std::vector<std::byte>& message() const noexcept { return *m_message; }

private:
    // Shared, so that copying the exception cannot throw.
    std::shared_ptr<const std::vector<std::byte>> m_message;
};

/// Thrown by shmbus::exit() to end a Process's target with an exit code, like Python's
/// sys.exit(). Deliberately not an Error, so that `catch (const shmbus::Error&)` lets it pass.
class SHMBUS_EXPORT SystemExit {
public:
    /// Carries `code`, the exit status the Process ends with.
    explicit SystemExit(int code) : m_code(code) {}
    /// Carries `message`, which the Process writes to stderr (with a newline) before it ends
    /// with exit status 1, as sys.exit("text") does.
    explicit SystemExit(std::string message) : m_code(1), m_message(std::move(message)) {}
    /// The exit status.
    int code() const noexcept { return m_code; }
    /// The message given to exit(message); nullopt for exit(code).
    const std::optional<std::string>& message() const noexcept { return m_message; }

private:
    int m_code;
    std::optional<std::string> m_message;
};

/// Ends the calling Process's target with exit code `code` (see SystemExit).
[[noreturn]] inline void exit(int code) {
    throw SystemExit(code);
}

/// Ends the calling Process's target with exit code 1 after writing `message` and a newline to
/// stderr (Python's sys.exit("text"); see SystemExit).
[[noreturn]] inline void exit(std::string message) {
    throw SystemExit(std::move(message));
}

} // namespace shmbus

// SPDX-License-Identifier: Apache-2.0
/// @file
/// The one exception hierarchy of shmbus. Every error the library raises derives from
/// shmbus::Error, itself a std::runtime_error; the names follow Python's multiprocessing
/// where Python has one (Full, Empty, EOFError -> EndOfStream, BrokenBarrierError ->
/// BrokenBarrier).
#pragma once

#include "shmbus/export.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

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

/// Thrown by shmbus::exit() to end a Process's target with an exit code, like Python's
/// sys.exit(). Deliberately not an Error, so that `catch (const shmbus::Error&)` lets it pass.
class SHMBUS_EXPORT SystemExit {
public:
    /// Carries `code`, the exit status the Process ends with.
    explicit SystemExit(int code) : m_code(code) {}
    /// The exit status.
    int code() const noexcept { return m_code; }

private:
    int m_code;
};

/// Ends the calling Process's target with exit code `code` (see SystemExit).
[[noreturn]] inline void exit(int code) {
    throw SystemExit(code);
}

} // namespace shmbus

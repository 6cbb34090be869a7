// SPDX-License-Identifier: Apache-2.0
// The C++ types behind the Python module's queues, for the parts that take them (messaging.cpp
// binds them, multi_wait.cpp waits on them).
#pragma once

#include <shmbus/joinable_queue.hpp>
#include <shmbus/msgpack_codec.hpp>
#include <shmbus/queue.hpp>

namespace shmbus::python {

using PyQueue = Queue<MsgpackBytes, MsgpackCodec>;
using PyJoinableQueue = JoinableQueue<MsgpackBytes, MsgpackCodec>;
/// SimpleQueue<T, MsgpackCodec> opens the same object as Queue; a Queue handle serves it.
struct PySimpleQueue {
    PyQueue queue;
};

} // namespace shmbus::python

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Everything shmbus offers: Python's multiprocessing for C++ over shared memory.
#pragma once

/// @namespace shmbus
/// Python's multiprocessing for C++: every public name of the library. Objects live in named
/// POSIX shared-memory segments (Segment) and are shared by every process that maps one.

#include "shmbus/codec.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/joinable_queue.hpp"
#include "shmbus/manager.hpp"
#include "shmbus/multi_wait.hpp"
#include "shmbus/namespace.hpp"
#include "shmbus/object_kind.hpp"
#include "shmbus/pipe.hpp"
#include "shmbus/pool.hpp"
#include "shmbus/process.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/shared.hpp"
#include "shmbus/sync.hpp"
#include "shmbus/topic.hpp"
#include "shmbus/topic_loan.hpp"
#include "shmbus/version.hpp"
#include "shmbus/wait.hpp"

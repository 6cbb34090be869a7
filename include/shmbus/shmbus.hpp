// SPDX-License-Identifier: Apache-2.0
// Everything shmbus offers: Python's multiprocessing for C++ over shared memory.
#pragma once

#include "shmbus/codec.hpp"
#include "shmbus/errors.hpp"
#include "shmbus/joinable_queue.hpp"
#include "shmbus/manager.hpp"
#include "shmbus/pipe.hpp"
#include "shmbus/pool.hpp"
#include "shmbus/process.hpp"
#include "shmbus/queue.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/shared.hpp"
#include "shmbus/sync.hpp"
#include "shmbus/version.hpp"
#include "shmbus/wait.hpp"

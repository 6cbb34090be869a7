// SPDX-License-Identifier: Apache-2.0
/// @file
/// The synchronisation primitives of Python's multiprocessing: Lock, RLock, Semaphore,
/// BoundedSemaphore, Event, Condition and Barrier.
#pragma once

#include "shmbus/barrier.hpp"
#include "shmbus/condition.hpp"
#include "shmbus/event.hpp"
#include "shmbus/lock.hpp"
#include "shmbus/semaphore.hpp"

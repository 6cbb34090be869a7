// Everything shmbus offers: Python's multiprocessing for C++ over shared memory.
#pragma once

#include "shmbus/errors.hpp"
#include "shmbus/process.hpp"
#include "shmbus/segment.hpp"
#include "shmbus/shared.hpp"
#include "shmbus/sync.hpp"
#include "shmbus/wait.hpp"

// SPDX-License-Identifier: Apache-2.0
/// @file
/// Shared data: Value and Array (Python's multiprocessing.Value / Array).
#pragma once

#include "shmbus/array.hpp"
#include "shmbus/value.hpp"

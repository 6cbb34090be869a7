// SPDX-License-Identifier: Apache-2.0
/// @file
/// SHMBUS_EXPORT marks what libshmbus.so exports. The library is compiled with
/// -fvisibility=hidden, so only these classes and functions (the ones the headers' inline and
/// template code calls) are visible to programs; everything else stays internal.
#pragma once

/// Marks a class or function that libshmbus.so exports (default visibility).
#if defined(__GNUC__) || defined(__clang__)
#define SHMBUS_EXPORT __attribute__((visibility("default")))
#else
#define SHMBUS_EXPORT
#endif

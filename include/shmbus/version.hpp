// SPDX-License-Identifier: Apache-2.0
/// @file
/// The version of this shmbus (semantic versioning; CMakeLists.txt checks that it matches the
/// project version) and the version of the shared-memory segment layout it reads and writes.
/// Processes built with different layout versions cannot open each other's segments.
#pragma once

/// Major version: raised by changes that break the API.
#define SHMBUS_VERSION_MAJOR 0
/// Minor version: raised by compatible additions.
#define SHMBUS_VERSION_MINOR 1
/// Patch version: raised by fixes.
#define SHMBUS_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH".
#define SHMBUS_VERSION_STRING "0.1.0"

/// The segment layout version: raised whenever a segment's bytes change meaning. A segment
/// written with another layout version does not open (CorruptSegment).
// Equal to shmbus::detail::kLayoutVersion (core/segment/layout.hpp; a static_assert holds them
// together).
#define SHMBUS_LAYOUT_VERSION 2

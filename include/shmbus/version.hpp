// SPDX-License-Identifier: Apache-2.0
// The version of this shmbus (semantic versioning; CMakeLists.txt checks that it matches the
// project version) and the version of the shared-memory segment layout it reads and writes.
// Processes built with different layout versions cannot open each other's segments.
#pragma once

#define SHMBUS_VERSION_MAJOR 0
#define SHMBUS_VERSION_MINOR 1
#define SHMBUS_VERSION_PATCH 0
#define SHMBUS_VERSION_STRING "0.1.0"

// Equal to shmbus::detail::kLayoutVersion (core/segment/layout.hpp; a static_assert holds them
// together): bumped whenever a segment's bytes change meaning.
#define SHMBUS_LAYOUT_VERSION 2

// SPDX-License-Identifier: Apache-2.0
// The file behind a segment: opening, checking and mapping it, creating it, and removing it
// when nobody uses it (os/presence.hpp tells who does). Segment's public functions and the
// default segment are built from these.
#pragma once

#include "segment/mapping.hpp"
#include "shmbus/detail/deadline.hpp"
#include "shmbus/segment.hpp"

#include <boost/interprocess/shared_memory_object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::detail {

/// Turns a Boost.Interprocess error about segment `name` into the shmbus::Error it means.
[[noreturn]] void rethrow_os_error(const boost::interprocess::interprocess_exception& e,
                                   std::string_view name);

/// Opens the existing file `name` read-write; a symlink is CorruptSegment.
boost::interprocess::shared_memory_object open_object(std::string_view name);

/// True when the file holds a segment of this layout (else it is foreign, corrupt or of
/// another version, and nobody can tell whether it is in use).
bool holds_this_layout(int fd);

enum class Removal { removed, in_use, replaced, undecidable };

/// Removes `name` when the file open on `fd` is still its file and nobody uses it.
Removal remove_if_unused(int fd, std::string_view name);

/// Maps an opened segment once its creator has made it ready and its header checks out; the
/// mapping observes until attached. CorruptSegment when it never does.
std::shared_ptr<Mapping> map_opened(boost::interprocess::shared_memory_object& shm,
                                    std::string_view name, Deadline ready_by);

/// Joins an opened segment. False when it was removed meanwhile (a remover held it, or the
/// name now names another file): the caller opens the name again.
bool attach_if_current(Mapping& mapping, std::string_view name);

/// One attempt at Segment::create (size already checked and rounded): nullopt when a remover
/// took the new file before this process was present in it; create again.
std::optional<Segment> try_create(std::string_view name, std::size_t size, unsigned mode);

/// The segments a process tree makes for itself are named "shmbus.<role>.<pid>.<n>": the
/// default segment (role "default", n the process's start time) and each Pool's (role "pool",
/// n a counter). A tree removes its own at exit, and the next tree to start removes those of
/// dead trees.
inline constexpr std::string_view kDefaultSegmentRole = "default";
inline constexpr std::string_view kPoolSegmentRole = "pool";
std::string tree_segment_name(std::string_view role, std::uint64_t n);
bool names_a_tree_segment(std::string_view name);

} // namespace shmbus::detail

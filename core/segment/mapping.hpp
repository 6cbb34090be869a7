// SPDX-License-Identifier: Apache-2.0
// One process's mapping of a segment, shared by every Segment handle and object view made
// from it. It marks this process present in the segment (os/presence.hpp), registers it in
// the attached-process table, and lets both go when the last handle goes (or when a shmbus
// Process child ends). The kernel lets them go when the process dies.
#pragma once

#include "os/presence.hpp"
#include "segment/layout.hpp"
#include "shmbus/segment.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace shmbus::detail {

class Mapping {
public:
    /// `file`: a descriptor of the segment's file, kept for its locks. A new mapping observes
    /// only (as the CLI must, not to keep a stale segment looking alive) until
    /// attach_this_process().
    Mapping(std::string name, boost::interprocess::mapped_region region, FileHandle file,
            bool created);
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    const std::string& name() const { return m_name; }
    SegmentHeader& header() const { return *static_cast<SegmentHeader*>(m_region.get_address()); }
    char* base() const { return static_cast<char*>(m_region.get_address()); }
    std::size_t size() const { return m_region.get_size(); }
    /// True in the process that created the segment (not in its forked children).
    bool created_by_this_process() const;

    /// Marks this process present and puts it in the attached-process table (no-op when
    /// already there); from then on forked children do the same. False, and nothing taken,
    /// when a remover holds the segment.
    bool attach_this_process();
    /// In a forked child: joins the table if the parent had.
    void reattach_after_fork() noexcept;
    /// Takes this process's slot and presence back.
    void detach_this_process();

    /// The descriptor that holds this process's locks on the segment's file.
    int file() const { return m_file.get(); }
    /// Reserves the bytes of a new object (OutOfSpace when /dev/shm is full).
    void reserve(std::uint64_t offset, std::uint64_t size) const {
        reserve_bytes(m_file.get(), offset, size, m_name);
    }
    /// Who uses the segment, seen through a description that holds no lock.
    Presence presence() const { return presence_of(m_probe.get()); }
    /// True while the process recorded in slot `index` holds it.
    bool slot_alive(std::uint32_t index) const { return slot_held(m_probe.get(), index); }
    /// True when a live attached process runs in another PID namespace than this one.
    bool foreign_pid_namespace_attached() const;

private:
    std::string m_name;
    boost::interprocess::mapped_region m_region;
    FileHandle m_file;  ///< holds this process's locks
    FileHandle m_probe; ///< holds none: sees everyone's
    std::int32_t m_creator_pid;
    bool m_attached;
    std::int32_t m_present_pid = 0; ///< the process whose presence m_file holds, 0 for none
    std::optional<std::uint32_t> m_slot;
};

/// Detaches this process from every segment it maps; called by a Process child before _exit.
void detach_all_mappings();

/// Registers the mapping registry's fork handlers now. A mutex held while mappings are made
/// (the default segment's) registers its own handlers after these, so that a fork takes it
/// first, in the order the threads that make mappings take both.
void register_mapping_fork_handlers();

/// Removes the default segment when this process created it (the root of its process tree):
/// run at exit, and by a Process child that made one before it _exits.
void remove_default_segment_if_created_here() noexcept;

/// The library's way to a Segment's mapping (Segment keeps it out of its public interface).
struct SegmentAccess {
    static Mapping& mapping(const Segment& segment) { return *segment.m_mapping; }
    static Segment make(std::shared_ptr<Mapping> mapping) { return Segment(std::move(mapping)); }
};

/// The mapping behind a Segment handle.
inline Mapping& mapping_of(const Segment& segment) {
    return SegmentAccess::mapping(segment);
}

} // namespace shmbus::detail

// One process's mapping of a segment, shared by every Segment handle and object view made
// from it. It registers this process in the segment's attached-process table and takes the
// slot back when the last handle goes (or when a shmbus Process child ends).
#pragma once

#include "detail/layout.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <cstdint>
#include <string>

namespace shmbus::detail {

class Mapping {
public:
    /// `attach`: join the attached-process table now and in forked children; false for
    /// observers (the CLI) that must not keep a stale segment looking alive.
    Mapping(std::string name, boost::interprocess::mapped_region region, bool created, bool attach);
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    const std::string& name() const { return m_name; }
    SegmentHeader& header() const { return *static_cast<SegmentHeader*>(m_region.get_address()); }
    char* base() const { return static_cast<char*>(m_region.get_address()); }
    std::size_t size() const { return m_region.get_size(); }
    /// True in the process that created the segment (not in its forked children).
    bool created_by_this_process() const;

    /// Puts this process in the attached-process table (no-op when already there); from then
    /// on forked children join it too.
    void attach_this_process();
    /// In a forked child: joins the table if the parent had.
    void reattach_after_fork();
    /// Takes this process's slot back.
    void detach_this_process();

private:
    std::string m_name;
    boost::interprocess::mapped_region m_region;
    std::int32_t m_creator_pid;
    bool m_attached;
    ProcessSlot* m_slot = nullptr;
    std::int32_t m_slot_pid = 0;
};

/// Detaches this process from every segment it maps; called by a Process child before _exit.
void detach_all_mappings();

/// Removes the default segment when this process created it (the root of its process tree):
/// run at exit, and by a Process child that made one before it _exits.
void remove_default_segment_if_created_here() noexcept;

} // namespace shmbus::detail

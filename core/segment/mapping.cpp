// SPDX-License-Identifier: Apache-2.0
#include "segment/mapping.hpp"

#include "os/fork_safe_registry.hpp"
#include "os/liveness.hpp"

#include <algorithm>
#include <memory>

namespace shmbus::detail {
namespace {

// Every live mapping of this process, so that a forked child can register itself in each
// segment it inherited, and a Process child can detach before _exit.
using MappingRegistry = ForkSafeRegistry<Mapping>;

MappingRegistry& mappings() {
    static MappingRegistry& registry = []() -> MappingRegistry& {
        self_identity(); // its fork handler must run before ours, which reads it
        MappingRegistry& made = MappingRegistry::instance([](MappingRegistry& in_child) {
            in_child.for_each([](Mapping& m) { m.reattach_after_fork(); });
        });
        set_foreign_pid_namespace_probe([] {
            bool found = false;
            mappings().for_each(
                [&](const Mapping& m) { found = found || m.foreign_pid_namespace_attached(); });
            return found;
        });
        return made;
    }();
    return registry;
}

} // namespace

Mapping::Mapping(std::string name, boost::interprocess::mapped_region region, FileHandle file,
                 bool created)
    : m_name(std::move(name)), m_region(std::move(region)), m_file(std::move(file)),
      m_probe(m_file.reopen()), m_creator_pid(created ? self_identity().pid : 0),
      m_attached(false) {
    mappings().add(this);
}

Mapping::~Mapping() {
    mappings().remove(this);
    detach_this_process();
}

bool Mapping::created_by_this_process() const {
    return m_creator_pid == self_identity().pid;
}

void Mapping::reattach_after_fork() noexcept {
    if (!m_attached)
        return;
    // The inherited descriptor shares the parent's locks: the child needs its own, and must
    // not keep the parent's slot looking alive after the parent dies.
    try {
        m_file = m_file.reopen();
        m_present_pid = 0;
        m_slot.reset();
        attach_this_process();
    } catch (const std::exception&) {
        // Out of descriptors: the child keeps sharing the parent's description, so the
        // segment still counts as live while either runs; it is only not listed.
    }
}

bool Mapping::attach_this_process() {
    const ProcessIdentity& self = self_identity();
    if (m_present_pid == self.pid)
        return true;
    if (!lock_presence(m_file.get()))
        return false;
    m_attached = true;
    m_present_pid = self.pid;
    ProcessSlot* table = process_table(header());
    for (std::uint32_t i = 0; i < kMaxProcesses; ++i) {
        if (!lock_slot(m_file.get(), i))
            continue;
        // relaxed is enough: the slot's file lock, not these fields, says who holds it; readers
        // take them as a description of a holder they found alive by its lock.
        table[i].pid.store(self.pid, std::memory_order_relaxed);
        table[i].start_time.store(self.start_time, std::memory_order_relaxed);
        table[i].pid_namespace.store(this_pid_namespace(), std::memory_order_relaxed);
        m_slot = i;
        break;
    }
    // A table full of live processes leaves this one without a slot: it is still present (the
    // segment stays live), only not listed.
    return true;
}

void Mapping::detach_this_process() {
    if (m_present_pid != self_identity().pid)
        return;
    if (m_slot) {
        // relaxed is enough: the unlock below, not this store, frees the slot.
        process_table(header())[*m_slot].pid.store(0, std::memory_order_relaxed);
        unlock_slot(m_file.get(), *m_slot);
        m_slot.reset();
    }
    unlock_presence(m_file.get());
    m_present_pid = 0;
}

bool Mapping::foreign_pid_namespace_attached() const {
    const std::uint64_t mine = this_pid_namespace();
    const ProcessSlot* table = process_table(header());
    for (std::uint32_t i = 0; i < kMaxProcesses; ++i) {
        // relaxed is enough: a hint confirmed by the slot's lock below.
        const std::uint64_t ns = table[i].pid_namespace.load(std::memory_order_relaxed);
        if (ns != 0 && ns != mine && slot_alive(i))
            return true;
    }
    return false;
}

void register_mapping_fork_handlers() {
    mappings();
}

void detach_all_mappings() {
    mappings().for_each([](Mapping& m) { m.detach_this_process(); });
}

} // namespace shmbus::detail

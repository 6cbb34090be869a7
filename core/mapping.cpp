#include "detail/mapping.hpp"

#include "detail/liveness.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace shmbus::detail {
namespace {

// Every live mapping of this process, so that a forked child can register itself in each
// segment it inherited, and a Process child can detach before _exit.
class MappingRegistry {
public:
    static MappingRegistry& instance() {
        static MappingRegistry* registry = new MappingRegistry; // never destroyed: used at exit
        return *registry;
    }
    void add(Mapping* mapping) {
        std::lock_guard lock(m_mutex);
        m_mappings.push_back(mapping);
    }
    void remove(Mapping* mapping) {
        std::lock_guard lock(m_mutex);
        std::erase(m_mappings, mapping);
    }
    template <class Fn>
    void for_each(Fn fn) {
        std::lock_guard lock(m_mutex);
        for (Mapping* mapping : m_mappings)
            fn(*mapping);
    }

private:
    MappingRegistry() {
        self_identity(); // its fork handler must run before ours, which reads it
        pthread_atfork([] { instance().m_mutex.lock(); }, [] { instance().m_mutex.unlock(); },
                       [] {
                           instance().m_mutex.unlock();
                           instance().for_each([](Mapping& m) { m.reattach_after_fork(); });
                       });
    }
    std::mutex m_mutex;
    std::vector<Mapping*> m_mappings;
};

} // namespace

Mapping::Mapping(std::string name, boost::interprocess::mapped_region region, bool created,
                 bool attach)
    : m_name(std::move(name)), m_region(std::move(region)),
      m_creator_pid(created ? self_identity().pid : 0), m_attached(false) {
    if (attach)
        attach_this_process();
    MappingRegistry::instance().add(this);
}

Mapping::~Mapping() {
    MappingRegistry::instance().remove(this);
    detach_this_process();
}

bool Mapping::created_by_this_process() const {
    return m_creator_pid == self_identity().pid;
}

void Mapping::reattach_after_fork() {
    if (m_attached)
        attach_this_process();
}

void Mapping::attach_this_process() {
    m_attached = true;
    const ProcessIdentity& self = self_identity();
    if (m_slot != nullptr && m_slot_pid == self.pid)
        return;
    m_slot = nullptr;
    ProcessSlot* table = process_table(header());
    // Two passes: a free slot first, then one whose process is dead (reclaimed).
    for (int pass = 0; pass < 2 && m_slot == nullptr; ++pass) {
        for (std::uint32_t i = 0; i < kMaxProcesses; ++i) {
            ProcessSlot& slot = table[i];
            // relaxed is enough: the CAS below decides, this load only picks candidates.
            std::int32_t seen = slot.pid.load(std::memory_order_relaxed);
            if (pass == 0 ? seen != 0
                          : seen == 0 || process_alive(
                                             seen, slot.start_time.load(std::memory_order_relaxed)))
                continue;
            // acq_rel: claims the slot; pairs with the release in detach_this_process.
            if (slot.pid.compare_exchange_strong(seen, self.pid, std::memory_order_acq_rel)) {
                // relaxed is enough: readers tolerate a start time of 0 (pid-only check).
                slot.start_time.store(self.start_time, std::memory_order_relaxed);
                m_slot = &slot;
                break;
            }
        }
    }
    // A full table of live processes leaves this one unregistered: it still works, only stale
    // detection cannot see it.
    m_slot_pid = self.pid;
}

void Mapping::detach_this_process() {
    if (m_slot == nullptr || m_slot_pid != self_identity().pid)
        return;
    std::int32_t mine = m_slot_pid;
    // relaxed is enough: nothing is published with the slot being freed.
    m_slot->start_time.store(0, std::memory_order_relaxed);
    // SYNC release: pairs with the acq_rel claim in attach_this_process.
    m_slot->pid.compare_exchange_strong(mine, 0, std::memory_order_release);
    m_slot = nullptr;
}

void detach_all_mappings() {
    MappingRegistry::instance().for_each([](Mapping& m) { m.detach_this_process(); });
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// A process-wide list of live objects (the mappings of this process, its Process children)
// that stays usable across fork(): its mutex is taken before fork() and released on both sides,
// so a child never inherits it locked by a thread that did not follow, and the child then
// adjusts its copy of the list.
#pragma once

#include <algorithm>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace shmbus::detail {

template <class T>
class ForkSafeRegistry {
public:
    /// The one registry for T, never destroyed (it is used at exit). `in_child` runs in the
    /// child of every fork, after the registry's mutex is released there.
    static ForkSafeRegistry& instance(void (*in_child)(ForkSafeRegistry&)) {
        static ForkSafeRegistry* registry = new ForkSafeRegistry(in_child);
        return *registry;
    }

    void add(T* item) {
        std::lock_guard lock(m_mutex);
        m_items.push_back(item);
    }
    void remove(T* item) {
        std::lock_guard lock(m_mutex);
        std::erase(m_items, item);
    }
    template <class Fn>
    void for_each(Fn fn) {
        std::lock_guard lock(m_mutex);
        for (T* item : m_items)
            fn(*item);
    }
    void clear() {
        std::lock_guard lock(m_mutex);
        m_items.clear();
    }

private:
    explicit ForkSafeRegistry(void (*in_child)(ForkSafeRegistry&)) {
        s_registry = this;
        s_in_child = in_child;
        pthread_atfork([] { s_registry->m_mutex.lock(); }, [] { s_registry->m_mutex.unlock(); },
                       [] {
                           s_registry->m_mutex.unlock();
                           s_in_child(*s_registry);
                       });
    }

    static inline ForkSafeRegistry* s_registry = nullptr;
    static inline void (*s_in_child)(ForkSafeRegistry&) = nullptr;
    std::mutex m_mutex;
    std::vector<T*> m_items;
};

} // namespace shmbus::detail

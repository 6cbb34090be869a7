// SPDX-License-Identifier: Apache-2.0
// Port of the seed's shared counter: 4 processes each add 1 to a shared Value 1000 times.
// A plain load-then-store loses updates when processes interleave; fetch_add and a compound
// update under get_lock() both give exactly 4000.
#include <iostream>
#include <mutex>
#include <shmbus/process.hpp>
#include <shmbus/shared.hpp>
#include <vector>

namespace {

constexpr int kProcesses = 4;
constexpr int kIncrements = 1000;

} // namespace

int main() {
    shmbus::Value<int> racy(0);
    shmbus::Value<int> atomic(0);
    shmbus::Value<int> locked(0);
    std::vector<std::unique_ptr<shmbus::Process>> workers;
    for (int i = 0; i < kProcesses; ++i) {
        workers.push_back(std::make_unique<shmbus::Process>([&] {
            for (int n = 0; n < kIncrements; ++n) {
                racy.store(racy.load() + 1); // like Python's `v.value += 1` without the lock
                atomic.fetch_add(1);
                std::lock_guard guard(locked.get_lock());
                locked.store(locked.load() + 1);
            }
        }));
        workers.back()->start();
    }
    for (auto& worker : workers)
        worker->join();
    std::cout << "racy load+store:   " << racy.load() << " (may be below "
              << kProcesses * kIncrements << ")\n";
    std::cout << "fetch_add:         " << atomic.load() << "\n";
    std::cout << "under get_lock():  " << locked.load() << "\n";
    return atomic.load() == kProcesses * kIncrements && locked.load() == kProcesses * kIncrements
               ? 0
               : 1;
}

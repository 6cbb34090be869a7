// SPDX-License-Identifier: Apache-2.0
// Port of the seed's Manager dict: 10 processes each do d["num"] -= 10 on a shared dict that
// starts at 100. Python's `d['num'] -= 10` is a get then a set, two round trips that other
// processes may interleave with; Dict::update does the read-modify-write under the Dict's lock,
// so it always ends at 0. The List shows the other container: each process appends its index.
#include <algorithm>
#include <iostream>
#include <memory>
#include <shmbus/manager.hpp>
#include <shmbus/process.hpp>
#include <vector>

namespace {

constexpr int kProcesses = 10;

} // namespace

int main() {
    shmbus::Manager manager;
    auto racy = manager.dict<int>();
    auto d = manager.dict<int>();
    auto l = manager.list<int>();
    racy.set("num", 100);
    d.set("num", 100);
    std::vector<std::unique_ptr<shmbus::Process>> workers;
    for (int i = 0; i < kProcesses; ++i) {
        workers.push_back(std::make_unique<shmbus::Process>([&, i] {
            racy.set("num", racy.get("num") - 10); // like Python's d['num'] -= 10
            d.update("num", [](int& num) { num -= 10; });
            l.append(i);
        }));
        workers.back()->start();
    }
    for (auto& worker : workers)
        worker->join();
    std::vector<int> appended = l.to_vector();
    std::sort(appended.begin(), appended.end());
    std::cout << "get then set: " << racy.get("num") << " (may be above 0)\n";
    std::cout << "update:       " << d.get("num") << "\n";
    std::cout << "list:";
    for (int value : appended)
        std::cout << ' ' << value;
    std::cout << "\n";
    return d.get("num") == 0 && appended.size() == kProcesses ? 0 : 1;
}

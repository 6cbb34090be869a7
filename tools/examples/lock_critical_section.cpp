// SPDX-License-Identifier: Apache-2.0
// Three processes visit a critical section guarded by one Lock: every "entering" line is
// followed by the same process's "leaving" line, never by another process's lines.
#include <chrono>
#include <iostream>
#include <list>
#include <mutex>
#include <shmbus/lock.hpp>
#include <shmbus/process.hpp>
#include <shmbus/value.hpp>
#include <string>
#include <thread>

namespace {

constexpr int kProcesses = 3;
constexpr int kVisits = 3;

void say(const std::string& line) {
    std::cout << line + "\n" << std::flush;
}

void visit(shmbus::Lock lock, shmbus::Value<int> inside, shmbus::Value<int> overlaps) {
    const std::string name = shmbus::current_process().name;
    for (int i = 0; i < kVisits; ++i) {
        std::lock_guard guard(lock);
        if (inside.fetch_add(1) != 0)
            overlaps.fetch_add(1);
        say(name + " entering");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        say(name + " leaving");
        inside.fetch_sub(1);
    }
}

} // namespace

int main() {
    shmbus::Lock lock;
    shmbus::Value<int> inside(0);
    shmbus::Value<int> overlaps(0);
    std::list<shmbus::Process> processes;
    for (int i = 0; i < kProcesses; ++i)
        processes.emplace_back(visit, lock, inside, overlaps).start();
    bool ok = true;
    for (shmbus::Process& process : processes) {
        process.join();
        ok = ok && process.exitcode() == 0;
    }
    say(std::to_string(kProcesses * kVisits) + " visits, " + std::to_string(overlaps.load()) +
        " overlapping");
    return ok && overlaps.load() == 0 ? 0 : 1;
}

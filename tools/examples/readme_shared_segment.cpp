// SPDX-License-Identifier: Apache-2.0
// The README's "one segment for a Queue, a Dict and a List", kept compiling and checked by ctest.
// With their default options the three take about 7.6 MiB besides the segment's 520 KiB of
// tables (`shmbus footprint`), so the segment has 16 MiB: in 8 MiB the List would not fit.
#include <iostream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>

int main() {
    const std::string name = "readme-shared-" + std::to_string(::getpid());
    const auto segment = shmbus::Segment::create(name, 16 << 20);
    shmbus::Queue<std::string> jobs(segment, "jobs");
    shmbus::Manager manager(segment);
    auto done = manager.dict<int>("done");
    auto log = manager.list<std::string>("log");

    shmbus::Process worker([&] {
        for (std::string job = jobs.get(); job != "stop"; job = jobs.get()) {
            done.update(job, 0, [](int& n) { ++n; });
            log.append("did " + job);
        }
    });
    worker.start();
    for (const char* job : {"wash", "dry", "wash", "stop"})
        jobs.put(job);
    worker.join();

    std::cout << "wash " << done.get("wash") << ", dry " << done.get("dry") << "; log";
    for (const std::string& line : log.to_vector())
        std::cout << " | " << line;
    std::cout << "\n";
    shmbus::Segment::unlink(name);
}

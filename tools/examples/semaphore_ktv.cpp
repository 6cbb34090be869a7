// SPDX-License-Identifier: Apache-2.0
// KTV: twenty singers (processes) share a room with four microphones, a Semaphore(4). The room's
// occupancy is counted in shared memory; it never exceeds four.
#include <chrono>
#include <iostream>
#include <list>
#include <shmbus/process.hpp>
#include <shmbus/semaphore.hpp>
#include <shmbus/value.hpp>
#include <string>
#include <thread>

namespace {

constexpr int kSingers = 20;
constexpr unsigned kMicrophones = 4;

void say(const std::string& line) {
    std::cout << line + "\n" << std::flush;
}

void sing(int number, shmbus::Semaphore room, shmbus::Value<int> occupancy,
          shmbus::Value<int> most) {
    room.acquire();
    const int now = occupancy.fetch_add(1) + 1;
    int seen = most.load();
    while (now > seen && !most.compare_exchange(seen, now)) {
    }
    say("singer " + std::to_string(number) + " enters the room (" + std::to_string(now) +
        " singing)");
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 7 * (number % 4)));
    occupancy.fetch_sub(1);
    say("singer " + std::to_string(number) + " leaves the room");
    room.release();
}

} // namespace

int main() {
    shmbus::Semaphore room(kMicrophones);
    shmbus::Value<int> occupancy(0);
    shmbus::Value<int> most(0);
    std::list<shmbus::Process> singers;
    for (int i = 1; i <= kSingers; ++i)
        singers.emplace_back(sing, i, room, occupancy, most).start();
    bool ok = true;
    for (shmbus::Process& singer : singers) {
        singer.join();
        ok = ok && singer.exitcode() == 0;
    }
    say("most singers in the room at once: " + std::to_string(most.load()) + " (limit " +
        std::to_string(kMicrophones) + ")");
    return ok && most.load() <= static_cast<int>(kMicrophones) ? 0 : 1;
}

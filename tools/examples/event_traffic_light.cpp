// SPDX-License-Identifier: Apache-2.0
// A traffic light process toggles an Event between red (clear) and green (set); car processes
// that find it red stop and wait() for green, then pass.
#include <chrono>
#include <iostream>
#include <list>
#include <shmbus/event.hpp>
#include <shmbus/process.hpp>
#include <shmbus/semaphore.hpp>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr int kCarsPerWave = 3;
constexpr int kCycles = 3;

void say(const std::string& line) {
    std::cout << line + "\n" << std::flush;
}

void traffic_light(shmbus::Event green) {
    for (int cycle = 0; cycle < kCycles; ++cycle) {
        if (cycle > 0) {
            say("light turns red");
            green.clear();
            std::this_thread::sleep_for(100ms);
        }
        say("light turns green");
        green.set();
        std::this_thread::sleep_for(100ms);
    }
}

void car(int number, shmbus::Event green, shmbus::Semaphore stopped) {
    const std::string name = "car " + std::to_string(number);
    if (!green.is_set()) {
        say(name + " stops at red");
        stopped.release();
        green.wait();
    }
    say(name + " passes on green");
}

} // namespace

int main() {
    shmbus::Event green;
    shmbus::Semaphore stopped(0);
    say("light turns red");
    std::list<shmbus::Process> cars;
    // The first wave arrives before the light starts working, so it stops.
    for (int i = 1; i <= kCarsPerWave; ++i)
        cars.emplace_back(car, i, green, stopped).start();
    for (int i = 0; i < kCarsPerWave; ++i)
        if (!stopped.acquire_for(30s))
            return 1;
    shmbus::Process light(traffic_light, green);
    light.start();
    // The second wave meets whatever colour the light shows.
    for (int i = kCarsPerWave + 1; i <= 2 * kCarsPerWave; ++i) {
        std::this_thread::sleep_for(70ms);
        cars.emplace_back(car, i, green, stopped).start();
    }
    bool ok = true;
    for (shmbus::Process& process : cars) {
        process.join();
        ok = ok && process.exitcode() == 0;
    }
    light.join();
    say("all " + std::to_string(cars.size()) + " cars passed");
    return ok && light.exitcode() == 0 ? 0 : 1;
}

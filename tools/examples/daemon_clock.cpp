// SPDX-License-Identifier: Apache-2.0
// A daemon process printing the time every 0.3 s dies with its parent. The parent here is an
// intermediate Process (so that this program survives to check): in round 1 it sleeps ~1 s and
// returns, and its Process destructor terminates the daemon, as Python does at exit; in round 2
// it is killed with SIGKILL, runs no code at all, and the kernel kills the daemon
// (PR_SET_PDEATHSIG).
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <shmbus/process.hpp>
#include <string>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

void clock_loop() {
    for (;;) {
        const auto now = std::chrono::system_clock::now();
        const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
        const auto millis =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
        std::tm local{};
        ::localtime_r(&seconds, &local);
        char text[32];
        std::strftime(text, sizeof text, "%H:%M:%S", &local);
        std::cout << "daemon: the time is " << text << "." << millis.count() / 100 << std::endl;
        std::this_thread::sleep_for(300ms);
    }
}

void parent(int report_fd, bool wait_to_be_killed) {
    shmbus::Process daemon(clock_loop);
    daemon.set_daemon(true);
    daemon.start();
    const std::string pid = std::to_string(daemon.pid()) + "\n";
    if (::write(report_fd, pid.data(), pid.size()) != static_cast<ssize_t>(pid.size()))
        shmbus::exit(2);
    if (wait_to_be_killed)
        std::this_thread::sleep_for(60s);
    std::this_thread::sleep_for(1s);
    std::cout << "parent exiting" << std::endl;
}

// Gone means no such process, or a zombie waiting for whoever inherited it.
bool process_gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return true;
    const auto close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z' ||
           line[close + 2] == 'X';
}

bool round(bool kill_parent) {
    int fds[2];
    if (::pipe(fds) != 0)
        return false;
    shmbus::Process intermediate(parent, fds[1], kill_parent);
    intermediate.start();
    ::close(fds[1]);
    std::string line;
    char c = 0;
    while (::read(fds[0], &c, 1) == 1 && c != '\n')
        line += c;
    ::close(fds[0]);
    const pid_t daemon = line.empty() ? 0 : static_cast<pid_t>(std::stol(line));
    if (kill_parent) {
        std::this_thread::sleep_for(1s);
        intermediate.kill();
        std::cout << "parent killed" << std::endl;
    }
    intermediate.join();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (daemon > 0 && !process_gone(daemon) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    const bool gone = daemon > 0 && process_gone(daemon);
    std::cout << (gone ? "daemon gone" : "daemon still running") << std::endl;
    return gone;
}

} // namespace

int main() {
    std::cout << "round 1: the parent returns" << std::endl;
    const bool first = round(false);
    std::cout << "round 2: the parent is killed" << std::endl;
    const bool second = round(true);
    return first && second ? 0 : 1;
}

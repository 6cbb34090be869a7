// SPDX-License-Identifier: Apache-2.0
// A Process's name, pid, is_alive and exitcode before start, while it runs, and after
// terminate() (exitcode -15: ended by SIGTERM).
#include <chrono>
#include <iostream>
#include <optional>
#include <shmbus/process.hpp>
#include <string>
#include <thread>

namespace {

void sleep_long() {
    std::this_thread::sleep_for(std::chrono::seconds(60));
}

void show(const char* when, shmbus::Process& process) {
    const std::optional<int> code = process.exitcode();
    std::cout << when << ": name=" << process.name() << " pid=" << process.pid()
              << " alive=" << std::boolalpha << process.is_alive()
              << " exitcode=" << (code ? std::to_string(*code) : "none") << std::endl;
}

} // namespace

int main() {
    shmbus::Process process(sleep_long);
    show("before start", process);
    process.start();
    show("after start", process);
    process.terminate();
    process.join();
    show("after terminate", process);
    return process.exitcode() == -15 ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// The same job run once by a std::thread and once by a shmbus::Process: the thread shares the
// main process's pid, the Process gets its own.
#include <iostream>
#include <shmbus/process.hpp>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

void print_as(const std::string& who) {
    std::cout << who << " pid=" << ::getpid() << " parent pid=" << ::getppid() << ": "
              << std::string(5, 'a') << std::endl;
}

} // namespace

int main() {
    std::cout << "main pid=" << ::getpid() << std::endl;

    std::thread thread(print_as, "thread");
    thread.join();

    shmbus::Process process(print_as, "process");
    process.start();
    process.join();

    const bool other_process = process.pid() != ::getpid() && process.exitcode() == 0;
    std::cout << "process ran in pid " << process.pid()
              << ", not in main: " << (other_process ? "yes" : "no") << std::endl;
    return other_process ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// Ten processes, each printing its pid and its parent's. Each child checks that its parent is
// this process and reports a mismatch through its exit code; main checks every exit code.
#include <iostream>
#include <memory>
#include <shmbus/process.hpp>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kChildren = 10;

void child(pid_t expected_parent) {
    const pid_t parent = ::getppid();
    std::cout << "child pid=" << ::getpid() << " parent pid=" << parent << std::endl;
    if (parent != expected_parent)
        shmbus::exit(2);
}

} // namespace

int main() {
    const pid_t self = ::getpid();
    std::cout << "parent pid=" << self << std::endl;
    std::vector<std::unique_ptr<shmbus::Process>> children;
    for (int i = 0; i < kChildren; ++i)
        children.push_back(std::make_unique<shmbus::Process>(child, self));
    for (auto& process : children)
        process->start();
    int good = 0;
    for (auto& process : children) {
        process->join();
        if (process->exitcode() == 0)
            ++good;
    }
    std::cout << good << " of " << kChildren << " children saw parent pid=" << self << std::endl;
    return good == kChildren ? 0 : 1;
}

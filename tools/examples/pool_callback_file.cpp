// SPDX-License-Identifier: Apache-2.0
// apply_async with a callback: each result is written to a file by the callback, which runs in
// this (the parent) process on the pool's result-handling thread, so the workers never touch
// the file. After close() and join() every callback has run; the file is read back and checked.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <shmbus/pool.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string describe(int n) {
    return "task " + std::to_string(n) + " -> " + std::to_string(n * n * n);
}

} // namespace

int main() {
    const std::string path = "/tmp/shmbus-pool-callback-" + std::to_string(::getpid()) + ".txt";
    {
        std::ofstream out(path);
        std::mutex mutex; // callbacks all run on one thread; the lock keeps that an assumption
        shmbus::Pool pool(3);
        for (int n = 1; n <= 6; ++n)
            pool.apply_async_with(
                [&](const std::string& line) {
                    std::lock_guard lock(mutex);
                    out << line << "\n";
                },
                nullptr, describe, n);
        pool.close();
        pool.join();
    }
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    std::remove(path.c_str());
    std::sort(lines.begin(), lines.end());
    std::cout << lines.size() << " lines written by callbacks:" << std::endl;
    for (const std::string& line : lines)
        std::cout << line << std::endl;
    return lines.size() == 6 ? 0 : 1;
}

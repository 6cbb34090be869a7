// SPDX-License-Identifier: Apache-2.0
// Linked against libshmbus.so only: a Queue filled by a forked child and emptied by the parent,
// a Pool, and a shmbus exception thrown inside the library and caught here by its type, which
// needs the exported type information.
#include <iostream>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

int square(int x) {
    return x * x;
}

bool not_found_is_caught_by_type() {
    try {
        shmbus::Segment::open("shmbus-shared-missing-" + std::to_string(getpid()));
    } catch (const shmbus::NotFound&) {
        return true;
    }
    return false;
}

} // namespace

int main() {
    shmbus::Queue<std::string> queue;
    shmbus::Process child([&] { queue.put("from the child"); });
    child.start();
    const std::string received = queue.get();
    child.join();

    shmbus::Pool pool(2);
    const std::vector<int> squares = pool.map(square, std::vector{1, 2, 3});
    pool.close();
    pool.join();

    const bool ok = received == "from the child" && child.exitcode() == 0 &&
                    squares == std::vector{1, 4, 9} && not_found_is_caught_by_type();
    std::cout << "shared: " << received << (ok ? ", all checks passed" : ", FAILED") << "\n";
    return ok ? 0 : 1;
}

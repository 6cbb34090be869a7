// SPDX-License-Identifier: Apache-2.0
// The example on the README's first screen, kept compiling and checked by ctest.
#include <iostream>
#include <shmbus/shmbus.hpp>

int main() {
    shmbus::Value<int> counter(0); // anonymous: lives in the default segment
    shmbus::Event ready;
    shmbus::Process child([&] {
        counter.fetch_add(41);
        ready.set();
    });
    child.start();
    ready.wait();
    counter.fetch_add(1);
    child.join();
    std::cout << counter.load() << " from " << child.name() << ", exitcode " << *child.exitcode()
              << "\n";
}

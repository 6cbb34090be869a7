// SPDX-License-Identifier: Apache-2.0
// map passes one input per call: a two-argument function belongs to starmap.
// expect: the task function must take exactly one argument; use starmap for several
#include <shmbus/pool.hpp>
#include <vector>

int add(int a, int b) {
    return a + b;
}

int main() {
    shmbus::Pool pool(1);
    return static_cast<int>(pool.map(add, std::vector<int>{1, 2}).size());
}

// SPDX-License-Identifier: Apache-2.0
// apply forwards its arguments to the task function: their number must match.
// expect: give as many arguments as the task function takes
#include <shmbus/pool.hpp>

int square(int x) {
    return x * x;
}

int main() {
    shmbus::Pool pool(1);
    return pool.apply(square, 1, 2);
}

// SPDX-License-Identifier: Apache-2.0
// A lambda with captures cannot run in a forked worker by address: Pool refuses it.
// expect: a task function must be a function pointer or a lambda without captures
#include <shmbus/pool.hpp>

int main() {
    shmbus::Pool pool(1);
    const int offset = 1;
    return pool.apply([offset](int x) { return x + offset; }, 1);
}

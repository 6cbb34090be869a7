// SPDX-License-Identifier: Apache-2.0
// map collects results: a function returning nothing belongs to apply_async.
// expect: the task function returns void; use apply_async for tasks without a result
#include <shmbus/pool.hpp>
#include <vector>

void work(int) {}

int main() {
    shmbus::Pool pool(1);
    pool.map(work, std::vector<int>{1, 2});
}

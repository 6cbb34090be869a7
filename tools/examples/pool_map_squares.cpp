// SPDX-License-Identifier: Apache-2.0
// Pool(4).map(square, [1..5]): Python's first Pool example. The results come back in input
// order whatever worker computed them.
#include <iostream>
#include <shmbus/pool.hpp>
#include <vector>

namespace {

int square(int x) {
    return x * x;
}

} // namespace

int main() {
    shmbus::Pool pool(4);
    const std::vector<int> squares = pool.map(square, std::vector{1, 2, 3, 4, 5});
    std::cout << "[";
    for (std::size_t i = 0; i < squares.size(); ++i)
        std::cout << (i == 0 ? "" : ", ") << squares[i];
    std::cout << "]" << std::endl;
    pool.close();
    pool.join();
    return squares == std::vector{1, 4, 9, 16, 25} ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// An update function changes its V& argument or returns the new value, nothing else.
// expect: an update function returns void \(changing its V& argument\) or the new value
#include <shmbus/dict.hpp>
#include <string>

int main() {
    shmbus::Dict<int> counts;
    counts.update("n", 0, [](int& n) { return std::to_string(n); });
}

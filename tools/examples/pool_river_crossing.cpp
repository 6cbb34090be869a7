// SPDX-License-Identifier: Apache-2.0
// Ten users cross a river in a boat service of three boats: Pool(3), one apply_async per
// user, then close() and join(). Each boat (worker process) takes the next user as soon as it
// is free; the parent collects which boat carried whom.
#include <chrono>
#include <iostream>
#include <set>
#include <shmbus/pool.hpp>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kUsers = 10;
constexpr unsigned kBoats = 3;

// Returns the pid of the worker that carried the user.
int cross(int user) {
    std::cout << "user " << user << " is crossing the river in boat " << ::getpid() << std::endl;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 10 * (user % 3)));
    std::cout << "user " << user << " reached the other bank" << std::endl;
    return static_cast<int>(::getpid());
}

} // namespace

int main() {
    shmbus::Pool pool(kBoats);
    std::vector<shmbus::AsyncResult<int>> crossings;
    for (int user = 0; user < kUsers; ++user)
        crossings.push_back(pool.apply_async(cross, user));
    pool.close();
    pool.join();
    std::set<int> boats;
    for (auto& crossing : crossings)
        boats.insert(crossing.get());
    std::cout << kUsers << " users crossed in " << boats.size() << " of " << kBoats << " boats"
              << std::endl;
    return boats.size() <= kBoats ? 0 : 1;
}

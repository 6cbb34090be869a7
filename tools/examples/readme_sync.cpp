// SPDX-License-Identifier: Apache-2.0
// The README's synchronisation example, kept compiling and checked by ctest.
#include <chrono>
#include <iostream>
#include <mutex>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>

int main() {
    using namespace std::chrono_literals;
    const std::string name = "readme-sync-" + std::to_string(::getpid());
    const auto seg = shmbus::Segment::create(name, 1 << 20);
    shmbus::Lock books(seg, "books");
    shmbus::Semaphore slots(seg, "slots", 2); // 2 when created; opening ignores the value
    shmbus::Event ready(seg, "ready");
    shmbus::Condition changed(seg, "changed"); // over its own RLock
    shmbus::Barrier start(seg, "start", 2);
    shmbus::Value<int> stock(seg, "stock", 0);

    shmbus::Process child([&] {
        start.wait(); // returns once both parties have arrived
        {
            std::lock_guard hold(books); // Lock, RLock, Semaphore, Condition are Lockable
            stock.store(5);
        }
        {
            std::lock_guard hold(changed);
            changed.notify_all();
        }
        ready.set();
    });
    child.start();
    start.wait();
    {
        std::unique_lock hold(changed);
        changed.wait([&] { return stock.load() == 5; }); // a predicate: waits may end spuriously
    }
    const bool was_set = ready.wait_for(5s); // false if not set within 5 s
    if (const shmbus::AcquireResult got = books.acquire_for(100ms)) {
        std::cout << "books taken" << (got.owner_died ? " from a dead holder" : "") << ", ";
        books.release();
    }
    if (slots.acquire_for(100ms))
        slots.release();
    child.join();
    std::cout << "stock " << stock.load() << ", ready " << std::boolalpha << was_set << ", slots "
              << slots.get_value() << "\n";
    shmbus::Segment::unlink(name);
}

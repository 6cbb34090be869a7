// SPDX-License-Identifier: Apache-2.0
// The README's Topic example: one publisher, three subscriber processes, a late joiner with
// history, and a zero-copy loan read in place. Kept compiling and checked by ctest.
#include <array>
#include <cstdint>
#include <iostream>
#include <memory>
#include <shmbus/shmbus.hpp>
#include <string>
#include <unistd.h>
#include <vector>

struct Frame { // trivially copyable: loaned and borrowed in place
    std::uint64_t id;
    std::array<float, 1024> pixels;
};

int main() {
    using namespace std::chrono_literals;
    const std::string name = "readme-topic-" + std::to_string(::getpid());
    const auto seg = shmbus::Segment::create(name, 16 << 20);
    shmbus::Topic<Frame> frames(seg, "frames",
                                {.capacity = 8, .max_message_size = sizeof(Frame), .history = 1});
    shmbus::Semaphore joined(seg, "joined", 0);

    std::vector<std::unique_ptr<shmbus::Process>> readers;
    for (int r = 0; r < 3; ++r) {
        readers.push_back(std::make_unique<shmbus::Process>([&, r] {
            auto sub = frames.subscribe(); // each reader has its own cursor
            joined.release();
            float total = 0;
            for (int i = 0; i < 3; ++i) {
                auto frame = sub.borrow(); // a view into shared memory: no copy
                total += frame->pixels[0];
            } // released here: the publisher may reuse the slot
            std::cout << "reader " + std::to_string(r) + " summed " +
                             std::to_string(static_cast<int>(total)) + "\n"
                      << std::flush;
        }));
        readers.back()->start();
    }
    for (int r = 0; r < 3; ++r)
        (void)joined.acquire_for(10s);

    auto publisher = frames.publisher();
    for (std::uint64_t id = 1; id <= 3; ++id) {
        auto frame = publisher.loan(); // a Frame constructed in a slot of the topic
        frame->id = id;
        frame->pixels[0] = static_cast<float>(10 * id);
        frame.publish(); // every subscriber sees it; nothing was copied
    }
    for (auto& reader : readers)
        reader->join();

    auto late = frames.subscribe(); // history = 1: starts with the last frame
    std::cout << "late joiner got frame " << late.recv().id << " of " << frames.messages_in()
              << "\n";
    shmbus::Segment::unlink(name);
}

// SPDX-License-Identifier: Apache-2.0
// A child sends a few values through a one-way Pipe and closes its end; the parent, which closed
// its own copy of that end, receives until EndOfStream (Python's EOFError).
#include <iostream>
#include <shmbus/errors.hpp>
#include <shmbus/pipe.hpp>
#include <shmbus/process.hpp>
#include <string>
#include <vector>

int main() {
    auto [reader, writer] = shmbus::Pipe(false);
    shmbus::Process sender([&writer = writer] {
        writer.send(std::string("hello"));
        writer.send(42);
        writer.send(std::vector<int>{1, 2, 3});
        writer.close();
    });
    sender.start();
    writer.close(); // this process's copy: the stream ends when the sender closes its own
    std::cout << "received " << reader.recv<std::string>() << std::endl;
    std::cout << "received " << reader.recv<int>() << std::endl;
    const auto numbers = reader.recv<std::vector<int>>();
    std::cout << "received a vector of " << numbers.size() << " numbers" << std::endl;
    try {
        reader.recv<int>();
        std::cout << "unexpected: another message" << std::endl;
        return 1;
    } catch (const shmbus::EndOfStream&) {
        std::cout << "EOF: the sender closed its end" << std::endl;
    }
    sender.join();
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
#include "support/checked_message.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>

namespace shmbus::test {
namespace {

std::uint64_t checksum(const char* payload, std::size_t size) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < size; ++i)
        sum = sum * 131 + static_cast<unsigned char>(payload[i]);
    return sum;
}

constexpr std::size_t kHeader = 16;

} // namespace

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::string checked_message(std::uint32_t producer, std::uint32_t seq, std::size_t size,
                            std::uint64_t pattern) {
    std::string message(std::max(size, kHeader), '\0');
    for (std::size_t i = kHeader; i < message.size(); ++i)
        message[i] = static_cast<char>(mix(pattern + i / 8) >> (8 * (i % 8)));
    const std::uint64_t sum = checksum(message.data() + kHeader, message.size() - kHeader);
    std::memcpy(message.data(), &producer, 4);
    std::memcpy(message.data() + 4, &seq, 4);
    std::memcpy(message.data() + 8, &sum, 8);
    return message;
}

bool intact(const std::string& message, std::uint32_t& producer, std::uint32_t& seq) {
    if (message.size() < kHeader)
        return false;
    std::memcpy(&producer, message.data(), 4);
    std::memcpy(&seq, message.data() + 4, 4);
    std::uint64_t expected = 0;
    std::memcpy(&expected, message.data() + 8, 8);
    return checksum(message.data() + kHeader, message.size() - kHeader) == expected;
}

std::uint64_t seed_from_env(const char* variable) {
    const char* env = std::getenv(variable);
    const std::uint64_t seed =
        env != nullptr ? std::strtoull(env, nullptr, 0) : std::random_device{}();
    std::cout << "seed: " << variable << "=" << seed << "\n";
    return seed;
}

} // namespace shmbus::test

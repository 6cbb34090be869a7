// SPDX-License-Identifier: Apache-2.0
// Messages a receiver can check byte for byte, and replayable random seeds, shared by the
// stress, fault-injection, corruption and large-item tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace shmbus::test {

/// splitmix64's finaliser: a cheap, well-mixed hash of x.
std::uint64_t mix(std::uint64_t x);

/// [u32 producer][u32 seq][u64 checksum of the payload][payload of size - 16 bytes], the
/// payload derived from `pattern`. The checksum leaves out the header, so a copy may be
/// re-stamped with another seq.
std::string checked_message(std::uint32_t producer, std::uint32_t seq, std::size_t size,
                            std::uint64_t pattern);

/// True when `message` is a checked_message whose payload still matches its checksum; gives
/// back its producer and seq.
bool intact(const std::string& message, std::uint32_t& producer, std::uint32_t& seq);

/// N bytes that differ with `i` at every position: a large trivially copyable item whose every
/// byte a receiver can check.
template <std::size_t N>
std::array<std::uint8_t, N> patterned_block(int i) {
    std::array<std::uint8_t, N> block;
    for (std::size_t j = 0; j < N; ++j)
        block[j] = static_cast<std::uint8_t>(i * 7 + static_cast<int>(j));
    return block;
}

/// The value of the environment variable `variable` when set, else a random seed; printed as
/// "seed: <variable>=<seed>" so that a failing run can be replayed. Call it once per process
/// (keep the result in a static).
std::uint64_t seed_from_env(const char* variable);

} // namespace shmbus::test

// SPDX-License-Identifier: Apache-2.0
// Messages a receiver can check byte for byte, and replayable random seeds, shared by the
// stress, fault-injection and corruption tests.
#pragma once

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

/// The value of the environment variable `variable` when set, else a random seed; printed as
/// "seed: <variable>=<seed>" so that a failing run can be replayed. Call it once per process
/// (keep the result in a static).
std::uint64_t seed_from_env(const char* variable);

} // namespace shmbus::test

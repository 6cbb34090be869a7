// SPDX-License-Identifier: Apache-2.0
// The one way from bytes in a segment to a typed state. Every shared state struct has one
//
//   std::optional<std::string> validate(const State& state, std::uint64_t size)
//
// beside it, in its own header (found by argument-dependent lookup): why the `size` bytes at
// `state` are not a State of this build, or nullopt. state_problem has checked that size is at
// least sizeof(State) before it calls validate(). The library goes through StateRef, the
// CLI and the fuzzers through state_problem: both run that same validate(), so each rule about
// a state is written once.
//
// Naming: a State's stamp is `std::uint64_t magic` (8 ASCII bytes "SBS" + 4 letters + "1",
// stored little-endian so the bytes read in order) and `std::uint32_t version`, its layout
// version, named k<State>Magic and k<State>Version.
#pragma once

#include "shmbus/detail/object.hpp"
#include "shmbus/errors.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::detail {

/// The 8 bytes of a magic as text, a '.' for each byte that is not printable ASCII.
inline std::string magic_text(std::uint64_t magic) {
    std::string text(sizeof magic, '.');
    for (std::size_t i = 0; i < sizeof magic; ++i) {
        const auto byte = static_cast<char>((magic >> (8 * i)) & 0xff);
        if (byte >= ' ' && byte <= '~')
            text[i] = byte;
    }
    return text;
}

/// Why a `what` state stamped `magic` / `version` is not one of this build, or nullopt.
inline std::optional<std::string> stamp_problem(std::string_view what, std::uint64_t magic,
                                                std::uint64_t expected_magic, std::uint32_t version,
                                                std::uint32_t expected_version) {
    if (magic != expected_magic)
        return std::string(what) + " state: magic \"" + magic_text(magic) + "\" is not \"" +
               magic_text(expected_magic) + "\"";
    if (version != expected_version)
        return std::string(what) + " state: layout version " + std::to_string(version) +
               " is not " + std::to_string(expected_version);
    return std::nullopt;
}

/// Why the `size` bytes at `at` (aligned for State) are not a State of this build, or nullopt.
template <class State>
std::optional<std::string> state_problem(const void* at, std::uint64_t size) {
    if (size < sizeof(State))
        return "a state of " + std::to_string(size) + " bytes, fewer than the " +
               std::to_string(sizeof(State)) + " of its layout";
    return validate(*static_cast<const State*>(at), size);
}

/// A State in a segment that validate() accepted when the handle was made. It does not keep
/// the mapping alive: the ObjectRef it was made from does.
template <class State>
class StateRef {
public:
    /// CorruptSegment, naming the object and the problem, unless validate() accepts it.
    explicit StateRef(const ObjectRef& object) : m_state(&object.state<State>()) {
        if (auto problem = state_problem<State>(m_state, object.size()))
            throw CorruptSegment("object at offset " + std::to_string(object.offset()) +
                                 " of segment '" + object.segment().name() + "': " + *problem);
    }

    State& operator*() const { return *m_state; }
    State* operator->() const { return m_state; }
    State* get() const { return m_state; }

private:
    State* m_state;
};

/// `object`, once validate() accepted its state as a State; CorruptSegment otherwise. For views
/// that keep only the ObjectRef.
template <class State>
ObjectRef validated(ObjectRef object) {
    (void)StateRef<State>(object);
    return object;
}

} // namespace shmbus::detail

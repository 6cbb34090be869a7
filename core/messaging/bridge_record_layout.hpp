// SPDX-License-Identifier: Apache-2.0
// The layout of a NATS bridge's record in a segment: written by the bridges (nats/src/
// bridge_record.hpp, which links libnats) and read by the shmbus CLI (`ls`, `inspect`), which
// must not. Header-only: the core library gains nothing from it.
//
// A record is an Array<std::uint64_t> named record_prefix(...) + the queue or topic name, of
// exactly kRecordLength words, each read and written atomically (relaxed: a display snapshot, or
// the one bridge that holds the record's lock). Its words: Field, then kOrigins pairs [epoch,
// last id number put] (inbound), then two texts of kTextWords words each (the subject and the
// last error, NUL-terminated or filling the words; a reader may see one half-updated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::detail::bridge_layout {

/// "SHMBRIDG" read as a little-endian word: the first word of every record.
inline constexpr std::uint64_t kMagic = 0x4744495242484d53;
/// Changes whenever a word moves; a reader refuses any other.
inline constexpr std::uint64_t kVersion = 3;

/// The record's words (indices into the Array).
enum Field : std::size_t {
    magic,            ///< kMagic, stored last when the record is made
    version,          ///< kVersion
    flags,            ///< kInbound | kTopic
    state,            ///< RecordState
    epoch,            ///< out: random, nonzero; makes message ids unique across segments
    last_id,          ///< out: the id number the last taken message got (they start at 1;
                      ///< a topic's: its position + 1)
    in_flight_id,     ///< out: id number of the message in the in-flight record
    in_flight_length, ///< out: its length in bytes
    last_sequence,    ///< in: stream sequence of the last message put
    putting_sequence, ///< in: stream sequence of the message being put
    stream_created,   ///< in: creation time of the stream last_sequence belongs to
    next_origin,      ///< in: the origin slot a new outbound bridge's epoch takes next
    forwarded,        ///< the counters of BridgeStatus (nats/include/shmbus/nats/bridge.hpp)
    republished,
    duplicates_dropped,
    redeliveries_skipped,
    kills_settled,
    possibly_duplicated,
    errors,
    missed,
    stream_max_age_ms, ///< the stream's limits when the bridge last connected (0: none)
    stream_max_bytes,
    stream_max_messages,
    claim_tag,     ///< queue bridges: the tag of the last tagged get (out) or put (in) begun
    putting_epoch, ///< in: the origin (epoch, id number) of the message being put, 0: none
    putting_id,
    field_count,
};

inline constexpr std::uint64_t kInbound = 1;
inline constexpr std::uint64_t kTopic = 2;

/// What the bridge was doing; a restart reads it to finish or account for the interrupted step.
enum RecordState : std::uint64_t {
    idle = 0,
    taking = 1,    ///< out: inside the queue's get tagged claim_tag
    in_flight = 2, ///< out: the in-flight record holds a message not yet acknowledged
    putting = 3,   ///< in: inside the local put tagged claim_tag (a topic's: untagged)
};

inline constexpr std::size_t kOrigins = 32;
inline constexpr std::size_t kOriginsAt = field_count;
inline constexpr std::size_t kTextWords = 32; // 256 bytes, the last one a NUL when cut
inline constexpr std::size_t kSubjectAt = kOriginsAt + 2 * kOrigins;
inline constexpr std::size_t kLastErrorAt = kSubjectAt + kTextWords;
inline constexpr std::size_t kRecordLength = kLastErrorAt + kTextWords;

/// Array<std::uint64_t> keeps its elements this many bytes after the start of its state (its
/// 64-byte aligned header, shmbus/array.hpp).
inline constexpr std::size_t kArrayDataOffset = 64;

inline std::string_view record_prefix(bool inbound, bool topic) {
    if (topic)
        return inbound ? "shmbus.topic-bridge-in." : "shmbus.topic-bridge-out.";
    return inbound ? "shmbus.bridge-in." : "shmbus.bridge-out.";
}

/// What a record's object name says: direction, queue or topic, and its name.
struct RecordName {
    bool inbound;
    bool topic;
    std::string_view name;
};

/// nullopt when `object_name` is not a record's (the prefix is missing or nothing follows it).
inline std::optional<RecordName> parse_record_name(std::string_view object_name) {
    for (const bool topic : {false, true})
        for (const bool inbound : {false, true}) {
            const std::string_view prefix = record_prefix(inbound, topic);
            if (object_name.size() > prefix.size() && object_name.starts_with(prefix))
                return RecordName{inbound, topic, object_name.substr(prefix.size())};
        }
    return std::nullopt;
}

/// Why words loaded by `load(index)` from an array of `length` words are not a record this
/// version reads; nullopt when they are.
template <class Load>
std::optional<std::string> record_problem(std::size_t length, Load load) {
    if (length < field_count || load(magic) != kMagic)
        return std::string("not a bridge record (bad magic)");
    if (load(version) != kVersion)
        return "bridge record version " + std::to_string(load(version)) + ", this shmbus reads " +
               std::to_string(kVersion);
    if (length != kRecordLength)
        return "bridge record of " + std::to_string(length) + " words, expected " +
               std::to_string(kRecordLength);
    return std::nullopt;
}

/// The text of kTextWords words at `at`, bytes in little-endian order within each word.
template <class Load>
std::string load_text(Load load, std::size_t at) {
    std::string text;
    for (std::size_t word = 0; word < kTextWords; ++word) {
        const std::uint64_t value = load(at + word);
        for (unsigned byte = 0; byte < 8; ++byte) {
            const auto c = static_cast<char>((value >> (8 * byte)) & 0xff);
            if (c == '\0')
                return text;
            text.push_back(c);
        }
    }
    return text;
}

/// Stores `text` at `at`, cut to kTextWords * 8 - 1 bytes, NUL-padded.
template <class Store>
void store_text(Store store, std::size_t at, std::string_view text) {
    text = text.substr(0, kTextWords * 8 - 1);
    for (std::size_t word = 0; word < kTextWords; ++word) {
        std::uint64_t value = 0;
        for (unsigned byte = 0; byte < 8; ++byte) {
            const std::size_t i = word * 8 + byte;
            if (i < text.size())
                value |= std::uint64_t{static_cast<unsigned char>(text[i])} << (8 * byte);
        }
        store(at + word, value);
    }
}

} // namespace shmbus::detail::bridge_layout

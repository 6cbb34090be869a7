// SPDX-License-Identifier: Apache-2.0
#include "segment/layout.hpp"

#include "shmbus/version.hpp"

#include <cctype>
#include <cstring>

namespace shmbus::detail {

static_assert(kLayoutVersion == SHMBUS_LAYOUT_VERSION,
              "include/shmbus/version.hpp must name the segment layout version");

std::optional<std::string> validate_header(const SegmentHeader& header, std::uint64_t file_size) {
    if (header.magic != kSegmentMagic)
        return "not a shmbus segment (bad magic)";
    if (header.layout_version != kLayoutVersion)
        return "layout version " + std::to_string(header.layout_version) + ", expected " +
               std::to_string(kLayoutVersion);
    // SYNC acquire: pairs with the creator's release store of kReadyMark in Segment::create.
    if (header.ready.load(std::memory_order_acquire) != kReadyMark)
        return "not initialised (its creator did not finish)";
    if (header.header_size != kHeaderSize || header.max_processes != kMaxProcesses ||
        header.max_objects != kMaxObjects || header.process_table_offset != kProcessTableOffset ||
        header.directory_offset != kDirectoryOffset || header.heap_offset != kHeapOffset)
        return "table offsets or sizes differ from this build's layout";
    if (header.total_size != file_size)
        return "recorded size " + std::to_string(header.total_size) + " but the object has " +
               std::to_string(file_size) + " bytes";
    if (header.total_size < kMinSegmentSize)
        return "too small to hold the segment tables";
    if (header.heap_used > header.total_size - kHeapOffset)
        return "heap fill level beyond the end of the segment";
    return std::nullopt;
}

std::optional<std::string> validate_entry(const DirEntry& entry, const SegmentHeader& header) {
    if (std::memchr(entry.name, '\0', sizeof entry.name) == nullptr)
        return "object name is not terminated";
    // Names are made of [A-Za-z0-9._-] (and '#' in anonymous ones): anything else is damage,
    // and must not reach tools that print or JSON-encode the name.
    for (const char* c = entry.name; *c != '\0'; ++c)
        if (!std::isalnum(static_cast<unsigned char>(*c)) && std::strchr("._-#", *c) == nullptr)
            return "object name holds a byte that no object name may hold";
    const std::uint64_t heap_end = header.total_size;
    if (entry.offset < kHeapOffset || entry.offset % kCacheLine != 0 || entry.offset > heap_end ||
        entry.size > heap_end - entry.offset)
        return "object '" + std::string(entry.name) + "' lies outside the segment";
    if (to_string(entry.kind) == "unknown")
        return "object '" + std::string(entry.name) + "' has an unknown kind";
    return std::nullopt;
}

} // namespace shmbus::detail

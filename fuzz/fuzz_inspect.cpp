// SPDX-License-Identifier: Apache-2.0
// The CLI's inspect path (tools/shmbus/inspect.cpp, format.cpp) on a patched segment image
// (segment_image.hpp): inspect_segment decodes every object it knows, then the text and JSON
// formatters run on the result. A clear error (shmbus::Error) is fine; a crash, a sanitizer
// report or a hang is a bug.
#include "cli.hpp"
#include "segment_image.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static shmbus::fuzz::SegmentImage image;
    // The ready mark stays intact: an unready segment makes inspect wait out its timeout.
    image.load(data, size, true);
    try {
        const shmbus::cli::SegmentReport report = shmbus::cli::inspect_segment(image.name());
        (void)shmbus::cli::format_inspect(report);
        (void)shmbus::cli::inspect_json(report).dump();
        (void)shmbus::cli::format_watch(report, 1, 0);
    } catch (const shmbus::Error&) {
    }
    return 0;
}

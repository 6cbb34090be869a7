// SPDX-License-Identifier: Apache-2.0
// The lines that compare shmbus used from Python with Python's own mp.Queue: each round of a
// python.shmbus_* row was measured right after a round of mp.Queue (suite.cpp), so each speedup
// divides figures of one round.
#include "suite.hpp"

#include <cstdio>
#include <sstream>
#include <string>

namespace shmbus::bench {
namespace {

constexpr std::string_view kShmbusFromPython = "python.shmbus";

/// "14.2x (12.0x-15.1x)": how many times mp.Queue's figure the row's is, over the rounds.
/// `higher_is_better`: a rate (the row's over mp.Queue's); else a latency (mp.Queue's over the
/// row's).
std::string speedup_text(const Report& report, const Row& row, Figure figure,
                         bool higher_is_better) {
    const std::optional<Spread> ratio = ratio_to(report, row, kPythonQueueKey, figure);
    if (!ratio || ratio->min <= 0)
        return "-";
    const Spread speedup =
        higher_is_better ? *ratio : Spread{1 / ratio->max, 1 / ratio->median, 1 / ratio->min};
    char text[64];
    std::snprintf(text, sizeof text, "%.1fx (%.1fx-%.1fx)", speedup.median, speedup.min,
                  speedup.max);
    return text;
}

} // namespace

std::string python_speedups(const Report& report) {
    std::ostringstream out;
    for (std::size_t size : report.sizes)
        for (const MechanismInfo& mechanism : report.mechanisms) {
            if (!mechanism.key.starts_with(kShmbusFromPython))
                continue;
            const Row* latency = report.find(mechanism.key, Metric::latency, size);
            const Row* throughput = report.find(mechanism.key, Metric::throughput, size);
            char line[160];
            std::snprintf(
                line, sizeof line, "  %-22s %8s  round trip p50: %-22s msg/s: %s\n",
                mechanism.label.c_str(), (std::to_string(size) + " B").c_str(),
                latency ? speedup_text(report, *latency, Figure::p50, false).c_str() : "-",
                throughput ? speedup_text(report, *throughput, Figure::rate, true).c_str() : "-");
            out << line;
        }
    const std::string lines = out.str();
    if (lines.empty())
        return lines;
    return "shmbus used from Python, times faster than Python's mp.Queue (between two Python\n"
           "processes) in the same round: the median over the rounds (min-max)\n" +
           lines;
}

} // namespace shmbus::bench

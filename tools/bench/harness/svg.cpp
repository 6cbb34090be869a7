// SPDX-License-Identifier: Apache-2.0
// The latency plot: one panel per message size, one line per mechanism, its percentiles as
// coloured dots on a shared logarithmic time axis. Plain SVG written by hand: a dependency
// would be more code to keep than these lines.
#include "suite.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace shmbus::bench {
namespace {

constexpr double kWidth = 1000;
constexpr double kLeft = 280; // labels
constexpr double kRight = 30;
constexpr double kRowHeight = 18;
constexpr double kPanelGap = 46;
constexpr double kTop = 60;

struct Mark {
    const char* name;
    std::uint64_t LatencySummary::*figure;
    const char* colour;
};
constexpr Mark kMarks[] = {{"p50", &LatencySummary::p50, "#1f77b4"},
                           {"p90", &LatencySummary::p90, "#2ca02c"},
                           {"p99", &LatencySummary::p99, "#ff7f0e"},
                           {"p99.9", &LatencySummary::p999, "#d62728"},
                           {"max", &LatencySummary::max, "#7f7f7f"}};

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string decade_label(int exponent) {
    static const char* const names[] = {"1 ns",   "10 ns", "100 ns", "1 us",   "10 us",
                                        "100 us", "1 ms",  "10 ms",  "100 ms", "1 s"};
    return exponent >= 0 && exponent < 10 ? names[exponent]
                                          : "1e" + std::to_string(exponent) + " ns";
}

class Axis {
public:
    Axis(double lo_ns, double hi_ns)
        : m_lo(std::floor(std::log10(std::max(lo_ns, 1.0)))),
          m_hi(std::max(m_lo + 1, std::ceil(std::log10(std::max(hi_ns, 1.0))))) {}
    double x(double ns) const {
        const double at = (std::log10(std::max(ns, 1.0)) - m_lo) / (m_hi - m_lo);
        return kLeft + at * (kWidth - kLeft - kRight);
    }
    int first_decade() const { return static_cast<int>(m_lo); }
    int last_decade() const { return static_cast<int>(m_hi); }

private:
    double m_lo, m_hi;
};

std::string size_name(std::size_t size) {
    return size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
}

std::vector<const Row*> latency_rows(const Report& report, std::size_t size) {
    std::vector<const Row*> rows;
    for (const MechanismInfo& m : report.mechanisms)
        if (const Row* row = report.find(m.key, Metric::latency, size); row && row->latency())
            rows.push_back(row);
    return rows;
}

void panel(std::ostream& out, const Report& report, std::size_t size, const Axis& axis, double& y) {
    out << "<text x=\"10\" y=\"" << y << "\" font-weight=\"bold\">round trip, " << size_name(size)
        << "</text>\n";
    const double top = y + 8;
    const std::vector<const Row*> rows = latency_rows(report, size);
    const double bottom = top + kRowHeight * static_cast<double>(rows.size());
    for (int d = axis.first_decade(); d <= axis.last_decade(); ++d) {
        const double x = axis.x(std::pow(10.0, d));
        out << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << bottom
            << "\" stroke=\"#ddd\"/>\n<text x=\"" << x << "\" y=\"" << bottom + 14
            << "\" text-anchor=\"middle\" font-size=\"11\">" << decade_label(d) << "</text>\n";
    }
    double row_y = top + kRowHeight / 2;
    for (const Row* row : rows) {
        std::string label;
        for (const MechanismInfo& m : report.mechanisms)
            if (m.key == row->mechanism)
                label = m.label;
        const LatencySummary l = *row->latency();
        out << "<text x=\"" << kLeft - 8 << "\" y=\"" << row_y + 4
            << "\" text-anchor=\"end\" font-size=\"12\">" << escape(label) << "</text>\n"
            << "<line x1=\"" << axis.x(static_cast<double>(l.p50)) << "\" y1=\"" << row_y
            << "\" x2=\"" << axis.x(static_cast<double>(l.max)) << "\" y2=\"" << row_y
            << "\" stroke=\"#999\"/>\n";
        for (const Mark& mark : kMarks)
            out << "<circle cx=\"" << axis.x(static_cast<double>(l.*mark.figure)) << "\" cy=\""
                << row_y << "\" r=\"4\" fill=\"" << mark.colour << "\"><title>" << escape(label)
                << " " << mark.name << ": " << l.*mark.figure << " ns</title></circle>\n";
        row_y += kRowHeight;
    }
    y = bottom + kPanelGap;
}

} // namespace

std::string render_svg(const Report& report) {
    double lo = 1e18, hi = 1;
    for (const Row& row : report.rows)
        if (const auto latency = row.latency()) {
            lo = std::min(lo, static_cast<double>(latency->p50));
            hi = std::max(hi, static_cast<double>(latency->max));
        }
    const Axis axis(lo > hi ? 1 : lo, hi);
    std::ostringstream body;
    double y = kTop;
    for (std::size_t size : report.sizes)
        panel(body, report, size, axis, y);

    std::ostringstream out;
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << y
        << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">shmbus bench ("
        << escape(report.mode) << "): round-trip latency, log scale</text>\n"
        << "<text x=\"10\" y=\"38\" font-size=\"11\">" << escape(report.cpu_model) << ", "
        << report.cpus << " CPUs; load " << escape(report.load_before) << "</text>\n";
    double legend_x = kLeft;
    for (const Mark& mark : kMarks) {
        out << "<circle cx=\"" << legend_x << "\" cy=\"34\" r=\"4\" fill=\"" << mark.colour
            << "\"/><text x=\"" << legend_x + 8 << "\" y=\"38\" font-size=\"11\">" << mark.name
            << "</text>\n";
        legend_x += 60;
    }
    out << body.str() << "</svg>\n";
    return out.str();
}

} // namespace shmbus::bench

// SPDX-License-Identifier: Apache-2.0
// `shmbus footprint`: how much shared memory each kind of object takes with its default options,
// measured by making each one in a scratch segment and reading the directory.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shmbus::cli {

/// One directory entry that making an object added (companion locks included).
struct FootprintEntry {
    std::string name;
    std::string kind;
    std::uint64_t size = 0;
};

/// One object, made with the options named in `options`.
struct FootprintRow {
    std::string object;
    std::string options;
    /// Sum of the sizes of `entries`.
    std::uint64_t bytes = 0;
    std::vector<FootprintEntry> entries;
};

struct FootprintReport {
    /// /dev/shm bytes that an empty segment takes: its header, process table and directory.
    std::uint64_t segment_tables = 0;
    std::vector<FootprintRow> rows;
};

/// Makes every kind of object in scratch segments (their names are removed as soon as they
/// exist) and reports the directory entries each one added.
FootprintReport measure_footprint();
std::string format_footprint(const FootprintReport& report);
nlohmann::json footprint_json(const FootprintReport& report);

class FootprintCommand {
public:
    /// Registers `footprint` and its options on `app`.
    explicit FootprintCommand(CLI::App& app);
    bool selected() const { return static_cast<bool>(*m_command); }
    /// 0, or 1 when an object could not be made. Never throws.
    int run(std::ostream& out, std::ostream& err) const;

private:
    CLI::App* m_command;
    bool m_json = false;
};

} // namespace shmbus::cli

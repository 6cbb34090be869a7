// SPDX-License-Identifier: Apache-2.0
// `shmbus bench`: the side-by-side performance run (tools/bench/harness) as a CLI subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace shmbus::cli {

class BenchCommand {
public:
    /// Registers `bench` and its options on `app`.
    explicit BenchCommand(CLI::App& app);
    bool selected() const { return static_cast<bool>(*m_command); }
    /// Runs the benchmark; 0 when every measurement ran, 1 when one failed or a file could not
    /// be written. Never throws.
    int run(std::ostream& out, std::ostream& err) const;

private:
    CLI::App* m_command;
    bool m_quick = false;
    bool m_json = false;
    bool m_python = false;
    bool m_no_pin = false;
    bool m_raise_mq_limit = false;
    bool m_no_iceoryx = false;
    std::string m_plot;
    std::string m_json_file;
    std::string m_only;
    std::string m_python_script;
    std::string m_python_interpreter;
    std::string m_iceoryx_program;
    bool m_nats = false;
    std::string m_nats_program;
    std::string m_nats_server;
    std::vector<std::size_t> m_sizes = {8, 64, 1024, 65536};
    std::vector<std::size_t> m_topic_sizes = {64, 65536, 1 << 20};
    std::vector<int> m_topic_subscribers = {1, 2, 4};
    int m_rounds = 0;
    std::size_t m_dram_mib = 0;
};

} // namespace shmbus::cli

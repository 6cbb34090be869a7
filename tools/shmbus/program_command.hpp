// SPDX-License-Identifier: Apache-2.0
// `shmbus bridge ...` and `shmbus worker ...`: run the programs shmbus-bridge and shmbus-worker
// (nats/tools/) with the arguments that follow, so that the CLI itself never links the NATS
// client.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>

namespace shmbus::cli {

class ProgramCommand {
public:
    /// Registers `name`, which passes every later argument on to `program`; `variable` names
    /// the environment variable that can name another program.
    ProgramCommand(CLI::App& app, const std::string& name, const std::string& description,
                   std::string program, std::string variable);
    bool selected() const { return static_cast<bool>(*m_command); }
    /// Replaces this process with the program: next to this executable, else on PATH. Returns
    /// only when that fails: kExitFailure, with why.
    int run(std::ostream& err) const;

private:
    CLI::App* m_command;
    std::string m_program;
    std::string m_variable;
};

} // namespace shmbus::cli

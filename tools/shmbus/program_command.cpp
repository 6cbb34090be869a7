// SPDX-License-Identifier: Apache-2.0
#include "program_command.hpp"

#include "cli.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace shmbus::cli {
namespace {

// The program installed or built beside this executable, else the bare name for PATH.
std::string program_path(const std::string& program, const std::string& variable) {
    if (const char* configured = std::getenv(variable.c_str()))
        return configured;
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) {
        const std::filesystem::path sibling = self.parent_path() / program;
        if (std::filesystem::exists(sibling, error))
            return sibling.string();
    }
    return program;
}

} // namespace

ProgramCommand::ProgramCommand(CLI::App& app, const std::string& name,
                               const std::string& description, std::string program,
                               std::string variable)
    : m_command(app.add_subcommand(name, description)), m_program(std::move(program)),
      m_variable(std::move(variable)) {
    m_command->prefix_command();
    m_command->set_help_flag(); // `shmbus <name> --help` is the program's help
}

int ProgramCommand::run(std::ostream& err) const {
    const std::string program = program_path(m_program, m_variable);
    std::vector<std::string> arguments{program};
    for (const std::string& argument : m_command->remaining())
        arguments.push_back(argument);
    std::vector<char*> argv;
    for (std::string& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);
    ::execvp(program.c_str(), argv.data());
    err << "shmbus " << m_command->get_name() << ": cannot run " << program << ": "
        << std::strerror(errno)
        << " (it is built with -DSHMBUS_BUILD_NATS=ON, which needs libnats-dev)\n";
    return kExitFailure;
}

} // namespace shmbus::cli

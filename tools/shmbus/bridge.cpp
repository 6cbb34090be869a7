// SPDX-License-Identifier: Apache-2.0
#include "bridge.hpp"

#include "cli.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace shmbus::cli {
namespace {

constexpr const char* kProgram = "shmbus-bridge";

// The shmbus-bridge installed or built beside this executable, else the bare name for PATH.
std::string bridge_program() {
    if (const char* configured = std::getenv("SHMBUS_BRIDGE"))
        return configured;
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) {
        const std::filesystem::path sibling = self.parent_path() / kProgram;
        if (std::filesystem::exists(sibling, error))
            return sibling.string();
    }
    return kProgram;
}

} // namespace

BridgeCommand::BridgeCommand(CLI::App& app)
    : m_command(app.add_subcommand(
          "bridge", "Move a local Queue's or Topic's messages to and from NATS JetStream (runs "
                    "shmbus-bridge: out, in, status; see README \"Beyond one host\")")) {
    m_command->prefix_command();
    m_command->set_help_flag(); // `shmbus bridge --help` is shmbus-bridge's help
}

int BridgeCommand::run(std::ostream& err) const {
    const std::string program = bridge_program();
    std::vector<std::string> arguments{program};
    for (const std::string& argument : m_command->remaining())
        arguments.push_back(argument);
    std::vector<char*> argv;
    for (std::string& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);
    ::execvp(program.c_str(), argv.data());
    err << "shmbus bridge: cannot run " << program << ": " << std::strerror(errno)
        << " (it is built with -DSHMBUS_BUILD_NATS=ON, which needs libnats-dev)\n";
    return kExitFailure;
}

} // namespace shmbus::cli

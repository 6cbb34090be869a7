// SPDX-License-Identifier: Apache-2.0
// `shmbus bridge ...`: runs the shmbus-bridge program (nats/tools/bridge_main.cpp) with the
// arguments that follow, so that the CLI itself never links the NATS client.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>

namespace shmbus::cli {

class BridgeCommand {
public:
    /// Registers `bridge`, which passes every later argument on to shmbus-bridge.
    explicit BridgeCommand(CLI::App& app);
    bool selected() const { return static_cast<bool>(*m_command); }
    /// Replaces this process with shmbus-bridge: next to this executable, else on PATH
    /// (SHMBUS_BRIDGE names another). Returns only when that fails: kExitFailure, with why.
    int run(std::ostream& err) const;

private:
    CLI::App* m_command;
};

} // namespace shmbus::cli

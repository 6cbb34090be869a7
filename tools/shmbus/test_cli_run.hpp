// SPDX-License-Identifier: Apache-2.0
// The CLI's tests run `shmbus` in their own process, through cli::run, with its output captured.
#pragma once

#include "cli.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace shmbus::test {

struct Outcome {
    int code;
    std::string out;
    std::string err;
};

inline Outcome shmbus_run(std::vector<std::string> args) {
    args.insert(args.begin(), "shmbus");
    std::vector<const char*> argv;
    for (const std::string& arg : args)
        argv.push_back(arg.c_str());
    std::ostringstream out;
    std::ostringstream err;
    const int code = cli::run(static_cast<int>(argv.size()), argv.data(), out, err);
    return {code, out.str(), err.str()};
}

} // namespace shmbus::test

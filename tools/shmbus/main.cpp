// SPDX-License-Identifier: Apache-2.0
// `shmbus`: inspect and clean up shmbus shared-memory segments. All logic lives in cli.cpp.
#include "cli.hpp"

#include <iostream>

int main(int argc, char** argv) {
    return shmbus::cli::run(argc, argv, std::cout, std::cerr);
}

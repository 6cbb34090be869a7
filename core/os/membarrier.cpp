// SPDX-License-Identifier: Apache-2.0
#include "os/membarrier.hpp"

#include "shmbus/errors.hpp"

#include <cerrno>
#include <cstring>
#include <linux/membarrier.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmbus::detail {
namespace {

long membarrier(int command) {
    return ::syscall(__NR_membarrier, command, 0, 0);
}

bool register_process() {
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0)
        return false;
    return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}

} // namespace

bool heavy_barrier_ready() {
    // A function-local static: one registration per process; a forked child inherits both the
    // registration and this answer.
    static const bool ready = register_process();
    return ready;
}

void heavy_barrier() {
    if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0)
        throw SystemError(std::string("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): ") +
                          std::strerror(errno));
}

} // namespace shmbus::detail

// SPDX-License-Identifier: Apache-2.0
// membarrier(2)'s global expedited barrier: a full memory barrier on every CPU that runs a
// thread of a registered process, paid by the caller alone (~2.5 us on the reference VM). It
// lets a waker skip its fence on every message: the rare waiter that is about to sleep issues
// this barrier instead (the asymmetric Dekker pair in docs/design/parking.md). Registration
// is inherited by fork() and dropped by exec.
#pragma once

namespace shmbus::detail {

/// Registers this process for heavy_barrier() once; false when the kernel (older than 4.16) or
/// a seccomp filter refuses membarrier. @concurrent any thread.
bool heavy_barrier_ready();

/// Every thread of every registered process, running or not, has passed a full memory barrier
/// when this returns. @pre heavy_barrier_ready() returned true in this process.
void heavy_barrier();

} // namespace shmbus::detail

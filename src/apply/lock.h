/* SPDX-License-Identifier: Apache-2.0 */
/* One transaction per process at a time, across suture invocations: an exclusive lock
 * file per target pid. Two tools writing one registry would corrupt it; ptrace alone does
 * not serialise them because staging and the freeze are separate attaches. The lock dies
 * with the suture process that holds it, so a killed tool never blocks the next one. */
#ifndef SUTURE_APPLY_LOCK_H
#define SUTURE_APPLY_LOCK_H

#include <sys/types.h>

#include "util/err.h"

/* Returns a lock fd (>= 0) or -1. Waits up to timeout_ms for another suture to finish. */
int sut_lock_pid(pid_t pid, int timeout_ms, struct sut_err *err);
void sut_unlock_pid(int fd);

#endif

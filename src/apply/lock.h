/* SPDX-License-Identifier: Apache-2.0 */
/* One transaction per process at a time, across suture invocations: an exclusive lock
 * file per target pid. Two tools writing one registry would corrupt it; ptrace alone does
 * not serialise them because staging and the freeze are separate attaches. The lock dies
 * with the suture process that holds it, so a killed tool never blocks the next one.
 *
 * The lock files live in suture's state directory, which only its owner can write:
 * /run/suture (mode 0700, owned by root) when suture runs as root; for another user
 * $XDG_RUNTIME_DIR/suture; SUTURE_RUN_DIR overrides both when the environment is
 * believed (util/env.h). The directory is created 0700 if missing and refused, never
 * repaired or replaced, when it is a symlink, not a directory, owned by someone else or
 * open to group or others: a user who could create files there could hold the lock of
 * any process (blocking its patching) or plant a symlink that makes root create or
 * truncate a file elsewhere. Every file is opened relative to the checked directory
 * with O_NOFOLLOW. There is no fallback to a shared directory (/tmp, /run/lock).
 *
 * Lock files do not pile up: the holder removes its file on unlock (while still holding
 * the lock); a waiter that then gets the lock on the removed file sees that the name no
 * longer leads to its file and starts again. A file left by a killed suture is taken
 * over by the next transaction on that pid and removed by it. */
#ifndef SUTURE_APPLY_LOCK_H
#define SUTURE_APPLY_LOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* The state directory's path (see above) into buf. 0, or -1 when there is none. */
int sut_state_dir_path(char *buf, size_t cap, struct sut_err *err);
/* Opens (creating it if missing) and checks the state directory: an O_DIRECTORY fd. */
int sut_state_dir_open(struct sut_err *err);

/* Returns a lock fd (>= 0) or -1. Waits up to timeout_ms for another suture to finish. */
int sut_lock_pid(pid_t pid, int timeout_ms, struct sut_err *err);
/* Removes the lock file and releases the lock. */
void sut_unlock_pid(int fd);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The dynamic linker's link map of a live process, read without stopping it.
 *
 * The order of the list is the dynamic linker's global symbol search order (executable,
 * LD_PRELOAD objects, then DT_NEEDED breadth first), which is what binding a new external
 * reference must follow to honour interposition. */
#ifndef SUTURE_PROC_LINKMAP_H
#define SUTURE_PROC_LINKMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/proc.h"
#include "util/err.h"

/* Load biases (l_addr) in link-map order; the executable comes first with its own bias. */
int sut_proc_link_map(pid_t pid, const struct sut_objects *objs, uint64_t **biases, size_t *n,
		      struct sut_err *err);

#endif

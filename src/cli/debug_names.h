/* SPDX-License-Identifier: Apache-2.0 */
/* Names of patched functions from debug information (where it exists for an object's
 * build-id: /usr/lib/debug/.build-id/ or debuginfod), for status. The names status reads
 * from a process's registry are the process's word; these come from the debug file of the
 * build, and a runtime address is turned into an ELF address with the load bias of the
 * object as the process maps it now. Read-only: nothing is written into any process. */
#ifndef SUTURE_CLI_DEBUG_NAMES_H
#define SUTURE_CLI_DEBUG_NAMES_H

#include <stdint.h>
#include <sys/types.h>

#include "apply/apply.h"

struct debug_names;

struct debug_names *debug_names_new(void);
void debug_names_free(struct debug_names *d);
/* The debug file's name of the function at runtime address addr of object o in process
 * pid, or NULL when there is no debug information or no function starts there. Valid until
 * debug_names_free. */
const char *debug_name(struct debug_names *d, pid_t pid, const struct sut_status_object *o,
		       uint64_t addr);

#endif

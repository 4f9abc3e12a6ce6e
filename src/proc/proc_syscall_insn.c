/* SPDX-License-Identifier: Apache-2.0 */
/* Finding an existing `syscall` instruction (0f 05) in the target, so remote system calls
 * need no code written into the process. The two bytes only have to decode as `syscall`
 * when execution starts at them; whatever instruction they were part of does not matter. */
#include "proc/proc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define CHUNK 65536

/* Scans [start, end) in chunks overlapping by one byte so a pair split across chunks is
 * still found. Returns 1 and sets *addr when found, 0 otherwise (unreadable counts as no). */
static int scan_range(pid_t pid, uint64_t start, uint64_t end, uint64_t *addr)
{
	uint8_t *buf = sut_xmalloc(CHUNK);
	uint64_t at = start;
	int found = 0;
	while (at + 1 < end) {
		size_t len = end - at < CHUNK ? (size_t)(end - at) : CHUNK;
		struct sut_err ignored;
		if (sut_proc_read(pid, at, buf, len, &ignored) < 0)
			break;
		for (size_t i = 0; i + 1 < len && !found; i++) {
			if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
				*addr = at + i;
				found = 1;
			}
		}
		if (found)
			break;
		at += len - 1;
	}
	free(buf);
	return found;
}

int sut_proc_find_syscall_insn(pid_t pid, const struct sut_maps *m, uint64_t *addr,
			       struct sut_err *err)
{
	/* The vdso first: small, always present, and never unmapped by the program. */
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, "[vdso]") == 0 &&
		    scan_range(pid, m->v[i].start, m->v[i].end, addr))
			return 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct sut_map *x = &m->v[i];
		if (x->perms[2] != 'x' || x->inode == 0 || x->path[0] != '/')
			continue;
		if (scan_range(pid, x->start, x->end, addr))
			return 0;
	}
	return sut_errf(err, "pid %d: no syscall instruction found in any executable mapping",
			(int)pid);
}

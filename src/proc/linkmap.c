/* SPDX-License-Identifier: Apache-2.0 */
/* Walks r_debug.r_map, found through the executable's DT_DEBUG entry (see linkmap.h). */
#include "proc/linkmap.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "util/buf.h"

/* The executable is the object that /proc/PID/exe opens; compare by the mapped file. */
static const struct sut_object *find_exe(pid_t pid, const struct sut_objects *objs)
{
	char link[64], exe[4096];
	snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		for (size_t i = 0; i < objs->n; i++)
			if (objs->v[i].path && strcmp(objs->v[i].path, exe) == 0)
				return &objs->v[i];
	}
	return objs->n ? &objs->v[0] : NULL;
}

int sut_proc_link_map(pid_t pid, const struct sut_objects *objs, uint64_t **biases, size_t *n,
		      struct sut_err *err)
{
	*biases = NULL;
	*n = 0;
	const struct sut_object *exe = find_exe(pid, objs);
	if (!exe)
		return sut_errf(err, "pid %d: no executable object mapped", (int)pid);
	Elf64_Ehdr eh;
	if (sut_proc_read(pid, exe->lo, &eh, sizeof eh, err) < 0)
		return -1;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_phnum == 0 || eh.e_phnum > 256)
		return sut_errf(err, "pid %d: executable header unreadable", (int)pid);
	Elf64_Phdr ph[256];
	if (sut_proc_read(pid, exe->lo + eh.e_phoff, ph, eh.e_phnum * sizeof ph[0], err) < 0)
		return -1;
	uint64_t dyn = 0, dynsz = 0;
	for (int i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = exe->bias + ph[i].p_vaddr;
			dynsz = ph[i].p_memsz;
		}
	if (!dyn)
		return sut_errf(err, "pid %d: executable is static (no PT_DYNAMIC)", (int)pid);
	uint64_t rdebug = 0;
	for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dynsz; off += sizeof(Elf64_Dyn)) {
		Elf64_Dyn d;
		if (sut_proc_read(pid, dyn + off, &d, sizeof d, err) < 0)
			return -1;
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_DEBUG)
			rdebug = d.d_un.d_ptr;
	}
	if (!rdebug)
		return sut_errf(err, "pid %d: dynamic linker's r_debug not set yet", (int)pid);
	struct r_debug rd;
	if (sut_proc_read(pid, rdebug, &rd, sizeof rd, err) < 0)
		return -1;
	uint64_t lm = (uint64_t)(uintptr_t)rd.r_map;
	size_t cap = 0;
	for (int guard = 0; lm && guard < 4096; guard++) {
		struct link_map l;
		if (sut_proc_read(pid, lm, &l, sizeof l, err) < 0) {
			free(*biases);
			*biases = NULL;
			*n = 0;
			return -1;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			*biases = sut_xrealloc(*biases, cap * sizeof **biases);
		}
		(*biases)[*n] = (uint64_t)l.l_addr;
		*n += 1;
		lm = (uint64_t)(uintptr_t)l.l_next;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the parser of /proc/PID/maps (src/proc/proc_maps.c).
 *
 * Any byte string is refused (nothing kept) or read as lines whose ranges and fields,
 * printed again as the kernel prints them, read back to the very same mappings. Crashes
 * and undefined behaviour are the sanitizers' findings; a broken property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/proc.h"
#include "util/buf.h"

static void property(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_maps_file: property broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sut_maps m;
	struct sut_err err;
	if (sut_proc_maps_parse((const char *)data, size, &m, &err) < 0) {
		property(m.n == 0 && m.v == NULL, "a refused text keeps no mapping");
		return 0;
	}
	struct sut_buf b = {0};
	for (size_t i = 0; i < m.n; i++) {
		const struct sut_map *x = &m.v[i];
		property(strlen(x->perms) == 4, "four permission letters");
		char *line = sut_xasprintf("%llx-%llx %s %08llx %02x:%02x %llu %s\n",
					   (unsigned long long)x->start, (unsigned long long)x->end,
					   x->perms, (unsigned long long)x->offset, x->dev_major,
					   x->dev_minor, (unsigned long long)x->inode, x->path);
		sut_buf_append(&b, line, strlen(line));
		free(line);
	}
	/* the printed text is the kernel's form, so it must be read back whole, every
	 * field the same (a path never starts with a blank: those are skipped) */
	struct sut_maps again;
	property(sut_proc_maps_parse((const char *)b.data, b.len, &again, &err) == 0 &&
			 again.n == m.n,
		 "printed again, the text is read back whole");
	for (size_t i = 0; i < m.n; i++)
		property(again.v[i].start == m.v[i].start && again.v[i].end == m.v[i].end &&
				 again.v[i].offset == m.v[i].offset &&
				 again.v[i].inode == m.v[i].inode &&
				 again.v[i].dev_major == m.v[i].dev_major &&
				 again.v[i].dev_minor == m.v[i].dev_minor &&
				 strcmp(again.v[i].perms, m.v[i].perms) == 0 &&
				 strcmp(again.v[i].path, m.v[i].path) == 0,
			 "printed again, the fields read back the same");
	sut_proc_maps_free(&again);
	sut_buf_free(&b);
	sut_proc_maps_free(&m);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/debug_names.h"

#include <stdlib.h>
#include <string.h>

#include "distro/distro.h"
#include "elf/elf.h"
#include "proc/proc.h"
#include "util/buf.h"

/* One opened debug file per build-id (or the knowledge that there is none), and the load
 * biases of the current process's objects. */
struct dbg_file {
	uint8_t id[64];
	size_t id_len;
	struct sut_elf *elf; /* NULL: no debug information */
};

struct debug_names {
	struct dbg_file *files;
	size_t nfiles;
	pid_t pid;
	struct sut_objects objs;
	bool have_objs;
};

struct debug_names *debug_names_new(void)
{
	return sut_xcalloc(1, sizeof(struct debug_names));
}

void debug_names_free(struct debug_names *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfiles; i++)
		if (d->files[i].elf)
			sut_elf_close(d->files[i].elf);
	free(d->files);
	if (d->have_objs)
		sut_proc_objects_free(&d->objs);
	free(d);
}

static struct sut_elf *debug_file(struct debug_names *d, const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < d->nfiles; i++)
		if (d->files[i].id_len == len && !memcmp(d->files[i].id, id, len))
			return d->files[i].elf;
	d->files = sut_xrealloc(d->files, (d->nfiles + 1) * sizeof *d->files);
	struct dbg_file *f = &d->files[d->nfiles++];
	memset(f, 0, sizeof *f);
	memcpy(f->id, id, len);
	f->id_len = len;
	char hex[129], *path = NULL;
	struct sut_err err;
	sut_hex(id, len, hex);
	if (sut_distro_find_debuginfo(hex, &path, &err) == 0 && sut_elf_open(path, &f->elf, &err) < 0)
		f->elf = NULL;
	free(path);
	return f->elf;
}

const char *debug_name(struct debug_names *d, pid_t pid, const struct sut_status_object *o,
		       uint64_t addr)
{
	if (!o->mapped || !o->build_id_len || o->build_id_len > 64)
		return NULL;
	struct sut_elf *e = debug_file(d, o->build_id, o->build_id_len);
	if (!e)
		return NULL;
	if (!d->have_objs || d->pid != pid) {
		if (d->have_objs)
			sut_proc_objects_free(&d->objs);
		d->have_objs = false;
		struct sut_maps maps;
		struct sut_err err;
		if (sut_proc_maps(pid, &maps, &err) < 0)
			return NULL;
		int rc = sut_proc_objects(pid, &maps, &d->objs, &err);
		sut_proc_maps_free(&maps);
		if (rc < 0)
			return NULL;
		d->have_objs = true;
		d->pid = pid;
	}
	const struct sut_object *ob = sut_objects_find_build_id(&d->objs, o->build_id, o->build_id_len);
	if (!ob || addr < ob->bias)
		return NULL;
	const struct sut_sym *s = sut_elf_sym_at(e, addr - ob->bias);
	return s && s->value == addr - ob->bias ? s->name : NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The ELF objects a process maps, identified by build-id.
 *
 * An object begins at a file mapping with offset 0 whose first bytes are the ELF magic
 * (the dynamic linker always maps the ELF header with the first PT_LOAD); the following
 * mappings of the same file (same device, inode and path) belong to it. The load bias is
 * computed from the program headers in that first mapping, which is the object as loaded;
 * the build-id is read from the mapped file itself through /proc/PID/map_files (the path
 * in maps may name another file by now), and from process memory when map_files cannot
 * be opened (no privilege, or a kernel without it). */
#include "proc/proc.h"

#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf/elf.h"
#include "util/buf.h"

#define PAGE 4096ULL
#define IMAGE_MAX 8192 /* ELF header, program headers and usually the notes */

static bool file_backed(const struct sut_map *m)
{
	return m->inode != 0 && m->path[0] == '/';
}

static bool same_file(const struct sut_map *a, const struct sut_map *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && strcmp(a->path, b->path) == 0;
}

/* Lowest PT_LOAD p_vaddr from the in-memory ELF header; -1 when the image is not a
 * 64-bit x86-64 ELF whose program headers fit in it. */
static int image_min_vaddr(const uint8_t *img, size_t len, uint64_t *min_vaddr)
{
	Elf64_Ehdr eh;
	if (len < sizeof eh)
		return -1;
	memcpy(&eh, img, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return -1;
	uint64_t lo = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type == PT_LOAD && ph.p_vaddr < lo)
			lo = ph.p_vaddr;
	}
	if (lo == UINT64_MAX)
		return -1;
	*min_vaddr = lo;
	return 0;
}

/* Build-id from the memory image already read (what is mapped is the truth, and it costs
 * nothing more), else from the mapped file. Opening the file parses its whole symbol
 * table: with --all over a thousand processes that was a third of the run. */
static void read_build_id(struct sut_object *o, const uint8_t *img, size_t img_len)
{
	o->build_id_len = sut_elf_build_id_from_image(img, img_len, o->build_id,
						      sizeof o->build_id);
	if (o->build_id_len)
		return;
	struct sut_elf *e;
	struct sut_err ignored;
	if (sut_elf_open(o->open_path, &e, &ignored) == 0) {
		const uint8_t *id;
		size_t n = sut_elf_build_id(e, &id);
		if (n && n <= sizeof o->build_id) {
			memcpy(o->build_id, id, n);
			o->build_id_len = n;
		}
		sut_elf_close(e);
	}
}

/* Reads the start of mapping m; returns the number of bytes read, 0 if unreadable. */
static size_t read_image(pid_t pid, const struct sut_map *m, uint8_t *img)
{
	size_t len = m->end - m->start < IMAGE_MAX ? (size_t)(m->end - m->start) : IMAGE_MAX;
	struct sut_err ignored;
	while (len >= PAGE) {
		if (sut_proc_read(pid, m->start, img, len, &ignored) == 0)
			return len;
		len -= PAGE; /* a short first mapping followed by a hole */
	}
	return 0;
}

static void add_object(pid_t pid, struct sut_objects *out, size_t *cap, const struct sut_map *m,
		       const uint8_t *img, size_t img_len, uint64_t min_vaddr)
{
	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		out->v = sut_xrealloc(out->v, *cap * sizeof *out->v);
	}
	struct sut_object *o = &out->v[out->n++];
	memset(o, 0, sizeof *o);
	o->path = sut_xstrdup(m->path);
	o->open_path = sut_xasprintf("/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
				     m->start, m->end);
	o->bias = m->start - (min_vaddr & ~(PAGE - 1));
	o->lo = m->start;
	o->hi = m->end;
	read_build_id(o, img, img_len);
}

/* Widens object o by mapping m (a later mapping of the same file). */
static void extend_object(struct sut_object *o, const struct sut_map *m)
{
	if (m->end > o->hi)
		o->hi = m->end;
	if (m->perms[2] == 'x') {
		if (!o->text_hi || m->start < o->text_lo)
			o->text_lo = m->start;
		if (m->end > o->text_hi)
			o->text_hi = m->end;
	}
}

int sut_proc_objects(pid_t pid, const struct sut_maps *maps, struct sut_objects *out,
		     struct sut_err *err)
{
	uint8_t *img = sut_xmalloc(IMAGE_MAX);
	size_t cap = 0;
	/* Index in maps of the first mapping of each object, parallel to out->v. */
	size_t *first = NULL;
	out->v = NULL;
	out->n = 0;
	for (size_t i = 0; i < maps->n; i++) {
		const struct sut_map *m = &maps->v[i];
		if (!file_backed(m))
			continue;
		if (m->offset == 0) {
			size_t len = read_image(pid, m, img);
			uint64_t min_vaddr;
			if (len && image_min_vaddr(img, len, &min_vaddr) == 0) {
				add_object(pid, out, &cap, m, img, len, min_vaddr);
				first = sut_xrealloc(first, cap * sizeof *first);
				first[out->n - 1] = i;
				extend_object(&out->v[out->n - 1], m);
				continue;
			}
		}
		/* The most recent object of the same file owns this mapping. */
		for (size_t k = out->n; k-- > 0;) {
			if (same_file(&maps->v[first[k]], m)) {
				extend_object(&out->v[k], m);
				break;
			}
		}
	}
	free(first);
	free(img);
	if (!out->n && !sut_proc_exists(pid))
		return sut_errf(err, "pid %d: no such process", (int)pid);
	return 0;
}

void sut_proc_objects_free(struct sut_objects *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].path);
		free(o->v[i].open_path);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

const struct sut_object *sut_objects_find_build_id(const struct sut_objects *o,
						   const uint8_t *id, size_t len)
{
	if (!len)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].build_id_len == len && memcmp(o->v[i].build_id, id, len) == 0)
			return &o->v[i];
	return NULL;
}

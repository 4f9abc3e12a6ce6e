/* SPDX-License-Identifier: Apache-2.0 */
/* One ELF file opened for its call frame information.
 *
 * .eh_frame (through .eh_frame_hdr's sorted table when present) is what every x86-64 object
 * carries, because C++ exceptions and glibc's own backtrace need it, so it is read first and
 * eagerly. .debug_frame is opened only when .eh_frame does not cover an address (objects
 * built with -fno-asynchronous-unwind-tables but with -g). Addresses here are ELF virtual
 * addresses: the caller subtracts the load bias. The file is mapped once and the descriptor
 * closed, so caching thousands of objects does not hold thousands of descriptors.
 *
 * Rows are cached per lookup address. The row for an address is a function of the
 * object's bytes and the address alone (no register, no memory of the process enters the
 * lookup: those come in only when the row's rules are applied to one frame), so the row
 * found for one thread is the row for every thread at that address, in any process that
 * maps the same file. A thousand threads asleep in the same call share a handful of
 * return addresses: the first one looks each row up in the tables (a binary search of
 * .eh_frame_hdr, then the CIE's and FDE's instructions run up to the address), the
 * others take the row. "No row here" is cached too; it is as much a fact of the file.
 * The cache is bounded (FRAME_CACHE_MAX rows per object); past that, rows are looked up
 * each time, as before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <libelf.h>

#include "unwind/unwind_internal.h"
#include "util/buf.h"

/* Open addressing, linear probing; cap is a power of two, at most half full. */
#define FRAME_CACHE_MAX 16384

struct frame_row {
	uint64_t vaddr;
	Dwarf_Frame *frame; /* owned; NULL: no table covers vaddr */
	bool used;
};

struct unw_object {
	Elf *elf;
	Dwarf_CFI *eh;        /* owned: dwarf_cfi_end */
	Dwarf *dw;            /* owned: dwarf_end; NULL until needed or when absent */
	Dwarf_CFI *debug;     /* owned by dw */
	bool debug_tried;
	struct frame_row *rows;
	size_t nrows, cap;
	uint64_t hits, misses;
};

struct unw_object *unw_object_open(const char *path, char *why, size_t whylen)
{
	/* libelf requires the version handshake before any other call; repeating it is cheap */
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(why, whylen, "libelf: %s", elf_errmsg(-1));
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(why, whylen, "%s is not an ELF file: %s", path, elf_errmsg(-1));
		if (elf)
			elf_end(elf);
		close(fd);
		return NULL;
	}
	/* Whole file is mapped: libelf needs the descriptor no more. */
	if (elf_cntl(elf, ELF_C_FDDONE) != 0) {
		snprintf(why, whylen, "%s: %s", path, elf_errmsg(-1));
		elf_end(elf);
		close(fd);
		return NULL;
	}
	close(fd);
	struct unw_object *o = sut_xcalloc(1, sizeof *o);
	o->elf = elf;
	o->eh = dwarf_getcfi_elf(elf); /* NULL when the file has no .eh_frame: not an error yet */
	return o;
}

void unw_object_close(struct unw_object *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->cap; i++)
		if (o->rows[i].used)
			free(o->rows[i].frame);
	free(o->rows);
	if (o->eh)
		dwarf_cfi_end(o->eh);
	if (o->dw)
		dwarf_end(o->dw);
	elf_end(o->elf);
	free(o);
}

static size_t row_slot(const struct unw_object *o, uint64_t vaddr)
{
	uint64_t h = vaddr * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (o->cap - 1);
}

static struct frame_row *row_find(struct unw_object *o, uint64_t vaddr)
{
	if (!o->cap)
		return NULL;
	for (size_t i = row_slot(o, vaddr);; i = (i + 1) & (o->cap - 1)) {
		if (!o->rows[i].used)
			return NULL;
		if (o->rows[i].vaddr == vaddr)
			return &o->rows[i];
	}
}

/* Keeps frame (owned from now on) as the row of vaddr; false when the cache is full. */
static bool row_add(struct unw_object *o, uint64_t vaddr, Dwarf_Frame *frame)
{
	if (o->nrows >= FRAME_CACHE_MAX)
		return false;
	if (2 * (o->nrows + 1) > o->cap) {
		size_t ncap = o->cap ? 2 * o->cap : 64;
		struct frame_row *old = o->rows;
		size_t ocap = o->cap;
		o->rows = sut_xcalloc(ncap, sizeof *o->rows);
		o->cap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].used)
				continue;
			size_t k = row_slot(o, old[i].vaddr);
			while (o->rows[k].used)
				k = (k + 1) & (ncap - 1);
			o->rows[k] = old[i];
		}
		free(old);
	}
	size_t k = row_slot(o, vaddr);
	while (o->rows[k].used)
		k = (k + 1) & (o->cap - 1);
	o->rows[k] = (struct frame_row){.vaddr = vaddr, .frame = frame, .used = true};
	o->nrows++;
	return true;
}

static Dwarf_Frame *frame_lookup(struct unw_object *o, uint64_t vaddr);

Dwarf_Frame *unw_object_frame(struct unw_object *o, uint64_t vaddr, bool *owned)
{
	struct frame_row *r = row_find(o, vaddr);
	*owned = false;
	if (r) {
		o->hits++;
		return r->frame;
	}
	o->misses++;
	Dwarf_Frame *f = frame_lookup(o, vaddr);
	if (!row_add(o, vaddr, f))
		*owned = f != NULL; /* not kept: the caller frees it */
	return f;
}

void unw_object_stats(const struct unw_object *o, size_t *rows, uint64_t *hits,
		      uint64_t *misses)
{
	*rows = o->nrows;
	*hits = o->hits;
	*misses = o->misses;
}

static Dwarf_Frame *frame_lookup(struct unw_object *o, uint64_t vaddr)
{
	Dwarf_Frame *frame = NULL;
	if (o->eh && dwarf_cfi_addrframe(o->eh, vaddr, &frame) == 0)
		return frame;
	if (!o->debug_tried) {
		o->debug_tried = true;
		o->dw = dwarf_begin_elf(o->elf, DWARF_C_READ, NULL);
		if (o->dw)
			o->debug = dwarf_getcfi(o->dw);
	}
	frame = NULL;
	if (o->debug && dwarf_cfi_addrframe(o->debug, vaddr, &frame) == 0)
		return frame;
	return NULL;
}

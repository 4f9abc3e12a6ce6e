/* SPDX-License-Identifier: Apache-2.0 */
/* One ELF file opened for its call frame information.
 *
 * .eh_frame (through .eh_frame_hdr's sorted table when present) is what every x86-64 object
 * carries, because C++ exceptions and glibc's own backtrace need it, so it is read first and
 * eagerly. .debug_frame is opened only when .eh_frame does not cover an address (objects
 * built with -fno-asynchronous-unwind-tables but with -g). Addresses here are ELF virtual
 * addresses: the caller subtracts the load bias. The file is mapped once and the descriptor
 * closed, so caching thousands of objects does not hold thousands of descriptors. */
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

struct unw_object {
	Elf *elf;
	Dwarf_CFI *eh;        /* owned: dwarf_cfi_end */
	Dwarf *dw;            /* owned: dwarf_end; NULL until needed or when absent */
	Dwarf_CFI *debug;     /* owned by dw */
	bool debug_tried;
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
	if (o->eh)
		dwarf_cfi_end(o->eh);
	if (o->dw)
		dwarf_end(o->dw);
	elf_end(o->elf);
	free(o);
}

Dwarf_Frame *unw_object_frame(struct unw_object *o, uint64_t vaddr)
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

/* SPDX-License-Identifier: Apache-2.0 */
/* The loaded image as the program headers describe it: PT_LOAD segments, the bytes at a
 * virtual address, and the span of addresses the object occupies once mapped. */
#include <stdlib.h>
#include <string.h>

#include "elf/elf_internal.h"
#include "util/buf.h"

int sut_elf_load_segments(struct sut_elf *e, struct sut_err *err)
{
	size_t phnum;
	if (elf_getphdrnum(e->elf, &phnum) != 0)
		return sut_errf(err, "%s: cannot read program headers: %s", e->path, elf_errmsg(-1));
	e->loads = sut_xcalloc(phnum ? phnum : 1, sizeof *e->loads);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph))
			return sut_errf(err, "%s: cannot read program header %zu: %s", e->path, i,
					elf_errmsg(-1));
		if (ph.p_type != PT_LOAD)
			continue;
		/* A segment whose file part is larger than its memory part, or whose end
		 * wraps, would make read_vaddr's arithmetic lie. */
		if (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			return sut_errf(err, "%s: PT_LOAD segment %zu has impossible sizes", e->path,
					i);
		e->loads[e->nloads++] = ph;
	}
	return 0;
}

static const GElf_Phdr *segment_at(const struct sut_elf *e, uint64_t vaddr)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const GElf_Phdr *ph = &e->loads[i];
		if (vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_memsz)
			return ph;
	}
	return NULL;
}

int sut_elf_read_vaddr(const struct sut_elf *e, uint64_t vaddr, void *buf, size_t len,
		       struct sut_err *err)
{
	uint8_t *out = buf;
	uint64_t at = vaddr;
	size_t left = len;
	/* A range may cross from one segment into an adjacent one. */
	while (left > 0) {
		const GElf_Phdr *ph = segment_at(e, at);
		if (!ph)
			return sut_errf(err,
					"%s: %zu bytes at 0x%llx: address 0x%llx is outside every "
					"PT_LOAD segment",
					e->path, len, (unsigned long long)vaddr,
					(unsigned long long)at);
		uint64_t off = at - ph->p_vaddr;
		size_t n = ph->p_memsz - off < left ? (size_t)(ph->p_memsz - off) : left;
		/* file bytes up to p_filesz, then zeros (.bss) */
		size_t from_file = off < ph->p_filesz ? (size_t)(ph->p_filesz - off) : 0;
		if (from_file > n)
			from_file = n;
		if (from_file) {
			/* open checked p_offset + p_filesz against the file size */
			memcpy(out, e->data + ph->p_offset + off, from_file);
		}
		memset(out + from_file, 0, n - from_file);
		out += n;
		at += n;
		left -= n;
	}
	return 0;
}

void sut_elf_load_span(const struct sut_elf *e, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = UINT64_MAX, h = 0;
	for (size_t i = 0; i < e->nloads; i++) {
		const GElf_Phdr *ph = &e->loads[i];
		if (ph->p_vaddr < l)
			l = ph->p_vaddr;
		if (ph->p_vaddr + ph->p_memsz > h)
			h = ph->p_vaddr + ph->p_memsz;
	}
	*lo = e->nloads ? l : 0;
	*hi = h;
}

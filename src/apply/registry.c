/* SPDX-License-Identifier: Apache-2.0 */
/* Reading, querying and encoding the in-process registry (see registry.h). */
#include "apply/registry.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Checks that records [0, n) tile exactly `len` bytes, each holding its funcs. */
static int check_records(const uint8_t *rec, size_t len, uint32_t n, struct sut_err *err)
{
	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (len - off < sizeof(struct sut_reg_patch))
			return sut_errf(err, "registry record %u truncated", i);
		const struct sut_reg_patch *p = (const void *)(rec + off);
		size_t need = sizeof *p + (size_t)p->nfuncs * sizeof(struct sut_reg_func);
		if (p->rec_size != need || p->rec_size > len - off)
			return sut_errf(err, "registry record %u has inconsistent size %u", i,
					p->rec_size);
		off += p->rec_size;
	}
	if (off != len)
		return sut_errf(err, "registry has %zu stray bytes after %u records", len - off, n);
	return 0;
}

int sut_registry_read(pid_t pid, const struct sut_maps *maps, struct sut_registry *reg,
		      bool *found, struct sut_err *err)
{
	memset(reg, 0, sizeof *reg);
	*found = false;
	const struct sut_map *m = sut_maps_find_memfd(maps, SUT_REG_NAME);
	if (!m)
		return 0;
	reg->addr = m->start;
	if (sut_proc_read(pid, m->start, &reg->hdr, sizeof reg->hdr, err) < 0)
		return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
	const struct sut_reg_header *h = &reg->hdr;
	if (memcmp(h->magic, SUT_REG_MAGIC, 8) != 0)
		return sut_errf(err, "pid %d: registry at 0x%llx has a bad magic", (int)pid,
				(unsigned long long)m->start);
	if (h->version != SUT_REG_VERSION)
		return sut_errf(err, "pid %d: registry version %u (this suture knows %u)", (int)pid,
				h->version, SUT_REG_VERSION);
	uint64_t maplen = m->end - m->start;
	if (h->size != maplen || h->used > h->size - sizeof *h)
		return sut_errf(err, "pid %d: registry header is inconsistent (size %u, used %u)",
				(int)pid, h->size, h->used);
	/* Read only what is in use (reading a page of the memfd would allocate it in the
	 * target), plus the pending record of an interrupted apply, which repair needs. */
	size_t want = h->used;
	if (h->state == SUT_REG_APPLYING && h->used + sizeof(struct sut_reg_patch) <=
						    h->size - sizeof *h) {
		struct sut_reg_patch pend;
		if (sut_proc_read(pid, m->start + sizeof *h + h->used, &pend, sizeof pend, err) < 0)
			return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
		if (pend.rec_size >= sizeof pend && pend.rec_size <= h->size - sizeof *h - h->used)
			want += pend.rec_size;
	}
	reg->records_len = want;
	reg->records = sut_xmalloc(want ? want : 1);
	if (want && sut_proc_read(pid, m->start + sizeof *h, reg->records, want, err) < 0) {
		sut_registry_free(reg);
		return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
	}
	if (check_records(reg->records, h->used, h->npatches, err) < 0) {
		sut_registry_free(reg);
		return sut_err_wrap(err, "pid %d", (int)pid);
	}
	reg->pending_len = reg->records_len - h->used;
	reg->records_len = h->used;
	*found = true;
	return 0;
}

void sut_registry_free(struct sut_registry *reg)
{
	free(reg->records);
	reg->records = NULL;
	reg->records_len = 0;
}

bool sut_registry_has(pid_t pid, const struct sut_maps *maps, const char *id)
{
	struct sut_registry reg;
	struct sut_err err;
	bool found = false, has = false;
	if (sut_registry_read(pid, maps, &reg, &found, &err) == 0 && found)
		has = sut_registry_find(&reg, id) >= 0;
	sut_registry_free(&reg);
	return has;
}

const struct sut_reg_patch *sut_registry_patch(const struct sut_registry *reg, size_t i)
{
	size_t off = 0;
	for (size_t k = 0; k < reg->hdr.npatches; k++) {
		const struct sut_reg_patch *p = (const void *)(reg->records + off);
		if (k == i)
			return p;
		off += p->rec_size;
	}
	return NULL;
}

long sut_registry_find(const struct sut_registry *reg, const char *id)
{
	for (size_t i = 0; i < reg->hdr.npatches; i++) {
		const struct sut_reg_patch *p = sut_registry_patch(reg, i);
		if (strncmp(p->id, id, sizeof p->id) == 0)
			return (long)i;
	}
	return -1;
}

long sut_registry_owner(const struct sut_registry *reg, uint64_t addr, long after)
{
	long owner = -1;
	for (size_t i = 0; i < reg->hdr.npatches; i++) {
		if ((long)i <= after)
			continue;
		const struct sut_reg_patch *p = sut_registry_patch(reg, i);
		const struct sut_reg_func *f = sut_reg_funcs(p);
		for (uint32_t k = 0; k < p->nfuncs; k++)
			if (f[k].addr == addr)
				owner = (long)i;
	}
	return owner;
}

const uint8_t *sut_registry_original(const struct sut_registry *reg, uint64_t addr)
{
	for (size_t i = 0; i < reg->hdr.npatches; i++) {
		const struct sut_reg_patch *p = sut_registry_patch(reg, i);
		const struct sut_reg_func *f = sut_reg_funcs(p);
		for (uint32_t k = 0; k < p->nfuncs; k++)
			if (f[k].addr == addr)
				return f[k].saved;
	}
	return NULL;
}

long sut_registry_encode(const struct sut_registry *reg, uint8_t *buf, size_t cap,
			 struct sut_err *err)
{
	size_t need = sizeof reg->hdr + reg->records_len;
	if (need > cap)
		return sut_errf(err, "registry full: %zu bytes needed, %zu available", need, cap);
	memcpy(buf, &reg->hdr, sizeof reg->hdr);
	if (reg->records_len)
		memcpy(buf + sizeof reg->hdr, reg->records, reg->records_len);
	return (long)need;
}

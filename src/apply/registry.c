/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding (with validation), reading, querying and encoding the in-process registry
 * (see registry.h). Everything here treats the registry image as hostile: it may have been
 * planted by the process, and suture runs as root. */
#include "apply/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "patch/patch.h"
#include "util/buf.h"

#define REC_HDR sizeof(struct sut_reg_patch)
#define FUNC_SZ sizeof(struct sut_reg_func)
#define MAX_FUNCS ((SUT_REG_SIZE - sizeof(struct sut_reg_header) - REC_HDR) / FUNC_SZ)

/* A string field: NUL-terminated inside its cap bytes. */
static bool field_str(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The comma-separated CVE list of a record: each one well-formed. */
static bool cves_ok(const char *field, size_t cap)
{
	char buf[sizeof ((struct sut_reg_patch *)0)->cves];
	if (cap > sizeof buf || !field_str(field, cap))
		return false;
	memcpy(buf, field, cap);
	if (!buf[0])
		return true;
	for (char *s = buf, *tok; (tok = strsep(&s, ",")) != NULL;)
		if (!sut_patch_cve_valid(tok))
			return false;
	return true;
}

static int check_func(const struct sut_reg_patch *p, const struct sut_reg_func *f, uint32_t k,
		      struct sut_err *err)
{
	const char *what = "";
	uint64_t rend = p->region + p->region_size;
	int64_t rel = (int64_t)(f->repl - (f->addr + SUT_JMP_LEN));
	int32_t enc;
	memcpy(&enc, f->written + 1, 4);
	if (!field_str(f->name, sizeof f->name) || !f->name[0])
		what = "name is not a NUL-terminated string";
	else if (f->size < SUT_JMP_LEN || f->addr + f->size < f->addr)
		what = "size out of range";
	else if (f->repl < p->region || f->repl >= rend || f->repl_size > rend - f->repl)
		what = "replacement outside the patch memory";
	else if (f->written[0] != 0xe9 || rel != (int64_t)enc ||
		 !zero(f->written + SUT_JMP_LEN, sizeof f->written - SUT_JMP_LEN))
		what = "written bytes are not the jump to the replacement";
	else if (!zero(f->saved + SUT_JMP_LEN, sizeof f->saved - SUT_JMP_LEN))
		what = "saved bytes longer than the jump";
	if (!*what)
		return 0;
	return sut_errf(err, "function %u: %s", k, what);
}

/* Validates the record at rec (avail bytes available); *size gets its size. */
static int check_record(const uint8_t *rec, size_t avail, size_t *size, struct sut_err *err)
{
	if (avail < REC_HDR)
		return sut_errf(err, "truncated (%zu bytes left, a record needs %zu)", avail,
				REC_HDR);
	struct sut_reg_patch p;
	memcpy(&p, rec, sizeof p);
	if (p.nfuncs < 1 || p.nfuncs > MAX_FUNCS)
		return sut_errf(err, "function count %u out of range (1-%zu)", p.nfuncs,
				(size_t)MAX_FUNCS);
	size_t need = REC_HDR + (size_t)p.nfuncs * FUNC_SZ;
	if (p.rec_size != need)
		return sut_errf(err, "record size %u, but %u functions need %zu", p.rec_size,
				p.nfuncs, need);
	if (need > avail)
		return sut_errf(err, "record of %zu bytes overruns the %zu bytes left", need, avail);
	if (!field_str(p.id, sizeof p.id) || !sut_patch_id_valid(p.id))
		return sut_errf(err, "patch id is not a valid id inside its field");
	if (p.build_id_len < 1 || p.build_id_len > sizeof p.build_id)
		return sut_errf(err, "patch %s: build-id length %u out of range (1-%zu)", p.id,
				p.build_id_len, sizeof p.build_id);
	if (p.flags & ~SUT_REG_FLAG_PER_CALL)
		return sut_errf(err, "patch %s: unknown flags 0x%x", p.id, p.flags);
	if (p.reserved)
		return sut_errf(err, "patch %s: reserved field is not zero", p.id);
	if (!p.region_size || p.region % 4096 || p.region + p.region_size < p.region)
		return sut_errf(err, "patch %s: patch memory range out of range", p.id);
	if (!cves_ok(p.cves, sizeof p.cves))
		return sut_errf(err, "patch %s: CVE list is not NUL-terminated CVE ids", p.id);
	if (!field_str(p.target, sizeof p.target))
		return sut_errf(err, "patch %s: target name is not NUL-terminated", p.id);
	for (uint32_t k = 0; k < p.nfuncs; k++) {
		struct sut_reg_func f;
		memcpy(&f, rec + REC_HDR + k * FUNC_SZ, sizeof f);
		if (check_func(&p, &f, k, err) < 0)
			return sut_err_wrap(err, "patch %s", p.id);
	}
	*size = need;
	return 0;
}

/* Checks the fixed part of the header against the mapping it came from. */
static int check_header(const struct sut_reg_header *h, uint64_t map_size, struct sut_err *err)
{
	if (memcmp(h->magic, SUT_REG_MAGIC, 8) != 0)
		return sut_errf(err, "bad magic");
	if (h->version != SUT_REG_VERSION)
		return sut_errf(err, "version %u (this suture knows %u)", h->version,
				SUT_REG_VERSION);
	if (h->size != SUT_REG_SIZE || map_size != SUT_REG_SIZE)
		return sut_errf(err, "size %u in a mapping of %llu bytes (suture makes %u)", h->size,
				(unsigned long long)map_size, SUT_REG_SIZE);
	if (h->used > h->size - sizeof *h || h->used % 8)
		return sut_errf(err, "used size %u out of range", h->used);
	if (h->npatches > h->used / REC_HDR)
		return sut_errf(err, "%u records cannot fit in %u bytes", h->npatches, h->used);
	if (h->state > SUT_REG_REVERTING)
		return sut_errf(err, "unknown journal state %u", h->state);
	if (h->state == SUT_REG_REVERTING && h->pending_index >= h->npatches)
		return sut_errf(err, "journal names record %u of %u", h->pending_index,
				h->npatches);
	if (h->reserved)
		return sut_errf(err, "reserved header field is not zero");
	return 0;
}

int sut_registry_decode(const uint8_t *bytes, size_t len, uint64_t map_size,
			struct sut_registry *reg, struct sut_err *err)
{
	memset(reg, 0, sizeof *reg);
	struct sut_reg_header h;
	if (len < sizeof h)
		return sut_errf(err, "registry truncated: %zu bytes, the header alone is %zu", len,
				sizeof h);
	memcpy(&h, bytes, sizeof h);
	if (check_header(&h, map_size, err) < 0)
		return sut_err_wrap(err, "registry header");
	const uint8_t *rec = bytes + sizeof h;
	size_t avail = len - sizeof h;
	if (h.used > avail)
		return sut_errf(err, "registry truncated: %u bytes in use, %zu present", h.used,
				avail);
	size_t off = 0;
	for (uint32_t i = 0; i < h.npatches; i++) {
		size_t sz;
		if (check_record(rec + off, h.used - off, &sz, err) < 0)
			return sut_err_wrap(err, "registry record %u", i);
		off += sz;
	}
	if (off != h.used)
		return sut_errf(err, "registry has %zu stray bytes after its %u records",
				(size_t)h.used - off, h.npatches);
	size_t pending = 0;
	if (h.state == SUT_REG_APPLYING &&
	    check_record(rec + h.used, avail - h.used, &pending, err) < 0)
		return sut_err_wrap(err, "registry journal (the record of an interrupted apply)");
	reg->hdr = h;
	reg->records_len = h.used;
	reg->pending_len = pending;
	reg->records = sut_xmalloc(h.used + pending + 1);
	memcpy(reg->records, rec, h.used + pending);
	return 0;
}

/* The device of the kernel's memfd file system, learnt from a memfd of our own: a mapping
 * named like a memfd but from another file system (a FUSE file a hostile process called
 * "/memfd:suture-registry" inside its own mount namespace) could block every read. */
static bool memfd_dev(unsigned *major, unsigned *minor)
{
	static int known = -1;
	static unsigned maj, min;
	if (known < 0) {
		int fd = memfd_create("suture-probe", MFD_CLOEXEC);
		struct stat st;
		known = fd >= 0 && fstat(fd, &st) == 0;
		if (known) {
			maj = major(st.st_dev);
			min = minor(st.st_dev);
		}
		if (fd >= 0)
			close(fd);
	}
	*major = maj;
	*minor = min;
	return known == 1;
}

static int corrupt(struct sut_registry *reg, pid_t pid, uint64_t at, struct sut_err *err)
{
	sut_registry_free(reg);
	reg->corrupt = true;
	return sut_err_wrap(err, "pid %d: registry mapping at 0x%llx is corrupt (not used)",
			    (int)pid, (unsigned long long)at);
}

int sut_registry_read(pid_t pid, const struct sut_maps *maps, struct sut_registry *reg,
		      bool *found, struct sut_err *err)
{
	memset(reg, 0, sizeof *reg);
	*found = false;
	const struct sut_map *m = sut_maps_find_memfd(maps, SUT_REG_NAME);
	if (!m)
		return 0;
	uint64_t at = m->start, maplen = m->end - m->start;
	unsigned maj, min;
	if (memfd_dev(&maj, &min) && (m->dev_major != maj || m->dev_minor != min)) {
		sut_errf(err, "mapping %s is not a memfd (device %u:%u)", m->path, m->dev_major,
			 m->dev_minor);
		return corrupt(reg, pid, at, err);
	}
	struct sut_reg_header h;
	if (maplen < sizeof h) {
		sut_errf(err, "mapping of %llu bytes", (unsigned long long)maplen);
		return corrupt(reg, pid, at, err);
	}
	if (sut_proc_read(pid, at, &h, sizeof h, err) < 0)
		return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
	if (check_header(&h, maplen, err) < 0) {
		sut_err_wrap(err, "header");
		return corrupt(reg, pid, at, err);
	}
	/* Read only what is in use (reading a page of the memfd would allocate it in the
	 * target), plus the pending record of an interrupted apply, which repair needs. */
	size_t want = sizeof h + h.used, room = h.size - want;
	if (h.state == SUT_REG_APPLYING) {
		uint32_t rec_size = 0;
		if (room >= sizeof rec_size &&
		    sut_proc_read(pid, at + want, &rec_size, sizeof rec_size, err) < 0)
			return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
		if (rec_size > room) {
			sut_errf(err, "journal record of %u bytes overruns the mapping", rec_size);
			return corrupt(reg, pid, at, err);
		}
		want += rec_size;
	}
	uint8_t *buf = sut_xmalloc(want);
	if (sut_proc_read(pid, at, buf, want, err) < 0) {
		free(buf);
		return sut_err_wrap(err, "pid %d: reading registry", (int)pid);
	}
	int rc = sut_registry_decode(buf, want, maplen, reg, err);
	free(buf);
	if (rc < 0)
		return corrupt(reg, pid, at, err);
	reg->addr = at;
	*found = true;
	return 0;
}

void sut_registry_free(struct sut_registry *reg)
{
	free(reg->records);
	reg->records = NULL;
	reg->records_len = 0;
	reg->pending_len = 0;
}

const struct sut_reg_patch *sut_registry_next(const struct sut_registry *reg,
					      const struct sut_reg_patch *p)
{
	size_t off = p ? (size_t)((const uint8_t *)p - reg->records) + p->rec_size : 0;
	if (off + REC_HDR > reg->records_len)
		return NULL;
	return (const void *)(reg->records + off);
}

const struct sut_reg_patch *sut_registry_patch(const struct sut_registry *reg, size_t i)
{
	if (i >= reg->hdr.npatches)
		return NULL;
	const struct sut_reg_patch *p = sut_registry_next(reg, NULL);
	while (p && i--)
		p = sut_registry_next(reg, p);
	return p;
}

long sut_registry_find(const struct sut_registry *reg, const char *id)
{
	long i = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p), i++)
		if (strncmp(p->id, id, sizeof p->id) == 0)
			return i;
	return -1;
}

long sut_registry_owner(const struct sut_registry *reg, uint64_t addr, long after)
{
	long owner = -1, i = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p), i++) {
		if (i <= after)
			continue;
		for (uint32_t k = 0; k < p->nfuncs; k++)
			if (sut_reg_funcs(p)[k].addr == addr)
				owner = i;
	}
	return owner;
}

const uint8_t *sut_registry_original(const struct sut_registry *reg, uint64_t addr)
{
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p))
		for (uint32_t k = 0; k < p->nfuncs; k++)
			if (sut_reg_funcs(p)[k].addr == addr)
				return sut_reg_funcs(p)[k].saved;
	return NULL;
}

size_t sut_registry_nfuncs(const struct sut_registry *reg)
{
	size_t n = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p))
		n += p->nfuncs;
	return n;
}

struct fn_ref {
	uint64_t addr;
	size_t rec;  /* record index */
	size_t flat; /* function index over all records */
};

static int cmp_ref(const void *a, const void *b)
{
	const struct fn_ref *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* superseded[flat]: a newer record names the same address. Sorting keeps this
 * O(F log F) where asking sut_registry_owner per function would be O(F^2). */
static void mark_superseded(const struct sut_registry *reg, bool *superseded)
{
	size_t n = sut_registry_nfuncs(reg), flat = 0, rec = 0;
	struct fn_ref *v = sut_xcalloc(n ? n : 1, sizeof *v);
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p), rec++)
		for (uint32_t k = 0; k < p->nfuncs; k++, flat++)
			v[flat] = (struct fn_ref){sut_reg_funcs(p)[k].addr, rec, flat};
	qsort(v, n, sizeof *v, cmp_ref);
	for (size_t i = 0; i < n; i++)
		superseded[v[i].flat] = i + 1 < n && v[i + 1].addr == v[i].addr;
	free(v);
}

const struct sut_object *sut_registry_object(const struct sut_objects *objs,
					     const struct sut_reg_patch *p)
{
	for (size_t k = 0; k < objs->n; k++)
		if (objs->v[k].bias == p->bias && objs->v[k].build_id_len == p->build_id_len &&
		    !memcmp(objs->v[k].build_id, p->build_id, p->build_id_len))
			return &objs->v[k];
	return NULL;
}

static const struct sut_map *map_at(const struct sut_maps *maps, uint64_t addr)
{
	const struct sut_map *m = sut_maps_find(maps, addr);
	return m && strncmp(m->path, SUT_PATCH_MAP_PREFIX, strlen(SUT_PATCH_MAP_PREFIX)) == 0 ? m : NULL;
}

int sut_registry_liveness(pid_t pid, const struct sut_registry *reg,
			  const struct sut_maps *maps, const struct sut_objects *objs,
			  struct sut_reg_liveness *out, bool *superseded, struct sut_err *err)
{
	size_t nf = sut_registry_nfuncs(reg), flat = 0, i = 0;
	bool *sup = sut_xcalloc(nf ? nf : 1, sizeof *sup);
	mark_superseded(reg, sup);
	int rc = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p), i++) {
		struct sut_reg_liveness *l = &out[i];
		l->live = true;
		l->why[0] = 0;
		const struct sut_object *o = sut_registry_object(objs, p);
		if (!o) {
			l->live = false;
			snprintf(l->why, sizeof l->why, "%s",
				 sut_objects_find_build_id(objs, p->build_id, p->build_id_len)
					 ? "the patched object was reloaded at another address"
					 : "the patched object is no longer mapped");
		} else if (!map_at(maps, p->region)) {
			l->live = false;
			snprintf(l->why, sizeof l->why, "its patch memory at 0x%llx is gone",
				 (unsigned long long)p->region);
		}
		for (uint32_t k = 0; k < p->nfuncs; k++, flat++) {
			const struct sut_reg_func *f = &sut_reg_funcs(p)[k];
			if (!l->live || sup[flat])
				continue;
			if (f->addr < o->lo || f->addr + f->size > o->hi) {
				l->live = false;
				snprintf(l->why, sizeof l->why, "%s lies outside the object", f->name);
				continue;
			}
			uint8_t cur[SUT_JMP_LEN];
			struct sut_err rerr;
			if (sut_proc_read(pid, f->addr, cur, sizeof cur, &rerr) < 0) {
				/* gone, or a hole the process made: either way not patched */
				if (!sut_proc_exists(pid)) {
					*err = rerr;
					rc = -1;
					break;
				}
				l->live = false;
				snprintf(l->why, sizeof l->why, "the entry of %s cannot be read",
					 f->name);
			} else if (memcmp(cur, f->written, sizeof cur) != 0) {
				l->live = false;
				snprintf(l->why, sizeof l->why,
					 "%s no longer starts with the jump to its replacement (the "
					 "object was reloaded or its code overwritten)", f->name);
			}
		}
		if (rc < 0)
			break;
	}
	if (superseded && rc == 0)
		memcpy(superseded, sup, nf * sizeof *sup);
	free(sup);
	return rc;
}

size_t sut_registry_drop(struct sut_registry *reg, const bool *drop)
{
	size_t n = reg->hdr.npatches, removed = 0;
	const struct sut_reg_patch **recs = sut_xcalloc(n ? n : 1, sizeof *recs);
	size_t i = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p && i < n;
	     p = sut_registry_next(reg, p))
		recs[i++] = p;
	/* hand each dropped entry's saved bytes to the lowest newer record naming it */
	for (i = 0; i < n; i++) {
		if (!drop[i])
			continue;
		for (uint32_t k = 0; k < recs[i]->nfuncs; k++) {
			const struct sut_reg_func *f = &sut_reg_funcs(recs[i])[k];
			bool done = false;
			for (size_t j = i + 1; j < n && !done; j++) {
				struct sut_reg_func *nf = (struct sut_reg_func *)sut_reg_funcs(recs[j]);
				for (uint32_t q = 0; q < recs[j]->nfuncs; q++)
					if (nf[q].addr == f->addr) {
						memcpy(nf[q].saved, f->saved, sizeof nf[q].saved);
						done = true;
					}
			}
		}
	}
	uint8_t *out = sut_xmalloc(reg->records_len + reg->pending_len + 1);
	size_t len = 0;
	for (i = 0; i < n; i++) {
		if (drop[i]) {
			removed++;
			continue;
		}
		memcpy(out + len, recs[i], recs[i]->rec_size);
		len += recs[i]->rec_size;
	}
	memcpy(out + len, reg->records + reg->records_len, reg->pending_len);
	free(recs);
	free(reg->records);
	reg->records = out;
	reg->records_len = len;
	reg->hdr.used = (uint32_t)len;
	reg->hdr.npatches -= (uint32_t)removed;
	if (removed)
		reg->hdr.generation++;
	return removed;
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

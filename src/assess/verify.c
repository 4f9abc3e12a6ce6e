/* SPDX-License-Identifier: Apache-2.0 */
/* suture verify: proof that a process runs the signed code of every patch it records.
 *
 * For each record of the registry (read-only, untrusted):
 *   - the object with the record's build-id is mapped, at the recorded load bias;
 *   - the patch image is mapped at the recorded address, executable, from suture's memfd;
 *   - a trusted patch file with the same id, version and build-id is known;
 *   - the record's functions are the patch's (entry = bias + the patch's target address);
 *   - the signed patch re-linked for this process at the recorded address (apply's own
 *     linker and resolver) gives code bytes whose SHA-256 equals that of the image's code
 *     as read from the process, and each replacement entry is where the link puts it;
 *   - the entry of each function whose live jump the record owns holds exactly the jump
 *     it wrote, and that jump lands on the replacement, inside the image; a superseded
 *     record's jump is what the newer record saved.
 * Then every known patch for a build the process maps must be applied. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "apply/apply.h"
#include "assess/assess_internal.h"
#include "util/buf.h"

void sut_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	SHA256(data, len, d);
	sut_hex(d, sizeof d, out);
}

const char *sut_vfy_kind_name(enum sut_vfy_kind k)
{
	switch (k) {
	case SUT_VFY_OK: return "ok";
	case SUT_VFY_REGISTRY: return "registry";
	case SUT_VFY_STALE: return "stale-record";
	case SUT_VFY_NO_PATCH: return "unknown-patch";
	case SUT_VFY_FUNC: return "function-mismatch";
	case SUT_VFY_JUMP: return "jump-mismatch";
	case SUT_VFY_IMAGE: return "image-mismatch";
	case SUT_VFY_MISSING: return "missing-patch";
	}
	return "?";
}

static void issue(struct sut_vfy_result *r, enum sut_vfy_kind k, const char *patch,
		  const char *func, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void issue(struct sut_vfy_result *r, enum sut_vfy_kind k, const char *patch,
		  const char *func, const char *fmt, ...)
{
	r->issues = sut_xrealloc(r->issues, (r->nissues + 1) * sizeof *r->issues);
	struct sut_vfy_issue *i = &r->issues[r->nissues++];
	memset(i, 0, sizeof *i);
	i->kind = k;
	snprintf(i->patch_id, sizeof i->patch_id, "%s", patch ? patch : "");
	snprintf(i->function, sizeof i->function, "%s", func ? func : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(i->msg, sizeof i->msg, fmt, ap);
	va_end(ap);
}

static bool same_id(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al && al == bl && !memcmp(a, b, al);
}

static const struct sut_patch *find_known(const struct sut_patch_set *k, const char *id,
					  const uint8_t *bid, size_t bl, size_t *any_id)
{
	*any_id = 0;
	for (size_t i = 0; k && i < k->n; i++) {
		if (strcmp(k->v[i]->id, id))
			continue;
		(*any_id)++;
		if (same_id(k->v[i]->build_id, k->v[i]->build_id_len, bid, bl))
			return k->v[i];
	}
	return NULL;
}

/* The replaced function whose replacement covers addr ("" when none). */
static const char *func_at(const struct sut_status_patch *rp, uint64_t addr)
{
	for (size_t i = 0; i < rp->nfuncs; i++)
		if (addr >= rp->funcs[i].repl && addr < rp->funcs[i].repl + rp->funcs[i].repl_size)
			return rp->funcs[i].name;
	return "";
}

/* The first offset of the RX part where mem is not the signed code, or rx_size when it is.
 * The code is img, except that the references to each lazily bound GOT slot (alts[i], one
 * symbol each: its bytes are those where the alternative differs from img) may all hold the
 * slot's unbound value instead, as linked when the patch was applied before the target's
 * first call bound it. Each symbol's references are taken whole from one image or the
 * other, never mixed, and every other byte must be img's. */
static size_t first_unexplained(const struct sut_link_image *img,
				const struct sut_relink_alt *alts, size_t nalts, const uint8_t *mem)
{
	size_t n = img->rx_size, first = n;
	uint8_t *mine = sut_xcalloc(n ? n : 1, 1); /* byte -> 1 + index of its alternative */
	for (size_t a = 0; a < nalts && a < 255; a++) {
		if (alts[a].img.rx_size != n)
			continue;
		for (size_t i = 0; i < n; i++)
			if (alts[a].img.bytes[i] != img->bytes[i] && !mine[i])
				mine[i] = (uint8_t)(a + 1);
	}
	for (size_t a = 0; a < nalts && a < 255; a++) {
		bool as_now = true, as_unbound = true;
		size_t at = n;
		for (size_t i = 0; i < n; i++) {
			if (mine[i] != a + 1)
				continue;
			if (mem[i] != img->bytes[i] && at == n)
				at = i;
			as_now &= mem[i] == img->bytes[i];
			as_unbound &= mem[i] == alts[a].img.bytes[i];
		}
		if (!as_now && !as_unbound && at < first)
			first = at;
	}
	for (size_t i = 0; i < n && i < first; i++)
		if (!mine[i] && mem[i] != img->bytes[i])
			first = i;
	free(mine);
	return first;
}

/* Checks record rp against the signed patch p: functions, image code. */
static int check_image(pid_t pid, struct sut_vfy_result *r, const struct sut_status_patch *rp,
		       const struct sut_patch *p, struct sut_vfy_patch *vp)
{
	int bad = 0;
	if (rp->nfuncs != p->nfuncs) {
		issue(r, SUT_VFY_FUNC, rp->id, NULL,
		      "the record names %zu functions, the signed patch replaces %zu", rp->nfuncs,
		      p->nfuncs);
		bad++;
	}
	for (size_t i = 0; i < p->nfuncs; i++) {
		uint64_t a = rp->bias + p->funcs[i].target_addr;
		bool seen = false;
		for (size_t k = 0; k < rp->nfuncs; k++)
			seen |= rp->funcs[k].addr == a && !strcmp(rp->funcs[k].name, p->funcs[i].name);
		if (!seen) {
			issue(r, SUT_VFY_FUNC, rp->id, p->funcs[i].name,
			      "the record has no entry for %s at 0x%llx", p->funcs[i].name,
			      (unsigned long long)a);
			bad++;
		}
	}
	struct sut_link_image img = {0};
	struct sut_relink_alt *alts = NULL;
	size_t nalts = 0;
	struct sut_err e;
	if (sut_relink(pid, p, rp->region, &img, NULL, NULL, &e) < 0) {
		issue(r, SUT_VFY_IMAGE, rp->id, NULL, "cannot re-link the signed patch: %s", e.msg);
		return bad + 1;
	}
	if (img.size != rp->region_size) {
		issue(r, SUT_VFY_IMAGE, rp->id, NULL,
		      "image size 0x%llx recorded, the signed patch links to 0x%llx",
		      (unsigned long long)rp->region_size, (unsigned long long)img.size);
		bad++;
	}
	for (size_t i = 0; i < p->nfuncs; i++) {
		uint64_t want = img.sym_addr[p->funcs[i].replacement];
		uint64_t a = rp->bias + p->funcs[i].target_addr;
		for (size_t k = 0; k < rp->nfuncs; k++)
			if (rp->funcs[k].addr == a && rp->funcs[k].repl != want) {
				issue(r, SUT_VFY_FUNC, rp->id, rp->funcs[k].name,
				      "replacement recorded at 0x%llx, the signed code puts it at 0x%llx",
				      (unsigned long long)rp->funcs[k].repl, (unsigned long long)want);
				bad++;
			}
	}
	uint8_t *mem = sut_xmalloc(img.rx_size ? img.rx_size : 1);
	if (sut_proc_read(pid, rp->region, mem, img.rx_size, &e) < 0) {
		issue(r, SUT_VFY_IMAGE, rp->id, NULL, "cannot read the patch image at 0x%llx: %s",
		      (unsigned long long)rp->region, e.msg);
		bad++;
	} else {
		char want[65];
		sut_sha256_hex(img.bytes, img.rx_size, want);
		sut_sha256_hex(mem, img.rx_size, vp->image_sha256);
		size_t off = img.rx_size;
		if (strcmp(want, vp->image_sha256)) {
			/* not the code as the process binds it now: maybe as it bound it then
			 * (the alternatives and their base come from one look at the process) */
			struct sut_link_image again = {0};
			if (sut_relink(pid, p, rp->region, &again, &alts, &nalts, &e) == 0 &&
			    again.rx_size == img.rx_size)
				off = first_unexplained(&again, alts, nalts, mem);
			else
				off = first_unexplained(&img, NULL, 0, mem);
			sut_link_image_free(&again);
		}
		if (off < img.rx_size) {
			const char *fn = func_at(rp, rp->region + off);
			issue(r, SUT_VFY_IMAGE, rp->id, fn,
			      "patch code differs from the signed code%s%s at 0x%llx (image+0x%zx): "
			      "sha256 %.16s... in memory, %.16s... signed",
			      *fn ? " in the replacement of " : "", fn,
			      (unsigned long long)(rp->region + off), off, vp->image_sha256, want);
			bad++;
		}
	}
	free(mem);
	sut_relink_alts_free(alts, nalts);
	sut_link_image_free(&img);
	return bad;
}

/* The record of object o that owns the live jump at addr: the newest naming it. */
static const struct sut_status_patch *owner_of(const struct sut_status_object *o, uint64_t addr)
{
	for (size_t i = o->npatches; i-- > 0;)
		for (size_t k = 0; k < o->patches[i].nfuncs; k++)
			if (o->patches[i].funcs[k].addr == addr)
				return &o->patches[i];
	return NULL;
}

/* Checks the jumps of record rp, one of object o's. */
static int check_jumps(pid_t pid, struct sut_vfy_result *r, const struct sut_status_object *o,
		       const struct sut_status_patch *rp)
{
	int bad = 0;
	for (size_t k = 0; k < rp->nfuncs; k++) {
		const struct sut_status_func *f = &rp->funcs[k];
		const struct sut_status_patch *op = owner_of(o, f->addr);
		if (op != rp) {
			/* superseded: the newer record must have saved exactly this jump */
			for (size_t j = 0; j < op->nfuncs; j++)
				if (op->funcs[j].addr == f->addr &&
				    memcmp(op->funcs[j].saved, f->written, SUT_JMP_LEN)) {
					issue(r, SUT_VFY_JUMP, rp->id, f->name,
					      "stacked under %s, which did not save this patch's jump",
					      op->id);
					bad++;
				}
			continue;
		}
		uint8_t cur[SUT_JMP_LEN];
		struct sut_err e;
		if (sut_proc_read(pid, f->addr, cur, SUT_JMP_LEN, &e) < 0) {
			issue(r, SUT_VFY_JUMP, rp->id, f->name, "cannot read the entry at 0x%llx: %s",
			      (unsigned long long)f->addr, e.msg);
			bad++;
			continue;
		}
		uint8_t want[SUT_JMP_LEN];
		bool jmp_ok = sut_link_jmp(f->addr, f->repl, want) == 0 &&
			      !memcmp(want, f->written, SUT_JMP_LEN);
		if (!jmp_ok) {
			issue(r, SUT_VFY_JUMP, rp->id, f->name,
			      "the recorded jump at 0x%llx does not lead to the recorded replacement",
			      (unsigned long long)f->addr);
			bad++;
		} else if (f->repl < rp->region || f->repl >= rp->region + rp->region_size) {
			issue(r, SUT_VFY_JUMP, rp->id, f->name,
			      "the jump at 0x%llx leads to 0x%llx, outside the patch image",
			      (unsigned long long)f->addr, (unsigned long long)f->repl);
			bad++;
		}
		if (memcmp(cur, f->written, SUT_JMP_LEN)) {
			char h[2 * SUT_JMP_LEN + 1];
			sut_hex(cur, SUT_JMP_LEN, h);
			issue(r, SUT_VFY_JUMP, rp->id, f->name,
			      "the entry at 0x%llx holds %s, not the jump into the patch",
			      (unsigned long long)f->addr, h);
			bad++;
		}
	}
	return bad;
}

/* Checks one record (rp, of object so) and adds its result to res. */
static void check_record(pid_t pid, struct sut_vfy_result *res, const struct sut_maps *maps,
			 const struct sut_objects *objs, const struct sut_patch_set *known,
			 const struct sut_status_object *so, const struct sut_status_patch *rp)
{
	struct sut_vfy_patch *vp = &res->patches[res->npatches++];
	size_t before = res->nissues;
	snprintf(vp->id, sizeof vp->id, "%s", rp->id);
	vp->version = rp->version;
	vp->build_id_len = so->build_id_len <= sizeof vp->build_id ? so->build_id_len : 0;
	memcpy(vp->build_id, so->build_id, vp->build_id_len);
	size_t used = 0;
	for (size_t c = 0; c < rp->ncves; c++) {
		int w = snprintf(vp->cves + used, sizeof vp->cves - used, "%s%s", c ? "," : "",
				 rp->cves[c]);
		if (w < 0 || (size_t)w >= sizeof vp->cves - used)
			break;
		used += (size_t)w;
	}
	vp->nfuncs = rp->nfuncs;
	char hex[2 * SUT_BUILD_ID_MAX + 1];
	sut_hex(vp->build_id, vp->build_id_len, hex);
	const struct sut_object *o = sut_objects_find_build_id(objs, vp->build_id, vp->build_id_len);
	if (!o) {
		issue(res, SUT_VFY_STALE, rp->id, NULL,
		      "recorded for build-id %s, which the process does not map", hex);
		return;
	}
	if (o->bias != rp->bias) {
		issue(res, SUT_VFY_STALE, rp->id, NULL,
		      "recorded for %s loaded at bias 0x%llx; it is loaded at 0x%llx", o->path,
		      (unsigned long long)rp->bias, (unsigned long long)o->bias);
		return;
	}
	const struct sut_map *m = sut_maps_find(maps, rp->region);
	if (!m || m->start != rp->region || m->perms[2] != 'x' ||
	    strncmp(m->path, "/memfd:suture:", 14)) {
		issue(res, SUT_VFY_STALE, rp->id, NULL,
		      "no patch image is mapped at the recorded address 0x%llx",
		      (unsigned long long)rp->region);
		check_jumps(pid, res, so, rp);
		return;
	}
	size_t nsame = 0;
	const struct sut_patch *p = find_known(known, rp->id, vp->build_id, vp->build_id_len,
					       &nsame);
	if (!p)
		issue(res, SUT_VFY_NO_PATCH, rp->id, NULL,
		      nsame ? "the trusted patch files with this id are for another build than %s"
			    : "no trusted patch file with this id for build-id %s was given",
		      hex);
	else if (p->version != rp->version)
		issue(res, SUT_VFY_NO_PATCH, rp->id, NULL,
		      "version %u is applied, the trusted patch file is version %u", rp->version,
		      p->version);
	else
		check_image(pid, res, rp, p, vp);
	check_jumps(pid, res, so, rp);
	vp->verified = res->nissues == before && res->registry_ok;
}

int sut_verify_process(pid_t pid, const struct sut_patch_set *known, struct sut_vfy_result *res,
		       struct sut_err *err)
{
	memset(res, 0, sizeof *res);
	res->pid = pid;
	if (!sut_proc_exists(pid))
		return sut_errf(err, "pid %d: no such process", (int)pid);
	sut_proc_comm(pid, res->comm, sizeof res->comm);
	struct sut_maps maps;
	struct sut_objects objs;
	if (sut_proc_maps(pid, &maps, err) < 0)
		return sut_err_wrap(err, "pid %d", (int)pid);
	if (sut_proc_objects(pid, &maps, &objs, err) < 0) {
		sut_proc_maps_free(&maps);
		return sut_err_wrap(err, "pid %d", (int)pid);
	}
	res->builds = sut_xcalloc(objs.n ? objs.n : 1, sizeof *res->builds);
	for (size_t i = 0; i < objs.n; i++) {
		if (!objs.v[i].build_id_len)
			continue;
		struct sut_vfy_build *b = &res->builds[res->nbuilds++];
		memcpy(b->id, objs.v[i].build_id, objs.v[i].build_id_len);
		b->len = objs.v[i].build_id_len;
		snprintf(b->path, sizeof b->path, "%s", objs.v[i].path);
	}
	struct sut_status st;
	struct sut_err e;
	bool have = false;
	if (sut_status_read(pid, &st, &e) < 0) {
		res->has_registry = true;
		issue(res, SUT_VFY_REGISTRY, NULL, NULL, "%s", e.msg);
	} else if (st.corrupt) {
		res->has_registry = true;
		issue(res, SUT_VFY_REGISTRY, NULL, NULL, "%s", st.corrupt_why);
		sut_status_free(&st);
	} else {
		have = true;
		res->has_registry = st.has_registry;
		res->registry_ok = true;
		if (st.txn != SUT_STATUS_TXN_NONE) {
			res->registry_ok = false;
			issue(res, SUT_VFY_REGISTRY, NULL, NULL,
			      "a transaction left unfinished by suture pid %u is recorded",
			      st.txn_tool_pid);
		}
	}
	size_t nrec = 0;
	for (size_t oi = 0; have && oi < st.nobjects; oi++)
		nrec += st.objects[oi].npatches;
	res->patches = sut_xcalloc(nrec ? nrec : 1, sizeof *res->patches);
	for (size_t oi = 0; have && oi < st.nobjects; oi++) {
		const struct sut_status_object *so = &st.objects[oi];
		for (size_t pi = 0; pi < so->npatches; pi++)
			check_record(pid, res, &maps, &objs, known, so, &so->patches[pi]);
	}
	/* every known patch for a build this process maps is applied */
	/* every known patch for a build this process maps is applied */
	for (size_t k = 0; known && k < known->n; k++) {
		const struct sut_patch *p = known->v[k];
		const struct sut_object *o = sut_objects_find_build_id(&objs, p->build_id,
								       p->build_id_len);
		if (!o)
			continue;
		bool applied = false;
		for (size_t i = 0; i < res->npatches; i++)
			applied |= !strcmp(res->patches[i].id, p->id);
		if (!applied)
			issue(res, SUT_VFY_MISSING, p->id, NULL, "maps %s (the build patch %s is for) "
			      "without the patch", o->path, p->id);
	}
	if (have)
		sut_status_free(&st);
	sut_proc_objects_free(&objs);
	sut_proc_maps_free(&maps);
	return 0;
}

bool sut_vfy_proved(const struct sut_vfy_result *r, const char *id)
{
	if (!r->registry_ok)
		return false;
	for (size_t i = 0; i < r->npatches; i++)
		if (!strcmp(r->patches[i].id, id))
			return r->patches[i].verified;
	return false;
}

void sut_verify_cross(struct sut_vfy_result *r, size_t n)
{
	for (size_t a = 0; a < n; a++)
		for (size_t i = 0; i < r[a].npatches; i++) {
			const struct sut_vfy_patch *vp = &r[a].patches[i];
			if (!vp->verified)
				continue;
			for (size_t b = 0; b < n; b++) {
				if (b == a)
					continue;
				const struct sut_vfy_build *bb = NULL;
				for (size_t k = 0; k < r[b].nbuilds; k++)
					if (same_id(r[b].builds[k].id, r[b].builds[k].len,
						    vp->build_id, vp->build_id_len))
						bb = &r[b].builds[k];
				if (!bb)
					continue;
				bool have = false, noted = false;
				for (size_t k = 0; k < r[b].npatches; k++)
					have |= !strcmp(r[b].patches[k].id, vp->id);
				for (size_t k = 0; k < r[b].nissues; k++)
					noted |= r[b].issues[k].kind == SUT_VFY_MISSING &&
						 !strcmp(r[b].issues[k].patch_id, vp->id);
				if (!have && !noted)
					issue(&r[b], SUT_VFY_MISSING, vp->id, NULL,
					      "maps %s, patched with %s in pid %d, without the patch",
					      bb->path, vp->id, (int)r[a].pid);
			}
		}
}

void sut_vfy_result_free(struct sut_vfy_result *res)
{
	free(res->patches);
	free(res->issues);
	free(res->builds);
	memset(res, 0, sizeof *res);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The assess layer's only use of the apply layer's registry: read it out of a process and
 * decode it into a view whose every field has been checked. The registry lives in the
 * target, so it is untrusted input (invariant 8): strings are cut at their field's size,
 * counts are bounded by the bytes really read. */
#include <stdlib.h>
#include <string.h>

#include "apply/registry.h"
#include "assess/assess_internal.h"
#include "util/buf.h"

static void copy_str(char *dst, size_t cap, const char *src, size_t srccap)
{
	size_t n = strnlen(src, srccap);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int sut_rv_read(pid_t pid, const struct sut_maps *maps, struct sut_rv *rv, struct sut_err *err)
{
	memset(rv, 0, sizeof *rv);
	struct sut_registry reg;
	bool found = false;
	if (!sut_maps_find_memfd(maps, SUT_REG_NAME))
		return 0;
	rv->found = true;
	if (sut_registry_read(pid, maps, &reg, &found, err) < 0)
		return -1;
	if (!found)
		return 0;
	rv->idle = reg.hdr.state == SUT_REG_IDLE;
	rv->tool_pid = reg.hdr.tool_pid;
	rv->v = sut_xcalloc(reg.hdr.npatches ? reg.hdr.npatches : 1, sizeof *rv->v);
	for (size_t i = 0; i < reg.hdr.npatches; i++) {
		const struct sut_reg_patch *p = sut_registry_patch(&reg, i);
		if (!p) {
			sut_registry_free(&reg);
			sut_rv_free(rv);
			return sut_errf(err, "pid %d: registry: record %zu of %u is missing", (int)pid,
					i, reg.hdr.npatches);
		}
		struct sut_rv_patch *q = &rv->v[rv->n++];
		copy_str(q->id, sizeof q->id, p->id, sizeof p->id);
		q->version = p->version;
		q->build_id_len = p->build_id_len <= sizeof q->build_id ? p->build_id_len : 0;
		memcpy(q->build_id, p->build_id, q->build_id_len);
		q->bias = p->bias;
		q->region = p->region;
		q->region_size = p->region_size;
		copy_str(q->cves, sizeof q->cves, p->cves, sizeof p->cves);
		q->nfuncs = p->nfuncs;
		q->funcs = sut_xcalloc(p->nfuncs ? p->nfuncs : 1, sizeof *q->funcs);
		const struct sut_reg_func *f = sut_reg_funcs(p);
		for (size_t k = 0; k < p->nfuncs; k++) {
			struct sut_rv_func *g = &q->funcs[k];
			g->addr = f[k].addr;
			g->size = f[k].size;
			g->repl = f[k].repl;
			g->repl_size = f[k].repl_size;
			memcpy(g->saved, f[k].saved, SUT_JMP_LEN);
			memcpy(g->written, f[k].written, SUT_JMP_LEN);
			copy_str(g->name, sizeof g->name, f[k].name, sizeof f[k].name);
		}
	}
	sut_registry_free(&reg);
	return 0;
}

void sut_rv_free(struct sut_rv *rv)
{
	for (size_t i = 0; i < rv->n; i++)
		free(rv->v[i].funcs);
	free(rv->v);
	memset(rv, 0, sizeof *rv);
}

long sut_rv_owner(const struct sut_rv *rv, uint64_t addr)
{
	for (size_t i = rv->n; i-- > 0;)
		for (size_t k = 0; k < rv->v[i].nfuncs; k++)
			if (rv->v[i].funcs[k].addr == addr)
				return (long)i;
	return -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The process view (apply.h): one read of a process (maps, objects, registry decoded and
 * checked) that a job hands down to every step, and that each of its transactions leaves
 * describing the process as it left it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/txn.h"
#include "util/buf.h"

/* Reads the registry the maps show; a corrupt one is kept as a fact (its reason), an
 * unreadable one is an error. */
static int read_registry(struct sut_process_view *v, struct sut_err *err)
{
	v->have_reg = v->reg_corrupt = false;
	v->reg_error[0] = 0;
	if (sut_registry_read(v->t.pid, &v->t.maps, &v->reg, &v->have_reg, err) == 0)
		return 0;
	if (!v->reg.corrupt)
		return -1;
	v->reg_corrupt = true;
	snprintf(v->reg_error, sizeof v->reg_error, "%s", err->msg);
	return 0;
}

static void drop_contents(struct sut_process_view *v)
{
	sut_status_free(&v->status);
	sut_registry_free(&v->reg);
	sut_target_close(&v->t);
}

static int read_into(struct sut_process_view *v, pid_t pid, struct sut_err *err)
{
	if (sut_target_open(pid, NULL, 0, &v->t, err) < 0)
		return -1;
	if (read_registry(v, err) < 0 || sut_view_status_update(v, err) < 0) {
		drop_contents(v);
		return -1;
	}
	return 0;
}

int sut_process_view_read(pid_t pid, struct sut_process_view **out, struct sut_err *err)
{
	struct sut_process_view *v = sut_xcalloc(1, sizeof *v);
	if (read_into(v, pid, err) < 0) {
		free(v);
		*out = NULL;
		return -1;
	}
	*out = v;
	return 0;
}

int sut_view_reread(struct sut_process_view *v, struct sut_err *err)
{
	pid_t pid = v->t.pid;
	drop_contents(v);
	memset(v, 0, sizeof *v);
	if (read_into(v, pid, err) == 0)
		return 0;
	/* what follows in the job refuses with this */
	v->t.pid = pid;
	snprintf(v->lost, sizeof v->lost, "%s", err->msg);
	return -1;
}

int sut_view_usable(const struct sut_process_view *v, struct sut_err *err)
{
	if (v->lost[0])
		return sut_errf(err, "%s (read again after a change and lost)", v->lost);
	return 0;
}

void sut_process_view_free(struct sut_process_view *v)
{
	if (!v)
		return;
	drop_contents(v);
	free(v);
}

const struct sut_status *sut_process_view_status(const struct sut_process_view *v)
{
	return &v->status;
}

const struct sut_object *sut_process_view_object(const struct sut_process_view *v,
						 const uint8_t *build_id, size_t len)
{
	return sut_objects_find_build_id(&v->t.objs, build_id, len);
}

int sut_view_status_update(struct sut_process_view *v, struct sut_err *err)
{
	sut_status_free(&v->status);
	memset(&v->status, 0, sizeof v->status);
	struct sut_status *st = &v->status;
	st->pid = v->t.pid;
	snprintf(st->comm, sizeof st->comm, "%s", v->t.comm);
	if (v->reg_corrupt) {
		st->has_registry = st->corrupt = st->exposed = true;
		snprintf(st->corrupt_why, sizeof st->corrupt_why, "%s", v->reg_error);
		return 0;
	}
	st->has_registry = v->have_reg;
	if (!v->have_reg)
		return 0;
	if (sut_status_decode(v->t.pid, &v->reg, &v->t.maps, &v->t.objs, st, err) < 0) {
		sut_status_free(st);
		return -1;
	}
	return 0;
}

int sut_view_registry_usable(const struct sut_process_view *v, struct sut_err *err)
{
	if (v->reg_corrupt)
		return sut_errf(err, "%s", v->reg_error);
	return 0;
}

void sut_view_take_registry(struct sut_process_view *v, struct sut_registry *reg)
{
	sut_registry_free(&v->reg);
	v->reg = *reg;
	v->have_reg = true;
	memset(reg, 0, sizeof *reg);
}

void sut_view_forget_mappings(struct sut_process_view *v, uint64_t lo, uint64_t hi)
{
	struct sut_maps *m = &v->t.maps;
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].start >= lo && m->v[i].end <= hi) {
			free(m->v[i].path);
			continue;
		}
		m->v[k++] = m->v[i];
	}
	m->n = k;
}

void sut_registry_dup(const struct sut_registry *src, struct sut_registry *dst)
{
	*dst = *src;
	dst->records = NULL;
	if (src->records_len) {
		dst->records = sut_xmalloc(src->records_len);
		memcpy(dst->records, src->records, src->records_len);
	}
}

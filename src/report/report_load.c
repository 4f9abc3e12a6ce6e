/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the audit trail into events and the live patches it implies. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "report/report.h"

static char *dupstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? strdup(s) : NULL;
}

static uint64_t getu(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
							       : 0;
}

static void event_free(struct sut_report_event *e)
{
	free(e->time), free(e->action), free(e->patch), free(e->comm), free(e->signer);
	free(e->error), free(e->file), free(e->repaired);
	free(e->rollout), free(e->detail);
}

static void live_free(struct sut_report_live *l)
{
	free(l->patch), free(l->comm), free(l->signer);
}

static bool takes_out(const char *action)
{
	return !strcmp(action, "revert") || !strcmp(action, "takeback");
}

static int add_live(struct sut_report *r, pid_t pid, const char *patch, const char *comm,
		    const char *signer, bool in_trail);

/* Tracks what an event does to the set of live (pid, patch) pairs. */
static int track(struct sut_report *r, const struct sut_report_event *e)
{
	if (!e->ok || !e->action || !e->patch || e->pid <= 0)
		return 0;
	size_t i;
	for (i = 0; i < r->nlive; i++)
		if (r->live[i].pid == e->pid && !strcmp(r->live[i].patch, e->patch))
			break;
	if (!strcmp(e->action, "apply")) {
		if (i < r->nlive)
			return 0;
		return add_live(r, e->pid, e->patch, e->comm, e->signer, true);
	} else if (takes_out(e->action) && i < r->nlive) {
		live_free(&r->live[i]);
		memmove(&r->live[i], &r->live[i + 1], (r->nlive - i - 1) * sizeof *r->live);
		r->nlive--;
	}
	return 0;
}

static int add_live(struct sut_report *r, pid_t pid, const char *patch, const char *comm,
		    const char *signer, bool in_trail)
{
	struct sut_report_live *n = realloc(r->live, (r->nlive + 1) * sizeof *n);
	if (!n)
		return -1;
	r->live = n;
	struct sut_report_live *l = &r->live[r->nlive++];
	memset(l, 0, sizeof *l);
	l->pid = pid;
	l->patch = strdup(patch);
	l->comm = comm ? strdup(comm) : NULL;
	l->signer = signer ? strdup(signer) : NULL;
	l->in_trail = in_trail;
	return l->patch ? 0 : -1;
}

static const struct sut_inv_proc *inv_proc(const struct sut_report *r, pid_t pid)
{
	for (size_t i = 0; r->has_inv && i < r->inv.nprocs; i++)
		if (r->inv.procs[i].pid == pid)
			return &r->inv.procs[i];
	return NULL;
}

/* Every patch a running process's registry records that the trail does not have in it. */
static int add_registry_only(struct sut_report *r, const struct sut_patch_set *known)
{
	for (size_t i = 0; i < r->inv.nprocs; i++) {
		const struct sut_inv_proc *p = &r->inv.procs[i];
		for (size_t k = 0; k < p->vfy.npatches; k++) {
			const char *id = p->vfy.patches[k].id;
			size_t j;
			for (j = 0; j < r->nlive; j++)
				if (r->live[j].pid == p->pid && !strcmp(r->live[j].patch, id))
					break;
			if (j < r->nlive)
				continue;
			const char *signer = NULL;
			for (size_t s = 0; known && s < known->n; s++)
				if (!strcmp(known->v[s]->id, id))
					signer = known->v[s]->sig_key_id;
			if (add_live(r, p->pid, id, p->comm, signer, false) < 0)
				return -1;
		}
	}
	return 0;
}

/* What verify found about patch id in p: its first finding, or why nothing was proved. */
static void unproved_why(const struct sut_inv_proc *p, const char *id, char *why, size_t cap)
{
	for (size_t i = 0; i < p->vfy.nissues; i++)
		if (!strcmp(p->vfy.issues[i].patch_id, id)) {
			snprintf(why, cap, "live in the registry, NOT proved by verify: %.200s",
				 p->vfy.issues[i].msg);
			return;
		}
	snprintf(why, cap, "live in the registry, NOT proved by verify%s",
		 p->vfy.registry_ok ? "" : ": the registry is not sound");
}

static void confirm(struct sut_report_live *l)
{
	struct sut_status st;
	struct sut_err err;
	if (sut_status_read(l->pid, &st, &err) < 0) {
		snprintf(l->why, sizeof l->why, "process %d cannot be read: %.200s", (int)l->pid,
			 err.msg);
		return;
	}
	const struct sut_status_patch *p = sut_status_find(&st, l->patch);
	if (st.corrupt)
		snprintf(l->why, sizeof l->why, "the registry of process %d is corrupt",
			 (int)l->pid);
	else if (!p)
		snprintf(l->why, sizeof l->why, "process %d has no record of it (restarted?)",
			 (int)l->pid);
	else if (!p->live)
		snprintf(l->why, sizeof l->why, "stale: %s", p->stale_why);
	else
		l->confirmed = true;
	sut_status_free(&st);
}

int sut_report_load(const char *audit_path, const char *since, const struct sut_patch_set *known,
		    struct sut_report *r, struct sut_err *err)
{
	memset(r, 0, sizeof *r);
	r->chain = sut_audit_verify(audit_path, &r->check, err);
	if (r->chain < 0)
		return -1;
	FILE *f = fopen(audit_path, "re");
	if (!f)
		return sut_errno(err, "audit trail %s", audit_path);
	r->audit_path = strdup(audit_path);
	char *line = NULL;
	size_t cap = 0, no = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		no++;
		json_error_t je;
		json_t *o = json_loadb(line, (size_t)len, 0, &je);
		if (!json_is_object(o)) {
			json_decref(o);
			r->skipped++;
			continue;
		}
		struct sut_report_event e = {
			.line = no,
			.time = dupstr(o, "time"),
			.action = dupstr(o, "action"),
			.patch = dupstr(o, "patch"),
			.comm = dupstr(o, "comm"),
			.signer = dupstr(o, "signer"),
			.error = dupstr(o, "error"),
			.file = dupstr(o, "file"),
			.repaired = dupstr(o, "repaired"),
			.rollout = dupstr(o, "rollout"),
			.detail = dupstr(o, "detail"),
			.wave = (int)getu(o, "wave"),
			.pid = (pid_t)getu(o, "pid"),
			.ok = json_is_true(json_object_get(o, "ok")),
			.freeze_us = getu(o, "freeze_us"),
			.functions = getu(o, "functions"),
			.uid = getu(o, "uid"),
			.loginuid = getu(o, "loginuid"),
			.has_loginuid = json_is_integer(json_object_get(o, "loginuid")),
		};
		json_decref(o);
		if (track(r, &e) < 0) {
			event_free(&e);
			rc = sut_errf(err, "out of memory reading %s", audit_path);
			break;
		}
		if (since && (!e.time || strcmp(e.time, since) < 0)) {
			event_free(&e);
			continue;
		}
		struct sut_report_event *n = realloc(r->events, (r->nevents + 1) * sizeof *n);
		if (!n) {
			event_free(&e);
			rc = sut_errf(err, "out of memory reading %s", audit_path);
			break;
		}
		r->events = n;
		r->events[r->nevents++] = e;
	}
	free(line);
	fclose(f);
	if (rc < 0) {
		sut_report_free(r);
		return -1;
	}
	struct sut_inv_opts io = {0};
	struct sut_patch_set none = {0};
	struct sut_err ierr;
	if (sut_inventory_build(&io, known ? known : &none, &r->inv, &ierr) == 0)
		r->has_inv = true;
	else
		snprintf(r->inv_error, sizeof r->inv_error, "%.250s", ierr.msg);
	if (r->has_inv && add_registry_only(r, known) < 0) {
		sut_report_free(r);
		return sut_errf(err, "out of memory reading the processes");
	}
	for (size_t i = 0; i < r->nlive; i++) {
		struct sut_report_live *l = &r->live[i];
		confirm(l);
		if (!l->confirmed)
			continue;
		const struct sut_inv_proc *p = inv_proc(r, l->pid);
		if (!p)
			snprintf(l->why, sizeof l->why, "live in the registry, NOT proved: %.200s",
				 r->has_inv ? "the process is not in the inventory" : r->inv_error);
		else if (sut_vfy_proved(&p->vfy, l->patch))
			l->proved = true;
		else
			unproved_why(p, l->patch, l->why, sizeof l->why);
	}
	return 0;
}

void sut_report_free(struct sut_report *r)
{
	for (size_t i = 0; i < r->nevents; i++)
		event_free(&r->events[i]);
	for (size_t i = 0; i < r->nlive; i++)
		live_free(&r->live[i]);
	free(r->events);
	free(r->live);
	free(r->audit_path);
	if (r->has_inv)
		sut_inventory_free(&r->inv);
	memset(r, 0, sizeof *r);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Running a rollout's waves, and taking them back (rollout.h). Every step is saved before
 * the next begins, so the state file always says what has been done. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rollout/rollout.h"
#include "util/buf.h"

/* appends to b, keeping it NUL-terminated */
static void bprintf(struct sut_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct sut_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sut_buf_append(b, s, (size_t)n + 1);
	b->len--;
	free(s);
}

static void stamp(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void set_state(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s);
}

static bool stopped(const struct sut_rollout_hooks *h)
{
	return h->stop && h->stop(h->ctx);
}

static void event(const struct sut_rollout_hooks *h, const struct sut_rollout *ro,
		  const char *action, int wave, bool ok, const char *error, const char *detail)
{
	if (h->event)
		h->event(h->ctx, ro, action, wave, ok, error, detail);
}

static char *pid_list(const struct sut_ro_wave *w)
{
	struct sut_buf b = {0};
	for (size_t k = 0; k < w->npids; k++)
		bprintf(&b, "%s%d", k ? "," : "", (int)w->pids[k]);
	return b.data ? (char *)b.data : sut_xstrdup("");
}

static const char *gone(const struct sut_rollout *ro, pid_t pid)
{
	uint64_t start;
	char st;
	if (sut_ro_proc_stat(pid, &start, NULL, NULL, &st) < 0 || st == 'Z' || st == 'X')
		return "process gone: nothing to revert";
	for (size_t i = 0; i < ro->nprocs; i++)
		if (ro->procs[i].pid == pid && ro->procs[i].start_time != start)
			return "the pid names another process now: nothing to revert";
	return NULL;
}

/* sleeps the soak time in slices; false when a stop was requested meanwhile */
static bool soak(long ms, const struct sut_rollout_hooks *h)
{
	for (long left = ms; left > 0; left -= 100) {
		if (stopped(h))
			return false;
		long s = left < 100 ? left : 100;
		struct timespec ts = {0, s * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return !stopped(h);
}

int sut_rollout_rollback(struct sut_rollout *ro, const char *reason, const char *final,
			 const struct sut_rollout_hooks *h, struct sut_err *err)
{
	if (reason && !ro->failure)
		ro->failure = sut_xstrdup(reason);
	const char **ids = sut_xcalloc(ro->npatches + 1, sizeof *ids);
	for (size_t i = 0; i < ro->npatches; i++)
		ids[i] = ro->patches[ro->npatches - 1 - i].id; /* newest first */
	struct sut_multi_opts mo = {.txn = {.timeout_ms = h->timeout_ms},
				    .skip_applied = true, .hooks = h->txn};
	bool all_ok = true;
	int newest = 0;
	struct sut_buf what = {0};
	for (size_t w = ro->nwaves; w-- > 0;) {
		struct sut_ro_wave *wv = &ro->waves[w];
		if (!strcmp(wv->state, "pending") || !strcmp(wv->state, "reverted"))
			continue;
		if (!newest)
			newest = (int)w + 1;
		bool wave_ok = true;
		for (size_t k = wv->npids; k-- > 0;) {
			pid_t pid = wv->pids[k];
			const char *g = ro->dry_run ? "dry run: nothing was applied" : gone(ro, pid);
			struct sut_multi_result mr = {0};
			int rc = 0;
			if (!g)
				rc = sut_revert_patches(pid, ids, ro->npatches, &mo, &mr);
			for (size_t i = 0; i < ro->npatches; i++) {
				ro->undone = sut_xrealloc(ro->undone,
							  (ro->nundone + 1) * sizeof *ro->undone);
				struct sut_ro_undo *u = &ro->undone[ro->nundone++];
				memset(u, 0, sizeof *u);
				u->wave = (int)w + 1;
				u->pid = pid;
				snprintf(u->patch, sizeof u->patch, "%s", ids[i]);
				u->ok = true;
				if (g) {
					snprintf(u->error, sizeof u->error, "%s", g);
					continue;
				}
				for (size_t t = 0; t < mr.ntxns; t++)
					if (!strcmp(mr.txns[t].id, ids[i]) && mr.txns[t].error) {
						u->ok = false;
						snprintf(u->error, sizeof u->error, "%s",
							 mr.txns[t].error);
					}
				if (rc < 0 && u->ok) {
					bool tried = false;
					for (size_t t = 0; t < mr.ntxns; t++)
						tried |= !strcmp(mr.txns[t].id, ids[i]);
					if (!tried) {
						u->ok = false;
						snprintf(u->error, sizeof u->error,
							 "not attempted: an earlier revert failed");
					}
				}
				wave_ok &= u->ok;
			}
			sut_multi_result_free(&mr);
			bprintf(&what, "%swave %zu pid %d%s", what.len ? "; " : "", w + 1,
				       (int)pid, g ? " (nothing to revert)" : "");
		}
		set_state(wv->state, sizeof wv->state, wave_ok ? "reverted" : "failed");
		all_ok &= wave_ok;
		if (sut_rollout_save(ro, err) < 0) {
			free(ids);
			free(what.data);
			return -1;
		}
	}
	set_state(ro->state, sizeof ro->state, all_ok ? final : "rollback-failed");
	free(ids);
	int rc = sut_rollout_save(ro, err);
	event(h, ro, "rollout-abort", newest, all_ok, ro->failure,
	      what.data ? (char *)what.data : "nothing was applied");
	free(what.data);
	return rc;
}

static int fail(struct sut_rollout *ro, const char *why, const struct sut_rollout_hooks *h,
		struct sut_err *err)
{
	if (sut_rollout_rollback(ro, why, "rolled-back", h, err) < 0)
		return -1;
	return SUT_RO_ROLLED_BACK;
}

static int interrupted(struct sut_rollout *ro, struct sut_err *err)
{
	set_state(ro->state, sizeof ro->state, "interrupted");
	return sut_rollout_save(ro, err) < 0 ? -1 : SUT_RO_INTERRUPTED;
}

int sut_rollout_run(struct sut_rollout *ro, struct sut_patch *const *patches, size_t n,
		    const struct sut_rollout_hooks *h, struct sut_err *err)
{
	/* a suture killed during a rollback: finish the rollback, never apply again */
	if (ro->failure)
		return fail(ro, ro->failure, h, err);
	set_state(ro->state, sizeof ro->state, "running");
	if (sut_rollout_save(ro, err) < 0)
		return -1;
	struct sut_multi_opts mo = {.txn = {.timeout_ms = h->timeout_ms, .dry_run = ro->dry_run},
				    .only_mapped = true, .skip_applied = true, .hooks = h->txn};
	char *ids = NULL;
	{
		struct sut_buf b = {0};
		for (size_t i = 0; i < n; i++)
			bprintf(&b, "%s%s", i ? "," : "", patches[i]->id);
		ids = (char *)b.data;
	}
	for (size_t w = 0; w < ro->nwaves; w++) {
		struct sut_ro_wave *wv = &ro->waves[w];
		if (!strcmp(wv->state, "healthy"))
			continue;
		if (stopped(h)) {
			free(ids);
			return interrupted(ro, err);
		}
		set_state(wv->state, sizeof wv->state, "applying");
		if (sut_rollout_save(ro, err) < 0)
			goto save_failed;
		char why[1024] = "";
		bool cut = false;
		for (size_t k = 0; k < wv->npids && !why[0]; k++) {
			if (stopped(h)) {
				cut = true;
				break;
			}
			struct sut_multi_result mr = {0};
			if (sut_apply_patches(wv->pids[k], patches, n, &mo, &mr) < 0) {
				const char *e = "failed";
				for (size_t t = 0; t < mr.ntxns; t++)
					if (mr.txns[t].error) {
						e = mr.txns[t].error;
						break;
					}
				snprintf(why, sizeof why, "wave %zu: apply to process %d failed: %s",
					 w + 1, (int)wv->pids[k], e);
			} else if (!mr.touched) {
				snprintf(why, sizeof why,
					 "wave %zu: process %d no longer maps the patched build", w + 1,
					 (int)wv->pids[k]);
			}
			sut_multi_result_free(&mr);
		}
		char *pl = pid_list(wv);
		if (cut) {
			/* the wave is half applied: resume re-applies (what is live counts as
			 * done), abort reverts it */
			free(pl);
			free(ids);
			return interrupted(ro, err);
		}
		stamp(wv->applied_at, sizeof wv->applied_at);
		set_state(wv->state, sizeof wv->state, why[0] ? "failed" : "applied");
		if (sut_rollout_save(ro, err) < 0) {
			free(pl);
			goto save_failed;
		}
		event(h, ro, "rollout-wave", (int)w + 1, !why[0], why[0] ? why : NULL, pl);
		free(pl);
		if (why[0]) {
			free(ids);
			return fail(ro, why, h, err);
		}
		if (!soak(ro->soak_ms, h)) {
			free(ids);
			return interrupted(ro, err);
		}
		bool ok = sut_rollout_health(ro, w, patches, n, h);
		if (!ok && stopped(h)) {
			/* Ctrl-C reaches the health command too: a check cut short by the stop
			 * is not a verdict; resume checks the wave again */
			set_state(wv->state, sizeof wv->state, "applied");
			free(ids);
			return interrupted(ro, err);
		}
		stamp(wv->checked_at, sizeof wv->checked_at);
		set_state(wv->state, sizeof wv->state, ok ? "healthy" : "failed");
		struct sut_buf d = {0};
		const char *first = NULL;
		for (size_t i = 0; i < wv->nhealth; i++) {
			const struct sut_ro_check *c = &wv->health[i];
			bprintf(&d, "%s%d:%s:%s", i ? " " : "", (int)c->pid, c->check,
				       c->ok ? "ok" : "fail");
			if (!c->ok && !first)
				first = c->detail;
		}
		char hw[600] = "";
		if (first)
			snprintf(hw, sizeof hw, "wave %zu health: %s", w + 1, first);
		if (sut_rollout_save(ro, err) < 0) {
			free(d.data);
			goto save_failed;
		}
		event(h, ro, "rollout-health", (int)w + 1, ok, first ? hw : NULL,
		      d.data ? (char *)d.data : "");
		free(d.data);
		if (!ok) {
			free(ids);
			return fail(ro, hw, h, err);
		}
	}
	set_state(ro->state, sizeof ro->state, "done");
	if (sut_rollout_save(ro, err) < 0)
		goto save_failed;
	struct sut_buf all = {0};
	for (size_t w = 0; w < ro->nwaves; w++)
		for (size_t k = 0; k < ro->waves[w].npids; k++)
			bprintf(&all, "%s%d", all.len ? "," : "", (int)ro->waves[w].pids[k]);
	event(h, ro, "rollout-done", (int)ro->nwaves, true, NULL, all.data ? (char *)all.data : "");
	free(all.data);
	free(ids);
	return SUT_RO_DONE;
save_failed:
	free(ids);
	return -1;
}

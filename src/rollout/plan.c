/* SPDX-License-Identifier: Apache-2.0 */
/* The plan of a rollout: its targets in order, and the waves (rollout.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"
#include "rollout/rollout.h"
#include "util/buf.h"

long sut_parse_duration_ms(const char *s)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	long mult;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -1;
	if (errno || v > 86400000ull / (unsigned long long)mult)
		return -1; /* a day at most */
	return (long)v * mult;
}

int sut_rollout_wave_sizes(const char *spec, size_t n, size_t **sizes, size_t *nsizes,
			   struct sut_err *err)
{
	*sizes = NULL;
	*nsizes = 0;
	if (!spec || !*spec)
		return sut_errf(err, "waves: empty list");
	char *copy = sut_xstrdup(spec), *save = NULL;
	size_t *v = sut_xcalloc(strlen(spec) + 2, sizeof *v), k = 0, last = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!isdigit((unsigned char)*t))
			goto bad;
		unsigned long x = strtoul(t, &end, 10);
		size_t sz;
		if (*end == '%' && !end[1]) {
			if (x < 1 || x > 100)
				goto bad;
			sz = (n * x + 99) / 100;
		} else if (!*end) {
			if (x < 1 || x > INT_MAX)
				goto bad;
			sz = x;
		} else {
			goto bad;
		}
		if (sz < 1)
			sz = 1;
		if (sz > n)
			sz = n;
		if (sz > last)
			v[k++] = last = sz;
		continue;
	bad:
		sut_errf(err, "waves: '%s' is neither a count (1, 5) nor a percentage (10%%)", t);
		free(copy);
		free(v);
		return -1;
	}
	free(copy);
	if (last < n)
		v[k++] = n;
	*sizes = v;
	*nsizes = k;
	return 0;
}

int sut_ro_proc_stat(pid_t pid, uint64_t *start, uint64_t *cpu, long *threads, char *state)
{
	char buf[1024];
	const char *p = sut_proc_stat_fields(pid, 0, buf, sizeof buf);
	if (!p)
		return -1;
	char st;
	unsigned long long ut, stt, sta;
	long thr;
	if (sscanf(p, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld %*d %llu",
		   &st, &ut, &stt, &thr, &sta) != 5)
		return -1;
	if (start)
		*start = sta;
	if (cpu)
		*cpu = ut + stt;
	if (threads)
		*threads = thr;
	if (state)
		*state = st;
	return 0;
}

struct cand {
	pid_t pid;
	uint64_t start, cpu;
	long threads;
	bool canary;
};

static int by_busy(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->canary != y->canary)
		return x->canary ? -1 : 1;
	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	if (x->threads != y->threads)
		return x->threads < y->threads ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static bool in(const pid_t *v, size_t n, pid_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static void now_iso(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sut_rollout_plan(struct sut_rollout *ro, struct sut_patch *const *patches, size_t n,
		     const struct sut_rollout_params *prm, struct sut_err *err)
{
	memset(ro, 0, sizeof *ro);
	struct cand *c = NULL;
	size_t nc = 0;
	for (size_t i = 0; i < n; i++) {
		struct sut_found_process *f;
		size_t nf;
		if (sut_discover_processes(SUT_DISCOVER_MAPPING, patches[i]->build_id,
					   patches[i]->build_id_len, &f, &nf, err) < 0) {
			free(c);
			return -1;
		}
		for (size_t j = 0; j < nf; j++) {
			pid_t p = f[j].pid;
			if (prm->nselect && !in(prm->select, prm->nselect, p) && p != prm->canary)
				continue;
			bool dup = false;
			for (size_t k = 0; k < nc; k++)
				dup |= c[k].pid == p;
			if (dup)
				continue;
			struct cand x = {.pid = p, .canary = p == prm->canary};
			if (sut_ro_proc_stat(p, &x.start, &x.cpu, &x.threads, NULL) < 0)
				continue;
			c = sut_xrealloc(c, (nc + 1) * sizeof *c);
			c[nc++] = x;
		}
		sut_found_processes_free(f, nf);
	}
	pid_t missing = 0;
	if (prm->canary) {
		bool found = false;
		for (size_t k = 0; k < nc; k++)
			found |= c[k].pid == prm->canary;
		if (!found)
			missing = prm->canary;
	}
	for (size_t i = 0; i < prm->nselect && !missing; i++) {
		bool found = false;
		for (size_t k = 0; k < nc; k++)
			found |= c[k].pid == prm->select[i];
		if (!found)
			missing = prm->select[i];
	}
	if (missing) {
		free(c);
		return sut_errf(err, "process %d does not map the build of any of the patches "
				     "(or is gone)", (int)missing);
	}
	if (!nc) {
		free(c);
		return sut_errf(err, "no running process maps the build of %s%s",
				patches[0]->id, n > 1 ? " or of the other patches" : "");
	}
	qsort(c, nc, sizeof *c, by_busy);

	const char *spec = prm->waves_spec ? prm->waves_spec : "1,10%,100%";
	size_t *sizes, nsizes;
	if (sut_rollout_wave_sizes(spec, nc, &sizes, &nsizes, err) < 0) {
		free(c);
		return -1;
	}
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(ro->id, sizeof ro->id, "%s-%d", stamp, (int)getpid());
	now_iso(ro->created, sizeof ro->created);
	snprintf(ro->updated, sizeof ro->updated, "%s", ro->created);
	snprintf(ro->state, sizeof ro->state, "running");
	ro->dry_run = prm->dry_run;
	ro->health_cmd = prm->health_cmd ? sut_xstrdup(prm->health_cmd) : NULL;
	ro->soak_ms = prm->soak_ms;
	ro->waves_spec = sut_xstrdup(spec);
	ro->state_dir = sut_xstrdup(prm->state_dir ? prm->state_dir : SUT_ROLLOUT_DIR);
	ro->npatches = n;
	ro->patches = sut_xcalloc(n, sizeof *ro->patches);
	for (size_t i = 0; i < n; i++) {
		char *abs = realpath(prm->files[i], NULL);
		ro->patches[i].file = abs ? abs : sut_xstrdup(prm->files[i]);
		ro->patches[i].id = sut_xstrdup(patches[i]->id);
		snprintf(ro->patches[i].signer, sizeof ro->patches[i].signer, "%s",
			 prm->signers && prm->signers[i] ? prm->signers[i] : "");
	}
	ro->nprocs = nc;
	ro->procs = sut_xcalloc(nc, sizeof *ro->procs);
	for (size_t i = 0; i < nc; i++) {
		struct sut_ro_proc *p = &ro->procs[i];
		p->pid = c[i].pid;
		p->start_time = c[i].start;
		if (sut_proc_comm(p->pid, p->comm, sizeof p->comm) < 0)
			snprintf(p->comm, sizeof p->comm, "?");
		int k = sut_proc_listening_inodes(p->pid, p->listen, SUT_ROLLOUT_MAX_LISTEN);
		p->nlisten = k < 0 ? 0 : (size_t)k > SUT_ROLLOUT_MAX_LISTEN ? SUT_ROLLOUT_MAX_LISTEN
									    : (size_t)k;
	}
	ro->nwaves = nsizes;
	ro->waves = sut_xcalloc(nsizes, sizeof *ro->waves);
	for (size_t w = 0, from = 0; w < nsizes; w++) {
		struct sut_ro_wave *wv = &ro->waves[w];
		wv->npids = sizes[w] - from;
		wv->pids = sut_xcalloc(wv->npids, sizeof *wv->pids);
		for (size_t k = 0; k < wv->npids; k++)
			wv->pids[k] = c[from + k].pid;
		from = sizes[w];
		snprintf(wv->state, sizeof wv->state, "pending");
	}
	free(sizes);
	free(c);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A rollout's state file: JSON (jansson), written atomically (docs/rollout.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rollout/rollout.h"
#include "util/buf.h"

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *sut_rollout_dump(const struct sut_rollout *ro)
{
	json_t *o = json_object();
	json_object_set_new(o, "format", json_integer(1));
	json_object_set_new(o, "id", json_string(ro->id));
	json_object_set_new(o, "created", json_string(ro->created));
	json_object_set_new(o, "updated", json_string(ro->updated));
	json_object_set_new(o, "state", json_string(ro->state));
	json_object_set_new(o, "dry_run", json_boolean(ro->dry_run));
	json_object_set_new(o, "health_command", jstr(ro->health_cmd));
	json_object_set_new(o, "soak_ms", json_integer(ro->soak_ms));
	json_object_set_new(o, "waves_spec", jstr(ro->waves_spec));
	json_t *a = json_array();
	for (size_t i = 0; i < ro->npatches; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "file", ro->patches[i].file,
						   "id", ro->patches[i].id, "signer",
						   ro->patches[i].signer));
	json_object_set_new(o, "patches", a);
	a = json_array();
	for (size_t i = 0; i < ro->nprocs; i++) {
		const struct sut_ro_proc *p = &ro->procs[i];
		json_t *l = json_array();
		for (size_t k = 0; k < p->nlisten; k++)
			json_array_append_new(l, json_integer((json_int_t)p->listen[k]));
		/* comm is the process's text: jansson refuses invalid UTF-8, so keep it ASCII */
		char comm[64];
		size_t k = 0;
		for (const char *c = p->comm; *c && k < sizeof comm - 1; c++)
			comm[k++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
		comm[k] = 0;
		json_array_append_new(a, json_pack("{s:i,s:I,s:s,s:o}", "pid", (int)p->pid,
						   "start_time", (json_int_t)p->start_time, "comm",
						   comm, "listening", l));
	}
	json_object_set_new(o, "processes", a);
	a = json_array();
	for (size_t w = 0; w < ro->nwaves; w++) {
		const struct sut_ro_wave *wv = &ro->waves[w];
		json_t *pids = json_array(), *h = json_array();
		for (size_t k = 0; k < wv->npids; k++)
			json_array_append_new(pids, json_integer(wv->pids[k]));
		for (size_t k = 0; k < wv->nhealth; k++)
			json_array_append_new(h, json_pack("{s:i,s:s,s:b,s:s}", "pid",
							   (int)wv->health[k].pid, "check",
							   wv->health[k].check, "ok",
							   wv->health[k].ok, "detail",
							   wv->health[k].detail));
		json_t *x = json_pack("{s:i,s:o,s:s,s:o}", "wave", (int)w + 1, "pids", pids, "state",
				      wv->state, "health", h);
		json_object_set_new(x, "applied_at", wv->applied_at[0] ? json_string(wv->applied_at)
									: json_null());
		json_object_set_new(x, "checked_at", wv->checked_at[0] ? json_string(wv->checked_at)
									: json_null());
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "waves", a);
	json_object_set_new(o, "failure", jstr(ro->failure));
	a = json_array();
	for (size_t i = 0; i < ro->nundone; i++) {
		const struct sut_ro_undo *u = &ro->undone[i];
		json_t *x = json_pack("{s:i,s:i,s:s,s:b}", "wave", u->wave, "pid", (int)u->pid,
				      "patch", u->patch, "ok", u->ok);
		json_object_set_new(x, "error", u->error[0] ? json_string(u->error) : json_null());
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "undone", a);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

static int mkdirs(const char *dir)
{
	char *d = sut_xstrdup(dir);
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(d, 0755);
			*p = '/';
		}
	int rc = mkdir(d, 0700);
	free(d);
	return rc < 0 && errno != EEXIST ? -1 : 0;
}

int sut_rollout_save(struct sut_rollout *ro, struct sut_err *err)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ro->updated, sizeof ro->updated, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (mkdirs(ro->state_dir) < 0)
		return sut_errno(err, "rollout %s: cannot create %s", ro->id, ro->state_dir);
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/%s.json", ro->state_dir, ro->id);
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	char *s = sut_rollout_dump(ro);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(s);
		return sut_errno(err, "rollout %s: cannot write %s", ro->id, tmp);
	}
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(s);
	if (off < len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return sut_errno(err, "rollout %s: cannot write %s", ro->id, tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return sut_errno(err, "rollout %s: cannot rename %s to %s", ro->id, tmp, path);
	}
	int dfd = open(ro->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	return n >= 1 && n <= 63 && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					       "0123456789-") == n;
}

static void cpy(char *dst, size_t cap, json_t *v)
{
	snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static char *dup_or_null(json_t *v)
{
	return json_is_string(v) ? sut_xstrdup(json_string_value(v)) : NULL;
}

int sut_rollout_load(const char *dir, const char *id, struct sut_rollout *ro, struct sut_err *err)
{
	memset(ro, 0, sizeof *ro);
	if (!id_valid(id))
		return sut_errf(err, "'%s' is not a rollout id (letters, digits and '-')", id);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.json", dir, id);
	json_error_t je;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return sut_errf(err, "rollout %s: cannot read %s: %s (line %d)", id, path, je.text,
				je.line);
	json_t *pa = json_object_get(o, "patches"), *pr = json_object_get(o, "processes"),
	       *wa = json_object_get(o, "waves"), *ua = json_object_get(o, "undone");
	if (json_integer_value(json_object_get(o, "format")) != 1 || !json_is_array(pa) ||
	    !json_is_array(pr) || !json_is_array(wa) || !json_is_array(ua) ||
	    strcmp(json_string_value(json_object_get(o, "id")) ?: "", id) != 0) {
		json_decref(o);
		return sut_errf(err, "rollout %s: %s is not a rollout state file of format 1", id,
				path);
	}
	snprintf(ro->id, sizeof ro->id, "%s", id);
	cpy(ro->created, sizeof ro->created, json_object_get(o, "created"));
	cpy(ro->updated, sizeof ro->updated, json_object_get(o, "updated"));
	cpy(ro->state, sizeof ro->state, json_object_get(o, "state"));
	ro->dry_run = json_is_true(json_object_get(o, "dry_run"));
	ro->health_cmd = dup_or_null(json_object_get(o, "health_command"));
	ro->soak_ms = (long)json_integer_value(json_object_get(o, "soak_ms"));
	ro->waves_spec = dup_or_null(json_object_get(o, "waves_spec"));
	ro->failure = dup_or_null(json_object_get(o, "failure"));
	ro->state_dir = sut_xstrdup(dir);
	size_t i;
	json_t *v;
	ro->npatches = json_array_size(pa);
	ro->patches = sut_xcalloc(ro->npatches + 1, sizeof *ro->patches);
	json_array_foreach(pa, i, v) {
		ro->patches[i].file = sut_xstrdup(json_string_value(json_object_get(v, "file")) ?: "");
		ro->patches[i].id = sut_xstrdup(json_string_value(json_object_get(v, "id")) ?: "");
		cpy(ro->patches[i].signer, sizeof ro->patches[i].signer,
		    json_object_get(v, "signer"));
	}
	ro->nprocs = json_array_size(pr);
	ro->procs = sut_xcalloc(ro->nprocs + 1, sizeof *ro->procs);
	json_array_foreach(pr, i, v) {
		struct sut_ro_proc *p = &ro->procs[i];
		p->pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
		p->start_time = (uint64_t)json_integer_value(json_object_get(v, "start_time"));
		cpy(p->comm, sizeof p->comm, json_object_get(v, "comm"));
		json_t *l = json_object_get(v, "listening"), *x;
		size_t k;
		json_array_foreach(l, k, x) if (p->nlisten < SUT_ROLLOUT_MAX_LISTEN)
			p->listen[p->nlisten++] = (uint64_t)json_integer_value(x);
	}
	ro->nwaves = json_array_size(wa);
	ro->waves = sut_xcalloc(ro->nwaves + 1, sizeof *ro->waves);
	json_array_foreach(wa, i, v) {
		struct sut_ro_wave *w = &ro->waves[i];
		json_t *pids = json_object_get(v, "pids"), *h = json_object_get(v, "health"), *x;
		size_t k;
		w->npids = json_array_size(pids);
		w->pids = sut_xcalloc(w->npids + 1, sizeof *w->pids);
		json_array_foreach(pids, k, x) w->pids[k] = (pid_t)json_integer_value(x);
		cpy(w->state, sizeof w->state, json_object_get(v, "state"));
		cpy(w->applied_at, sizeof w->applied_at, json_object_get(v, "applied_at"));
		cpy(w->checked_at, sizeof w->checked_at, json_object_get(v, "checked_at"));
		w->nhealth = json_array_size(h);
		w->health = sut_xcalloc(w->nhealth + 1, sizeof *w->health);
		json_array_foreach(h, k, x) {
			w->health[k].pid = (pid_t)json_integer_value(json_object_get(x, "pid"));
			cpy(w->health[k].check, sizeof w->health[k].check, json_object_get(x, "check"));
			w->health[k].ok = json_is_true(json_object_get(x, "ok"));
			cpy(w->health[k].detail, sizeof w->health[k].detail,
			    json_object_get(x, "detail"));
		}
	}
	ro->nundone = json_array_size(ua);
	ro->undone = sut_xcalloc(ro->nundone + 1, sizeof *ro->undone);
	json_array_foreach(ua, i, v) {
		struct sut_ro_undo *u = &ro->undone[i];
		u->wave = (int)json_integer_value(json_object_get(v, "wave"));
		u->pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
		cpy(u->patch, sizeof u->patch, json_object_get(v, "patch"));
		u->ok = json_is_true(json_object_get(v, "ok"));
		cpy(u->error, sizeof u->error, json_object_get(v, "error"));
	}
	json_decref(o);
	for (i = 0; i < ro->npatches; i++)
		if (!sut_patch_id_valid(ro->patches[i].id)) {
			sut_rollout_free(ro);
			return sut_errf(err, "rollout %s: %s names an invalid patch id", id, path);
		}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sut_rollout_list(const char *dir, char ***ids, size_t *n, struct sut_err *err)
{
	*ids = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : sut_errno(err, "cannot read %s", dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		char id[64];
		if (l - 5 >= sizeof id)
			continue;
		memcpy(id, e->d_name, l - 5);
		id[l - 5] = 0;
		if (!id_valid(id))
			continue;
		*ids = sut_xrealloc(*ids, (*n + 1) * sizeof **ids);
		(*ids)[(*n)++] = sut_xstrdup(id);
	}
	closedir(d);
	if (*n)
		qsort(*ids, *n, sizeof **ids, by_name);
	return 0;
}

void sut_rollout_free(struct sut_rollout *ro)
{
	for (size_t i = 0; i < ro->npatches; i++) {
		free(ro->patches[i].file);
		free(ro->patches[i].id);
	}
	free(ro->patches);
	free(ro->procs);
	for (size_t w = 0; w < ro->nwaves; w++) {
		free(ro->waves[w].pids);
		free(ro->waves[w].health);
	}
	free(ro->waves);
	free(ro->undone);
	free(ro->health_cmd);
	free(ro->waves_spec);
	free(ro->failure);
	free(ro->state_dir);
	memset(ro, 0, sizeof *ro);
}

int sut_rollout_lock(const char *dir, const char *id, struct sut_err *err)
{
	if (!id_valid(id))
		return sut_errf(err, "'%s' is not a rollout id (letters, digits and '-')", id);
	if (mkdirs(dir) < 0)
		return sut_errno(err, "rollout %s: cannot create %s", id, dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.lock", dir, id);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sut_errno(err, "rollout %s: cannot open %s", id, path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return sut_errf(err, "rollout %s is being run by another suture (%s is locked)",
					id, path);
		errno = e;
		return sut_errno(err, "rollout %s: cannot lock %s", id, path);
	}
	return fd;
}

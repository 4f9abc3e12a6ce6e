/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_internal.h"
#include "proc/proc.h"
#include "util/buf.h"

struct sut_audit {
	int fd;
	char *path;
	pthread_mutex_t mu; /* flock does not separate threads sharing one open file */
};

static int open_append(const char *path)
{
	return open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
}

int sut_audit_open(struct sut_audit **out, const char *path, struct sut_err *err)
{
	*out = NULL;
	int fd = open_append(path);
	if (fd < 0 && errno == ENOENT) {
		/* first use on this machine: create the directory (one level) */
		char *dir = sut_xstrdup(path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = 0;
			mkdir(dir, 0750);
		}
		free(dir);
		fd = open_append(path);
	}
	if (fd < 0 && errno == ELOOP)
		return sut_errf(err, "audit trail %s is a symlink: refused", path);
	if (fd < 0)
		return sut_errno(err, "audit trail %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sut_errf(err, "audit trail %s is not a regular file", path);
	}
	struct sut_audit *a = sut_xcalloc(1, sizeof *a);
	a->fd = fd;
	a->path = sut_xstrdup(path);
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	return 0;
}

void sut_audit_close(struct sut_audit *a)
{
	if (!a)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->mu);
	free(a->path);
	free(a);
}

const char *sut_audit_path(const struct sut_audit *a)
{
	return a->path;
}

/* The hash of the file's last line (the anchor for an empty file); *nl_missing when the
 * file does not end with a newline (a torn write). Reads backwards from the end. */
static int tail_hash(int fd, char out[SUT_AUDIT_HASH_HEX + 1], bool *nl_missing,
		     struct sut_err *err)
{
	*nl_missing = false;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return sut_errno(err, "audit trail");
	off_t end = st.st_size;
	if (end == 0) {
		sut_audit_anchor(out);
		return 0;
	}
	char last;
	if (pread(fd, &last, 1, end - 1) != 1)
		return sut_errno(err, "audit trail: reading its end");
	if (last == '\n')
		end--;
	else
		*nl_missing = true;
	/* find the newline before the last line, in growing windows */
	size_t win = 4096;
	char *buf = NULL;
	for (;;) {
		off_t from = end > (off_t)win ? end - (off_t)win : 0;
		size_t len = (size_t)(end - from);
		buf = sut_xrealloc(buf, len ? len : 1);
		if (len && pread(fd, buf, len, from) != (ssize_t)len) {
			free(buf);
			return sut_errno(err, "audit trail: reading its last line");
		}
		char *nl = len ? memrchr(buf, '\n', len) : NULL;
		if (nl || from == 0) {
			const char *line = nl ? nl + 1 : buf;
			sut_audit_hash(line, len - (size_t)(line - buf), out);
			free(buf);
			return 0;
		}
		win *= 4;
	}
}

/* A string from anywhere (a process, a path) as valid UTF-8 for JSON: kept if it is
 * valid, else every byte outside printable ASCII written as \xNN. */
static json_t *str(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *e = sut_xmalloc(4 * strlen(s) + 1), *o = e;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x20 && *p < 0x7f)
			*o++ = (char)*p;
		else
			o += sprintf(o, "\\x%02x", *p);
	*o = 0;
	j = json_string(e);
	free(e);
	return j;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, str(v));
}

/* loginuid of this session: -1 when there is none (not set, daemons, no audit support) */
static long login_uid(void)
{
	FILE *f = fopen("/proc/self/loginuid", "re");
	if (!f)
		return -1;
	unsigned long v;
	int n = fscanf(f, "%lu", &v);
	fclose(f);
	return n == 1 && v != 4294967295ul ? (long)v : -1;
}

static char *render(const struct sut_audit_record *r, const char *prev)
{
	json_t *o = json_object();
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	set_str(o, "time", when);
	set_str(o, "action", r->action);
	if (r->pid > 0) {
		char comm[64] = "?";
		sut_proc_comm(r->pid, comm, sizeof comm);
		json_object_set_new(o, "pid", json_integer(r->pid));
		set_str(o, "comm", comm);
	}
	set_str(o, "patch", r->patch);
	set_str(o, "file", r->file);
	set_str(o, "signer", r->signer);
	json_object_set_new(o, "ok", json_boolean(r->ok));
	set_str(o, "error", r->error);
	set_str(o, "repaired", r->repaired);
	set_str(o, "repair_id_from_process", r->repair_from_process);
	set_str(o, "rollout", r->rollout);
	if (r->wave > 0)
		json_object_set_new(o, "wave", json_integer(r->wave));
	set_str(o, "detail", r->detail);
	if (strcmp(r->action, "refuse") != 0 && strncmp(r->action, "rollout-", 8) != 0) {
		json_object_set_new(o, "functions", json_integer((json_int_t)r->functions));
		json_object_set_new(o, "attempts", json_integer(r->attempts));
		json_object_set_new(o, "freeze_us", json_integer((json_int_t)r->freeze_us));
		json_object_set_new(o, "held_us", json_integer((json_int_t)r->held_us));
	}
	json_object_set_new(o, "uid", json_integer(getuid()));
	long lu = login_uid();
	if (lu >= 0)
		json_object_set_new(o, "loginuid", json_integer(lu));
	const char *sudo = getenv("SUDO_UID");
	char *end;
	long su = sudo && *sudo ? strtol(sudo, &end, 10) : -1;
	if (su >= 0 && *end == 0)
		json_object_set_new(o, "sudo_uid", json_integer(su));
	json_object_set_new(o, "suture_pid", json_integer(getpid()));
	set_str(o, "prev", prev);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

int sut_audit_append(struct sut_audit *a, const struct sut_audit_record *r, struct sut_err *err)
{
	int rc = -1;
	pthread_mutex_lock(&a->mu);
	if (flock(a->fd, LOCK_EX) < 0) {
		sut_errno(err, "audit trail %s: lock", a->path);
		goto out;
	}
	char prev[SUT_AUDIT_HASH_HEX + 1];
	bool nl_missing;
	if (tail_hash(a->fd, prev, &nl_missing, err) < 0) {
		sut_err_wrap(err, "%s", a->path);
		goto unlock;
	}
	char *line = render(r, prev);
	if (!line) {
		sut_errf(err, "audit trail %s: cannot encode the record", a->path);
		goto unlock;
	}
	/* one write per line (O_APPEND): a kill after it loses nothing, before it all */
	char *out = sut_xasprintf("%s%s\n", nl_missing ? "\n" : "", line);
	size_t len = strlen(out);
	ssize_t n = write(a->fd, out, len);
	if (n != (ssize_t)len)
		sut_errno(err, "audit trail %s: write", a->path);
	else
		rc = 0;
	free(out);
	free(line);
unlock:
	flock(a->fd, LOCK_UN);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

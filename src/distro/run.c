/* SPDX-License-Identifier: Apache-2.0 */
/* Running the distribution's tools (apt-get, dpkg-source, make): argv only, never a shell
 * string assembled from names we were given, output appended to a log file whose tail goes
 * into the error message. */
#include "distro/distro_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/run.h"

/* Bytes of a failed command's log quoted in the error message. */
#define LOG_TAIL_MAX 1200

/* The child's stdout and stderr appended to log_fd, stdin from /dev/null: a tool of the
 * distribution never waits for an answer from the terminal. */
static pid_t start_logged(const char *dir, char *const argv[], char *const env[], int log_fd,
			  struct sut_err *err)
{
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct sut_run_opts o = {.dir = dir, .env = env, .in_fd = nul, .out_fd = log_fd,
				 .err_fd = log_fd};
	pid_t pid = sut_run_start(argv, &o, err);
	if (nul >= 0)
		close(nul);
	return pid;
}

int dst_run(const char *dir, char *const argv[], char *const env[], const char *log,
	    struct sut_err *err)
{
	int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return sut_errno(err, "%s", log);
	if (log) {
		dprintf(fd, "\n$");
		for (size_t i = 0; argv[i]; i++)
			dprintf(fd, " %s", argv[i]);
		dprintf(fd, "%s%s\n", dir ? "    # in " : "", dir ? dir : "");
	}
	pid_t pid = start_logged(dir, argv, env, fd, err);
	close(fd);
	return pid < 0 ? -1 : sut_run_wait(pid, argv[0], err);
}

/* Compile commands in the log so far (lines with " -c "): progress of a long make. */
static unsigned long count_compiles(const char *log)
{
	FILE *f = fopen(log, "re");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	unsigned long n = 0;
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, " -c ") != NULL;
	free(line);
	fclose(f);
	return n;
}

int dst_run_progress(const struct sut_distro_opts *o, const char *dir, char *const argv[],
		     char *const env[], const char *log, const char *what, struct sut_err *err)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return sut_errno(err, "%s", log);
	unsigned long base = count_compiles(log);
	pid_t pid = start_logged(dir, argv, env, fd, err);
	close(fd);
	if (pid < 0)
		return -1;
	int st = 0, done;
	for (unsigned secs = 1; (done = sut_run_poll(pid, argv[0], &st, err)) == 0; secs++) {
		sleep(1);
		if (secs % 20 == 0)
			dst_progress(o, "%s: %lu files compiled so far (%um%02us)", what,
				     count_compiles(log) - base, secs / 60, secs % 60);
	}
	if (done < 0)
		return -1;
	if (st == 0)
		return 0;
	char *tail = dst_file_tail(log, LOG_TAIL_MAX);
	sut_errf(err, "%s failed (%s exit status %d; full log %s): %s", what, argv[0], st, log, tail);
	free(tail);
	return -1;
}

int dst_run_ok(const char *dir, char *const argv[], char *const env[], const char *log,
	       const char *what, struct sut_err *err)
{
	int st = dst_run(dir, argv, env, log, err);
	if (st < 0)
		return -1;
	if (st == 0)
		return 0;
	char *tail = dst_file_tail(log, LOG_TAIL_MAX);
	sut_errf(err, "%s failed (%s exit status %d; full log %s): %s", what, argv[0], st,
		 log ? log : "none", tail);
	free(tail);
	return -1;
}

int dst_capture(const char *dir, char *const argv[], char *const env[], char **out,
		struct sut_err *err)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct sut_run_opts o = {.dir = dir, .env = env, .in_fd = nul, .out_fd = -1, .err_fd = nul};
	int st = sut_run_capture(argv, &o, out, NULL, err);
	if (nul >= 0)
		close(nul);
	if (st != 0) {
		free(*out);
		*out = NULL;
		return st;
	}
	/* drop trailing newlines: callers want one value */
	size_t l = strlen(*out);
	while (l && (*out)[l - 1] == '\n')
		(*out)[--l] = 0;
	return 0;
}

char *dst_file_tail(const char *path, size_t max)
{
	if (!path)
		return sut_xstrdup("");
	FILE *f = fopen(path, "re");
	if (!f)
		return sut_xstrdup("");
	fseek(f, 0, SEEK_END);
	long end = ftell(f);
	long start = end > (long)max ? end - (long)max : 0;
	fseek(f, start, SEEK_SET);
	char *buf = sut_xcalloc(max + 1, 1);
	size_t n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = 0;
	/* one line: the message is a sentence */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\t')
			buf[i] = ' ';
	char *p = buf;
	if (start > 0 && (p = strchr(buf, ' ')) != NULL)
		p++;
	char *r = sut_xasprintf("%s%s", start > 0 ? "..." : "", p ? p : buf);
	free(buf);
	return r;
}

int dst_mkdirs(const char *path, struct sut_err *err)
{
	char *p = sut_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			sut_errno(err, "creating %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = sut_errno(err, "creating %s", p);
	free(p);
	return rc;
}

int dst_remove_tree(const char *path, struct sut_err *err)
{
	char *argv[] = { "rm", "-rf", "--one-file-system", "--", (char *)path, NULL };
	int st = dst_run(NULL, argv, NULL, NULL, err);
	if (st != 0)
		return st < 0 ? -1 : sut_errf(err, "cannot remove %s (rm exit status %d)", path, st);
	return 0;
}

bool dst_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

void dst_progress(const struct sut_distro_opts *o, const char *fmt, ...)
{
	if (!o->progress)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		o->progress(o->progress_arg, msg);
	free(msg);
}

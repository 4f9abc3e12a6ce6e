/* SPDX-License-Identifier: Apache-2.0 */
/* The work directory's trees and the commands run in them. Commands are run with argv
 * (never through a shell string we assemble), so paths with spaces or quotes are safe. */
#include "build/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

static int wait_child(pid_t pid, const char *what, struct sut_err *err)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return sut_errno(err, "waiting for %s", what);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* In the child: never returns. */
static void exec_child(const char *dir, char *const argv[], char *const env[], int out_fd)
{
	if (out_fd >= 0) {
		dup2(out_fd, 1);
		dup2(out_fd, 2);
	}
	if (dir && chdir(dir) < 0) {
		fprintf(stderr, "cannot enter %s: %s\n", dir, strerror(errno));
		_exit(127);
	}
	for (size_t i = 0; env && env[i]; i++)
		putenv(env[i]);
	execvp(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int bld_run(const char *dir, char *const argv[], char *const env[], const char *out_path,
	    struct sut_err *err)
{
	int fd = -1;
	if (out_path) {
		fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return sut_errno(err, "%s", out_path);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		if (fd >= 0)
			close(fd);
		return sut_errno(err, "fork for %s", argv[0]);
	}
	if (pid == 0)
		exec_child(dir, argv, env, fd);
	if (fd >= 0)
		close(fd);
	return wait_child(pid, argv[0], err);
}

int bld_capture(const char *dir, char *const argv[], char **out, size_t *len, struct sut_err *err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sut_errno(err, "pipe for %s", argv[0]);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return sut_errno(err, "fork for %s", argv[0]);
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		exec_child(dir, argv, NULL, -1);
	}
	close(pfd[1]);
	struct sut_buf b = {0};
	for (;;) {
		char chunk[8192];
		ssize_t r = read(pfd[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sut_buf_append(&b, chunk, (size_t)r);
	}
	close(pfd[0]);
	sut_buf_append(&b, "", 1);
	*out = (char *)b.data;
	*len = b.len - 1;
	int st = wait_child(pid, argv[0], err);
	if (st < 0) {
		free(*out);
		*out = NULL;
	}
	return st;
}

int bld_copy_tree(const char *src, const char *dst, struct sut_err *err)
{
	char *argv[] = { "cp", "-a", "--", (char *)src, (char *)dst, NULL };
	int st = bld_run(NULL, argv, NULL, NULL, err);
	if (st < 0)
		return -1;
	if (st)
		return sut_errf(err, "copying %s to %s failed (cp exit status %d)", src, dst, st);
	return 0;
}

int bld_remove_tree(const char *path, struct sut_err *err)
{
	char *argv[] = { "rm", "-rf", "--", (char *)path, NULL };
	int st = bld_run(NULL, argv, NULL, NULL, err);
	if (st < 0)
		return -1;
	if (st)
		return sut_errf(err, "removing %s failed (rm exit status %d)", path, st);
	return 0;
}

char *bld_file_tail(const char *path, size_t max)
{
	uint8_t *data;
	size_t len;
	struct sut_err e;
	if (sut_read_file(path, &data, &len, &e))
		return sut_xstrdup("");
	size_t from = len > max ? len - max : 0;
	char *s = sut_xmalloc(len - from + 1);
	memcpy(s, data + from, len - from);
	s[len - from] = 0;
	free(data);
	/* trailing newline off: the caller's sentence ends the message */
	for (size_t l = strlen(s); l && (s[l - 1] == '\n' || s[l - 1] == ' '); l--)
		s[l - 1] = 0;
	return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The one child-process runner (util/run.h): fork, the child's descriptors, directory and
 * environment, execvp, and the wait that turns a signal into 128 + its number. */
#include "util/run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

static int shell_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* In the child: never returns. Its messages go to its own stderr (the caller's log). */
static void exec_child(char *const argv[], const struct sut_run_opts *o)
{
	if (o->in_fd >= 0)
		dup2(o->in_fd, 0);
	if (o->out_fd >= 0)
		dup2(o->out_fd, 1);
	if (o->err_fd >= 0)
		dup2(o->err_fd, 2);
	if (o->dir && chdir(o->dir) < 0) {
		fprintf(stderr, "cannot enter %s: %s\n", o->dir, strerror(errno));
		_exit(127);
	}
	for (size_t i = 0; o->env && o->env[i]; i++)
		putenv(o->env[i]);
	execvp(argv[0], argv);
	fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static const struct sut_run_opts defaults = SUT_RUN_OPTS_INIT;

pid_t sut_run_start(char *const argv[], const struct sut_run_opts *o, struct sut_err *err)
{
	if (!o)
		o = &defaults;
	/* buffered output of ours must not be written twice, once by the child */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		sut_errno(err, "fork for %s", argv[0]);
		return -1;
	}
	if (pid == 0)
		exec_child(argv, o);
	return pid;
}

int sut_run_wait(pid_t pid, const char *what, struct sut_err *err)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return sut_errno(err, "waiting for %s", what);
	return shell_status(st);
}

int sut_run_poll(pid_t pid, const char *what, int *status, struct sut_err *err)
{
	int st;
	pid_t w = waitpid(pid, &st, WNOHANG);
	if (w < 0 && errno != EINTR)
		return sut_errno(err, "waiting for %s", what);
	if (w != pid)
		return 0;
	*status = shell_status(st);
	return 1;
}

int sut_run(char *const argv[], const struct sut_run_opts *o, struct sut_err *err)
{
	pid_t pid = sut_run_start(argv, o, err);
	return pid < 0 ? -1 : sut_run_wait(pid, argv[0], err);
}

int sut_run_capture(char *const argv[], const struct sut_run_opts *o, char **out, size_t *len,
		    struct sut_err *err)
{
	*out = NULL;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sut_errno(err, "pipe for %s", argv[0]);
	struct sut_run_opts co = o ? *o : defaults;
	co.out_fd = pfd[1];
	pid_t pid = sut_run_start(argv, &co, err);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
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
	int st = sut_run_wait(pid, argv[0], err);
	if (st < 0) {
		sut_buf_free(&b);
		return -1;
	}
	sut_buf_append(&b, "", 1);
	*out = (char *)b.data;
	if (len)
		*len = b.len - 1;
	return st;
}

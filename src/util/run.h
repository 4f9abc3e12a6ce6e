/* SPDX-License-Identifier: Apache-2.0 */
/* Running another program as a child process: the one runner every layer uses.
 *
 * A program is named by argv, looked up on PATH (execvp), and never through a shell string
 * assembled from names we were given, so paths with spaces or quotes are safe. The child
 * starts with the caller's environment plus the entries of `env`, in the directory `dir`,
 * with the descriptors the options name as its standard input, output and error (the
 * others it inherits, except those opened close-on-exec). When it cannot enter `dir` or
 * cannot be executed it says so on its own standard error and exits with 127, as a shell
 * would. Statuses are the shell's: the exit code 0..255, or 128 + the signal that ended it.
 * Nothing here prints in suture itself. */
#ifndef SUTURE_UTIL_RUN_H
#define SUTURE_UTIL_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct sut_run_opts {
	const char *dir;   /* the child's working directory; NULL: the caller's */
	char *const *env;  /* extra "NAME=VALUE" entries, NULL-terminated; may be NULL */
	int in_fd;         /* the child's stdin; -1: inherited */
	int out_fd;        /* the child's stdout; -1: inherited */
	int err_fd;        /* the child's stderr; -1: inherited */
};

/* Options with every descriptor inherited, in the caller's directory, no extra environment;
 * what an `o` of NULL means below. */
#define SUT_RUN_OPTS_INIT { .dir = NULL, .env = NULL, .in_fd = -1, .out_fd = -1, .err_fd = -1 }

/* Starts argv. Returns the child's pid, or -1 with err set when it could not be forked
 * (a program that cannot be executed is a child exiting with 127). The caller waits for it
 * with sut_run_wait or sut_run_poll. */
pid_t sut_run_start(char *const argv[], const struct sut_run_opts *o, struct sut_err *err);

/* Waits for child pid (EINTR is retried). Returns its status (see above), or -1 with err
 * set naming `what`. */
int sut_run_wait(pid_t pid, const char *what, struct sut_err *err);

/* Has child pid ended? 1 with *status set, 0 while it runs, -1 with err set. */
int sut_run_poll(pid_t pid, const char *what, int *status, struct sut_err *err);

/* Starts argv and waits for it: its status, or -1 with err set. */
int sut_run(char *const argv[], const struct sut_run_opts *o, struct sut_err *err);

/* Runs argv with its standard output into *out (malloc'd, NUL-terminated, *len bytes
 * before the NUL; len may be NULL), whatever its status; o->out_fd is ignored. Returns the
 * status, or -1 with err set and *out NULL. */
int sut_run_capture(char *const argv[], const struct sut_run_opts *o, char **out, size_t *len,
		    struct sut_err *err);

#endif

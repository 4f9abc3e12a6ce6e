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
#include <unistd.h>

#include "util/buf.h"
#include "util/run.h"

int bld_run(const char *dir, char *const argv[], char *const env[], const char *out_path,
	    struct sut_err *err)
{
	struct sut_run_opts o = SUT_RUN_OPTS_INIT;
	o.dir = dir;
	o.env = env;
	if (out_path) {
		o.out_fd = o.err_fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (o.out_fd < 0)
			return sut_errno(err, "%s", out_path);
	}
	int st = sut_run(argv, &o, err);
	if (o.out_fd >= 0)
		close(o.out_fd);
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

/* SPDX-License-Identifier: Apache-2.0 */
/* Fixtures for unit tests: ELF files built by the test itself with the system compiler,
 * in a private temporary directory removed at exit. Header-only so each test binary is
 * one file. */
#ifndef SUTURE_TESTS_FIXTURES_H
#define SUTURE_TESTS_FIXTURES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fixture_dir[256];

static __attribute__((unused)) void fixture_cleanup(void)
{
	if (fixture_dir[0]) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fixtures: could not remove %s\n", fixture_dir);
	}
}

/* Directory for this test binary's files. */
static __attribute__((unused)) const char *fixture_tmpdir(void)
{
	if (!fixture_dir[0]) {
		snprintf(fixture_dir, sizeof fixture_dir, "/tmp/suture-unit-XXXXXX");
		if (!mkdtemp(fixture_dir))
			abort();
		atexit(fixture_cleanup);
	}
	return fixture_dir;
}

/* Writes `source` to DIR/name.c and runs `gcc FLAGS -o DIR/out DIR/name.c`.
 * Returns the malloc'd path of the output, or NULL (and fails the test) on error. */
static __attribute__((unused)) char *fixture_cc(const char *name, const char *source, const char *flags, const char *out)
{
	const char *d = fixture_tmpdir();
	char src[512], outp[512], cmd[2048];
	snprintf(src, sizeof src, "%s/%s.c", d, name);
	snprintf(outp, sizeof outp, "%s/%s", d, out);
	FILE *f = fopen(src, "w");
	assert_non_null(f);
	fputs(source, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "gcc %s -o '%s' '%s'", flags, outp, src);
	if (system(cmd) != 0) {
		fail_msg("fixture compile failed: %s", cmd);
		return NULL;
	}
	return strdup(outp);
}

/* Runs a shell command in the fixture dir; fails the test when it fails. */
static __attribute__((unused)) void fixture_sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", fixture_tmpdir());
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof cmd - n, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("fixture command failed: %s", cmd);
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The compiler wrapper: small shell scripts named like the compilers, placed first on PATH,
 * that record every compilation (working directory and argv) and exec the real compiler.
 * The record is NUL-separated (argc, cwd, compiler, args...), so arguments with spaces,
 * quotes or newlines survive; with make -j the append happens under flock(1) when it exists,
 * so records of parallel compilations never interleave. $SUTURE_CC_EXTRA, when set, is one more
 * argument for the compiler (not recorded): the build passes a -ffile-prefix-map there so the
 * work tree's path does not end up in debug info and __FILE__. */
#include "build/build_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"

static const char *const shim_names[] = { "cc", "gcc", "clang", "c++", "g++" };

/* The first executable `name` in the colon-separated `path`, or NULL. */
static char *find_in_path(const char *name, const char *path)
{
	const char *p = path ? path : "";
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t l = colon ? (size_t)(colon - p) : strlen(p);
		if (l) {
			char *cand = sut_xasprintf("%.*s/%s", (int)l, p, name);
			struct stat st;
			if (!stat(cand, &st) && S_ISREG(st.st_mode) && !access(cand, X_OK))
				return cand;
			free(cand);
		}
		if (!colon)
			return NULL;
		p = colon + 1;
	}
}

/* 'text' with single quotes escaped for sh. */
static char *sh_quote(const char *s)
{
	struct sut_buf b = {0};
	sut_buf_append(&b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			sut_buf_append(&b, "'\\''", 4);
		else
			sut_buf_append(&b, s, 1);
	}
	sut_buf_append(&b, "'", 2);
	return (char *)b.data;
}

int bld_write_shims(const char *shim_dir, const char *path, struct sut_err *err)
{
	if (mkdir(shim_dir, 0755) < 0)
		return sut_errno(err, "%s", shim_dir);
	char *flock = find_in_path("flock", path);
	for (size_t i = 0; i < sizeof shim_names / sizeof *shim_names; i++) {
		char *real = find_in_path(shim_names[i], path);
		char *file = sut_xasprintf("%s/%s", shim_dir, shim_names[i]);
		char *text;
		if (!real) {
			text = sut_xasprintf("#!/bin/sh\necho '%s: not found on PATH' >&2\nexit 127\n",
					     shim_names[i]);
		} else {
			char *q = sh_quote(real);
			char *lock = flock ? sh_quote(flock) : NULL;
			text = sut_xasprintf(
				"#!/bin/sh\n"
				"# suture compiler wrapper: records this compilation, then runs the real compiler.\n"
				"if [ -n \"$SUTURE_CC_LOG\" ]; then\n"
				"\t%s%s printf '%%s\\0' \"$#\" \"$PWD\" %s \"$@\" >>\"$SUTURE_CC_LOG\" || exit 1\n"
				"fi\n"
				"exec %s \"$@\" ${SUTURE_CC_EXTRA:+\"$SUTURE_CC_EXTRA\"}\n",
				lock ? lock : "", lock ? " -x \"$SUTURE_CC_LOG.lock\"" : "", q, q);
			free(q);
			free(lock);
		}
		int rc = sut_write_file(file, text, strlen(text), err);
		if (!rc && chmod(file, 0755) < 0)
			rc = sut_errno(err, "%s", file);
		free(text);
		free(file);
		free(real);
		if (rc) {
			free(flock);
			return -1;
		}
	}
	free(flock);
	return 0;
}

int bld_read_cc_log(const char *log, struct bld_compile **out, size_t *n, struct sut_err *err)
{
	*out = NULL;
	*n = 0;
	if (access(log, F_OK) < 0)
		return 0;
	uint8_t *data;
	size_t len;
	if (sut_read_file(log, &data, &len, err))
		return -1;
	/* tokens are NUL-terminated strings */
	size_t pos = 0;
	struct bld_compile *v = NULL;
	size_t nv = 0;
	while (pos < len) {
		const char *tok = (const char *)data + pos;
		size_t tl = strnlen(tok, len - pos);
		char *end;
		unsigned long argc = strtoul(tok, &end, 10);
		if (tl == len - pos || end == tok || *end || argc > 1000000)
			goto bad;
		pos += tl + 1;
		struct bld_compile c = { 0 };
		c.argc = argc + 1;
		c.argv = sut_xcalloc(c.argc + 1, sizeof *c.argv);
		for (size_t k = 0; k < c.argc + 1; k++) {
			if (pos >= len) {
				free(c.cwd);
				for (size_t j = 0; j < c.argc; j++)
					free(c.argv[j]);
				free(c.argv);
				goto bad;
			}
			const char *s = (const char *)data + pos;
			size_t sl = strnlen(s, len - pos);
			char *copy = sut_xmalloc(sl + 1);
			memcpy(copy, s, sl);
			copy[sl] = 0;
			pos += sl + 1;
			if (k == 0)
				c.cwd = copy;
			else
				c.argv[k - 1] = copy;
		}
		v = sut_xrealloc(v, (nv + 1) * sizeof *v);
		v[nv++] = c;
	}
	free(data);
	*out = v;
	*n = nv;
	return 0;
bad:
	free(data);
	bld_compiles_free(v, nv);
	return sut_errf(err, "%s: malformed compiler log at byte %zu", log, pos);
}

void bld_compiles_free(struct bld_compile *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].cwd);
		for (size_t k = 0; k < c[i].argc; k++)
			free(c[i].argv[k]);
		free(c[i].argv);
	}
	if (n)
		free(c);
}

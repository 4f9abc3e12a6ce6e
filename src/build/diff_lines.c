/* SPDX-License-Identifier: Apache-2.0 */
/* The files a diff touches, and the #line fix-up.
 *
 * A fix that adds or removes lines shifts the line number of everything below it, and code
 * that embeds __LINE__ (OpenSSL's ERR_raise, assert) changes in every function below the
 * fix: a patch would then replace dozens of functions the fix never touched. After the diff is
 * applied, a `#line N` directive goes right after each changed region, N being the original
 * line number of the line that follows, so every untouched line keeps its original number.
 *
 * The changed regions come from comparing the original and patched files (`diff -U0`), not
 * from the diff's hunk headers, so a diff that applied with an offset or fuzz is still right.
 * A directive is only placed where one is legal: at the start of a line that is not the
 * continuation of a backslash-ended line and not inside a block comment; otherwise it moves
 * down to the next such line, before the next changed region. */
#include "build/build_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/run.h"

bool bld_is_c_family(const char *path)
{
	const char *dot = strrchr(path, '.');
	static const char *const ext[] = { ".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx",
					   ".inc", ".def", ".C", ".H" };
	for (size_t i = 0; dot && i < sizeof ext / sizeof *ext; i++)
		if (!strcmp(dot, ext[i]))
			return true;
	return false;
}

/* Strips the first path component (patch -p1) and a trailing tab-separated timestamp. */
static char *diff_path(const char *line, size_t len)
{
	size_t e = 0;
	while (e < len && line[e] != '\t' && line[e] != '\n' && line[e] != '\r')
		e++;
	char *p = sut_xmalloc(e + 1);
	memcpy(p, line, e);
	p[e] = 0;
	if (p[0] == '"') { /* git quotes unusual names; we take them as they are, unquoted */
		memmove(p, p + 1, e);
		char *q = strrchr(p, '"');
		if (q)
			*q = 0;
	}
	if (!strcmp(p, "/dev/null"))
		return p;
	char *slash = strchr(p, '/');
	if (slash)
		memmove(p, slash + 1, strlen(slash + 1) + 1);
	return p;
}

int bld_diff_files(const char *diff, char ***files, size_t *n, struct sut_err *err)
{
	uint8_t *data;
	size_t len;
	if (sut_read_file(diff, &data, &len, err))
		return -1;
	*files = NULL;
	*n = 0;
	const char *s = (const char *)data, *end = s + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (l > 4 && !strncmp(s, "+++ ", 4)) {
			char *p = diff_path(s + 4, l - 4);
			bool dup = !strcmp(p, "/dev/null");
			for (size_t i = 0; i < *n && !dup; i++)
				dup = !strcmp((*files)[i], p);
			if (dup) {
				free(p);
			} else {
				*files = sut_xrealloc(*files, (*n + 1) * sizeof **files);
				(*files)[(*n)++] = p;
			}
		}
		s += l + 1;
	}
	free(data);
	if (!*n)
		return sut_errf(err, "%s: no file is modified by this diff (no '+++' line)", diff);
	return 0;
}

/* For each line (1-based), whether a directive may be placed before it. */
static bool *directive_ok(const char *text, size_t len, size_t *nlines)
{
	size_t cap = 16, n = 0;
	bool *ok = sut_xmalloc(cap * sizeof *ok);
	bool in_comment = false, continued = false;
	size_t i = 0;
	while (i < len) {
		if (n + 2 >= cap)
			ok = sut_xrealloc(ok, (cap *= 2) * sizeof *ok);
		ok[++n] = !in_comment && !continued;
		/* scan the line: comments and literals, so "/ *" inside a string is not a comment */
		char quote = 0;
		bool line_comment = false;
		size_t start = i;
		for (; i < len && text[i] != '\n'; i++) {
			char c = text[i], d = i + 1 < len ? text[i + 1] : 0;
			if (in_comment) {
				if (c == '*' && d == '/') {
					in_comment = false;
					i++;
				}
			} else if (line_comment) {
				continue;
			} else if (quote) {
				if (c == '\\')
					i++;
				else if (c == quote)
					quote = 0;
			} else if (c == '/' && d == '*') {
				in_comment = true;
				i++;
			} else if (c == '/' && d == '/') {
				line_comment = true;
			} else if (c == '"' || c == '\'') {
				quote = c;
			}
		}
		size_t e = i;
		while (e > start && (text[e - 1] == '\r'))
			e--;
		continued = e > start && text[e - 1] == '\\';
		i++; /* the newline */
	}
	*nlines = n;
	return ok;
}

size_t bld_parse_hunks(const char *u0, struct bld_hunk **out)
{
	struct bld_hunk *h = NULL;
	size_t n = 0;
	for (const char *s = u0; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
		if (strncmp(s, "@@ -", 4))
			continue;
		struct bld_hunk x = { 0, 1, 0, 1 };
		const char *p = s + 4;
		char *e;
		x.a = strtoul(p, &e, 10);
		if (*e == ',')
			x.b = strtoul(e + 1, &e, 10);
		if (strncmp(e, " +", 2))
			continue;
		x.c = strtoul(e + 2, &e, 10);
		if (*e == ',')
			x.d = strtoul(e + 1, &e, 10);
		h = sut_xrealloc(h, (n + 1) * sizeof *h);
		h[n++] = x;
	}
	*out = h;
	return n;
}

char *bld_line_fixup_text(const char *text, size_t len, const char *diff_u0, size_t *out_len)
{
	struct bld_hunk *h;
	size_t nh = bld_parse_hunks(diff_u0, &h), nlines;
	bool *ok = directive_ok(text, len, &nlines);
	/* insert_before[line] = N, 0 for none */
	unsigned long *ins = sut_xcalloc(nlines + 2, sizeof *ins);
	unsigned long last_new = 0, last_orig = 0;
	for (size_t k = 0; k < nh; k++) {
		/* A zero-length side names the line before the gap. */
		unsigned long orig_next = h[k].b ? h[k].a + h[k].b : h[k].a + 1;
		unsigned long new_next = h[k].d ? h[k].c + h[k].d : h[k].c + 1;
		unsigned long limit = nlines; /* last line before the next changed region */
		if (k + 1 < nh)
			limit = h[k + 1].d ? h[k + 1].c - 1 : h[k + 1].c;
		while (new_next <= limit && !ok[new_next]) {
			new_next++;
			orig_next++;
		}
		/* Without a directive here, line new_next would be numbered from the last one. */
		unsigned long presumed = new_next - last_new + last_orig;
		if (new_next <= limit && new_next <= nlines && orig_next != presumed) {
			ins[new_next] = orig_next;
			last_new = new_next;
			last_orig = orig_next;
		}
	}
	struct sut_buf b = {0};
	size_t line = 1, i = 0;
	while (i < len) {
		if (line <= nlines && ins[line]) {
			char d[48];
			int l = snprintf(d, sizeof d, "#line %lu\n", ins[line]);
			sut_buf_append(&b, d, (size_t)l);
		}
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
		sut_buf_append(&b, text + i, l);
		i += l;
		line++;
	}
	sut_buf_append(&b, "", 1);
	*out_len = b.len - 1;
	free(ins);
	free(ok);
	free(h);
	return (char *)b.data;
}

int bld_line_fixup(const char *orig, const char *patched, struct sut_err *err)
{
	char *argv[] = { "diff", "-U0", "--", (char *)orig, (char *)patched, NULL };
	char *u0;
	size_t ulen;
	int st = sut_run_capture(argv, NULL, &u0, &ulen, err);
	if (st < 0)
		return -1;
	if (st > 1) {
		free(u0);
		return sut_errf(err, "comparing %s with %s failed (diff exit status %d)", orig, patched, st);
	}
	uint8_t *text;
	size_t len;
	if (sut_read_file(patched, &text, &len, err)) {
		free(u0);
		return -1;
	}
	size_t out_len;
	char *fixed = bld_line_fixup_text((const char *)text, len, u0, &out_len);
	int rc = sut_write_file(patched, fixed, out_len, err);
	free(fixed);
	free(text);
	free(u0);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Which lines of the original source files the diff changed, in the original file's
 * numbering: that is the numbering of the original comparison object's debug info, which is
 * where the inlined functions a replaced function contains are found (inlined.c).
 * Taken from `diff -U0 orig patched` (not the diff's own hunk headers, which may have applied
 * with an offset), before the #line fix-up adds its directives to the patched file. */
#include "build/build_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/run.h"

void bld_changes_add(struct bld_changes *c, const char *rel, const char *diff_u0)
{
	struct bld_hunk *h;
	size_t nh = bld_parse_hunks(diff_u0, &h);
	if (!nh) {
		free(h);
		return;
	}
	struct bld_changed_file f = { .path = sut_xstrdup(rel),
				      .ranges = sut_xcalloc(nh, sizeof *f.ranges), .nranges = nh };
	for (size_t k = 0; k < nh; k++) {
		/* "-a,0": nothing removed, lines inserted after original line a */
		if (h[k].b == 0)
			f.ranges[k] = (struct bld_line_range){ h[k].a, h[k].a, true };
		else
			f.ranges[k] = (struct bld_line_range){ h[k].a, h[k].a + h[k].b - 1, false };
	}
	free(h);
	c->files = sut_xrealloc(c->files, (c->nfiles + 1) * sizeof *c->files);
	c->files[c->nfiles++] = f;
}

int bld_changes_record(struct bld_changes *c, const char *orig, const char *patched,
		       const char *rel, struct sut_err *err)
{
	char *argv[] = { "diff", "-U0", "--", (char *)orig, (char *)patched, NULL };
	char *u0;
	size_t len;
	int st = sut_run_capture(argv, NULL, &u0, &len, err);
	if (st < 0)
		return -1;
	if (st > 1) {
		free(u0);
		return sut_errf(err, "comparing %s with %s failed (diff exit status %d)", orig, patched, st);
	}
	bld_changes_add(c, rel, u0);
	free(u0);
	return 0;
}

/* file is rel, or a longer path ending in "/rel". */
static bool names_file(const char *file, const char *rel)
{
	size_t fl = strlen(file), rl = strlen(rel);
	if (fl == rl)
		return !strcmp(file, rel);
	return fl > rl && file[fl - rl - 1] == '/' && !strcmp(file + fl - rl, rel);
}

bool bld_changes_touch(const struct bld_changes *c, const char *file, unsigned long from,
		       unsigned long to)
{
	if (!c || !file)
		return false;
	for (size_t i = 0; i < c->nfiles; i++) {
		const struct bld_changed_file *f = &c->files[i];
		if (!names_file(file, f->path))
			continue;
		for (size_t k = 0; k < f->nranges; k++) {
			const struct bld_line_range *r = &f->ranges[k];
			unsigned long first = r->first, last = r->insertion ? r->first + 1 : r->last;
			bool inside = r->insertion ? first >= from && (to == 0 || last < to)
						   : last >= from && (to == 0 || first < to);
			if (inside)
				return true;
		}
	}
	return false;
}

void bld_changes_free(struct bld_changes *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		free(c->files[i].ranges);
	}
	free(c->files);
	memset(c, 0, sizeof *c);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The `build` layer: making a patch from a source tree and a diff.
 *
 * Copies the source tree, builds the original with the user's command, applies the diff to a
 * copy of the built tree and builds again; a compiler wrapper records every compilation.
 * Each object the patched build recompiled is compiled once more in both trees with
 * -ffunction-sections -fdata-sections; per-function comparison of those objects decides what
 * changed. Changed and new functions are carried; everything else they use binds to the
 * target (found in the original build's target object, by name within the STT_FILE scope).
 * Knows nothing of processes. */
#ifndef SUTURE_BUILD_BUILD_H
#define SUTURE_BUILD_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct sut_build_opts {
	const char *src;       /* source tree (not modified) */
	const char *diff;      /* unified diff, applied with patch -p1 */
	const char *target;    /* path of the target object relative to the built tree */
	const char *build_cmd; /* shell command run at the tree's top; NULL = "make" */
	const char *out;       /* patch file to write; NULL = "<id>.suture" */
	const char *id;        /* NULL = derived from the diff's file name */
	const char **cves;
	size_t ncves;
	const char *description; /* NULL = derived from the diff's header */
	const char *workdir;   /* NULL = a fresh temporary directory, removed unless keep */
	bool keep;             /* keep the work directory */
	bool per_call;         /* declare the weaker per-call consistency rule */
	bool verbose;          /* progress to stderr */
	const char *verify_build_id; /* hex; if set, the rebuilt original must have it */
	/* A distribution's build (see distro/distro.h): check_original, when set, is called
	 * with the rebuilt original target before the diff is applied and must prove it is the
	 * deployed object; the patch then names target_build_id (hex) instead of the rebuild's
	 * own, and records the package it is for. */
	int (*check_original)(void *arg, const char *path, struct sut_err *err);
	void *check_arg;
	const char *target_build_id;
	const char *pkg_source, *pkg_version, *pkg_binary;
};

/* One replaced or added function, for the caller's report. */
struct sut_build_func {
	char *name;
	char *file;
	char *reason; /* "changed", "new", "contains inlined NAME" */
	unsigned long size;
};

struct sut_build_report {
	char *patch_path;
	char *patch_id;
	char build_id_hex[129];
	struct sut_build_func *funcs;
	size_t nfuncs;
	char *workdir; /* when kept */
};

/* The CVE ids (CVE-YYYY-NNNN...) the diff names in its own header, the text above the first
 * file of the diff, in order of appearance without repeats; for `build` without --cve.
 * Returns how many were found (0 when none or the diff cannot be read); *cves is malloc'd
 * (free each, then the array). */
size_t sut_build_cves_from_diff(const char *diff_path, char ***cves);

int sut_build(const struct sut_build_opts *o, struct sut_build_report *rep, struct sut_err *err);
void sut_build_report_free(struct sut_build_report *r);

#endif

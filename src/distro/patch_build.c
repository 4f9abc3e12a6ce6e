/* SPDX-License-Identifier: Apache-2.0 */
/* A patch for a distribution's own binary: the build layer works on the proved pristine
 * tree (its unstripped rebuild gives the symbols, static and hidden ones included, that the
 * stripped official file lacks), and the patch names the official build-id. Before the diff
 * is applied the rebuilt original in the work copy is compared with the official file once
 * more, so a copy that make relinked differently can never produce a patch. */
#include "distro/distro_int.h"

#include <stdio.h>
#include <string.h>

#include "patch/patch.h"

struct check_arg {
	const struct sut_distro_build *b;
};

static int check_original(void *arg, const char *path, struct sut_err *err)
{
	const struct check_arg *c = arg;
	bool same;
	if (sut_distro_compare(c->b->official, path, &same, err))
		return -1;
	return 0;
}

/* Where Debian's debug information for the official build exists, it must agree with the
 * addresses the rebuild gave. */
static int cross_check(const struct sut_distro_build *b, const char *patch,
		       struct sut_distro_debug *dbg, struct sut_err *err)
{
	int rc = sut_distro_find_debuginfo(b->official_build_id, &dbg->path, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	struct sut_patch *p;
	if (sut_patch_read_file(patch, &p, err))
		return -1;
	rc = sut_distro_debug_check(p, dbg->path, &dbg->confirmed, err);
	sut_patch_free(p);
	return rc;
}

int sut_distro_build_patch(const struct sut_distro_build *b, const struct sut_build_opts *o,
			   struct sut_build_report *rep, struct sut_distro_debug *dbg,
			   struct sut_err *err)
{
	memset(dbg, 0, sizeof *dbg);
	struct check_arg arg = { b };
	struct sut_build_opts d = *o;
	d.src = b->tree;
	d.target = b->target_rel;
	d.build_cmd = b->build_cmd;
	d.verify_build_id = NULL;
	d.check_original = check_original;
	d.check_arg = &arg;
	d.target_build_id = b->official_build_id;
	d.pkg_source = b->source;
	d.pkg_version = b->version;
	d.pkg_binary = b->binary_package;
	if (sut_build(&d, rep, err))
		return -1;
	if (cross_check(b, rep->patch_path, dbg, err)) {
		remove(rep->patch_path);
		return -1;
	}
	return 0;
}

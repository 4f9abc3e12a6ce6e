/* SPDX-License-Identifier: Apache-2.0 */
/* A patch for a distribution's own binary: the build layer works on the proved pristine
 * tree (its unstripped rebuild gives the symbols, static and hidden ones included, that the
 * stripped official file lacks), and the patch names the official build-id. Before the diff
 * is applied the rebuilt original in the work copy is compared with the official file once
 * more, so a copy that make relinked differently can never produce a patch. */
#include "distro/distro_int.h"

#include <string.h>

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

int sut_distro_build_patch(const struct sut_distro_build *b, const struct sut_build_opts *o,
			   struct sut_build_report *rep, struct sut_err *err)
{
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
	return sut_build(&d, rep, err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The source packages suture knows how to rebuild in part. Adding one is adding a row: the
 * binary package and path of each target, the build folder debian/rules configures, the
 * make goals that build only the targets. */
#include "distro/distro_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Debian's openssl: debian/rules configures build_static and build_shared; the shared
 * libraries need only build_shared (the static tree and the test suite are what make a full
 * dpkg-buildpackage take forty minutes). */
static const char *const openssl_first[] = { "build_generated", NULL };
static const char *const openssl_goals[] = { "libcrypto.so.3", "libssl.so.3", NULL };
static const struct dst_target openssl_targets[] = {
	{ "libcrypto.so.3", "libssl3", "usr/lib/x86_64-linux-gnu/libcrypto.so.3",
	  "build_shared/libcrypto.so.3" },
	{ "libssl.so.3", "libssl3", "usr/lib/x86_64-linux-gnu/libssl.so.3",
	  "build_shared/libssl.so.3" },
};

static const struct dst_recipe recipes[] = {
	{ "openssl", "build_shared", openssl_first, openssl_goals, openssl_targets,
	  sizeof openssl_targets / sizeof *openssl_targets, "2 to 5 minutes" },
};

const struct dst_recipe *dst_recipe_for(const char *source)
{
	for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++)
		if (!strcmp(recipes[i].source, source))
			return &recipes[i];
	return NULL;
}

const struct dst_target *dst_recipe_target(const struct dst_recipe *r, const char *name)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	for (size_t i = 0; i < r->ntargets; i++)
		if (!strcmp(r->targets[i].name, base))
			return &r->targets[i];
	return NULL;
}

char *dst_recipe_target_list(const struct dst_recipe *r)
{
	char *s = sut_xstrdup("");
	for (size_t i = 0; i < r->ntargets; i++) {
		char *n = sut_xasprintf("%s%s%s", s, i ? ", " : "", r->targets[i].name);
		free(s);
		s = n;
	}
	return s;
}

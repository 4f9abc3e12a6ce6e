/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/trust.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "patch/sign.h"
#include "util/buf.h"

struct keylist {
	char **v;
	size_t n;
};

static void add(struct keylist *k, const char *path)
{
	k->v = sut_xrealloc(k->v, (k->n + 1) * sizeof *k->v);
	k->v[k->n++] = sut_xstrdup(path);
}

int cli_trust_verify(const struct sut_patch *p, const char *const *extra, size_t nextra,
		     char *key_id_out, struct sut_err *err)
{
	struct keylist k = {0};
	for (size_t i = 0; i < nextra; i++)
		add(&k, extra[i]);
	const char *env = getenv("SUTURE_TRUSTED_KEYS");
	if (env && *env) {
		char *dup = sut_xstrdup(env), *s = dup, *tok;
		while ((tok = strsep(&s, ":")) != NULL)
			if (*tok)
				add(&k, tok);
		free(dup);
	}
	DIR *d = opendir(SUT_TRUST_DIR);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			if (l > 4 && !strcmp(e->d_name + l - 4, ".pem")) {
				char *path = sut_xasprintf("%s/%s", SUT_TRUST_DIR, e->d_name);
				add(&k, path);
				free(path);
			}
		}
		closedir(d);
	}
	int rc = sut_patch_verify(p, (const char *const *)k.v, k.n, key_id_out, err);
	for (size_t i = 0; i < k.n; i++)
		free(k.v[i]);
	free(k.v);
	return rc;
}

const char *cli_default_signing_key(void)
{
	const char *env = getenv("SUTURE_SIGNING_KEY");
	return env && *env ? env : NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Where the store, the policy file and the daemon's socket live, under an optional root. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/buf.h"

void sut_store_paths_init(struct sut_store_paths *p, const char *root)
{
	size_t l = root ? strlen(root) : 0;
	while (l > 0 && root[l - 1] == '/')
		l--;
	p->root = sut_xasprintf("%.*s", (int)l, root ? root : "");
	p->operator_dir = sut_xasprintf("%s/var/lib/suture/patches", p->root);
	p->package_dir = sut_xasprintf("%s/usr/lib/suture/patches", p->root);
	p->config = sut_xasprintf("%s/etc/suture/suture.conf", p->root);
	p->state_dir = sut_xasprintf("%s/var/lib/suture", p->root);
	p->run_dir = sut_xasprintf("%s/run/suture", p->root);
	p->socket = sut_xasprintf("%s/sutured.sock", p->run_dir);
}

void sut_store_paths_free(struct sut_store_paths *p)
{
	free(p->root);
	free(p->operator_dir);
	free(p->package_dir);
	free(p->config);
	free(p->state_dir);
	free(p->run_dir);
	free(p->socket);
	memset(p, 0, sizeof *p);
}

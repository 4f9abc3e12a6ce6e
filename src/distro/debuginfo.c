/* SPDX-License-Identifier: Apache-2.0 */
/* Debug information for a stripped official build, where it exists: the separate debug file
 * installed under /usr/lib/debug/.build-id/ (a -dbgsym package), else a debuginfod server
 * named in DEBUGINFOD_URLS, asked through elfutils' own client library (libdebuginfod,
 * loaded when needed, so suture runs without it). Its .symtab names the static and hidden
 * functions Debian's stripped file has no name for: a second, independent source for the
 * addresses a patch carries, which the rebuild gave. */
#include "distro/distro_int.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "patch/patch.h"
#include "util/buf.h"

typedef struct debuginfod_client debuginfod_client;
typedef debuginfod_client *(*begin_fn)(void);
typedef int (*find_fn)(debuginfod_client *, const unsigned char *, int, char **);
typedef void (*end_fn)(debuginfod_client *);

static int from_debuginfod(const uint8_t *id, size_t len, char **path, struct sut_err *err)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (!urls || !*urls)
		return 1;
	void *h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return sut_errf(err, "DEBUGINFOD_URLS is set but elfutils' debuginfod client (libdebuginfod.so.1, package libdebuginfod1) cannot be loaded: %s",
				dlerror());
	begin_fn begin = (begin_fn)dlsym(h, "debuginfod_begin");
	find_fn find = (find_fn)dlsym(h, "debuginfod_find_debuginfo");
	end_fn end = (end_fn)dlsym(h, "debuginfod_end");
	int rc = 1;
	if (!begin || !find || !end) {
		rc = sut_errf(err, "libdebuginfod.so.1 lacks the debuginfod client functions");
	} else {
		debuginfod_client *c = begin();
		char *p = NULL;
		int fd = c ? find(c, id, (int)len, &p) : -1;
		if (fd >= 0) {
			close(fd);
			*path = sut_xstrdup(p);
			rc = 0;
		}
		free(p);
		if (c)
			end(c);
	}
	dlclose(h);
	return rc;
}

int sut_distro_find_debuginfo(const char *build_id_hex, char **path, struct sut_err *err)
{
	uint8_t id[64];
	*path = NULL;
	int n = sut_unhex(build_id_hex, id, sizeof id);
	if (n <= 0)
		return sut_errf(err, "build-id '%s' is not hex", build_id_hex);
	const char *root = getenv("SUTURE_DEBUG_ROOT");
	if (sut_elf_find_debug_file(root && *root ? root : NULL, id, (size_t)n, path) == 1)
		return 0;
	return from_debuginfod(id, (size_t)n, path, err);
}

int sut_distro_debug_check(const struct sut_patch *p, const char *debug_path, size_t *checked,
			   struct sut_err *err)
{
	struct sut_elf *e;
	*checked = 0;
	if (sut_elf_open(debug_path, &e, err))
		return -1;
	int rc = 0;
	if (!sut_elf_has_symtab(e))
		rc = sut_errf(err, "debug file %s has no .symtab", debug_path);
	for (size_t i = 0; i < p->nfuncs && rc == 0; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		const struct sut_sym *s = NULL;
		struct sut_err e2;
		int found = sut_elf_find_sym(e, f->name, f->file, &s, &e2);
		if (found == 1 && s->value != f->target_addr)
			rc = sut_errf(err, "%s (%s) is at 0x%llx in the rebuild but at 0x%llx in Debian's debug information %s: the rebuild is not the official build",
				      f->name, f->file ? f->file : "global",
				      (unsigned long long)f->target_addr, (unsigned long long)s->value,
				      debug_path);
		else if (found == 1)
			(*checked)++;
	}
	for (size_t i = 0; i < p->nsymbols && rc == 0; i++) {
		const struct sut_patch_symbol *y = &p->symbols[i];
		if (y->kind != SUT_SYM_TARGET || !y->name || !y->name[0])
			continue;
		/* the patch binds by address; the name must be at that address in the debug file */
		const struct sut_sym *s = sut_elf_sym_at(e, y->value);
		if (s && s->value == y->value && strcmp(s->name, y->name) == 0)
			(*checked)++;
		else if (s && s->value == y->value && y->is_func && s->type == 2 /* STT_FUNC */) {
			/* another name at the same address (an alias): not a contradiction */
			(*checked)++;
		} else if (!s && y->is_func) {
			rc = sut_errf(err, "%s at 0x%llx (bound by the patch) is no function in Debian's debug information %s",
				      y->name, (unsigned long long)y->value, debug_path);
		}
	}
	sut_elf_close(e);
	return rc;
}

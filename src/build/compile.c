/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a recorded compiler command line and rewriting it for the comparison compile:
 * same flags, one source, -ffunction-sections -fdata-sections -g, our own output, and no
 * dependency-file options (they would overwrite the tree's .d files). */
#include "build/build_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* Options whose value is the next argument. */
static bool takes_value(const char *a)
{
	static const char *const opts[] = {
		"-o", "-x", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote",
		"-idirafter", "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isysroot",
		"-MF", "-MT", "-MQ", "-L", "-l", "-Xlinker", "-Xassembler", "-Xpreprocessor",
		"-aux-info", "--param", "-T", "-u", "-z", "-e", "-A", "-B", "--sysroot", "-target",
		"-arch", "-G",
	};
	for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
		if (!strcmp(a, opts[i]))
			return true;
	return false;
}

static bool is_source(const char *a)
{
	const char *dot = strrchr(a, '.');
	if (!dot || a[0] == '-')
		return false;
	static const char *const ext[] = { ".c", ".cc", ".cpp", ".cxx", ".C", ".c++", ".i" };
	for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
		if (!strcmp(dot, ext[i]))
			return true;
	return false;
}

size_t bld_compile_sources(const struct bld_compile *c, size_t *idx, size_t cap)
{
	size_t n = 0;
	for (size_t i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (!strcmp(a, "-E") || !strcmp(a, "-S") || !strcmp(a, "-M") || !strcmp(a, "-MM"))
			return 0; /* preprocessing or assembly output: not an object */
		if (takes_value(a)) {
			i++;
			continue;
		}
		if (is_source(a) && n < cap)
			idx[n++] = i;
	}
	return n;
}

bool bld_compile_links(const struct bld_compile *c)
{
	for (size_t i = 1; i < c->argc; i++)
		if (!strcmp(c->argv[i], "-c"))
			return false;
	return true;
}

/* Arguments that only matter to the linker, dropped when a compile-and-link command is
 * rerun as a compilation (an unused linker input is a warning, an error with -Werror). */
static bool link_only(const char *a)
{
	if (!strncmp(a, "-l", 2) || !strncmp(a, "-L", 2) || !strncmp(a, "-Wl,", 4))
		return true;
	static const char *const opts[] = {"-shared", "-static", "-rdynamic", "-pie", "-no-pie",
					   "-static-libgcc", "-nostdlib", "-nostartfiles"};
	for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
		if (!strcmp(a, opts[i]))
			return true;
	size_t l = strlen(a);
	return a[0] != '-' && ((l > 2 && !strcmp(a + l - 2, ".o")) ||
			       (l > 2 && !strcmp(a + l - 2, ".a")) || strstr(a, ".so"));
}

const char *bld_compile_output(const struct bld_compile *c)
{
	for (size_t i = 1; i < c->argc; i++) {
		if (!strcmp(c->argv[i], "-o") && i + 1 < c->argc)
			return c->argv[i + 1];
		if (!strncmp(c->argv[i], "-o", 2) && c->argv[i][2])
			return c->argv[i] + 2;
		if (takes_value(c->argv[i]))
			i++;
	}
	return NULL;
}

char *bld_replace_prefix(const char *s, const char *from, const char *to)
{
	if (!from || !to || !from[0])
		return sut_xstrdup(s);
	struct sut_buf b = {0};
	size_t fl = strlen(from);
	const char *p = s, *hit;
	while ((hit = strstr(p, from))) {
		sut_buf_append(&b, p, (size_t)(hit - p));
		sut_buf_append(&b, to, strlen(to));
		p = hit + fl;
	}
	sut_buf_append(&b, p, strlen(p) + 1);
	return (char *)b.data;
}

/* Dependency-file options; *skip_next when the value is the next argument. */
static bool dependency_option(const char *a, bool *skip_next)
{
	*skip_next = !strcmp(a, "-MF") || !strcmp(a, "-MT") || !strcmp(a, "-MQ");
	if (*skip_next || !strcmp(a, "-MD") || !strcmp(a, "-MMD") || !strcmp(a, "-MP"))
		return true;
	if (!strncmp(a, "-MF", 3) || !strncmp(a, "-MT", 3) || !strncmp(a, "-MQ", 3))
		return true;
	return !strncmp(a, "-Wp,-MD,", 8) || !strncmp(a, "-Wp,-MMD,", 9);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = sut_xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

char **bld_rerun_argv(const struct bld_compile *c, size_t src, const char *out, const char *from,
		      const char *to, const char *extra)
{
	char **v = NULL;
	size_t n = 0;
	bool links = bld_compile_links(c);
	push(&v, &n, bld_replace_prefix(c->argv[0], from, to));
	for (size_t i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];
		bool skip_next;
		if (links && (!strcmp(a, "-l") || !strcmp(a, "-L") || !strcmp(a, "-Xlinker") ||
			      !strcmp(a, "-T") || !strcmp(a, "-u") || !strcmp(a, "-z"))) {
			i++;
			continue;
		}
		if (links && link_only(a))
			continue;
		if (dependency_option(a, &skip_next)) {
			i += skip_next;
			continue;
		}
		if (!strcmp(a, "-o")) {
			i++;
			continue;
		}
		if (!strncmp(a, "-o", 2) && a[2])
			continue;
		if (i != src && is_source(a) && !(i > 1 && takes_value(c->argv[i - 1])))
			continue;
		push(&v, &n, bld_replace_prefix(a, from, to));
	}
	if (links)
		push(&v, &n, sut_xstrdup("-c"));
	push(&v, &n, sut_xstrdup("-ffunction-sections"));
	push(&v, &n, sut_xstrdup("-fdata-sections"));
	/* Debug info, to name the inlined functions a replaced function contains (inlined.c);
	 * GCC guarantees -g does not change the generated code. */
	push(&v, &n, sut_xstrdup("-g"));
	if (extra)
		push(&v, &n, sut_xstrdup(extra));
	push(&v, &n, sut_xstrdup("-o"));
	push(&v, &n, sut_xstrdup(out));
	return v;
}

void bld_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Naming the inlined functions that make a replaced function change.
 *
 * A static function inlined into every caller has no symbol, so the objects alone cannot say
 * that dh_set_peer is replaced because the fix changed dh_match_params inside it. The
 * comparison objects are compiled with -g (which never changes the code GCC generates), and
 * their DWARF says it: each function's DW_TAG_subprogram holds a DW_TAG_inlined_subroutine
 * per inlined call, whose DW_AT_abstract_origin names the inlined function and its
 * declaration line. A function's source lines run from its declaration line to before the
 * next function's in the same file; when the diff touched those lines of an inlined function,
 * the replaced function "contains inlined" it.
 *
 * The objects are relocatable: their DWARF holds relocations (string offsets, addresses), so
 * it is read through libdwfl, which applies them, rather than libdw alone. */
#include "build/build_internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* A function defined in the object's source (abstract instances included). */
struct fn_decl {
	const char *file;
	int line;
};

struct bld_inlines {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct fn_decl *fns;
	size_t nfns;
};

/* File and declaration line of a function DIE, through DW_AT_abstract_origin and
 * DW_AT_specification (dwarf_decl_* integrate them). */
static bool decl_of(Dwarf_Die *die, const char **file, int *line)
{
	*file = dwarf_decl_file(die);
	return *file && dwarf_decl_line(die, line) == 0;
}

static void collect_decls(struct bld_inlines *in, Dwarf_Die *cu)
{
	Dwarf_Die child;
	if (dwarf_child(cu, &child) != 0)
		return;
	do {
		const char *file;
		int line;
		if (dwarf_tag(&child) != DW_TAG_subprogram || dwarf_hasattr(&child, DW_AT_declaration) ||
		    !dwarf_hasattr(&child, DW_AT_decl_line) || !decl_of(&child, &file, &line))
			continue;
		in->fns = sut_xrealloc(in->fns, (in->nfns + 1) * sizeof *in->fns);
		in->fns[in->nfns++] = (struct fn_decl){ file, line };
	} while (dwarf_siblingof(&child, &child) == 0);
}

int bld_inlines_open(const char *obj, struct bld_inlines **out, struct sut_err *err)
{
	*out = NULL;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf *dw;
	if (bld_dwarf_open(obj, &dwfl, &mod, &dw, err) < 0)
		return -1;
	if (!dw)
		return 0; /* no DWARF: nothing to name, not an error */
	Dwarf_Addr bias;
	struct bld_inlines *in = sut_xcalloc(1, sizeof *in);
	in->dwfl = dwfl;
	in->mod = mod;
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias)))
		collect_decls(in, cu);
	*out = in;
	return 0;
}

void bld_inlines_close(struct bld_inlines *in)
{
	if (!in)
		return;
	dwfl_end(in->dwfl);
	free(in->fns);
	free(in);
}

/* The line after the last line of the function declared at file:line: the next function's
 * declaration line in that file, 0 when it is the last one. */
static unsigned long end_of(const struct bld_inlines *in, const char *file, int line)
{
	unsigned long end = 0;
	for (size_t i = 0; i < in->nfns; i++)
		if (in->fns[i].line > line && !strcmp(in->fns[i].file, file) &&
		    (end == 0 || (unsigned long)in->fns[i].line < end))
			end = (unsigned long)in->fns[i].line;
	return end;
}

static bool touched(const struct bld_inlines *in, Dwarf_Die *fn, const struct bld_changes *ch)
{
	const char *file;
	int line;
	if (!decl_of(fn, &file, &line) || line <= 0)
		return false;
	return bld_changes_touch(ch, file, (unsigned long)line, end_of(in, file, line));
}

/* The DW_TAG_subprogram of the out-of-line function at addr. */
static bool subprogram_at(struct bld_inlines *in, Dwarf_Addr addr, Dwarf_Die *out)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(in->mod, addr, &bias);
	Dwarf_Die child;
	if (!cu || dwarf_child(cu, &child) != 0)
		return false;
	do {
		if (dwarf_tag(&child) == DW_TAG_subprogram && dwarf_haspc(&child, addr - bias) > 0) {
			*out = child;
			return true;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

static bool find_function(struct bld_inlines *in, const char *func, Dwarf_Die *out)
{
	int n = dwfl_module_getsymtab(in->mod);
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(in->mod, i, &sym, &addr, NULL, NULL, NULL);
		if (name && GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_shndx != SHN_UNDEF &&
		    !strcmp(name, func))
			return subprogram_at(in, addr, out);
	}
	return false;
}

struct names {
	struct sut_buf text;
	const char **seen;
	size_t nseen;
};

static void add_name(struct names *n, const char *name)
{
	for (size_t i = 0; i < n->nseen; i++)
		if (!strcmp(n->seen[i], name))
			return;
	n->seen = sut_xrealloc(n->seen, (n->nseen + 1) * sizeof *n->seen);
	n->seen[n->nseen++] = name;
	if (n->text.len)
		sut_buf_append(&n->text, ", ", 2);
	sut_buf_append(&n->text, name, strlen(name));
}

/* Every inlined instance below die, nested ones included (an inlined function that itself
 * inlines the changed one). */
static void walk_inlined(struct bld_inlines *in, Dwarf_Die *die, const struct bld_changes *ch,
			 struct names *n)
{
	Dwarf_Die child;
	if (dwarf_child(die, &child) != 0)
		return;
	do {
		if (dwarf_tag(&child) == DW_TAG_inlined_subroutine) {
			Dwarf_Attribute a;
			Dwarf_Die origin;
			if (dwarf_attr(&child, DW_AT_abstract_origin, &a) &&
			    dwarf_formref_die(&a, &origin) && touched(in, &origin, ch)) {
				const char *name = dwarf_diename(&origin);
				if (name)
					add_name(n, name);
			}
		}
		walk_inlined(in, &child, ch, n);
	} while (dwarf_siblingof(&child, &child) == 0);
}

char *bld_inline_reason(struct bld_inlines *in, const char *func, const struct bld_changes *ch)
{
	Dwarf_Die fn;
	if (!in || !ch || !find_function(in, func, &fn))
		return NULL;
	struct names n = {0};
	walk_inlined(in, &fn, ch, &n);
	char *reason = NULL;
	if (n.text.len) {
		sut_buf_append(&n.text, "", 1);
		reason = sut_xasprintf("%scontains inlined %s", touched(in, &fn, ch) ? "changed; " : "",
				       (const char *)n.text.data);
	}
	sut_buf_free(&n.text);
	free(n.seen);
	return reason;
}

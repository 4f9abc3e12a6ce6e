/* SPDX-License-Identifier: Apache-2.0 */
/* Refusing a fix that changes the layout of a struct or union.
 *
 * Objects that already exist in the running process (on the heap, in static storage, held
 * by callers) were laid out by the old code. Replaced functions compiled against a new
 * layout would read and write them at the wrong offsets, so such a fix cannot be patched
 * live, however few functions it touches. The comparison objects carry DWARF (-g), which
 * gives each named struct's size and every member's offset and size in both builds. */
#include "build/build_internal.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

struct layout {
	char *name;   /* "struct foo", "union bar", or "typedef baz" for an anonymous one */
	char *shape;  /* "size 24: a@0/8 b@8/4 ..." */
};

struct layouts {
	struct layout *v;
	size_t n;
};

static const char *kind_of(int tag)
{
	return tag == DW_TAG_union_type ? "union" : "struct";
}

static bool is_aggregate(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

/* Size and member offsets of an aggregate, as one comparable string. */
static char *shape_of(Dwarf_Die *agg)
{
	struct sut_buf b = {0};
	Dwarf_Word size = 0;
	Dwarf_Attribute a;
	if (dwarf_attr(agg, DW_AT_byte_size, &a))
		dwarf_formudata(&a, &size);
	char tmp[256];
	int n = snprintf(tmp, sizeof tmp, "size %llu:", (unsigned long long)size);
	sut_buf_append(&b, tmp, (size_t)n);
	Dwarf_Die m;
	if (dwarf_child(agg, &m) == 0) {
		do {
			if (dwarf_tag(&m) != DW_TAG_member)
				continue;
			Dwarf_Word off = 0, bitoff = 0;
			if (dwarf_attr(&m, DW_AT_data_member_location, &a))
				dwarf_formudata(&a, &off);
			if (dwarf_attr(&m, DW_AT_data_bit_offset, &a))
				dwarf_formudata(&a, &bitoff);
			Dwarf_Die type;
			Dwarf_Word msize = 0;
			if (dwarf_attr(&m, DW_AT_type, &a) && dwarf_formref_die(&a, &type)) {
				Dwarf_Die peeled;
				if (dwarf_peel_type(&type, &peeled) == 0)
					dwarf_aggregate_size(&peeled, &msize);
			}
			const char *mn = dwarf_diename(&m);
			n = snprintf(tmp, sizeof tmp, " %s@%llu.%llu/%llu", mn ? mn : "?",
				     (unsigned long long)off, (unsigned long long)bitoff,
				     (unsigned long long)msize);
			sut_buf_append(&b, tmp, (size_t)n);
		} while (dwarf_siblingof(&m, &m) == 0);
	}
	sut_buf_append(&b, "", 1);
	return (char *)b.data;
}

static void add(struct layouts *l, const char *name, Dwarf_Die *agg)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return; /* the first definition of a name in a unit stands */
	l->v = sut_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n].name = sut_xstrdup(name);
	l->v[l->n].shape = shape_of(agg);
	l->n++;
}

static void collect(struct layouts *l, Dwarf_Die *parent, int depth)
{
	Dwarf_Die d;
	if (depth > 2 || dwarf_child(parent, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d);
		const char *nm = dwarf_diename(&d);
		char name[512];
		if (is_aggregate(tag) && nm && !dwarf_hasattr(&d, DW_AT_declaration)) {
			snprintf(name, sizeof name, "%s %s", kind_of(tag), nm);
			add(l, name, &d);
			collect(l, &d, depth + 1);
		} else if (tag == DW_TAG_typedef && nm) {
			Dwarf_Attribute a;
			Dwarf_Die t;
			if (dwarf_attr(&d, DW_AT_type, &a) && dwarf_formref_die(&a, &t) &&
			    is_aggregate(dwarf_tag(&t)) && !dwarf_diename(&t) &&
			    !dwarf_hasattr(&t, DW_AT_declaration)) {
				snprintf(name, sizeof name, "typedef %s", nm);
				add(l, name, &t);
			}
		}
	} while (dwarf_siblingof(&d, &d) == 0);
}

static int read_layouts(const char *obj, struct layouts *l, bool *have, struct sut_err *err)
{
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf *dw;
	*have = false;
	if (bld_dwarf_open(obj, &dwfl, &mod, &dw, err) < 0)
		return -1;
	if (!dw)
		return 0;
	Dwarf_Addr bias;
	Dwarf_Die *cu = NULL;
	while ((cu = dwfl_module_nextcu(mod, cu, &bias)))
		collect(l, cu, 0);
	dwfl_end(dwfl);
	*have = true;
	return 0;
}

static void free_layouts(struct layouts *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].shape);
	}
	free(l->v);
}

int bld_check_layouts(const char *orig_o, const char *patched_o, const char *source,
		      struct sut_err *err)
{
	struct layouts a = {0}, b = {0};
	bool ha, hb;
	int rc = 0;
	if (read_layouts(orig_o, &a, &ha, err) < 0 || read_layouts(patched_o, &b, &hb, err) < 0) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < a.n && rc == 0; i++)
		for (size_t k = 0; k < b.n; k++) {
			if (strcmp(a.v[i].name, b.v[k].name))
				continue;
			if (strcmp(a.v[i].shape, b.v[k].shape))
				rc = sut_errf(err,
					      "cannot live-patch: layout of %s changed (seen compiling %s): "
					      "objects the running process already holds keep the old "
					      "layout; was {%s}, now {%s}",
					      a.v[i].name, source, a.v[i].shape, b.v[k].shape);
			break;
		}
out:
	free_layouts(&a);
	free_layouts(&b);
	return rc;
}

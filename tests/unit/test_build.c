/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the build layer's comparison and emission, on objects compiled here from two
 * versions of one source file, and of its #line fix-up, command-line rewriting and wrapper. */
#include "fixtures.h"

#include <gelf.h>

#include "build/build_internal.h"
#include "util/buf.h"

#define FS_FLAGS "-O2 -fPIC -ffunction-sections -fdata-sections -c"

/* Two versions of lib.c (in v1/ and v2/, so both have the STT_FILE name "lib.c"), compiled
 * for comparison, and v1 linked as the target shared library. */
struct pair {
	struct bld_obj *o, *p;
	struct bld_objdiff d;
	struct sut_elf *target;
	char target_path[512];
};

static int pair_init_target(struct pair *x, const char *tag, const char *v1, const char *v2,
			    const char *flags, const char *target_flags, struct sut_err *err);

static int pair_init_flags(struct pair *x, const char *tag, const char *v1, const char *v2,
			   const char *flags, struct sut_err *err)
{
	return pair_init_target(x, tag, v1, v2, flags, "-O2 -fPIC -shared -Wl,--build-id", err);
}

/* The same with the target linked with target_flags (a program: "-O2 -pie ..."). */
static int pair_init_target(struct pair *x, const char *tag, const char *v1, const char *v2,
			    const char *flags, const char *target_flags, struct sut_err *err)
{
	memset(x, 0, sizeof *x);
	fixture_sh("mkdir -p %s/v1 %s/v2", tag, tag);
	char n1[128], n2[128], o1[128], o2[128], so[128];
	snprintf(n1, sizeof n1, "%s/v1/lib", tag);
	snprintf(n2, sizeof n2, "%s/v2/lib", tag);
	snprintf(o1, sizeof o1, "%s/v1/lib.o", tag);
	snprintf(o2, sizeof o2, "%s/v2/lib.o", tag);
	snprintf(so, sizeof so, "%s/v1/lib.so", tag);
	free(fixture_cc(n1, v1, flags, o1));
	free(fixture_cc(n2, v2, flags, o2));
	free(fixture_cc(n1, v1, target_flags, so));
	char path[512];
	snprintf(path, sizeof path, "%s/%s", fixture_tmpdir(), o1);
	assert_int_equal(bld_obj_open(path, &x->o, err), 0);
	snprintf(path, sizeof path, "%s/%s", fixture_tmpdir(), o2);
	assert_int_equal(bld_obj_open(path, &x->p, err), 0);
	snprintf(x->target_path, sizeof x->target_path, "%s/%s", fixture_tmpdir(), so);
	assert_int_equal(sut_elf_open(x->target_path, &x->target, err), 0);
	return bld_objdiff(x->o, x->p, &x->d, err);
}

static int pair_init(struct pair *x, const char *tag, const char *v1, const char *v2,
		     struct sut_err *err)
{
	return pair_init_flags(x, tag, v1, v2, FS_FLAGS, err);
}

static void pair_free(struct pair *x)
{
	bld_objdiff_free(&x->d);
	bld_obj_close(x->o);
	bld_obj_close(x->p);
	sut_elf_close(x->target);
}

static long sym_index(const struct bld_obj *o, const char *name)
{
	for (size_t i = 0; i < o->nsyms; i++)
		if (!strcmp(o->syms[i].name, name))
			return (long)i;
	return -1;
}

static enum bld_state state_of(const struct pair *x, const char *name)
{
	long i = sym_index(x->p, name);
	assert_true(i >= 0);
	return x->d.state[i];
}

/* Address of a symbol according to nm, the independent witness. */
static unsigned long nm_addr(const char *path, const char *name)
{
	char cmd[700], line[512];
	snprintf(cmd, sizeof cmd, "nm '%s'", path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	unsigned long addr = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long a;
		char t, n[400];
		if (sscanf(line, "%lx %c %399s", &a, &t, n) == 3 && !strcmp(n, name))
			addr = a;
	}
	pclose(f);
	return addr;
}

static struct sut_patch *emit(struct pair *x, struct bld_emit *em, struct sut_err *err, int *rc)
{
	struct sut_patch *p = sut_xcalloc(1, sizeof *p);
	*em = (struct bld_emit){ .p = p, .target = x->target };
	*rc = bld_emit_object(em, x->o, x->p, &x->d, err);
	return p;
}

static void emit_free(struct bld_emit *em)
{
	for (size_t i = 0; i < em->nrep; i++) {
		free(em->rep[i].name);
		free(em->rep[i].file);
		free(em->rep[i].reason);
	}
	free(em->rep);
	sut_patch_free(em->p);
}

/* Makes the emitted patch complete enough for the validator. */
static void finish(struct sut_patch *p)
{
	p->format = SUT_PATCH_FORMAT;
	p->id = sut_xstrdup("t");
	p->version = 1;
	p->build_id_len = 1;
	p->build_id[0] = 1;
}

static const char *LIB_V1 =
	"static int calls;\n"
	"__attribute__((noinline)) int compute(int x) { calls++; return x * 3; }\n"
	"int caller(int x) { return compute(x) + 1; }\n"
	"int other(int x) { return x - 7; }\n"
	"int calls_seen(void) { return calls; }\n";
static const char *LIB_V2 =
	"static int calls;\n"
	"__attribute__((noinline)) int compute(int x) { calls++; if (x < 0) return 0; return x * 3; }\n"
	"int caller(int x) { return compute(x) + 1; }\n"
	"int other(int x) { return x - 7; }\n"
	"int calls_seen(void) { return calls; }\n";

/* A changed function is replaced at the target's address with the target's bytes as
 * pre-image; its unchanged caller and the unrelated functions are left alone. */
static void test_changed_function(void **state)
{
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "changed", LIB_V1, LIB_V2, &err), 0);
	assert_int_equal(state_of(&x, "compute"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "caller"), BLD_SAME);
	assert_int_equal(state_of(&x, "other"), BLD_SAME);
	assert_int_equal(state_of(&x, "calls_seen"), BLD_SAME);

	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "compute");
	assert_null(p->funcs[0].file);
	assert_int_equal(p->funcs[0].target_addr, nm_addr(x.target_path, "compute"));
	assert_string_equal(p->funcs[0].reason, "changed");
	/* the pre-image is the target's own bytes */
	uint8_t *want = malloc(p->funcs[0].preimage_len);
	assert_int_equal(sut_elf_read_vaddr(x.target, p->funcs[0].target_addr, want,
					    p->funcs[0].preimage_len, &err), 0);
	assert_memory_equal(want, p->funcs[0].preimage, p->funcs[0].preimage_len);
	free(want);
	/* the replacement is the new code, carried as text */
	const struct sut_patch_symbol *r = &p->symbols[p->funcs[0].replacement];
	assert_int_equal(r->kind, SUT_SYM_LOCAL);
	assert_true(r->is_func);
	assert_int_equal(p->sections[r->section].kind, SUT_SEC_TEXT);
	assert_int_equal(r->size, x.p->syms[sym_index(x.p, "compute")].size);
	/* no other function's code travels */
	for (size_t i = 0; i < p->nsections; i++)
		if (p->sections[i].kind == SUT_SEC_TEXT)
			assert_string_equal(p->sections[i].name, ".text.compute");
	/* the static counter binds to the target's own variable, by address */
	long c = sut_patch_find_symbol(p, "calls");
	bool found = false;
	for (size_t i = 0; i < p->nsymbols; i++) {
		if (strcmp(p->symbols[i].name, "calls"))
			continue;
		found = true;
		assert_int_equal(p->symbols[i].kind, SUT_SYM_TARGET);
		assert_int_equal(p->symbols[i].value, nm_addr(x.target_path, "calls"));
	}
	(void)c;
	assert_true(found);
	finish(p);
	assert_int_equal(sut_patch_validate(p, &err), 0);
	assert_int_equal(em.nrep, 1);
	emit_free(&em);
	pair_free(&x);
}

/* A changed function inlined into its caller changes the caller; a changed string literal
 * changes the function that uses it, and only that one, and the new string travels. */
static void test_inlined_and_strings(void **state)
{
	const char *v1 = "#include <stdio.h>\n"
			 "static int helper(int x) { return x + 1; }\n"
			 "int outer(int x) { return helper(x) * 2; }\n"
			 "void say(void) { puts(\"old message\"); }\n"
			 "void keep(void) { puts(\"stays the same\"); }\n";
	const char *v2 = "#include <stdio.h>\n"
			 "static int helper(int x) { return x + 5; }\n"
			 "int outer(int x) { return helper(x) * 2; }\n"
			 "void say(void) { puts(\"new message!\"); }\n"
			 "void keep(void) { puts(\"stays the same\"); }\n";
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "inl", v1, v2, &err), 0);
	assert_int_equal(sym_index(x.p, "helper"), -1); /* inlined away */
	assert_int_equal(state_of(&x, "outer"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "say"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "keep"), BLD_SAME);

	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(p->nfuncs, 2);
	bool has_new = false, has_old = false;
	for (size_t i = 0; i < p->nsections; i++) {
		if (p->sections[i].kind != SUT_SEC_RODATA)
			continue;
		has_new |= memmem(p->sections[i].bytes, p->sections[i].size, "new message!", 12) != NULL;
		has_old |= memmem(p->sections[i].bytes, p->sections[i].size, "stays the same", 14) != NULL;
	}
	assert_true(has_new);
	assert_false(has_old);
	/* puts is not defined by the target: through its GOT slot, or by name */
	for (size_t i = 0; i < p->nsymbols; i++)
		if (!strcmp(p->symbols[i].name, "puts"))
			assert_true(p->symbols[i].kind == SUT_SYM_TARGET_GOT ||
				    p->symbols[i].kind == SUT_SYM_EXTERN);
	finish(p);
	assert_int_equal(sut_patch_validate(p, &err), 0);
	emit_free(&em);
	pair_free(&x);
}

/* A new function is carried (with no replacement entry); the function calling it is
 * replaced and its call reaches the carried copy. */
static void test_new_function(void **state)
{
	const char *v1 = "int check(int x) { return x > 10; }\n";
	const char *v2 = "__attribute__((noinline)) int bounded(int x) { return x > 10 && x < 1000; }\n"
			 "int check(int x) { return bounded(x) + (x == 3); }\n";
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "new", v1, v2, &err), 0);
	assert_int_equal(state_of(&x, "bounded"), BLD_NEW);
	assert_int_equal(state_of(&x, "check"), BLD_CHANGED);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "check");
	long b = sut_patch_find_symbol(p, "bounded");
	assert_true(b >= 0);
	assert_int_equal(p->symbols[b].kind, SUT_SYM_LOCAL);
	bool reported_new = false;
	for (size_t i = 0; i < em.nrep; i++)
		reported_new |= !strcmp(em.rep[i].name, "bounded") && !strcmp(em.rep[i].reason, "new");
	assert_true(reported_new);
	/* check's call to bounded is relocated against the carried copy */
	long chk = sut_patch_find_symbol(p, "check");
	bool call_local = false;
	for (size_t i = 0; i < p->nrelocs; i++)
		if (p->relocs[i].section == p->symbols[chk].section && p->relocs[i].symbol == (uint32_t)b)
			call_local = true;
	assert_true(call_local);
	finish(p);
	assert_int_equal(sut_patch_validate(p, &err), 0);
	emit_free(&em);
	pair_free(&x);
}

/* Changing a writable variable's initial value cannot be live-patched: refused by name. */
static void test_writable_initial_value_refused(void **state)
{
	const char *v1 = "int counter = 1;\nint get(void) { return counter; }\n";
	const char *v2 = "int counter = 2;\nint get(void) { return counter; }\n";
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "wr", v1, v2, &err), -1);
	assert_non_null(strstr(err.msg, "'counter'"));
	assert_non_null(strstr(err.msg, "lib.c"));
	pair_free(&x);
}

/* A static local variable (named "n.0" or so by the compiler) used by a changed function binds
 * to the target's copy of it, found within the file's scope. */
static void test_static_local_binds_to_target(void **state)
{
	const char *v1 = "int tick(void) { static int n; return ++n; }\n"
			 "int tock(void) { static int n = 5; return n--; }\n";
	const char *v2 = "int tick(void) { static int n; n += 2; return n; }\n"
			 "int tock(void) { static int n = 5; return n--; }\n";
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "sl", v1, v2, &err), 0);
	assert_int_equal(state_of(&x, "tick"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "tock"), BLD_SAME);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(p->nfuncs, 1);
	/* the relocation of tick's code names tick's static n, bound to the target */
	long t = sut_patch_find_symbol(p, "tick");
	size_t bound = 0;
	for (size_t i = 0; i < p->nrelocs; i++) {
		if (p->relocs[i].section != p->symbols[t].section)
			continue;
		const struct sut_patch_symbol *s = &p->symbols[p->relocs[i].symbol];
		assert_int_equal(s->kind, SUT_SYM_TARGET);
		assert_true(!strncmp(s->name, "n.", 2));
		assert_int_equal(s->value, nm_addr(x.target_path, s->name));
		bound++;
	}
	assert_true(bound >= 1);
	/* no writable data travels */
	for (size_t i = 0; i < p->nsections; i++)
		assert_true(p->sections[i].kind == SUT_SEC_TEXT || p->sections[i].kind == SUT_SEC_RODATA);
	emit_free(&em);
	pair_free(&x);
}

/* A changed constant table makes its users change, and the table travels as read-only data. */
static void test_changed_rodata(void **state)
{
	const char *v1 = "static const int tab[4] = {1, 2, 3, 4};\n"
			 "int pick(int i) { return tab[i & 3]; }\n";
	const char *v2 = "static const int tab[4] = {1, 2, 3, 5};\n"
			 "int pick(int i) { return tab[i & 3]; }\n";
	struct pair x;
	struct sut_err err;
	assert_int_equal(pair_init(&x, "ro", v1, v2, &err), 0);
	assert_int_equal(state_of(&x, "pick"), BLD_CHANGED);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	assert_int_equal(rc, 0);
	long t = sut_patch_find_symbol(p, "tab");
	(void)t;
	bool carried = false;
	for (size_t i = 0; i < p->nsections; i++) {
		static const int want[4] = {1, 2, 3, 5};
		if (p->sections[i].kind == SUT_SEC_RODATA && p->sections[i].size == sizeof want &&
		    !memcmp(p->sections[i].bytes, want, sizeof want))
			carried = true;
	}
	assert_true(carried);
	emit_free(&em);
	pair_free(&x);
}

static char *slurp(const char *path)
{
	uint8_t *d;
	size_t l;
	struct sut_err err;
	if (sut_read_file(path, &d, &l, &err))
		fail_msg("%s", err.msg);
	char *s = malloc(l + 1);
	memcpy(s, d, l);
	s[l] = 0;
	free(d);
	return s;
}

/* The .text.NAME section of an object, for comparing a function's code. */
static void section_bytes(const char *obj, const char *name, struct sut_buf *out)
{
	struct bld_obj *o;
	struct sut_err err;
	assert_int_equal(bld_obj_open(obj, &o, &err), 0);
	for (size_t i = 0; i < o->nsecs; i++)
		if (!strcmp(o->secs[i].name, name))
			sut_buf_append(out, o->secs[i].data, o->secs[i].size);
	bld_obj_close(o);
	assert_true(out->len > 0);
}

static void write_rel(const char *rel, const char *text)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", fixture_tmpdir(), rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* After applying a diff that adds lines, the #line fix-up keeps __LINE__ (and so the code)
 * of every later function identical; without it the later function's code differs. */
static void test_line_fixup_keeps_later_functions(void **state)
{
	const char *orig = "int early(int x)\n"
			   "{\n"
			   "\treturn x + 1;\n"
			   "}\n"
			   "#define TWO(a) \\\n"
			   "\t((a) * 2)\n"
			   "int later(void)\n"
			   "{\n"
			   "\treturn __LINE__ + TWO(1);\n"
			   "}\n";
	const char *fixed = "int early(int x)\n"
			    "{\n"
			    "\tif (x < 0)\n"
			    "\t\treturn 0;\n"
			    "\treturn x + 1;\n"
			    "}\n"
			    "#define TWO(a) \\\n"
			    "\t((a) * 2)\n"
			    "int later(void)\n"
			    "{\n"
			    "\treturn __LINE__ + TWO(1);\n"
			    "}\n";
	fixture_sh("mkdir -p ln/a ln/b");
	write_rel("ln/a/e.c", orig);
	write_rel("ln/b/e.c", fixed);
	fixture_sh("cd ln && { diff -u --label a/e.c --label b/e.c a/e.c b/e.c > fix.diff; [ $? -eq 1 ]; }");
	fixture_sh("cd ln && cp -a a p && cd p && patch -s -p1 --batch -i ../fix.diff");
	char a[600], pth[600];
	snprintf(a, sizeof a, "%s/ln/a/e.c", fixture_tmpdir());
	snprintf(pth, sizeof pth, "%s/ln/p/e.c", fixture_tmpdir());
	struct sut_err err;
	assert_int_equal(bld_line_fixup(a, pth, &err), 0);
	char *text = slurp(pth);
	assert_non_null(strstr(text, "\treturn 0;\n#line 3\n\treturn x + 1;\n"));
	free(text);
	fixture_sh("cd ln && gcc " FS_FLAGS " -o a.o a/e.c && gcc " FS_FLAGS " -o p.o p/e.c && gcc " FS_FLAGS " -o b.o b/e.c");
	struct sut_buf ba = {0}, bp = {0}, bb = {0}, ea = {0}, ep = {0};
	char oa[600], op[600], ob[600];
	snprintf(oa, sizeof oa, "%s/ln/a.o", fixture_tmpdir());
	snprintf(op, sizeof op, "%s/ln/p.o", fixture_tmpdir());
	snprintf(ob, sizeof ob, "%s/ln/b.o", fixture_tmpdir());
	section_bytes(oa, ".text.later", &ba);
	section_bytes(op, ".text.later", &bp);
	section_bytes(ob, ".text.later", &bb);
	assert_int_equal(ba.len, bp.len);
	assert_memory_equal(ba.data, bp.data, ba.len);
	/* the witness: without the fix-up, __LINE__ moved and the code differs */
	assert_true(ba.len != bb.len || memcmp(ba.data, bb.data, ba.len));
	/* and the function the fix did change still differs */
	section_bytes(oa, ".text.early", &ea);
	section_bytes(op, ".text.early", &ep);
	assert_true(ea.len != ep.len || memcmp(ea.data, ep.data, ea.len));
	sut_buf_free(&ba);
	sut_buf_free(&bp);
	sut_buf_free(&bb);
	sut_buf_free(&ea);
	sut_buf_free(&ep);
}

/* Directives never split a backslash-continued line or land inside a block comment: they
 * move down to the next line where one is legal, with the number adjusted. */
static void test_line_fixup_placement(void **state)
{
	const char *patched = "int a;\n"            /* 1 */
			      "#define ADDED 1 \\\n" /* 2 new, continued */
			      "#define M(x) \\\n"    /* 3 = orig 2 */
			      "\t(x)\n"              /* 4 = orig 3 */
			      "int b;\n"             /* 5 = orig 4 */
			      "int new2; /* c1\n"    /* 6 new, opens a comment */
			      "   c2 */\n"           /* 7 = orig 5 */
			      "int c;\n";            /* 8 = orig 6 */
	const char *u0 = "--- x\n+++ y\n@@ -1,0 +2 @@\n+#define ADDED 1 \\\n@@ -4,0 +6 @@\n+int new2; /* c1\n";
	size_t len;
	char *out = bld_line_fixup_text(patched, strlen(patched), u0, &len);
	const char *want = "int a;\n"
			   "#define ADDED 1 \\\n"
			   "#define M(x) \\\n"
			   "\t(x)\n"
			   "#line 4\n"
			   "int b;\n"
			   "int new2; /* c1\n"
			   "   c2 */\n"
			   "#line 6\n"
			   "int c;\n";
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
	/* a change that keeps the line count needs no directive at all */
	out = bld_line_fixup_text("int a;\nint z;\nint c;\n", 21, "@@ -2 +2 @@\n-int b;\n+int z;\n", &len);
	assert_string_equal(out, "int a;\nint z;\nint c;\n");
	free(out);
}

/* The rerun of a recorded compilation: one source, function sections, our output, no
 * dependency files, paths moved from one tree to the other. */
static void test_rerun_argv(void **state)
{
	char *argv[] = { "/usr/bin/gcc", "-O2", "-MMD", "-MF", "dep.d", "-Wp,-MD,x.d", "-I/w/patched/inc",
			 "-c", "a.c", "b.c", "-o", "a.o", "-include", "cfg.c", NULL };
	struct bld_compile c = { .cwd = "/w/patched/sub", .argv = argv, .argc = 14 };
	size_t idx[4];
	assert_int_equal(bld_compile_sources(&c, idx, 4), 2);
	assert_string_equal(argv[idx[0]], "a.c");
	assert_string_equal(argv[idx[1]], "b.c");
	assert_string_equal(bld_compile_output(&c), "a.o");
	char **r = bld_rerun_argv(&c, idx[0], "/w/fs/orig/0.o", "/w/patched", "/w/orig", NULL);
	struct sut_buf b = {0};
	for (size_t i = 0; r[i]; i++) {
		sut_buf_append(&b, r[i], strlen(r[i]));
		sut_buf_append(&b, " ", 1);
	}
	sut_buf_append(&b, "", 1);
	assert_string_equal((char *)b.data, "/usr/bin/gcc -O2 -I/w/orig/inc -c a.c -include cfg.c "
					    "-ffunction-sections -fdata-sections -g -o /w/fs/orig/0.o ");
	sut_buf_free(&b);
	bld_argv_free(r);
	char *link[] = { "cc", "-o", "prog", "a.o", NULL };
	struct bld_compile l = { .cwd = "/", .argv = link, .argc = 4 };
	assert_int_equal(bld_compile_sources(&l, idx, 4), 0);
}

/* The wrapper records working directory and argv exactly, spaces and quotes included, and
 * still runs the compiler. */
static void test_wrapper_log(void **state)
{
	char shim[600], log[600];
	snprintf(shim, sizeof shim, "%s/shim", fixture_tmpdir());
	snprintf(log, sizeof log, "%s/cc.log", fixture_tmpdir());
	struct sut_err err;
	assert_int_equal(bld_write_shims(shim, getenv("PATH"), &err), 0);
	fixture_sh("mkdir -p 'sp ace' && printf 'int v;\\n' > 'sp ace/it'\\''s.c'");
	fixture_sh("cd 'sp ace' && SUTURE_CC_LOG='%s' '%s/gcc' -c -DMSG='\"a b\"' \"it's.c\" -o out.o && test -s out.o",
		   log, shim);
	struct bld_compile *v;
	size_t n;
	assert_int_equal(bld_read_cc_log(log, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_non_null(strstr(v[0].cwd, "/sp ace"));
	assert_int_equal(v[0].argc, 6);
	assert_true(v[0].argv[0][0] == '/'); /* the real compiler, not the wrapper */
	assert_null(strstr(v[0].argv[0], "/shim/"));
	assert_string_equal(v[0].argv[2], "-DMSG=\"a b\"");
	assert_string_equal(v[0].argv[3], "it's.c");
	bld_compiles_free(v, n);
}

static void test_metadata_from_diff(void **state)
{
	char *id = bld_id_from_diff("/x/CVE-2024 fix (v2).diff");
	assert_string_equal(id, "CVE-2024fixv2");
	free(id);
	write_rel("desc.patch", "From 123 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\n"
				"Subject: [PATCH] Fix the header parser\n\n---\n a.c | 1 +\n");
	char p[600];
	snprintf(p, sizeof p, "%s/desc.patch", fixture_tmpdir());
	char *d = bld_description_from_diff(p);
	assert_string_equal(d, "Fix the header parser");
	free(d);
	/* a licence line on top of the diff file is not its description */
	write_rel("spdx.diff", "# SPDX-License-Identifier: Apache-2.0\nvalue: clamp at zero\n--- a/v.c\n");
	snprintf(p, sizeof p, "%s/spdx.diff", fixture_tmpdir());
	d = bld_description_from_diff(p);
	assert_string_equal(d, "value: clamp at zero");
	free(d);
}

/* The changed-line set: replaced lines touch the ranges they overlap; an insertion touches a
 * range only when both lines around it are inside; files are matched by path suffix. */
static void test_changes_touch(void **state)
{
	struct bld_changes ch = {0};
	bld_changes_add(&ch, "crypto/dh.c", "@@ -5,2 +5,3 @@\n-a\n-b\n+a\n+b\n+c\n@@ -20,0 +22 @@\n+x\n");
	assert_int_equal(ch.nfiles, 1);
	assert_true(bld_changes_touch(&ch, "/src/tree/crypto/dh.c", 1, 6));   /* line 5 */
	assert_true(bld_changes_touch(&ch, "crypto/dh.c", 6, 10));           /* line 6 */
	assert_false(bld_changes_touch(&ch, "crypto/dh.c", 7, 20));          /* 7..19 */
	assert_true(bld_changes_touch(&ch, "crypto/dh.c", 15, 0));           /* insertion after 20 */
	assert_false(bld_changes_touch(&ch, "crypto/dh.c", 21, 0));          /* it is before 21 */
	assert_false(bld_changes_touch(&ch, "crypto/dh.c", 15, 21));         /* between 20 and 21 */
	assert_false(bld_changes_touch(&ch, "other/dh.c", 1, 0));
	assert_false(bld_changes_touch(&ch, "xcrypto/dh.c", 1, 0));
	bld_changes_free(&ch);
}

static const struct sut_patch_func *func_named(const struct sut_patch *p, const char *name)
{
	for (size_t i = 0; i < p->nfuncs; i++)
		if (!strcmp(p->funcs[i].name, name))
			return &p->funcs[i];
	fail_msg("%s is not replaced", name);
	return NULL;
}

/* A static function inlined everywhere has no symbol; the DWARF of the (-g) comparison
 * objects names it as the reason its callers are replaced, with "changed" kept when the
 * caller's own lines changed too, and nothing claimed when only the caller changed. */
static void test_inline_reason_from_dwarf(void **state)
{
	const char *v1 = "static int helper(int x)\n"          /* 1 */
			 "{\n"
			 "\treturn x * 3 + 1;\n"              /* 3 */
			 "}\n"
			 "int outer(int x)\n"                  /* 5 */
			 "{\n"
			 "\treturn helper(x) * 2;\n"
			 "}\n"
			 "int both(int x)\n"                   /* 9 */
			 "{\n"
			 "\treturn helper(x) - 3;\n"          /* 11 */
			 "}\n"
			 "int alone(int x)\n"                  /* 13 */
			 "{\n"
			 "\treturn x * x - 3 * x + 17;\n"     /* 15 */
			 "}\n";
	const char *v2 = "static int helper(int x)\n"
			 "{\n"
			 "\treturn x * 3 + 5;\n"
			 "}\n"
			 "int outer(int x)\n"
			 "{\n"
			 "\treturn helper(x) * 2;\n"
			 "}\n"
			 "int both(int x)\n"
			 "{\n"
			 "\treturn helper(x) - 4;\n"
			 "}\n"
			 "int alone(int x)\n"
			 "{\n"
			 "\treturn x * x - 3 * x + 19;\n"
			 "}\n";
	struct pair x;
	struct sut_err err;
	if (pair_init_flags(&x, "inr", v1, v2, FS_FLAGS " -g", &err)) fail_msg("%s", err.msg);
	assert_int_equal(sym_index(x.o, "helper"), -1); /* no symbol in either build */
	assert_int_equal(sym_index(x.p, "helper"), -1);
	struct bld_changes ch = {0};
	char a[600], b[600];
	snprintf(a, sizeof a, "%s/inr/v1/lib.c", fixture_tmpdir());
	snprintf(b, sizeof b, "%s/inr/v2/lib.c", fixture_tmpdir());
	assert_int_equal(bld_changes_record(&ch, a, b, "lib.c", &err), 0);
	struct sut_patch *p = sut_xcalloc(1, sizeof *p);
	struct bld_emit em = { .p = p, .target = x.target, .changes = &ch };
	if (bld_emit_object(&em, x.o, x.p, &x.d, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 3);
	assert_string_equal(func_named(p, "outer")->reason, "contains inlined helper");
	assert_string_equal(func_named(p, "both")->reason, "changed; contains inlined helper");
	assert_string_equal(func_named(p, "alone")->reason, "changed");
	/* the report says the same */
	for (size_t i = 0; i < em.nrep; i++)
		if (!strcmp(em.rep[i].name, "outer"))
			assert_string_equal(em.rep[i].reason, "contains inlined helper");
	emit_free(&em);
	bld_changes_free(&ch);
	pair_free(&x);
}

/* -g does not change the code: the comparison objects are compiled with it. */
static void test_debug_info_keeps_code(void **state)
{
	const char *src = "#include <string.h>\n"
			  "static int h(const char *s) { return (int)strlen(s) * 7; }\n"
			  "int f(const char *s, int n) { int t = 0; for (int i = 0; i < n; i++) t += h(s + i); return t; }\n"
			  "int g(int x) { switch (x) { case 1: return 4; case 2: return 9; case 3: return 1; case 4: return 7; default: return -x; } }\n";
	free(fixture_cc("dbg", src, FS_FLAGS, "dbg.o"));
	free(fixture_cc("dbg", src, FS_FLAGS " -g", "dbg-g.o"));
	const char *secs[] = { ".text.f", ".text.g" };
	for (size_t i = 0; i < 2; i++) {
		struct sut_buf a = {0}, b = {0};
		char pa[600], pb[600];
		snprintf(pa, sizeof pa, "%s/dbg.o", fixture_tmpdir());
		snprintf(pb, sizeof pb, "%s/dbg-g.o", fixture_tmpdir());
		section_bytes(pa, secs[i], &a);
		section_bytes(pb, secs[i], &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		sut_buf_free(&a);
		sut_buf_free(&b);
	}
}

/* A const table of pointers lives in .data.rel.ro (flags WA); changed, it is carried as
 * read-only data with its relocations and its user is replaced; nothing is refused. */
static void test_relro_table_carried(void **state)
{
	const char *v1 = "static const char *const names[] = { \"zero\", \"one\" };\n"
			 "__attribute__((noinline)) const char *name_of(unsigned i) { return names[i & 1]; }\n"
			 "int unrelated(int x) { return x + 1; }\n";
	const char *v2 = "static const char *const names[] = { \"zero\", \"uno\" };\n"
			 "__attribute__((noinline)) const char *name_of(unsigned i) { return names[i & 1]; }\n"
			 "int unrelated(int x) { return x + 1; }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "relro", v1, v2, &err)) fail_msg("%s", err.msg);
	long t = sym_index(x.p, "names");
	assert_true(t >= 0);
	assert_true(!strncmp(x.p->secs[x.p->syms[t].shndx].name, ".data.rel.ro", 12));
	assert_true(x.p->secs[x.p->syms[t].shndx].flags & SHF_WRITE);
	assert_false(bld_sym_is_writable(x.p, (size_t)t));
	assert_int_equal(state_of(&x, "names"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "name_of"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "unrelated"), BLD_SAME);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "name_of");
	long n = -1;
	for (size_t i = 0; i < p->nsymbols; i++)
		if (!strcmp(p->symbols[i].name, "names"))
			n = (long)i;
	assert_true(n >= 0);
	assert_int_equal(p->symbols[n].kind, SUT_SYM_LOCAL);
	uint32_t sec = p->symbols[n].section;
	assert_int_equal(p->sections[sec].kind, SUT_SEC_RODATA);
	size_t relocs = 0;
	for (size_t i = 0; i < p->nrelocs; i++)
		relocs += p->relocs[i].section == sec;
	assert_int_equal(relocs, 2); /* one per pointer */
	finish(p);
	assert_int_equal(sut_patch_validate(p, &err), 0);
	emit_free(&em);
	pair_free(&x);
}

/* A hidden function is local in the linked target's .symtab, after an empty STT_FILE: the
 * replaced function still names its source file. */
static void test_hidden_function_names_file(void **state)
{
	const char *v1 = "__attribute__((visibility(\"hidden\"), noinline)) int hid(int x) { return x * x + 100 * x + 1; }\n"
			 "int pub(int x) { return hid(x) * 2; }\n";
	const char *v2 = "__attribute__((visibility(\"hidden\"), noinline)) int hid(int x) { return x * x + 100 * x + 2; }\n"
			 "int pub(int x) { return hid(x) * 2; }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "hid", v1, v2, &err)) fail_msg("%s", err.msg);
	const struct sut_sym *ts;
	assert_int_equal(sut_elf_find_sym(x.target, "hid", NULL, &ts, &err), 1);
	assert_int_equal(ts->bind, STB_LOCAL);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "hid");
	assert_non_null(p->funcs[0].file);
	assert_string_equal(p->funcs[0].file, "lib.c");
	assert_int_equal(p->funcs[0].target_addr, nm_addr(x.target_path, "hid"));
	emit_free(&em);
	pair_free(&x);
}

static const char *CLONE_V1 =
	"static __attribute__((noinline)) int scale(int x, int k) { return x * k + (x >> 3); }\n"
	"int a(int x) { return scale(x, 7) * x; }\n"
	"int b(int x) { return scale(x + 1, 7); }\n";

/* A changed .constprop clone is replaced at the target's clone; its callers stay. */
static void test_changed_constprop_clone(void **state)
{
	const char *v2 =
		"static __attribute__((noinline)) int scale(int x, int k) { return x * k + (x >> 2); }\n"
		"int a(int x) { return scale(x, 7) * x; }\n"
		"int b(int x) { return scale(x + 1, 7); }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "cp", CLONE_V1, v2, &err)) fail_msg("%s", err.msg);
	assert_true(sym_index(x.p, "scale.constprop.0") >= 0);
	assert_int_equal(state_of(&x, "scale.constprop.0"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "a"), BLD_SAME);
	assert_int_equal(state_of(&x, "b"), BLD_SAME);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "scale.constprop.0");
	assert_string_equal(p->funcs[0].file, "lib.c");
	assert_int_equal(p->funcs[0].target_addr, nm_addr(x.target_path, "scale.constprop.0"));
	emit_free(&em);
	pair_free(&x);
}

/* An unchanged clone is not carried: the changed caller calls the target's clone. */
static void test_unchanged_clone_bound(void **state)
{
	const char *v2 =
		"static __attribute__((noinline)) int scale(int x, int k) { return x * k + (x >> 3); }\n"
		"int a(int x) { return scale(x, 7) * x + 1; }\n"
		"int b(int x) { return scale(x + 1, 7); }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "cpu", CLONE_V1, v2, &err)) fail_msg("%s", err.msg);
	assert_int_equal(state_of(&x, "scale.constprop.0"), BLD_SAME);
	assert_int_equal(state_of(&x, "a"), BLD_CHANGED);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 1);
	bool bound = false;
	for (size_t i = 0; i < p->nsymbols; i++)
		if (!strcmp(p->symbols[i].name, "scale.constprop.0")) {
			assert_int_equal(p->symbols[i].kind, SUT_SYM_TARGET);
			assert_int_equal(p->symbols[i].value, nm_addr(x.target_path, "scale.constprop.0"));
			bound = true;
		}
	assert_true(bound);
	for (size_t i = 0; i < p->nsections; i++)
		assert_null(strstr(p->sections[i].name, "scale"));
	emit_free(&em);
	pair_free(&x);
}

/* The name of the local object patched function f uses (through its relocations). */
static const char *object_used_by(const struct bld_obj *o, const char *f, const char *prefix)
{
	long fi = sym_index(o, f);
	assert_true(fi >= 0);
	const struct bld_sec *s = &o->secs[o->syms[fi].shndx];
	for (size_t r = 0; r < s->nrelas; r++) {
		struct bld_ref ref;
		bld_resolve_ref(o, &s->relas[r], &ref);
		if (ref.kind == BLD_REF_SYM && !strncmp(o->syms[ref.sym].name, prefix, strlen(prefix)))
			return o->syms[ref.sym].name;
	}
	fail_msg("%s uses no %s*", f, prefix);
	return NULL;
}

/* __func__ strings and static locals are numbered by the compiler; a function added in front
 * renumbers them. Each is matched through the function that uses it: the unchanged function
 * stays unchanged, and the changed function's static counter binds to its own counter in the
 * target (so its value is kept), never to the same-named counter of another function. */
static void test_numbered_locals_follow_their_function(void **state)
{
	const char *v1 = "#include <stdio.h>\n"
			 "void first(void) { printf(\"%s\\n\", __func__); }\n"
			 "void second(void) { printf(\"%s!\\n\", __func__); }\n"
			 "int tick(void) { static int n; return ++n; }\n"
			 "int tock(void) { static int n = 5; return n--; }\n";
	const char *v2 = "#include <stdio.h>\n"
			 "void first(void) { printf(\"%s\\n\", __func__); }\n"
			 "void second(void) { printf(\"%s!!\\n\", __func__); }\n"
			 "int tick(void) { static int n; n += 2; return n; }\n"
			 "int tock(void) { static int n = 5; return n--; }\n"
			 "void zeroth(void) { printf(\"%s?\\n\", __func__); }\n"
			 "int early(void) { static int n = 9; return n++; }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "num", v1, v2, &err)) fail_msg("%s", err.msg);
	/* the witness: the numbering did move */
	const char *tick_n_orig = object_used_by(x.o, "tick", "n.");
	const char *tick_n_new = object_used_by(x.p, "tick", "n.");
	assert_string_not_equal(tick_n_orig, tick_n_new);
	assert_int_equal(state_of(&x, "first"), BLD_SAME);
	assert_int_equal(state_of(&x, "tock"), BLD_SAME);
	assert_int_equal(state_of(&x, "second"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "tick"), BLD_CHANGED);
	assert_int_equal(state_of(&x, "zeroth"), BLD_NEW);
	/* early's counter is its own new variable, not tick's or tock's */
	long early_n = sym_index(x.p, object_used_by(x.p, "early", "n."));
	assert_int_equal(x.d.match[early_n], -1);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	assert_int_equal(p->nfuncs, 2);
	long t = sut_patch_find_symbol(p, "tick");
	size_t bound = 0;
	for (size_t i = 0; i < p->nrelocs; i++) {
		if (p->relocs[i].section != p->symbols[t].section)
			continue;
		const struct sut_patch_symbol *s = &p->symbols[p->relocs[i].symbol];
		assert_int_equal(s->kind, SUT_SYM_TARGET);
		assert_string_equal(s->name, tick_n_orig);
		assert_int_equal(s->value, nm_addr(x.target_path, tick_n_orig));
		bound++;
	}
	assert_true(bound >= 1);
	/* second's __func__ is unchanged ("second"): bound to the target's copy */
	const char *sf = object_used_by(x.o, "second", "__func__");
	bool func_bound = false;
	for (size_t i = 0; i < p->nsymbols; i++)
		if (!strcmp(p->symbols[i].name, sf) && p->symbols[i].kind == SUT_SYM_TARGET)
			func_bound = p->symbols[i].value == nm_addr(x.target_path, sf);
	assert_true(func_bound);
	emit_free(&em);
	pair_free(&x);
}

/* ---- thread-local storage and IFUNCs ------------------------------------------------ */

/* vaddr of the first dynamic relocation of `type` in `path` against `name` (NULL: against
 * no symbol, whose addend is then `addend`), from readelf: the independent witness. */
static unsigned long readelf_slot(const char *path, const char *type, const char *name,
				  unsigned long addend)
{
	char cmd[700], line[512];
	snprintf(cmd, sizeof cmd, "readelf -rW '%s'", path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	unsigned long found = 0;
	while (fgets(line, sizeof line, f) && !found) {
		unsigned long off, info, val, add;
		char t[64], n[300];
		int k = sscanf(line, "%lx %lx %63s %lx %299s + %lx", &off, &info, t, &val, n, &add);
		if (k < 4 || strcmp(t, type))
			continue;
		if (name ? k >= 5 && !strncmp(n, name, strlen(name)) &&
			   (n[strlen(name)] == 0 || n[strlen(name)] == '@')
			 : k == 4 && info >> 32 == 0 && val == addend)
			found = off;
	}
	pclose(f);
	return found;
}

static const struct sut_patch_symbol *reloc_sym(const struct sut_patch *p, size_t i)
{
	return &p->symbols[p->relocs[i].symbol];
}

static const struct sut_patch_section *section_named(const struct sut_patch *p, const char *name)
{
	for (size_t i = 0; i < p->nsections; i++)
		if (!strcmp(p->sections[i].name, name))
			return &p->sections[i];
	return NULL;
}

static int64_t field_at(const struct sut_patch *p, uint32_t sec, uint64_t off, unsigned w)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < w; k++)
		v |= (uint64_t)p->sections[sec].bytes[off + k] << (8 * k);
	return w == 4 ? (int64_t)(int32_t)v : (int64_t)v;
}

/* A library's accesses in all three models a -fPIC object uses: general-dynamic through the
 * target's own tls_index of the global (interposition included), local-dynamic through a
 * carried {module, 0} whose module comes from the library's own DTPMOD64 entry, offsets
 * written into the code, initial-exec through the library's own TPOFF64 entry. No TLS
 * relocation is left in the patch. */
static void test_tls_library_models(void **state)
{
	const char *v1 = "static __thread int ld_n;\n__thread int gd_n;\n"
			 "static __thread int ie_n __attribute__((tls_model(\"initial-exec\")));\n"
			 "int bump(void) { ld_n++; gd_n++; ie_n++; return ld_n + gd_n; }\n"
			 "int peek(void) { return ld_n + ie_n; }\n";
	const char *v2 = "static __thread int ld_n;\n__thread int gd_n;\n"
			 "static __thread int ie_n __attribute__((tls_model(\"initial-exec\")));\n"
			 "int bump(void) { ld_n += 2; gd_n++; ie_n++; return ld_n + gd_n + ie_n; }\n"
			 "int peek(void) { return ld_n + ie_n; }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "tlslib", v1, v2, &err)) fail_msg("%s", err.msg);
	assert_int_equal(state_of(&x, "bump"), BLD_CHANGED);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	unsigned long gd_pair = readelf_slot(x.target_path, "R_X86_64_DTPMOD64", "gd_n", 0);
	unsigned long ie_slot = readelf_slot(x.target_path, "R_X86_64_TPOFF64", NULL,
					     nm_addr(x.target_path, "ie_n"));
	assert_true(gd_pair && ie_slot);
	bool saw_gd = false, saw_ie = false, saw_ld = false;
	size_t dtpoffs = 0;
	long text = p->symbols[sut_patch_find_symbol(p, "bump")].section;
	for (size_t i = 0; i < p->nrelocs; i++) {
		assert_false(sut_reloc_type(p->relocs[i].type)->tls);
		const struct sut_patch_symbol *y = reloc_sym(p, i);
		if (y->kind == SUT_SYM_TARGET && y->value == gd_pair)
			saw_gd = p->relocs[i].type == R_X86_64_PC32;
		if (y->kind == SUT_SYM_TARGET && y->value == ie_slot)
			saw_ie = p->relocs[i].type == R_X86_64_PC32;
		if (y->kind == SUT_SYM_LOCAL && !strcmp(y->name, ".tls_index.module"))
			saw_ld = p->relocs[i].type == R_X86_64_PC32;
	}
	assert_true(saw_gd && saw_ie && saw_ld);
	/* the carried {module, 0}: the module from the library's own DTPMOD64 at apply time */
	const struct sut_patch_section *mod = section_named(p, ".tls_index.module");
	assert_non_null(mod);
	assert_int_equal(mod->kind, SUT_SEC_RODATA);
	assert_int_equal(mod->size, 16);
	for (int k = 0; k < 16; k++)
		assert_int_equal(mod->bytes[k], 0);
	bool mod_bound = false;
	for (size_t i = 0; i < p->nrelocs; i++)
		if (&p->sections[p->relocs[i].section] == mod) {
			assert_int_equal(p->relocs[i].type, R_X86_64_64);
			assert_int_equal(reloc_sym(p, i)->kind, SUT_SYM_TARGET_GOT);
			unsigned long v = reloc_sym(p, i)->value;
			mod_bound = v && v == readelf_slot(x.target_path, "R_X86_64_DTPMOD64", NULL, 0);
		}
	assert_true(mod_bound);
	/* DTPOFF32 fields: ld_n's offset in the library's block, written into bump's code */
	long ld = sym_index(x.p, "ld_n");
	const struct bld_sec *ps = &x.p->secs[x.p->syms[sym_index(x.p, "bump")].shndx];
	for (size_t k = 0; k < ps->nrelas; k++)
		if (ps->relas[k].type == R_X86_64_DTPOFF32 && ps->relas[k].sym == (uint32_t)ld) {
			assert_int_equal(field_at(p, (uint32_t)text, ps->relas[k].offset, 4),
					 (int64_t)nm_addr(x.target_path, "ld_n") + ps->relas[k].addend);
			dtpoffs++;
		}
	assert_true(dtpoffs >= 1);
	sut_err_clear(&err);
	assert_int_equal(sut_patch_validate((finish(p), p), &err), 0);
	emit_free(&em);
	pair_free(&x);
}

/* In a program: local-exec offsets computed from its PT_TLS as the static linker does, and,
 * from a -fPIC object, general- and local-dynamic pairs of module 1. */
static void test_tls_program_models(void **state)
{
	const char *v1 = "__attribute__((aligned(32))) __thread char pad[40] = {1};\n"
			 "static __thread int le_n;\n"
			 "int bump(void) { pad[0]++; return ++le_n; }\n"
			 "int main(void) { return bump(); }\n";
	const char *v2 = "__attribute__((aligned(32))) __thread char pad[40] = {1};\n"
			 "static __thread int le_n;\n"
			 "int bump(void) { pad[0]++; le_n += 2; return le_n; }\n"
			 "int main(void) { return bump(); }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init_target(&x, "tlsexe", v1, v2, "-O2 -fPIE -ffunction-sections -fdata-sections -c",
			     "-O2 -fPIE -pie -Wl,--build-id", &err))
		fail_msg("%s", err.msg);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	/* the witness: PT_TLS from readelf, le_n's offset from nm */
	char cmd[700];
	snprintf(cmd, sizeof cmd, "readelf -lW '%s' | awk '$1 == \"TLS\" { print $6, $NF }'",
		 x.target_path);
	FILE *f = popen(cmd, "r");
	unsigned long memsz = 0, align = 0;
	assert_int_equal(fscanf(f, "%lx %lx", &memsz, &align), 2);
	pclose(f);
	int64_t want = (int64_t)nm_addr(x.target_path, "le_n") -
		       (int64_t)((memsz + align - 1) / align * align);
	long text = p->symbols[sut_patch_find_symbol(p, "bump")].section;
	const struct bld_sec *ps = &x.p->secs[x.p->syms[sym_index(x.p, "bump")].shndx];
	size_t n = 0;
	for (size_t k = 0; k < ps->nrelas; k++)
		if (ps->relas[k].type == R_X86_64_TPOFF32 &&
		    ps->relas[k].sym == (uint32_t)sym_index(x.p, "le_n")) {
			assert_int_equal(field_at(p, (uint32_t)text, ps->relas[k].offset, 4),
					 want + ps->relas[k].addend);
			n++;
		}
	assert_true(n >= 1);
	for (size_t i = 0; i < p->nrelocs; i++)
		assert_false(sut_reloc_type(p->relocs[i].type)->tls);
	emit_free(&em);
	pair_free(&x);

	/* -fPIC objects linked into a program: the carried pairs name module 1 */
	if (pair_init_target(&x, "tlsexepic", v1, v2, FS_FLAGS, "-O2 -fPIE -pie -Wl,--build-id",
			     &err))
		fail_msg("%s", err.msg);
	p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	size_t pairs = 0, module_pairs = 0;
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		if (strncmp(s->name, ".tls_index.", 11))
			continue;
		assert_int_equal(s->size, 16);
		assert_int_equal(field_at(p, (uint32_t)i, 0, 8), 1);
		int64_t off = field_at(p, (uint32_t)i, 8, 8);
		assert_true(!strcmp(s->name, ".tls_index.module")
				    ? off == 0
				    : off == (int64_t)nm_addr(x.target_path, "pad") ||
					      off == (int64_t)nm_addr(x.target_path, "le_n"));
		module_pairs += !strcmp(s->name, ".tls_index.module");
		pairs++;
	}
	/* pad's general-dynamic pair and le_n's local-dynamic one */
	assert_int_equal(module_pairs, 1);
	assert_true(pairs >= 2);
	for (size_t i = 0; i < p->nrelocs; i++)
		assert_false(sut_reloc_type(p->relocs[i].type)->tls);
	emit_free(&em);
	pair_free(&x);
}

/* What cannot be bound safely is refused at build time, naming the variable and the model. */
static void test_tls_refusals(void **state)
{
	const char *v1 = "static __thread int n;\nint bump(void) { return ++n; }\n";
	struct {
		const char *tag, *v2, *flags, *want;
	} cases[] = {
		{ "tlsnew", "static __thread int n;\nstatic __thread int m;\n"
			    "int bump(void) { m++; return ++n + m; }\n",
		  FS_FLAGS, "thread-local 'm' (local-dynamic access, R_X86_64_TLSLD): the variable is "
			    "not in the target: a patch cannot add thread-local storage" },
		{ "tlsinit", "static __thread int n = 4;\nint bump(void) { return n += 2; }\n",
		  FS_FLAGS, "thread-local 'n' (local-dynamic access, R_X86_64_TLSLD): its size or "
			    "initial value changed" },
		{ "tlsdesc", "static __thread int n;\nint bump(void) { return n += 2; }\n",
		  FS_FLAGS " -mtls-dialect=gnu2", "TLS descriptors (-mtls-dialect=gnu2) are not supported" },
		{ "tlsle", "static __thread int n;\nint bump(void) { return n += 2; }\n",
		  "-O2 -fno-pic -ffunction-sections -fdata-sections -c",
		  "thread-local 'n' (local-exec access, R_X86_64_TPOFF32): local-exec in a shared library" },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct pair x;
		struct sut_err err;
		if (pair_init_flags(&x, cases[c].tag, v1, cases[c].v2, cases[c].flags, &err))
			fail_msg("%s: %s", cases[c].tag, err.msg);
		struct bld_emit em;
		int rc;
		emit(&x, &em, &err, &rc);
		if (rc != -1 || !strstr(err.msg, cases[c].want))
			fail_msg("%s: got rc %d, '%s'", cases[c].tag, rc, rc ? err.msg : "");
		assert_non_null(strstr(err.msg, "cannot live-patch"));
		emit_free(&em);
		pair_free(&x);
	}
}

/* A call to an IFUNC of the target binds to the GOT slot of its IRELATIVE relocation (the
 * implementation the resolver chose at load time), never to the symbol's value, which is
 * the resolver's address. */
static void test_ifunc_binds_to_irelative_slot(void **state)
{
	const char *v1 = "static int impl(int x) { return 2 * x; }\n"
			 "static int (*pick(void))(int) { return impl; }\n"
			 "static int twice(int) __attribute__((ifunc(\"pick\")));\n"
			 "int use(int x) { return twice(x); }\n"
			 "int other(int x) { return x + 1; }\n";
	const char *v2 = "static int impl(int x) { return 2 * x; }\n"
			 "static int (*pick(void))(int) { return impl; }\n"
			 "static int twice(int) __attribute__((ifunc(\"pick\")));\n"
			 "int use(int x) { return twice(x); }\n"
			 "int other(int x) { return twice(x) + 1; }\n";
	struct pair x;
	struct sut_err err;
	if (pair_init(&x, "ifunc", v1, v2, &err)) fail_msg("%s", err.msg);
	struct bld_emit em;
	int rc;
	struct sut_patch *p = emit(&x, &em, &err, &rc);
	if (rc) fail_msg("%s", err.msg);
	unsigned long resolver = nm_addr(x.target_path, "twice");
	unsigned long slot = readelf_slot(x.target_path, "R_X86_64_IRELATIVE", NULL, resolver);
	assert_true(resolver && slot);
	bool bound = false;
	for (size_t i = 0; i < p->nsymbols; i++) {
		if (strcmp(p->symbols[i].name, "twice"))
			continue;
		assert_int_equal(p->symbols[i].kind, SUT_SYM_TARGET_GOT);
		assert_int_equal(p->symbols[i].value, slot);
		assert_true(p->symbols[i].value != resolver);
		bound = true;
	}
	assert_true(bound);
	emit_free(&em);
	pair_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changed_function),
		cmocka_unit_test(test_inlined_and_strings),
		cmocka_unit_test(test_new_function),
		cmocka_unit_test(test_writable_initial_value_refused),
		cmocka_unit_test(test_static_local_binds_to_target),
		cmocka_unit_test(test_changed_rodata),
		cmocka_unit_test(test_line_fixup_keeps_later_functions),
		cmocka_unit_test(test_line_fixup_placement),
		cmocka_unit_test(test_rerun_argv),
		cmocka_unit_test(test_wrapper_log),
		cmocka_unit_test(test_metadata_from_diff),
		cmocka_unit_test(test_changes_touch),
		cmocka_unit_test(test_inline_reason_from_dwarf),
		cmocka_unit_test(test_debug_info_keeps_code),
		cmocka_unit_test(test_relro_table_carried),
		cmocka_unit_test(test_hidden_function_names_file),
		cmocka_unit_test(test_changed_constprop_clone),
		cmocka_unit_test(test_unchanged_clone_bound),
		cmocka_unit_test(test_numbered_locals_follow_their_function),
		cmocka_unit_test(test_tls_library_models),
		cmocka_unit_test(test_tls_program_models),
		cmocka_unit_test(test_tls_refusals),
		cmocka_unit_test(test_ifunc_binds_to_irelative_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

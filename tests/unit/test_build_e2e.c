/* SPDX-License-Identifier: Apache-2.0 */
/* End-to-end test of sut_build on a tiny tree (a Makefile building a shared library and an
 * executable): the patch names exactly the changed function at the address nm gives in the
 * rebuilt original, and the refusals name their reason. */
#include "fixtures.h"

#include "build/build.h"
#include "patch/patch.h"
#include "util/buf.h"

static const char *MAKEFILE =
	"# SPDX-License-Identifier: Apache-2.0\n"
	"CFLAGS = -O2 -g -fPIC\n"
	"all: libdemo.so demo\n"
	"libdemo.so: lib.o\n"
	"\t$(CC) -shared -Wl,--build-id -o $@ lib.o\n"
	"demo: main.o libdemo.so\n"
	"\t$(CC) -Wl,--build-id -o $@ main.o -L. -ldemo\n"
	"%.o: %.c\n"
	"\t$(CC) $(CFLAGS) -MMD -c $< -o $@\n";

static const char *LIB_C =
	"#include <stdio.h>\n"
	"static int calls;\n"
	"static int scale(int x)\n"
	"{\n"
	"\treturn x * 2;\n"
	"}\n"
	"int lib_compute(int x)\n"
	"{\n"
	"\tcalls++;\n"
	"\treturn scale(x) + 1;\n"
	"}\n"
	"int lib_line(void)\n"
	"{\n"
	"\treturn __LINE__;\n"
	"}\n"
	"const char *lib_greeting(void)\n"
	"{\n"
	"\treturn \"hello\";\n"
	"}\n";

static const char *MAIN_C =
	"#include <stdio.h>\n"
	"int lib_compute(int);\n"
	"const char *lib_greeting(void);\n"
	"int main(void) { printf(\"%s %d\\n\", lib_greeting(), lib_compute(20)); return 0; }\n";

/* A fix adding two lines above lib_line, whose __LINE__ must not make it change. */
static const char *FIX_DIFF =
	"Reject negative input in lib_compute\n"
	"\n"
	"--- a/lib.c\n"
	"+++ b/lib.c\n"
	"@@ -7,6 +7,8 @@\n"
	" int lib_compute(int x)\n"
	" {\n"
	" \tcalls++;\n"
	"+\tif (x < 0)\n"
	"+\t\treturn 0;\n"
	" \treturn scale(x) + 1;\n"
	" }\n"
	" int lib_line(void)\n";

static const char *COMMENT_DIFF =
	"--- a/lib.c\n"
	"+++ b/lib.c\n"
	"@@ -1,2 +1,3 @@\n"
	" #include <stdio.h>\n"
	"+/* only a comment */\n"
	" static int calls;\n";

static const char *BAD_DIFF =
	"--- a/lib.c\n"
	"+++ b/lib.c\n"
	"@@ -7,6 +7,7 @@\n"
	" int lib_compute(long x)\n"
	" {\n"
	" \tcalls += 2;\n"
	"+\tx++;\n"
	" \treturn scale(x) + 3;\n"
	" }\n"
	" int lib_line(void)\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char tree[300];

static void make_tree(void)
{
	if (tree[0])
		return;
	snprintf(tree, sizeof tree, "%s/tree", fixture_tmpdir());
	fixture_sh("mkdir -p tree");
	char p[400];
	snprintf(p, sizeof p, "%s/Makefile", tree);
	write_file(p, MAKEFILE);
	snprintf(p, sizeof p, "%s/lib.c", tree);
	write_file(p, LIB_C);
	snprintf(p, sizeof p, "%s/main.c", tree);
	write_file(p, MAIN_C);
}

static char *write_diff(const char *name, const char *text)
{
	char *p = sut_xasprintf("%s/%s", fixture_tmpdir(), name);
	write_file(p, text);
	return p;
}

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

/* The steps the build reports through its progress callback (it prints nothing itself). */
static char steps[512];
static void record_step(void *arg, const char *step)
{
	(*(int *)arg)++;
	size_t l = strlen(steps);
	snprintf(steps + l, sizeof steps - l, "%s;", step);
}

static void test_builds_patch_for_changed_function(void **state)
{
	make_tree();
	char *diff = write_diff("CVE-2099-0001.diff", FIX_DIFF);
	char *out = sut_xasprintf("%s/fix.suture", fixture_tmpdir());
	char *wd = sut_xasprintf("%s/wd-fix", fixture_tmpdir());
	const char *cves[] = { "CVE-2099-0001" };
	struct sut_build_opts o = { .src = tree, .diff = diff, .target = "libdemo.so", .out = out,
				    .workdir = wd, .keep = true, .cves = cves, .ncves = 1 };
	int nsteps = 0;
	o.progress = record_step;
	o.progress_arg = &nsteps;
	steps[0] = 0;
	struct sut_build_report rep;
	struct sut_err err;
	if (sut_build(&o, &rep, &err))
		fail_msg("sut_build: %s", err.msg);
	assert_int_equal(nsteps, 3);
	assert_string_equal(steps, "building original tree...;building patched tree...;"
				   "comparing 1 object...;");
	assert_int_equal(rep.nwarnings, 0);
	assert_string_equal(rep.patch_id, "CVE-2099-0001");
	assert_int_equal(rep.nfuncs, 1);
	assert_string_equal(rep.funcs[0].name, "lib_compute");
	assert_string_equal(rep.funcs[0].reason, "changed");

	struct sut_patch *p;
	if (sut_patch_read_file(out, &p, &err))
		fail_msg("reading the patch: %s", err.msg);
	assert_int_equal(p->nfuncs, 1);
	assert_string_equal(p->funcs[0].name, "lib_compute");
	char *target = sut_xasprintf("%s/orig/libdemo.so", wd);
	assert_int_equal(p->funcs[0].target_addr, nm_addr(target, "lib_compute"));
	assert_string_equal(p->id, "CVE-2099-0001");
	assert_string_equal(p->description, "Reject negative input in lib_compute");
	assert_int_equal(p->ncves, 1);
	assert_string_equal(p->cves[0], "CVE-2099-0001");
	assert_string_equal(p->target_name, "libdemo.so");
	char hex[2 * SUT_BUILD_ID_MAX + 1];
	sut_hex(p->build_id, p->build_id_len, hex);
	assert_string_equal(hex, rep.build_id_hex);
	/* the build-id is the rebuilt target's, as readelf reads it */
	fixture_sh("readelf -n '%s' | grep -q 'Build ID: %s'", target, hex);
	/* the working tree got the #line fix-up, the source tree is untouched */
	fixture_sh("grep -q '^#line 10$' '%s/patched/lib.c' && ! grep -q 'x < 0' tree/lib.c", wd);
	sut_patch_free(p);
	sut_build_report_free(&rep);

	/* same build again in another work directory, verifying a wrong build-id: refused, and the
	 * message shows the rebuild reproduced the first build-id (paths are mapped to the tree) */
	char *wd2 = sut_xasprintf("%s/wd-verify", fixture_tmpdir());
	o.workdir = wd2;
	o.keep = false;
	o.verify_build_id = "00112233445566778899aabbccddeeff00112233";
	assert_int_equal(sut_build(&o, &rep, &err), -1);
	assert_non_null(strstr(err.msg, "deployed object has 00112233445566778899aabbccddeeff00112233"));
	assert_non_null(strstr(err.msg, hex));
	/* not kept: the work directory is gone */
	assert_int_equal(access(wd2, F_OK), -1);
	sut_build_report_free(&rep);
	free(wd2);
	free(target);
	free(diff);
	free(out);
	free(wd);
}

static void test_refuses_diff_without_code_change(void **state)
{
	make_tree();
	char *diff = write_diff("comment.diff", COMMENT_DIFF);
	struct sut_build_opts o = { .src = tree, .diff = diff, .target = "libdemo.so" };
	struct sut_build_report rep;
	struct sut_err err;
	assert_int_equal(sut_build(&o, &rep, &err), -1);
	assert_non_null(strstr(err.msg, "changes no function's machine code in libdemo.so"));
	sut_build_report_free(&rep);
	free(diff);
}

static void test_refuses_diff_that_does_not_apply(void **state)
{
	make_tree();
	char *diff = write_diff("bad.diff", BAD_DIFF);
	struct sut_build_opts o = { .src = tree, .diff = diff, .target = "libdemo.so" };
	struct sut_build_report rep;
	struct sut_err err;
	assert_int_equal(sut_build(&o, &rep, &err), -1);
	assert_non_null(strstr(err.msg, "does not apply"));
	sut_build_report_free(&rep);
	free(diff);
}

static void test_refuses_missing_target(void **state)
{
	make_tree();
	char *diff = write_diff("fix2.diff", FIX_DIFF);
	struct sut_build_opts o = { .src = tree, .diff = diff, .target = "libnothere.so" };
	struct sut_build_report rep;
	struct sut_err err;
	assert_int_equal(sut_build(&o, &rep, &err), -1);
	assert_non_null(strstr(err.msg, "did not produce libnothere.so"));
	sut_build_report_free(&rep);
	free(diff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builds_patch_for_changed_function),
		cmocka_unit_test(test_refuses_diff_without_code_change),
		cmocka_unit_test(test_refuses_diff_that_does_not_apply),
		cmocka_unit_test(test_refuses_missing_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

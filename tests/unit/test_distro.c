/* SPDX-License-Identifier: Apache-2.0 */
/* The distro layer's pure parts: package specs, the proof that a rebuild is the official
 * object (build-id, else loaded sections), and a diff against a tree that already carries it. */
#include "fixtures.h"

#include "distro/distro.h"

static const char lib_src[] =
	"const char info[] = \"compiler: gcc -O2 FLAGS\";\n"
	"int f(int x) { return x * 3 + (int)sizeof info; }\n";

static void test_parse_spec(void **state)
{
	(void)state;
	struct sut_err err;
	char *s, *v;
	assert_int_equal(sut_distro_parse_spec("openssl=3.0.20-1~deb12u2", &s, &v, &err), 0);
	assert_string_equal(s, "openssl");
	assert_string_equal(v, "3.0.20-1~deb12u2");
	free(s);
	free(v);
	assert_int_equal(sut_distro_parse_spec("openssl", &s, &v, &err), 0);
	assert_string_equal(s, "openssl");
	assert_null(v);
	free(s);
	assert_int_equal(sut_distro_parse_spec("openssl=", &s, &v, &err), 0);
	assert_null(v);
	free(s);
	/* names become folder names: nothing that could leave the cache folder */
	assert_int_equal(sut_distro_parse_spec("../etc=1", &s, &v, &err), -1);
	assert_int_equal(sut_distro_parse_spec("openssl=1/../../x", &s, &v, &err), -1);
	assert_int_equal(sut_distro_parse_spec("OpenSSL=1", &s, &v, &err), -1);
	assert_int_equal(sut_distro_parse_spec("openssl=1 2", &s, &v, &err), -1);
}

static void test_compare_same_build_id(void **state)
{
	(void)state;
	char *a = fixture_cc("a", lib_src, "-shared -fPIC -O2 -Wl,--build-id=0x1111111111111111", "a.so");
	char *b = fixture_cc("b", lib_src, "-shared -fPIC -O2 -Wl,--build-id=0x1111111111111111", "b.so");
	struct sut_err err;
	bool same = false;
	assert_int_equal(sut_distro_compare(a, b, &same, &err), 0);
	assert_true(same);
	free(a);
	free(b);
}

/* Another build-id over identical loaded bytes (what a partial build can give): proved by
 * the sections, even when the rebuild keeps what the official file had stripped. */
static void test_compare_sections(void **state)
{
	(void)state;
	char *a = fixture_cc("c", lib_src, "-shared -fPIC -O2 -Wl,--build-id=0x2222222222222222", "c.so");
	char *b = fixture_cc("d", lib_src, "-shared -fPIC -O2 -g -Wl,--build-id=0x3333333333333333", "d.so");
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "strip --strip-unneeded '%s'", a);
	assert_int_equal(system(cmd), 0);
	struct sut_err err;
	bool same = true;
	assert_int_equal(sut_distro_compare(a, b, &same, &err), 0);
	assert_false(same);
	free(a);
	free(b);
}

/* Other flags: refused, naming the section and the embedded flags. */
static void test_compare_differs(void **state)
{
	(void)state;
	char *a = fixture_cc("e", lib_src, "-shared -fPIC -O2 -Wl,--build-id=0x4444444444444444", "e.so");
	char src2[sizeof lib_src + 16];
	snprintf(src2, sizeof src2, "%s", lib_src);
	char *p = strstr(src2, "FLAGS");
	memcpy(p, "OTHER", 5);
	char *b = fixture_cc("f", src2, "-shared -fPIC -O2 -Wl,--build-id=0x5555555555555555", "f.so");
	struct sut_err err;
	bool same = true;
	assert_int_equal(sut_distro_compare(a, b, &same, &err), -1);
	assert_false(same);
	assert_non_null(strstr(err.msg, "section .rodata differs"));
	assert_non_null(strstr(err.msg, "the compiler flags differ"));
	assert_non_null(strstr(err.msg, "compiler: gcc -O2 OTHER"));
	free(a);
	free(b);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_check_diff(void **state)
{
	(void)state;
	const char *d = fixture_tmpdir();
	char tree[512], path[600], diff[600], other[600], cmd[1400];
	snprintf(tree, sizeof tree, "%s/tree", d);
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/src'", tree);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof path, "%s/src/a.c", tree);
	write_file(path, "int a(void)\n{\n\treturn 1;\n}\n\nint b(void)\n{\n\treturn 2;\n}\n");
	snprintf(diff, sizeof diff, "%s/fix.patch", d);
	write_file(diff, "--- a/src/a.c\n+++ b/src/a.c\n@@ -2,3 +2,3 @@\n {\n-\treturn 1;\n+\treturn 10;\n }\n");
	snprintf(other, sizeof other, "%s/other.patch", d);
	write_file(other, "--- a/src/a.c\n+++ b/src/a.c\n@@ -2,3 +2,3 @@\n {\n-\treturn 7;\n+\treturn 70;\n }\n");
	struct sut_distro_build b = { .source = "pkg", .version = "1.0-1", .tree = tree,
				      .entry = tree };
	struct sut_err err;
	enum sut_diff_state st = SUT_DIFF_IN_SOURCE;
	int rc = sut_distro_check_diff(&b, diff, &st, &err);
	if (rc)
		fail_msg("%s", err.msg);
	assert_int_equal(st, SUT_DIFF_APPLIES);
	/* the tree is not changed by the check */
	snprintf(cmd, sizeof cmd, "grep -q 'return 1;' '%s'", path);
	assert_int_equal(system(cmd), 0);
	/* the same fix already in the source (a backport): recognised */
	write_file(path, "int a(void)\n{\n\treturn 10;\n}\n\nint b(void)\n{\n\treturn 2;\n}\n");
	assert_int_equal(sut_distro_check_diff(&b, diff, &st, &err), 0);
	assert_int_equal(st, SUT_DIFF_IN_SOURCE);
	/* neither: an error quoting patch */
	assert_int_equal(sut_distro_check_diff(&b, other, &st, &err), -1);
	assert_non_null(strstr(err.msg, "neither applies exactly to pkg 1.0-1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_compare_same_build_id),
		cmocka_unit_test(test_compare_sections),
		cmocka_unit_test(test_compare_differs),
		cmocka_unit_test(test_check_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

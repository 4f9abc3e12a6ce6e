/* SPDX-License-Identifier: Apache-2.0 */
/* The store layer's pure parts: the policy file, unit names from cgroup paths, and the
 * exclusion rules applied to this very process. */
#include "fixtures.h"

#include "store/store.h"
#include "util/buf.h"

/* Paths handed out by fixture_path, freed by the group teardown. */
static char *paths[64];
static size_t npaths;

static char *fixture_path(const char *name)
{
	assert_true(npaths < sizeof paths / sizeof paths[0]);
	return paths[npaths++] = sut_xasprintf("%s/%s", fixture_tmpdir(), name);
}

static int free_paths(void **state)
{
	(void)state;
	while (npaths)
		free(paths[--npaths]);
	return 0;
}

static char *write_conf(const char *name, const char *text)
{
	char *path = fixture_path(name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_cgroup_unit(void **state)
{
	(void)state;
	char u[64];
	sut_cgroup_unit("/system.slice/ssh.service", u, sizeof u);
	assert_string_equal(u, "ssh.service");
	sut_cgroup_unit("/user.slice/user-1000.slice/session-2.scope", u, sizeof u);
	assert_string_equal(u, "session-2.scope");
	sut_cgroup_unit("/system.slice/nginx.service/worker", u, sizeof u);
	assert_string_equal(u, "nginx.service");
	sut_cgroup_unit("/system.slice", u, sizeof u);
	assert_string_equal(u, "system.slice");
	sut_cgroup_unit("/", u, sizeof u);
	assert_string_equal(u, "");
	sut_cgroup_unit("/x.servicex/y", u, sizeof u);
	assert_string_equal(u, "");
}

static void test_conf(void **state)
{
	(void)state;
	struct sut_conf c;
	struct sut_err err;
	/* a missing file is the defaults */
	assert_int_equal(sut_conf_load(fixture_path("none.conf"), &c, &err), 0);
	assert_int_equal(c.rescan_ms, 1000);
	assert_int_equal(sut_conf_policy(&c, "x"), SUT_POLICY_AUTO);
	sut_conf_free(&c);
	char *p = write_conf("a.conf", "# comment\n[patch fix-1]\npolicy=manual\n"
					"[exclude]\nexecutables=/usr/bin/gdb;/opt/*/bin/*\n"
					"units=postgresql*.service\n[daemon]\nrescan-ms=250\n");
	assert_int_equal(sut_conf_load(p, &c, &err), 0);
	assert_int_equal(sut_conf_policy(&c, "fix-1"), SUT_POLICY_MANUAL);
	assert_int_equal(sut_conf_policy(&c, "fix-2"), SUT_POLICY_AUTO);
	assert_string_equal(c.exe_patterns[1], "/opt/*/bin/*");
	assert_null(c.exe_patterns[2]);
	assert_string_equal(c.unit_patterns[0], "postgresql*.service");
	assert_int_equal(c.rescan_ms, 250);
	sut_conf_free(&c);
	/* edits keep comments and other groups */
	assert_int_equal(sut_conf_set_policy(p, "fix-2", SUT_POLICY_MANUAL, &err), 0);
	assert_int_equal(sut_conf_forget_patch(p, "fix-1", &err), 0);
	assert_int_equal(sut_conf_load(p, &c, &err), 0);
	assert_int_equal(sut_conf_policy(&c, "fix-1"), SUT_POLICY_AUTO);
	assert_int_equal(sut_conf_policy(&c, "fix-2"), SUT_POLICY_MANUAL);
	assert_int_equal(c.rescan_ms, 250);
	sut_conf_free(&c);
	/* errors name the file and the problem */
	p = write_conf("b.conf", "[patch x]\npolicy=often\n");
	assert_int_equal(sut_conf_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg, "b.conf"));
	assert_non_null(strstr(err.msg, "auto or manual"));
	p = write_conf("c.conf", "[daemon]\nrescan-ms=ten\n");
	assert_int_equal(sut_conf_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg, "rescan-ms"));
	p = write_conf("d.conf", "[dameon]\n");
	assert_int_equal(sut_conf_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg, "unknown group"));
	p = write_conf("e.conf", "not a key file\n");
	assert_int_equal(sut_conf_load(p, &c, &err), -1);
}

static void test_excludes_self(void **state)
{
	(void)state;
	char exe[4096], why[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	assert_true(n > 0);
	exe[n] = 0;
	char *text = sut_xasprintf("[exclude]\nexecutables=/nowhere/*;%.*s*\n", (int)n - 3, exe);
	char *p = write_conf("x.conf", text);
	free(text);
	struct sut_conf c;
	struct sut_err err;
	assert_int_equal(sut_conf_load(p, &c, &err), 0);
	assert_int_equal(sut_conf_excludes(&c, getpid(), why, sizeof why), 1);
	assert_non_null(strstr(why, "matches"));
	sut_conf_free(&c);
	p = write_conf("y.conf", "[exclude]\nexecutables=/nowhere/*\ncgroups=/never/*\n");
	assert_int_equal(sut_conf_load(p, &c, &err), 0);
	assert_int_equal(sut_conf_excludes(&c, getpid(), why, sizeof why), 0);
	sut_conf_free(&c);
	/* every cgroup path matches "*" */
	p = write_conf("z.conf", "[exclude]\ncgroups=*\n");
	assert_int_equal(sut_conf_load(p, &c, &err), 0);
	assert_int_equal(sut_conf_excludes(&c, getpid(), why, sizeof why), 1);
	assert_non_null(strstr(why, "cgroup"));
	sut_conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_unit),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_excludes_self),
	};
	return cmocka_run_group_tests(tests, NULL, free_paths);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The one child-process runner (util/run.h): statuses as a shell gives them, the child's
 * directory, environment and descriptors, capture of its output. */
#include "fixtures.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "util/run.h"

static void test_status(void **state)
{
	struct sut_err err;
	char *ok[] = { "true", NULL }, *no[] = { "sh", "-c", "exit 3", NULL };
	char *killed[] = { "sh", "-c", "kill -9 $$", NULL };
	char *missing[] = { "suture-test-no-such-program", NULL };
	assert_int_equal(sut_run(ok, NULL, &err), 0);
	assert_int_equal(sut_run(no, NULL, &err), 3);
	assert_int_equal(sut_run(killed, NULL, &err), 128 + SIGKILL);
	/* a program that cannot be executed is a child exiting 127, saying why on its stderr */
	char *out;
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct sut_run_opts o = SUT_RUN_OPTS_INIT;
	o.err_fd = nul;
	assert_int_equal(sut_run(missing, &o, &err), 127);
	close(nul);
	/* sut_run_capture: the output whatever the status */
	char *both[] = { "sh", "-c", "echo cannot run >&2; exit 5", NULL };
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	o.err_fd = p[1];
	assert_int_equal(sut_run_capture(both, &o, &out, NULL, &err), 5);
	close(p[1]);
	assert_string_equal(out, "");
	free(out);
	char buf[64] = "";
	assert_true(read(p[0], buf, sizeof buf - 1) > 0);
	assert_string_equal(buf, "cannot run\n");
	close(p[0]);
}

static void test_dir_env_capture(void **state)
{
	struct sut_err err;
	char *env[] = { "SUTURE_RUN_TEST=a b 'c'", NULL };
	struct sut_run_opts o = SUT_RUN_OPTS_INIT;
	o.dir = "/";
	o.env = env;
	char *argv[] = { "sh", "-c", "pwd; printf '%s' \"$SUTURE_RUN_TEST\"", NULL };
	char *out;
	size_t len;
	assert_int_equal(sut_run_capture(argv, &o, &out, &len, &err), 0);
	assert_string_equal(out, "/\na b 'c'");
	assert_int_equal(len, strlen(out));
	free(out);
	assert_null(getenv("SUTURE_RUN_TEST")); /* set in the child only */
	/* a directory it cannot enter: 127, nothing run */
	o.dir = "/nonexistent/suture";
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	o.err_fd = nul;
	assert_int_equal(sut_run_capture(argv, &o, &out, NULL, &err), 127);
	assert_string_equal(out, "");
	free(out);
	close(nul);
}

static void test_poll(void **state)
{
	struct sut_err err;
	char *argv[] = { "sh", "-c", "read x; exit $x", NULL };
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct sut_run_opts o = SUT_RUN_OPTS_INIT;
	o.in_fd = p[0];
	pid_t pid = sut_run_start(argv, &o, &err);
	assert_true(pid > 0);
	close(p[0]);
	int st = -1;
	assert_int_equal(sut_run_poll(pid, "sh", &st, &err), 0); /* waits for its input */
	assert_int_equal(write(p[1], "7\n", 2), 2);
	close(p[1]);
	int done;
	while ((done = sut_run_poll(pid, "sh", &st, &err)) == 0)
		usleep(1000);
	assert_int_equal(done, 1);
	assert_int_equal(st, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_dir_env_capture),
		cmocka_unit_test(test_poll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

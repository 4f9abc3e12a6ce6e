/* SPDX-License-Identifier: Apache-2.0 */
/* The rollout's plan arithmetic and its state file (rollout/rollout.h). */
#include "fixtures.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rollout/rollout.h"

static void sizes_are(const char *spec, size_t n, const size_t *want, size_t nwant)
{
	size_t *v, k;
	struct sut_err err;
	assert_int_equal(sut_rollout_wave_sizes(spec, n, &v, &k, &err), 0);
	assert_int_equal(k, nwant);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(v[i], want[i]);
	free(v);
}

static void test_wave_sizes(void **state)
{
	sizes_are("1,10%,100%", 50, (size_t[]){1, 5, 50}, 3);
	sizes_are("1,10%,100%", 5, (size_t[]){1, 5}, 2);  /* 10% of 5 rounds up to 1: dropped */
	sizes_are("1,50%,100%", 4, (size_t[]){1, 2, 4}, 3);
	sizes_are("2", 7, (size_t[]){2, 7}, 2);            /* the last wave reaches every one */
	sizes_are("10", 3, (size_t[]){3}, 1);
	sizes_are("1,1,3", 3, (size_t[]){1, 3}, 2);
	size_t *v, k;
	struct sut_err err;
	assert_int_equal(sut_rollout_wave_sizes("1,x", 3, &v, &k, &err), -1);
	assert_non_null(strstr(err.msg, "'x'"));
	assert_int_equal(sut_rollout_wave_sizes("0", 3, &v, &k, &err), -1);
	assert_int_equal(sut_rollout_wave_sizes("101%", 3, &v, &k, &err), -1);
	assert_int_equal(sut_rollout_wave_sizes("", 3, &v, &k, &err), -1);
}

static void test_duration(void **state)
{
	assert_int_equal(sut_parse_duration_ms("500ms"), 500);
	assert_int_equal(sut_parse_duration_ms("30s"), 30000);
	assert_int_equal(sut_parse_duration_ms("7"), 7000);
	assert_int_equal(sut_parse_duration_ms("2m"), 120000);
	assert_int_equal(sut_parse_duration_ms("1h"), 3600000);
	assert_int_equal(sut_parse_duration_ms("25h"), -1);
	assert_int_equal(sut_parse_duration_ms("-1s"), -1);
	assert_int_equal(sut_parse_duration_ms("3d"), -1);
	assert_int_equal(sut_parse_duration_ms(""), -1);
}

/* what is saved is what is loaded; ids that could leave the folder are refused */
static void test_state_round_trip(void **state)
{
	char dir[] = "/tmp/test-rollout-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct sut_rollout ro = {0};
	snprintf(ro.id, sizeof ro.id, "20260101T000000Z-42");
	snprintf(ro.state, sizeof ro.state, "interrupted");
	ro.state_dir = strdup(dir);
	ro.health_cmd = strdup("true");
	ro.soak_ms = 1500;
	ro.npatches = 1;
	ro.patches = calloc(1, sizeof *ro.patches);
	ro.patches[0].file = strdup("/x/fix.suture");
	ro.patches[0].id = strdup("fix-1");
	ro.nprocs = 1;
	ro.procs = calloc(1, sizeof *ro.procs);
	ro.procs[0] = (struct sut_ro_proc){.pid = 7, .start_time = 99, .nlisten = 1,
					   .listen = {1234}};
	snprintf(ro.procs[0].comm, sizeof ro.procs[0].comm, "bad\x1b\xff");
	ro.nwaves = 2;
	ro.waves = calloc(2, sizeof *ro.waves);
	ro.waves[0].npids = 1;
	ro.waves[0].pids = calloc(1, sizeof(pid_t));
	ro.waves[0].pids[0] = 7;
	snprintf(ro.waves[0].state, sizeof ro.waves[0].state, "applied");
	ro.waves[0].nhealth = 1;
	ro.waves[0].health = calloc(1, sizeof *ro.waves[0].health);
	ro.waves[0].health[0] = (struct sut_ro_check){.pid = 7, .check = "alive", .ok = true};
	snprintf(ro.waves[1].state, sizeof ro.waves[1].state, "pending");
	struct sut_err err;
	assert_int_equal(sut_rollout_save(&ro, &err), 0);
	struct sut_rollout back;
	assert_int_equal(sut_rollout_load(dir, ro.id, &back, &err), 0);
	char *a = sut_rollout_dump(&ro), *b = sut_rollout_dump(&back);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"comm\": \"bad??\""));
	assert_int_equal(back.procs[0].listen[0], 1234);
	assert_string_equal(back.waves[0].state, "applied");
	free(a);
	free(b);
	sut_rollout_free(&back);
	assert_int_equal(sut_rollout_load(dir, "../etc/passwd", &back, &err), -1);
	char **ids;
	size_t n;
	assert_int_equal(sut_rollout_list(dir, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], ro.id);
	free(ids[0]);
	free(ids);
	char path[128];
	snprintf(path, sizeof path, "%s/%s.json", dir, ro.id);
	unlink(path);
	rmdir(dir);
	sut_rollout_free(&ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wave_sizes),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_state_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

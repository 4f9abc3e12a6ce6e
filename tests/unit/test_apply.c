/* SPDX-License-Identifier: Apache-2.0 */
/* Apply/revert transactions on a real child process, with patches made by hand (so this
 * test does not depend on the build layer): the child prints value() every few ms; the
 * patch replaces value() with code returning another number. */
#include "fixtures.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "apply/apply.h"
#include "elf/elf.h"
#include "patch/patch.h"
#include "proc/proc.h"
#include "util/buf.h"

static const char *prog_src =
	"#include <stdio.h>\n#include <unistd.h>\n"
	"__attribute__((noinline)) int value(void) { __asm__ volatile(\"\"); return 1; }\n"
	"__attribute__((noinline)) int other(void) { __asm__ volatile(\"\"); return 10; }\n"
	"int main(void) { setvbuf(stdout, 0, _IOLBF, 0);\n"
	"  for (;;) { printf(\"%d\\n\", value() + other()); usleep(2000); } }\n";

static char *prog;
static pid_t child;
static int child_out = -1;

static int latest(void);

/* Starts the child and waits until it runs the program (has printed). */
static void start_child(void)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	child_out = p[0];
	fcntl(child_out, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 100 && latest() < 0; i++)
		;
}

static void stop_child(void)
{
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(child_out);
}

/* Latest number the child printed, after draining its output for a moment. */
static int latest(void)
{
	char buf[65536];
	int last = -1;
	for (int i = 0; i < 20; i++) {
		usleep(5000);
		ssize_t n;
		while ((n = read(child_out, buf, sizeof buf - 1)) > 0) {
			buf[n] = 0;
			char *nl = NULL, *s = buf;
			while ((nl = strchr(s, '\n')) != NULL) {
				*nl = 0;
				if (*s)
					last = atoi(s);
				s = nl + 1;
			}
		}
	}
	return last;
}

/* A patch replacing `fn` with `mov $ret, %eax; ret`. */
static struct sut_patch *make_patch(const char *id, const char *fn, int ret)
{
	struct sut_elf *e;
	struct sut_err err;
	assert_int_equal(sut_elf_open(prog, &e, &err), 0);
	const struct sut_sym *s;
	assert_int_equal(sut_elf_find_sym(e, fn, NULL, &s, &err), 1);
	struct sut_patch *p = sut_xcalloc(1, sizeof *p);
	p->format = SUT_PATCH_FORMAT;
	p->id = sut_xstrdup(id);
	p->version = 1;
	p->description = sut_xstrdup("test");
	p->target_name = sut_xstrdup("prog");
	const uint8_t *bid;
	p->build_id_len = sut_elf_build_id(e, &bid);
	memcpy(p->build_id, bid, p->build_id_len);
	p->nsections = 1;
	p->sections = sut_xcalloc(1, sizeof *p->sections);
	p->sections[0].name = sut_xasprintf(".text.%s", fn);
	p->sections[0].kind = SUT_SEC_TEXT;
	p->sections[0].align = 16;
	p->sections[0].size = 6;
	p->sections[0].bytes = sut_xmalloc(6);
	uint8_t code[6] = {0xb8, (uint8_t)ret, 0, 0, 0, 0xc3};
	memcpy(p->sections[0].bytes, code, 6);
	p->nsymbols = 1;
	p->symbols = sut_xcalloc(1, sizeof *p->symbols);
	p->symbols[0] = (struct sut_patch_symbol){.name = sut_xstrdup(fn), .kind = SUT_SYM_LOCAL,
						  .section = 0, .value = 0, .size = 6,
						  .is_func = true};
	p->nfuncs = 1;
	p->funcs = sut_xcalloc(1, sizeof *p->funcs);
	struct sut_patch_func *f = &p->funcs[0];
	f->name = sut_xstrdup(fn);
	f->target_addr = s->value;
	f->target_size = s->size;
	f->preimage_len = (uint32_t)s->size;
	f->preimage = sut_xmalloc(s->size);
	assert_int_equal(sut_elf_read_vaddr(e, s->value, f->preimage, s->size, &err), 0);
	f->replacement = 0;
	assert_int_equal(sut_patch_validate(p, &err), 0);
	sut_elf_close(e);
	return p;
}

#define OK(call)                                                                  \
	do {                                                                      \
		if ((call) < 0)                                                   \
			fail_msg("%s: %s", #call, err.msg);                       \
	} while (0)

static int maps_lines(pid_t pid)
{
	struct sut_maps m;
	struct sut_err err;
	assert_int_equal(sut_proc_maps(pid, &m, &err), 0);
	int n = (int)m.n;
	sut_proc_maps_free(&m);
	return n;
}

static void test_apply_revert(void **state)
{
	(void)state;
	start_child();
	assert_int_equal(latest(), 11);
	struct sut_patch *p = make_patch("p1", "value", 5);
	struct sut_txn_opts o = {.timeout_ms = 2000};
	struct sut_txn_result r;
	struct sut_err err;
	int before = maps_lines(child);
	if (sut_apply_patch(child, p, &o, &r, &err) < 0)
		fail_msg("apply: %s", err.msg);
	assert_int_equal(latest(), 15);
	/* applying the same patch again is refused and changes nothing */
	assert_int_equal(sut_apply_patch(child, p, &o, &r, &err), -1);
	assert_non_null(strstr(err.msg, "already applied"));
	assert_int_equal(latest(), 15);
	if (sut_revert_patch(child, "p1", &o, &r, &err) < 0)
		fail_msg("revert: %s", err.msg);
	assert_int_equal(latest(), 11);
	/* the registry stays; the patch image is gone */
	assert_int_equal(maps_lines(child), before + 1);
	assert_int_equal(sut_revert_patch(child, "p1", &o, &r, &err), -1);
	assert_non_null(strstr(err.msg, "not applied"));
	sut_patch_free(p);
	stop_child();
}

static void test_stack_out_of_order(void **state)
{
	(void)state;
	start_child();
	struct sut_patch *a = make_patch("a", "value", 2);
	struct sut_patch *b = make_patch("b", "value", 3);
	struct sut_patch *c = make_patch("c", "other", 20);
	struct sut_txn_opts o = {.timeout_ms = 2000};
	struct sut_txn_result r;
	struct sut_err err;
	OK(sut_apply_patch(child, a, &o, &r, &err));
	assert_int_equal(latest(), 12);
	OK(sut_apply_patch(child, b, &o, &r, &err));
	assert_int_equal(latest(), 13);
	OK(sut_apply_patch(child, c, &o, &r, &err));
	assert_int_equal(latest(), 23);
	/* revert the bottom one: b stays live */
	OK(sut_revert_patch(child, "a", &o, &r, &err));
	assert_int_equal(latest(), 23);
	/* now b: the original value() comes back, not a's */
	OK(sut_revert_patch(child, "b", &o, &r, &err));
	assert_int_equal(latest(), 21);
	OK(sut_revert_patch(child, "c", &o, &r, &err));
	assert_int_equal(latest(), 11);
	sut_patch_free(a);
	sut_patch_free(b);
	sut_patch_free(c);
	stop_child();
}

static void test_preimage_mismatch(void **state)
{
	(void)state;
	start_child();
	struct sut_patch *p = make_patch("bad", "value", 7);
	p->funcs[0].preimage[p->funcs[0].preimage_len - 1] ^= 0xff;
	struct sut_txn_opts o = {.timeout_ms = 2000};
	struct sut_txn_result r;
	struct sut_err err;
	int before = maps_lines(child);
	assert_int_equal(sut_apply_patch(child, p, &o, &r, &err), -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "pre-image mismatch"));
	assert_non_null(strstr(err.msg, "value"));
	assert_int_equal(maps_lines(child), before);
	assert_int_equal(latest(), 11);
	/* wrong build-id */
	p->funcs[0].preimage[p->funcs[0].preimage_len - 1] ^= 0xff;
	p->build_id[0] ^= 0xff;
	assert_int_equal(sut_apply_patch(child, p, &o, &r, &err), -1);
	assert_non_null(strstr(err.msg, "build-id"));
	assert_int_equal(maps_lines(child), before);
	sut_patch_free(p);
	stop_child();
}

/* The status view: a record is live while its jump is in place; once something puts the
 * original bytes back (as a reloaded library would have them) it is stale, the process is
 * exposed, and the next apply drops the record and applies again. */
static void test_status_stale(void **state)
{
	(void)state;
	start_child();
	struct sut_patch *p = make_patch("p1", "value", 5);
	struct sut_txn_opts o = {.timeout_ms = 2000};
	struct sut_txn_result r;
	struct sut_err err;
	OK(sut_apply_patch(child, p, &o, &r, &err));
	assert_int_equal(latest(), 15);
	struct sut_status st;
	OK(sut_status_read(child, &st, &err));
	assert_false(st.corrupt);
	assert_int_equal(st.nobjects, 1);
	assert_true(st.objects[0].mapped);
	assert_int_equal(st.objects[0].npatches, 1);
	const struct sut_status_patch *sp = sut_status_find(&st, "p1");
	assert_non_null(sp);
	assert_true(sp->live);
	assert_false(st.exposed);
	assert_int_equal(sp->nfuncs, 1);
	assert_string_equal(sp->funcs[0].name, "value");
	assert_int_equal(sp->consistency, SUT_CONS_STRICT);
	uint64_t entry = sp->funcs[0].addr;
	sut_status_free(&st);

	/* put the original entry bytes back behind suture's back */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)child);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p->funcs[0].preimage, 5, (off_t)entry), 5);
	close(fd);
	assert_int_equal(latest(), 11);
	OK(sut_status_read(child, &st, &err));
	sp = sut_status_find(&st, "p1");
	assert_non_null(sp);
	assert_false(sp->live);
	assert_true(st.exposed);
	assert_int_equal(st.nstale, 1);
	assert_non_null(strstr(sp->stale_why, "value"));
	sut_status_free(&st);

	/* apply drops the stale record and applies again */
	OK(sut_apply_patch(child, p, &o, &r, &err));
	assert_true(r.repaired);
	assert_non_null(strstr(r.repair_note, "dropped 1 stale record (p1"));
	assert_int_equal(latest(), 15);
	OK(sut_status_read(child, &st, &err));
	assert_int_equal(st.nlive, 1);
	assert_int_equal(st.nstale, 0);
	sut_status_free(&st);
	OK(sut_revert_patch(child, "p1", &o, &r, &err));
	assert_int_equal(latest(), 11);
	sut_patch_free(p);
	stop_child();
}

/* sut_apply_patches: all or nothing per process; a patch that was there before the call
 * stays when a later one fails. */
static void test_multi_all_or_nothing(void **state)
{
	(void)state;
	start_child();
	struct sut_patch *a = make_patch("a", "value", 2);
	struct sut_patch *c = make_patch("c", "other", 20);
	struct sut_patch *bad = make_patch("bad", "other", 30);
	bad->funcs[0].preimage[0] ^= 0xff;
	struct sut_multi_opts o = {.txn = {.timeout_ms = 2000}, .skip_applied = true};
	struct sut_multi_result r;
	struct sut_patch *two[] = {a, c}, *fails[] = {c, bad}, *again[] = {a, c, bad};
	/* c then a failing one: c is taken back */
	assert_int_equal(sut_apply_patches(child, fails, 2, &o, &r), -1);
	assert_true(r.failed);
	assert_int_equal(r.ntxns, 2);
	assert_null(r.txns[0].error);
	assert_non_null(strstr(r.txns[1].error, "pre-image mismatch"));
	assert_int_equal(r.nnotes, 1);
	assert_non_null(strstr(r.notes[0], "took back c"));
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 11);
	/* both good: applied in order */
	assert_int_equal(sut_apply_patches(child, two, 2, &o, &r), 0);
	assert_int_equal(r.ntxns, 2);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 22);
	/* again with skip_applied: nothing to do; then a failure leaves a and c, which this
	 * call did not apply */
	assert_int_equal(sut_apply_patches(child, again, 3, &o, &r), -1);
	assert_int_equal(r.already, 2);
	assert_int_equal(r.nnotes, 0);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 22);
	const char *ids[] = {"c", "a", "never"};
	assert_int_equal(sut_revert_patches(child, ids, 3, &o, &r), 0);
	assert_int_equal(r.ntxns, 2);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 11);
	sut_patch_free(a);
	sut_patch_free(c);
	sut_patch_free(bad);
	stop_child();
}

/* ---- What apply.h's opening comment promises a newcomer, through apply.h alone ---- */

/* Every process with suture patches: "PID ID live|stale" lines into out. */
static size_t list_patched(char *out, size_t cap)
{
	struct sut_found_process *found;
	size_t n, len = 0;
	struct sut_err err;
	out[0] = 0;
	if (sut_discover_processes(SUT_DISCOVER_WITH_REGISTRY, NULL, 0, &found, &n, &err) < 0)
		fail_msg("discover: %s", err.msg);
	for (size_t i = 0; i < n; i++) {
		struct sut_status st;
		if (sut_status_read(found[i].pid, &st, &err) < 0)
			continue; /* exited since the scan */
		for (size_t o = 0; o < st.nobjects; o++)
			for (size_t k = 0; k < st.objects[o].npatches; k++)
				len += (size_t)snprintf(out + len, len < cap ? cap - len : 0,
							"%d %s %s\n", (int)st.pid,
							st.objects[o].patches[k].id,
							st.objects[o].patches[k].live ? "live" : "stale");
		sut_status_free(&st);
	}
	sut_found_processes_free(found, n);
	return n;
}

/* Two patch files on one process, all or nothing; the errors into error. */
static int apply_two(pid_t pid, const char *path1, const char *path2, char *error, size_t cap)
{
	struct sut_patch *two[2] = {NULL, NULL};
	struct sut_err err;
	if (sut_patch_read_file(path1, &two[0], &err) < 0 ||
	    sut_patch_read_file(path2, &two[1], &err) < 0)
		fail_msg("reading a patch: %s", err.msg);
	struct sut_multi_opts mo = {.txn = {.timeout_ms = 2000}};
	struct sut_multi_result r;
	int rc = sut_apply_patches(pid, two, 2, &mo, &r);
	error[0] = 0;
	for (size_t i = 0; i < r.ntxns; i++)
		if (r.txns[i].error)
			snprintf(error, cap, "%s", r.txns[i].error);
	sut_multi_result_free(&r);
	sut_patch_free(two[0]);
	sut_patch_free(two[1]);
	return rc;
}

static char *patch_file(struct sut_patch *p)
{
	char *path = sut_xasprintf("%s/%s.suture", fixture_tmpdir(), p->id);
	struct sut_err err;
	OK(sut_patch_write_file(p, path, &err));
	sut_patch_free(p);
	return path;
}

static void test_newcomer_example(void **state)
{
	(void)state;
	start_child();
	char *good_v = patch_file(make_patch("ex-value", "value", 4));
	char *good_o = patch_file(make_patch("ex-other", "other", 40));
	struct sut_patch *bad = make_patch("ex-bad", "other", 50);
	bad->funcs[0].preimage[0] ^= 0xff; /* its pre-image is not what the process holds */
	char *bad_o = patch_file(bad);
	char line[128], listing[8192], error[SUT_ERR_MAX];

	/* a pair whose second fails leaves nothing: the first is taken back */
	assert_int_equal(apply_two(child, good_v, bad_o, error, sizeof error), -1);
	assert_non_null(strstr(error, "pre-image mismatch"));
	assert_int_equal(latest(), 11);
	list_patched(listing, sizeof listing);
	snprintf(line, sizeof line, "%d ex-value", (int)child);
	assert_null(strstr(listing, line));

	/* a good pair: both live, and the listing shows this process with both */
	assert_int_equal(apply_two(child, good_v, good_o, error, sizeof error), 0);
	assert_int_equal(latest(), 44);
	assert_true(list_patched(listing, sizeof listing) >= 1);
	snprintf(line, sizeof line, "%d ex-value live\n", (int)child);
	assert_non_null(strstr(listing, line));
	snprintf(line, sizeof line, "%d ex-other live\n", (int)child);
	assert_non_null(strstr(listing, line));

	const char *ids[] = {"ex-other", "ex-value"};
	struct sut_multi_opts mo = {.txn = {.timeout_ms = 2000}};
	struct sut_multi_result r;
	assert_int_equal(sut_revert_patches(child, ids, 2, &mo, &r), 0);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 11);
	free(good_v);
	free(good_o);
	free(bad_o);
	stop_child();
}

/* One job reads its process once: a second patch planned from the view the first left
 * (its maps include the first image, so the two do not collide), and a take-back in the
 * same job. */
static void test_one_view_per_job(void **state)
{
	(void)state;
	start_child();
	struct sut_patch *a = make_patch("a", "value", 2);
	struct sut_patch *b = make_patch("b", "value", 3);
	struct sut_patch *c = make_patch("c", "other", 20);
	struct sut_patch *three[] = {a, b, c};
	struct sut_multi_opts o = {.txn = {.timeout_ms = 2000}};
	struct sut_multi_result r;
	assert_int_equal(sut_apply_patches(child, three, 3, &o, &r), 0);
	assert_int_equal(r.ntxns, 3);
	assert_true(r.txns[0].res.region != r.txns[1].res.region);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 23);
	struct sut_process_view *v;
	struct sut_err err;
	OK(sut_process_view_read(child, &v, &err));
	const struct sut_status *st = sut_process_view_status(v);
	assert_int_equal(st->nlive, 3);
	assert_non_null(sut_process_view_object(v, a->build_id, a->build_id_len));
	sut_process_view_free(v);
	const char *ids[] = {"b", "a", "c"};
	assert_int_equal(sut_revert_patches(child, ids, 3, &o, &r), 0);
	assert_int_equal(r.ntxns, 3);
	sut_multi_result_free(&r);
	assert_int_equal(latest(), 11);
	struct sut_status after;
	OK(sut_status_read(child, &after, &err));
	assert_int_equal(after.nlive + after.nstale, 0);
	sut_status_free(&after);
	sut_patch_free(a);
	sut_patch_free(b);
	sut_patch_free(c);
	stop_child();
}

int main(void)
{
	prog = fixture_cc("prog", prog_src, "-O2 -Wl,--build-id", "prog");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_revert),
		cmocka_unit_test(test_stack_out_of_order),
		cmocka_unit_test(test_preimage_mismatch),
		cmocka_unit_test(test_status_stale),
		cmocka_unit_test(test_multi_all_or_nothing),
		cmocka_unit_test(test_newcomer_example),
		cmocka_unit_test(test_one_view_per_job),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

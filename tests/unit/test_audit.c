/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the audit layer: lines appended and chained, the chain checked, tampering
 * found at the first broken line, concurrent appends from many threads kept whole and in
 * one chain, strings that are not UTF-8 escaped, symlinks refused. */
#include "fixtures.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>

#include "audit/audit.h"

static char *path_of(const char *name)
{
	static char buf[512];
	snprintf(buf, sizeof buf, "%s/%s", fixture_tmpdir(), name);
	unlink(buf);
	return buf;
}

static void append_n(const char *path, int n, const char *action)
{
	struct sut_audit *a;
	struct sut_err err;
	assert_int_equal(sut_audit_open(&a, path, &err), 0);
	for (int i = 0; i < n; i++) {
		struct sut_audit_record r = {.action = action, .patch = "p1", .ok = i % 2 == 0,
					     .error = i % 2 ? "pre-image mismatch" : NULL,
					     .functions = (size_t)i};
		assert_int_equal(sut_audit_append(a, &r, &err), 0);
	}
	sut_audit_close(a);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		buf = realloc(buf, cap = *len + n + 1);
		memcpy(buf + *len, tmp, n);
		*len += n;
	}
	fclose(f);
	if (buf)
		buf[*len] = 0;
	(void)cap;
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_chain_intact(void **state)
{
	const char *p = path_of("intact.jsonl");
	append_n(p, 5, "apply");
	append_n(p, 2, "revert"); /* a second writer continues the chain */
	struct sut_audit_check c;
	struct sut_err err;
	assert_int_equal(sut_audit_verify(p, &c, &err), 0);
	assert_int_equal(c.lines, 7);
	assert_int_equal(c.broken_line, 0);
	assert_int_equal(strlen(c.last_hash), 64);
	/* the first line anchors, every line has the fields asked for */
	size_t len;
	char *all = slurp(p, &len);
	json_error_t je;
	json_t *first = json_loadb(all, strchr(all, '\n') - all, 0, &je);
	assert_non_null(first);
	assert_string_equal(json_string_value(json_object_get(first, "prev")),
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(json_string_value(json_object_get(first, "action")), "apply");
	assert_true(json_is_true(json_object_get(first, "ok")));
	assert_int_equal(json_integer_value(json_object_get(first, "suture_pid")), getpid());
	assert_int_equal(json_integer_value(json_object_get(first, "uid")), getuid());
	json_decref(first);
	free(all);
}

static void test_tamper_found(void **state)
{
	const char *p = path_of("tamper.jsonl");
	append_n(p, 4, "apply");
	size_t len;
	char *all = slurp(p, &len);
	/* change one byte of line 2: "functions":1 -> 7 */
	char *l2 = strchr(all, '\n') + 1;
	char *f = strstr(l2, "\"functions\":1");
	assert_non_null(f);
	f[12] = '7';
	const char *q = path_of("tampered.jsonl");
	spit(q, all, len);
	struct sut_audit_check c;
	struct sut_err err;
	assert_int_equal(sut_audit_verify(q, &c, &err), 1);
	assert_int_equal(c.broken_line, 3);
	assert_int_equal(c.lines, 2);
	assert_non_null(strstr(c.reason, "line 2"));
	/* a line removed */
	f[12] = '1';
	char *l3 = strchr(l2, '\n') + 1;
	size_t head = (size_t)(l2 - all);
	char *cut = malloc(len);
	memcpy(cut, all, head);
	memcpy(cut + head, l3, len - (size_t)(l3 - all));
	spit(q, cut, head + len - (size_t)(l3 - all));
	assert_int_equal(sut_audit_verify(q, &c, &err), 1);
	assert_int_equal(c.broken_line, 2);
	/* the first line removed */
	spit(q, l2, len - head);
	assert_int_equal(sut_audit_verify(q, &c, &err), 1);
	assert_int_equal(c.broken_line, 1);
	/* not JSON */
	spit(q, "hello\n", 6);
	assert_int_equal(sut_audit_verify(q, &c, &err), 1);
	assert_int_equal(c.broken_line, 1);
	free(cut);
	free(all);
	/* a file that cannot be read is an error, not a verdict */
	assert_int_equal(sut_audit_verify(path_of("absent.jsonl"), &c, &err), -1);
}

/* A torn last line: the next append starts on a new line and the verifier names it. */
static void test_torn_line(void **state)
{
	const char *p = path_of("torn.jsonl");
	append_n(p, 2, "apply");
	int fd = open(p, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"time\":", 8), 8);
	close(fd);
	append_n(p, 1, "revert");
	struct sut_audit_check c;
	struct sut_err err;
	assert_int_equal(sut_audit_verify(p, &c, &err), 1);
	assert_int_equal(c.broken_line, 3);
}

struct th {
	const char *path;
	struct sut_audit *a;
};

static void *appender(void *arg)
{
	struct th *t = arg;
	struct sut_err err;
	for (int i = 0; i < 50; i++) {
		struct sut_audit_record r = {.action = "apply", .patch = "many", .ok = true};
		if (sut_audit_append(t->a, &r, &err) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	const char *p = path_of("concurrent.jsonl");
	struct sut_err err;
	/* two opens (two "processes") and four threads on each */
	struct sut_audit *a1, *a2;
	assert_int_equal(sut_audit_open(&a1, p, &err), 0);
	assert_int_equal(sut_audit_open(&a2, p, &err), 0);
	pthread_t t[8];
	struct th args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct th){p, i % 2 ? a1 : a2};
		assert_int_equal(pthread_create(&t[i], NULL, appender, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		void *rv;
		pthread_join(t[i], &rv);
		assert_null(rv);
	}
	sut_audit_close(a1);
	sut_audit_close(a2);
	struct sut_audit_check c;
	assert_int_equal(sut_audit_verify(p, &c, &err), 0);
	assert_int_equal(c.lines, 400);
}

static void test_escapes_and_symlink(void **state)
{
	const char *p = path_of("escape.jsonl");
	struct sut_audit *a;
	struct sut_err err;
	assert_int_equal(sut_audit_open(&a, p, &err), 0);
	struct sut_audit_record r = {.action = "refuse", .file = "bad\xff\x1b[2Jname",
				     .error = "signed by unknown key"};
	assert_int_equal(sut_audit_append(a, &r, &err), 0);
	sut_audit_close(a);
	size_t len;
	char *all = slurp(p, &len);
	assert_non_null(strstr(all, "\"file\":\"bad\\\\xff\\\\x1b[2Jname\""));
	assert_null(strchr(all, '\x1b'));
	free(all);
	struct sut_audit_check c;
	assert_int_equal(sut_audit_verify(p, &c, &err), 0);
	/* a symlink is refused, its target untouched */
	char link[600];
	snprintf(link, sizeof link, "%s/link.jsonl", fixture_tmpdir());
	unlink(link);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(sut_audit_open(&a, link, &err), -1);
	assert_non_null(strstr(err.msg, "symlink"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_intact),	  cmocka_unit_test(test_tamper_found),
		cmocka_unit_test(test_torn_line),	  cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_escapes_and_symlink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

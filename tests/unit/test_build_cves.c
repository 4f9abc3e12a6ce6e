/* SPDX-License-Identifier: Apache-2.0 */
/* build without --cve takes the CVE ids the diff names in its own header, and only there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "build/build.h"

static size_t cves_of(const char *text, char ***out)
{
	char path[] = "/tmp/suture-test-cves-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	size_t n = sut_build_cves_from_diff(path, out);
	unlink(path);
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void test_header_ids(void **state)
{
	char **v;
	size_t n = cves_of("CVE-2026-34182: cipher checks (see also CVE-2026-45445,CVE-2026-34182)\n"
			   "not an id: XCVE-2026-1111, CVE-26-1, CVE-2026-12\n"
			   "\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-CVE-2026-99999\n+x\n",
			   &v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "CVE-2026-34182");
	assert_string_equal(v[1], "CVE-2026-45445");
	free_list(v, n);
}

static void test_no_header(void **state)
{
	char **v;
	assert_int_equal(cves_of("--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-/* CVE-2026-1234 */\n+x\n", &v), 0);
	assert_int_equal(sut_build_cves_from_diff("/nonexistent/diff", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_header_ids),
					   cmocka_unit_test(test_no_header)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

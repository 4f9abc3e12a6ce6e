/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of the assess layer: Debian version ordering (checked against dpkg itself
 * when it is installed), OpenSSL version strings, OSV records and range matching, the
 * Debian security-tracker import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "assess/assess.h"

static const char *const ordered[] = {
	"~~", "~~a", "~", "0", "0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1+b1", "1.0a",
	"1.0+dfsg", "1.00.1", "1.1", "1.10", "2.0.0~beta", "3.0.19-1~deb12u2", "3.0.20",
	"3.0.20-1~deb12u1", "3.0.20-1~deb12u2", "3.0.20-1", "3.0.20-1+deb12u1", "3.0.21",
	"1:0.1", "1:1.0", "2:0~",
};

static void test_vercmp_order(void **state)
{
	size_t n = sizeof ordered / sizeof ordered[0];
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++) {
			int r = sut_dpkg_vercmp(ordered[i], ordered[k]);
			int want = i < k ? -1 : i > k ? 1 : 0;
			if (r != want)
				fail_msg("vercmp(%s, %s) = %d, want %d", ordered[i], ordered[k], r, want);
		}
	assert_int_equal(sut_dpkg_vercmp("1.0", "1.00"), 0);
	assert_int_equal(sut_dpkg_vercmp("0:1.0", "1.0"), 0);
	assert_int_equal(sut_dpkg_vercmp("1.0-0", "1.0"), 0);
}

/* The same pairs through dpkg --compare-versions, the reference implementation. */
static void test_vercmp_matches_dpkg(void **state)
{
	if (access("/usr/bin/dpkg", X_OK) != 0)
		skip();
	size_t n = sizeof ordered / sizeof ordered[0];
	for (size_t i = 0; i + 1 < n; i++) {
		char cmd[256];
		if (ordered[i][0] == '~' || ordered[i + 1][0] == '~')
			continue; /* dpkg warns: a version should start with a digit */
		snprintf(cmd, sizeof cmd, "dpkg --compare-versions '%s' lt '%s'", ordered[i],
			 ordered[i + 1]);
		if (system(cmd) != 0)
			fail_msg("dpkg disagrees: %s", cmd);
	}
}

static void test_openssl_version(void **state)
{
	static const char blob[] = "\0\0xxOpenSSL\0OpenSSL 3\0"
				   "OpenSSL 3.0.20 27 Jan 2026\0more";
	char v[32], t[64];
	assert_true(sut_openssl_version_in((const uint8_t *)blob, sizeof blob, v, sizeof v, t,
					   sizeof t));
	assert_string_equal(v, "3.0.20");
	assert_string_equal(t, "OpenSSL 3.0.20 27 Jan 2026");
	static const char none[] = "OpenSSL 3.0.x is great\0OpenSSL version\0";
	assert_false(sut_openssl_version_in((const uint8_t *)none, sizeof none, v, sizeof v, t,
					    sizeof t));
	static const char letter[] = "OpenSSL 1.1.1w  11 Sep 2023";
	assert_true(sut_openssl_version_in((const uint8_t *)letter, sizeof letter, v, sizeof v,
					   t, sizeof t));
	assert_string_equal(v, "1.1.1w");
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/suture-test-assess-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char osv[] =
	"[{\"id\": \"OSV-T-1\", \"aliases\": [\"CVE-2026-1111\"], \"published\": "
	"\"2026-06-01T00:00:00Z\", \"summary\": \"s\", \"database_specific\": {\"severity\": "
	"\"High\"}, \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\", \"name\": "
	"\"openssl\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": "
	"\"0\"}, {\"fixed\": \"3.0.20-1~deb12u2\"}]}]}, {\"package\": {\"ecosystem\": "
	"\"OpenSSL\", \"name\": \"openssl\", \"purl\": \"pkg:generic/openssl\"}, \"ranges\": "
	"[{\"type\": \"SEMVER\", \"events\": [{\"introduced\": \"3.0.0\"}, {\"fixed\": "
	"\"3.0.21\"}]}]}]},"
	" {\"id\": \"CVE-2026-2222\", \"severity\": [{\"type\": \"CVSS_V3\", \"score\": "
	"\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}], \"affected\": [{\"package\": "
	"{\"ecosystem\": \"OpenSSL\", \"name\": \"openssl\"}, \"versions\": [\"3.0.19\"]}]}]";

static void test_osv(void **state)
{
	char *path = write_tmp(osv);
	struct sut_vulndb db = {0};
	struct sut_err err;
	if (sut_osv_load(&db, path, &err) < 0)
		fail_msg("%s", err.msg);
	unlink(path);
	free(path);
	assert_int_equal(db.n, 2);
	assert_string_equal(db.v[0].cve, "CVE-2026-1111");
	assert_int_equal(db.v[0].severity, 3);
	assert_int_equal(db.v[0].naffected, 2);
	assert_string_equal(db.v[1].cve, "CVE-2026-2222");
	assert_true(db.v[1].cvss > 9.7 && db.v[1].cvss < 9.9);
	assert_int_equal(db.v[1].severity, 4);

	struct sut_inv_file deb = {.package = "libssl3:amd64", .source = "openssl",
				   .ecosystem = "Debian:12",
				   .version = "3.0.20-1~deb12u1", .openssl = "3.0.20"};
	assert_int_equal(sut_vuln_affects(&db.v[0], &deb), 1);
	deb.version = "3.0.20-1~deb12u2";
	assert_int_equal(sut_vuln_affects(&db.v[0], &deb), 0);
	/* a Debian file is judged by Debian's records only: 2222 speaks of upstream */
	assert_int_equal(sut_vuln_affects(&db.v[1], &deb), -1);
	struct sut_inv_file up = {.openssl = "3.0.20"};
	assert_int_equal(sut_vuln_affects(&db.v[0], &up), 1);
	up.openssl = "3.0.21";
	assert_int_equal(sut_vuln_affects(&db.v[0], &up), 0);
	up.openssl = "2.9.9";
	assert_int_equal(sut_vuln_affects(&db.v[0], &up), 0);
	up.openssl = "3.0.19";
	assert_int_equal(sut_vuln_affects(&db.v[1], &up), 1);
	up.openssl = "3.0.20";
	assert_int_equal(sut_vuln_affects(&db.v[1], &up), 0);
	struct sut_inv_file other = {.package = "libc6:amd64", .source = "glibc",
				     .ecosystem = "Debian:12",
				     .version = "2.36-9"};
	assert_int_equal(sut_vuln_affects(&db.v[0], &other), -1);
	sut_vulndb_free(&db);
}

static void test_osv_bad(void **state)
{
	char *path = write_tmp("{\"id\": \"X\", \"affected\": [{\"package\": 7}]");
	struct sut_vulndb db = {0};
	struct sut_err err;
	assert_int_equal(sut_osv_load(&db, path, &err), -1);
	assert_non_null(strstr(err.msg, path));
	unlink(path);
	free(path);
	sut_vulndb_free(&db);
}

static const char tracker[] =
	"{\"openssl\": {\"CVE-2026-3333\": {\"description\": \"d\", \"scope\": \"remote\", "
	"\"releases\": {\"bookworm\": {\"status\": \"resolved\", \"fixed_version\": "
	"\"3.0.20-1~deb12u2\", \"urgency\": \"medium\", \"repositories\": {\"bookworm\": "
	"\"3.0.20-1~deb12u2\"}}, \"trixie\": {\"status\": \"open\", \"urgency\": "
	"\"not yet assigned\", \"repositories\": {\"trixie\": \"3.5.0-1\"}}}},"
	" \"CVE-2026-4444\": {\"releases\": {\"bookworm\": {\"status\": \"resolved\", "
	"\"fixed_version\": \"0\", \"urgency\": \"unimportant\"}}}},"
	" \"glibc\": {\"TEMP-0000000-ABCDEF\": {\"releases\": {\"bookworm\": {\"status\": "
	"\"open\"}}}}}";

static void test_debian_tracker(void **state)
{
	char *path = write_tmp(tracker);
	struct sut_vulndb db = {0};
	struct sut_err err;
	if (sut_debian_tracker_load(&db, path, &err) < 0)
		fail_msg("%s", err.msg);
	unlink(path);
	free(path);
	const struct sut_vuln *v = NULL;
	for (size_t i = 0; i < db.n; i++)
		if (!strcmp(db.v[i].cve, "CVE-2026-3333"))
			v = &db.v[i];
	assert_non_null(v);
	assert_int_equal(v->severity, 2);
	struct sut_inv_file f = {.package = "libssl3:amd64", .source = "openssl",
				 .ecosystem = "Debian:12",
				 .version = "3.0.19-1~deb12u2"};
	assert_int_equal(sut_vuln_affects(v, &f), 1);
	f.version = "3.0.20-1~deb12u2";
	assert_int_equal(sut_vuln_affects(v, &f), 0);
	/* fixed_version 0: never affected in that release */
	for (size_t i = 0; i < db.n; i++)
		if (!strcmp(db.v[i].cve, "CVE-2026-4444")) {
			f.version = "1.0";
			assert_int_equal(sut_vuln_affects(&db.v[i], &f), 0);
		}
	sut_vulndb_free(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vercmp_order),  cmocka_unit_test(test_vercmp_matches_dpkg),
		cmocka_unit_test(test_openssl_version), cmocka_unit_test(test_osv),
		cmocka_unit_test(test_osv_bad),	      cmocka_unit_test(test_debian_tracker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

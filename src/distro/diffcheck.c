/* SPDX-License-Identifier: Apache-2.0 */
/* A diff against Debian's tree (as dpkg-source -x leaves it, Debian's patches applied).
 * Upstream fixes are often already in Debian's source as backports; such a diff does not
 * apply forward, and that is not an error to debug but an answer: the version is already
 * fixed. The test is the reverse: when `patch -R` applies exactly (no fuzz), every line the
 * fix adds is there, in the fix's context, and every line it removes is gone. It is tried
 * first: a fix that only adds lines may also apply forward a second time at an offset. */
#include "distro/distro_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

static int dry_run(const char *tree, const char *diff, bool reverse, const char *log,
		   struct sut_err *err)
{
	char *argv[12];
	size_t n = 0;
	argv[n++] = "patch";
	argv[n++] = "-p1";
	argv[n++] = "--dry-run";
	argv[n++] = "--batch";
	argv[n++] = "--forward"; /* with -R: never "unreverse" a diff that is not applied */
	argv[n++] = "--fuzz=0";
	if (reverse)
		argv[n++] = "--reverse";
	argv[n++] = "-i";
	argv[n++] = (char *)diff;
	argv[n] = NULL;
	unlink(log);
	return dst_run(tree, argv, NULL, log, err);
}

int sut_distro_check_diff(const struct sut_distro_build *b, const char *diff,
			  enum sut_diff_state *state, struct sut_err *err)
{
	/* patch runs in the tree: the diff's path must not be relative to here */
	char *abs = realpath(diff, NULL);
	if (!abs)
		return sut_errno(err, "diff %s", diff);
	const char *shown = diff;
	diff = abs;
	const char *tmpdir = getenv("TMPDIR");
	char *log = sut_xasprintf("%s/suture-dry-run-%d.log", tmpdir && *tmpdir ? tmpdir : "/tmp", (int)getpid());
	int st = dry_run(b->tree, diff, true, log, err);
	int rc = 0;
	if (st == 0) {
		*state = SUT_DIFF_IN_SOURCE;
	} else if (st > 0) {
		st = dry_run(b->tree, diff, false, log, err);
		if (st == 0) {
			*state = SUT_DIFF_APPLIES;
		} else if (st > 0) {
			char *tail = dst_file_tail(log, 900);
			rc = sut_errf(err, "%s neither applies exactly to %s %s (Debian's patches applied; offsets are allowed, fuzz is not) nor is already in it: port the fix to Debian's source of that version. patch says: %s",
				      shown, b->source, b->version, tail);
			free(tail);
		}
	}
	if (st < 0)
		rc = -1;
	unlink(log);
	free(log);
	free(abs);
	return rc;
}

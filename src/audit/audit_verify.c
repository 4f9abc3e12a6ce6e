/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_internal.h"

static int broken(struct sut_audit_check *c, size_t line, const char *why)
{
	c->broken_line = line;
	snprintf(c->reason, sizeof c->reason, "%s", why);
	return 1;
}

int sut_audit_verify(const char *path, struct sut_audit_check *c, struct sut_err *err)
{
	memset(c, 0, sizeof *c);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return sut_errno(err, "audit trail %s", path);
	}
	char expect[SUT_AUDIT_HASH_HEX + 1];
	sut_audit_anchor(expect);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t no = c->lines + 1;
		if (line[n - 1] != '\n') {
			rc = broken(c, no, "incomplete last line (a write that did not finish)");
			break;
		}
		size_t len = (size_t)n - 1;
		json_error_t je;
		json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
		const char *prev = json_string_value(json_object_get(o, "prev"));
		if (!o || !json_is_object(o)) {
			json_decref(o);
			rc = broken(c, no, "not a JSON object");
			break;
		}
		if (!prev) {
			json_decref(o);
			rc = broken(c, no, "no \"prev\" hash (not written by a chaining suture)");
			break;
		}
		bool match = strcmp(prev, expect) == 0;
		json_decref(o);
		if (!match) {
			char why[200];
			if (no == 1)
				snprintf(why, sizeof why, "does not start the chain (its prev is not the "
							  "anchor: lines before it removed?)");
			else
				snprintf(why, sizeof why, "prev does not match line %zu (line %zu was "
							  "changed, or lines removed or inserted)",
					 no - 1, no - 1);
			rc = broken(c, no, why);
			break;
		}
		sut_audit_hash(line, len, expect);
		c->lines = no;
	}
	free(line);
	if (rc == 0 && ferror(f))
		rc = sut_errno(err, "audit trail %s: read", path);
	fclose(f);
	memcpy(c->last_hash, expect, sizeof c->last_hash);
	return rc;
}

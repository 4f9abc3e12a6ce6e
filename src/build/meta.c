/* SPDX-License-Identifier: Apache-2.0 */
/* Patch metadata derived from the diff when the user gives none: the id from the file
 * name, the description and the CVE ids from the header a `git format-patch`, a mail or an
 * advisory puts above the diff. */
#include "build/build_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

char *bld_id_from_diff(const char *diff_path)
{
	const char *base = strrchr(diff_path, '/');
	base = base ? base + 1 : diff_path;
	char *id = sut_xstrdup(base);
	char *dot = strrchr(id, '.');
	if (dot && dot != id)
		*dot = 0;
	size_t n = 0;
	for (char *p = id; *p && n < SUT_PATCH_ID_MAX - 1; p++)
		if (isalnum((unsigned char)*p) || strchr("._+-", *p))
			id[n++] = *p;
	id[n] = 0;
	if (!n) {
		free(id);
		id = sut_xstrdup("patch");
	}
	return id;
}

char *bld_description_from_diff(const char *diff_path)
{
	uint8_t *data;
	size_t len;
	struct sut_err e;
	if (sut_read_file(diff_path, &data, &len, &e))
		return NULL;
	char *text = sut_xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = 0;
	free(data);
	char *found = NULL;
	for (char *s = text; s && *s && !found;) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(s, "---", 3) || !strncmp(s, "diff ", 5) || !strncmp(s, "Index: ", 7))
			break;
		/* mail headers of format-patch: keep the subject, skip the others */
		const char *line = s;
		if (!strncmp(line, "Subject: ", 9))
			line += 9;
		else if (!strncmp(line, "From ", 5) || !strncmp(line, "From: ", 6) ||
			 !strncmp(line, "Date: ", 6))
			line = "";
		/* a licence tag on top of a diff file describes the file, not the fix */
		if (strstr(line, "SPDX-License-Identifier:"))
			line = "";
		if (!strncmp(line, "[PATCH", 6) && strchr(line, ']'))
			line = strchr(line, ']') + 1;
		while (isspace((unsigned char)*line))
			line++;
		if (*line)
			found = sut_xstrdup(line);
		s = nl ? nl + 1 : NULL;
	}
	free(text);
	if (found)
		for (size_t l = strlen(found); l && isspace((unsigned char)found[l - 1]); l--)
			found[l - 1] = 0;
	return found;
}

size_t sut_build_cves_from_diff(const char *diff_path, char ***cves)
{
	*cves = NULL;
	uint8_t *data;
	size_t len, n = 0;
	struct sut_err e;
	if (sut_read_file(diff_path, &data, &len, &e))
		return 0;
	char *text = sut_xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = 0;
	free(data);
	for (char *s = text; s && *s;) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(s, "--- ", 4) || !strncmp(s, "diff ", 5) || !strncmp(s, "Index: ", 7))
			break;
		for (char *c = strstr(s, "CVE-"); c; c = strstr(c + 4, "CVE-")) {
			size_t y = 0, d = 0;
			while (isdigit((unsigned char)c[4 + y]))
				y++;
			if (y != 4 || c[8] != '-')
				continue;
			while (isdigit((unsigned char)c[9 + d]))
				d++;
			if (d < 4 || d > 12 || isalnum((unsigned char)c[9 + d]) ||
			    (c > s && isalnum((unsigned char)c[-1])))
				continue;
			char *id = sut_xasprintf("%.*s", (int)(9 + d), c);
			bool dup = false;
			for (size_t i = 0; i < n; i++)
				dup |= !strcmp((*cves)[i], id);
			if (dup) {
				free(id);
				continue;
			}
			*cves = sut_xrealloc(*cves, (n + 1) * sizeof **cves);
			(*cves)[n++] = id;
		}
		s = nl ? nl + 1 : NULL;
	}
	free(text);
	return n;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Debian version ordering (Debian policy 5.6.12, as dpkg implements it).
 *
 * A version is [epoch:]upstream[-revision]. Epochs compare as numbers; upstream and
 * revision each compare as alternating runs: a non-digit run compared character by
 * character, where '~' sorts before everything (even the end of the string), letters
 * before non-letters, and the end of the string after '~' but before anything else;
 * then a digit run compared as a number. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "assess/assess.h"

static int order(int c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return c + 256;
	return 0;
}

/* Compares two upstream or revision parts given as [a, ae) and [b, be). */
static int part_cmp(const char *a, const char *ae, const char *b, const char *be)
{
	while (a < ae || b < be) {
		while ((a < ae && !isdigit((unsigned char)*a)) || (b < be && !isdigit((unsigned char)*b))) {
			int ac = a < ae ? order((unsigned char)*a) : 0;
			int bc = b < be ? order((unsigned char)*b) : 0;
			if (ac != bc)
				return ac - bc;
			a += a < ae;
			b += b < be;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		int first = 0;
		while (a < ae && isdigit((unsigned char)*a) && b < be && isdigit((unsigned char)*b)) {
			if (!first)
				first = *a - *b;
			a++;
			b++;
		}
		if (a < ae && isdigit((unsigned char)*a))
			return 1;
		if (b < be && isdigit((unsigned char)*b))
			return -1;
		if (first)
			return first;
	}
	return 0;
}

struct ver {
	unsigned long epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void split(const char *s, struct ver *v)
{
	const char *colon = strchr(s, ':');
	v->epoch = 0;
	if (colon) {
		v->epoch = strtoul(s, NULL, 10);
		s = colon + 1;
	}
	const char *dash = strrchr(s, '-');
	v->up = s;
	if (dash) {
		v->up_end = dash;
		v->rev = dash + 1;
		v->rev_end = dash + 1 + strlen(dash + 1);
	} else {
		v->up_end = s + strlen(s);
		v->rev = v->rev_end = v->up_end;
	}
}

int sut_dpkg_vercmp(const char *a, const char *b)
{
	struct ver x, y;
	split(a, &x);
	split(b, &y);
	if (x.epoch != y.epoch)
		return x.epoch < y.epoch ? -1 : 1;
	int r = part_cmp(x.up, x.up_end, y.up, y.up_end);
	if (r)
		return r < 0 ? -1 : 1;
	r = part_cmp(x.rev, x.rev_end, y.rev, y.rev_end);
	return r < 0 ? -1 : r > 0 ? 1 : 0;
}

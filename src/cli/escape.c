/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/escape.h"

#include <stdio.h>
#include <string.h>

size_t cli_utf8_next(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

int cli_unsafe_cp(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

const char *cli_esc(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	if (!cap)
		return out;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		uint32_t cp;
		size_t n = cli_utf8_next(p, &cp);
		char piece[20];
		size_t plen;
		if (n && *p == '\\') {
			memcpy(piece, "\\\\", 2);
			plen = 2;
		} else if (n && !cli_unsafe_cp(cp)) {
			memcpy(piece, p, n);
			plen = n;
		} else {
			size_t k = n ? n : 1;
			plen = 0;
			for (size_t i = 0; i < k; i++)
				plen += (size_t)snprintf(piece + plen, sizeof piece - plen, "\\x%02x",
							 p[i]);
			n = k;
		}
		if (o + plen + 1 > cap)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		p += n;
	}
	out[o] = 0;
	return out;
}

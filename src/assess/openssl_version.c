/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenSSL version an object reports: OPENSSL_VERSION_TEXT, "OpenSSL 3.0.20 27 Jan 2026",
 * is a string constant in libcrypto's .rodata (what `openssl version` prints). Found by
 * content, so a renamed or container copy reports what it really is. */
#include <ctype.h>
#include <string.h>

#include "assess/assess.h"

bool sut_openssl_version_in(const uint8_t *data, size_t len, char *ver, size_t vcap, char *text,
			    size_t tcap)
{
	static const char key[] = "OpenSSL ";
	const uint8_t *p = data, *end = data + len;
	while (p < end) {
		const uint8_t *hit = memmem(p, (size_t)(end - p), key, sizeof key - 1);
		if (!hit)
			return false;
		/* digits.digits.digits, then letters (1.1.1w), then a space */
		const uint8_t *v = hit + sizeof key - 1, *q = v;
		int parts = 0;
		while (parts < 3) {
			const uint8_t *d = q;
			while (q < end && isdigit(*q))
				q++;
			if (q == d)
				break;
			parts++;
			if (parts < 3 && q < end && *q == '.')
				q++;
			else
				break;
		}
		while (parts == 3 && q < end && q - v < 24 && isalpha(*q))
			q++;
		int dots = parts == 3 ? 2 : 0;
		bool starts = hit == data || hit[-1] == 0;
		if (starts && dots == 2 && q > v && isdigit(*v) && q < end && *q == ' ' &&
		    (size_t)(q - v) < vcap) {
			memcpy(ver, v, (size_t)(q - v));
			ver[q - v] = 0;
			size_t n = 0;
			while (hit + n < end && hit[n] && isprint(hit[n]) && n + 1 < tcap)
				n++;
			memcpy(text, hit, n);
			text[n] = 0;
			return true;
		}
		p = hit + 1;
	}
	return false;
}

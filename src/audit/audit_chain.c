/* SPDX-License-Identifier: Apache-2.0 */
#include "audit/audit_internal.h"

#include <openssl/evp.h>
#include <string.h>

void sut_audit_hash(const char *line, size_t len, char out[SUT_AUDIT_HASH_HEX + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(line, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		/* libcrypto cannot fail on SHA-256 of memory; be safe: a hash no line has */
		memset(out, 'x', SUT_AUDIT_HASH_HEX);
		out[SUT_AUDIT_HASH_HEX] = 0;
		return;
	}
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SUT_AUDIT_HASH_HEX] = 0;
}

void sut_audit_anchor(char out[SUT_AUDIT_HASH_HEX + 1])
{
	memset(out, '0', SUT_AUDIT_HASH_HEX);
	out[SUT_AUDIT_HASH_HEX] = 0;
}

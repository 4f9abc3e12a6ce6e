/* SPDX-License-Identifier: Apache-2.0 */
/* A stand-in libcrypto: reports its version like OpenSSL's and has one "vulnerable"
 * function, crypto_rate() (7; the fix makes it 9). */
const char *crypto_version(void);
const char *crypto_salt(void);
int crypto_rate(void);

static const char version_text[] = "OpenSSL " VERSION " 1 Jun 2026";
static const char salt[] = "build " SALT;

const char *crypto_version(void)
{
	return version_text;
}

const char *crypto_salt(void)
{
	return salt;
}

int crypto_rate(void)
{
	return 7;
}

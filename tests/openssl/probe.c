/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A long-running process that uses OpenSSL's libcrypto for real and shows, from outside,
 * whether four fixed bugs of OpenSSL 3.0.20 are present in the library it has mapped.
 * Every 500 ms it runs each trigger in-process and prints one line per case:
 *
 *   45445 vulnerable|fixed     AES-OCB ignores the IV on the EVP_Cipher() path
 *   42770 vulnerable|fixed     DHX peer whose q was forged is accepted
 *   45447 vulnerable|fixed     PKCS7_verify() frees the caller's content BIO
 *   34182 vulnerable|fixed     CMS AuthEnvelopedData with a 1-byte tag decrypts
 *
 * followed by a line "round N". A trigger that cannot decide prints "CASE error: WHY".
 * The triggers never crash the probe when the library is vulnerable (45447 watches the
 * free through a BIO callback instead of touching freed memory), so the same process can be
 * observed flipping from vulnerable to fixed and back while patches are applied and reverted.
 *
 * usage: probe DATADIR [--once] [--interval-ms N]
 *   DATADIR holds pkcs7-empty-digest-set.eml and authenv-tag1.der (the trigger data).
 */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pkcs7.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dhx_vectors.h"

enum verdict { VULNERABLE, FIXED, ERROR };

static const char *verdict_name[] = { "vulnerable", "fixed", "error" };

/* Why the last trigger returned ERROR (one sentence, printed after "error: "). */
static char why[256];

static enum verdict error_because(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char ebuf[160] = "";

	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	snprintf(why, sizeof(why), "%s%s%s", what, e ? ": " : "", ebuf);
	return ERROR;
}

/* ---- 45445: the IV must change the ciphertext of AES-128-OCB through EVP_Cipher() ---- */

static int ocb_encrypt(EVP_CIPHER *cipher, const unsigned char *iv, unsigned char *out, int len)
{
	static const unsigned char key[16] = "0123456789abcdef";
	static const unsigned char plain[32] = "the same plaintext, twice......";
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok = ctx != NULL && EVP_CipherInit_ex2(ctx, cipher, key, iv, 1, NULL) == 1;

	/* EVP_Cipher() returns the number of bytes written for provider ciphers, <= 0 on error.
	 * The fixed library refuses nothing here: the key and IV are set. */
	if (ok)
		ok = EVP_Cipher(ctx, out, plain, (unsigned int)len) > 0;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

static enum verdict trigger_45445(void)
{
	static const unsigned char iv1[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static const unsigned char iv2[12] = { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
	unsigned char c1[32], c2[32];
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-128-OCB", NULL);
	enum verdict v;

	if (cipher == NULL)
		return error_because("cannot fetch AES-128-OCB");
	if (!ocb_encrypt(cipher, iv1, c1, sizeof(c1)) || !ocb_encrypt(cipher, iv2, c2, sizeof(c2)))
		v = error_because("AES-128-OCB encryption through EVP_Cipher failed");
	else
		v = memcmp(c1, c2, sizeof(c1)) == 0 ? VULNERABLE : FIXED;
	EVP_CIPHER_free(cipher);
	return v;
}

/* ---- 42770: a DHX peer with the right p and g but a forged q must be refused ---- */

static EVP_PKEY *dhx_key(const unsigned char *q, size_t qlen, const unsigned char *pub,
			 size_t publen, const unsigned char *priv, size_t privlen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *p = BN_bin2bn(bin_p, sizeof(bin_p), NULL);
	BIGNUM *g = BN_bin2bn(bin_g, sizeof(bin_g), NULL);
	BIGNUM *bq = BN_bin2bn(q, (int)qlen, NULL);
	BIGNUM *bpub = BN_bin2bn(pub, (int)publen, NULL);
	BIGNUM *bpriv = priv ? BN_bin2bn(priv, (int)privlen, NULL) : NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DHX", NULL);
	EVP_PKEY *key = NULL;

	if (bld && p && g && bq && bpub && (!priv || bpriv) && ctx &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, bq) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, bpub) &&
	    (!priv || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bpriv)) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	BN_free(p), BN_free(g), BN_free(bq), BN_free(bpub), BN_clear_free(bpriv);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

static enum verdict trigger_42770(void)
{
	EVP_PKEY *local = dhx_key(bin_q_valid, sizeof(bin_q_valid), bin_local_pub,
				  sizeof(bin_local_pub), bin_local_priv, sizeof(bin_local_priv));
	EVP_PKEY *peer = dhx_key(bin_remote_q, sizeof(bin_remote_q), bin_remote_pub,
				 sizeof(bin_remote_pub), NULL, 0);
	EVP_PKEY_CTX *ctx = local ? EVP_PKEY_CTX_new_from_pkey(NULL, local, NULL) : NULL;
	enum verdict v;
	int r;

	if (local == NULL || peer == NULL || ctx == NULL)
		v = error_because("cannot build the DHX keys");
	else if (EVP_PKEY_derive_init(ctx) != 1)
		v = error_because("EVP_PKEY_derive_init failed");
	else {
		/* The peer's public key is valid for its own (forged) q, so the public check
		 * passes; only the provider's parameter comparison (dh_match_params) can refuse. */
		r = EVP_PKEY_derive_set_peer(ctx, peer);
		v = r == 1 ? VULNERABLE : FIXED;
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(local);
	EVP_PKEY_free(peer);
	return v;
}

/* ---- 45447: PKCS7_verify() must not free the content BIO its caller owns ---- */

static const char *pkcs7_eml;	/* the S/MIME message, read once at start */
static long pkcs7_eml_len;
static int content_bio_freed;

/* Sees the content BIO being freed. When PKCS7_verify() frees it (vulnerable), the probe
 * must not touch it again; this is what keeps the probe alive where a real program would
 * free it a second time. */
static long watch_free(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
		       int ret, size_t *processed)
{
	if (oper == BIO_CB_FREE)
		content_bio_freed = 1;
	return ret;
}

static enum verdict trigger_45447(void)
{
	BIO *in = BIO_new_mem_buf(pkcs7_eml, (int)pkcs7_eml_len);
	BIO *detached = NULL, *content = NULL, *out = NULL;
	PKCS7 *p7 = in ? SMIME_read_PKCS7(in, &detached) : NULL;
	enum verdict v;

	/* The signedData (empty digest-algorithm set) is detached: the content comes from a BIO
	 * the caller owns. A null BIO is not a memory BIO, so PKCS7_verify() uses it as is,
	 * as it does a file given to `openssl smime -verify -content FILE`. */
	if (p7 == NULL || (content = BIO_new(BIO_s_null())) == NULL ||
	    (out = BIO_new(BIO_s_null())) == NULL) {
		v = error_because("cannot read the PKCS#7 test message");
		BIO_free(content);
	} else {
		content_bio_freed = 0;
		BIO_set_callback_ex(content, watch_free);
		(void)PKCS7_verify(p7, NULL, NULL, content, out, PKCS7_NOVERIFY);
		if (content_bio_freed) {
			v = VULNERABLE;	/* already freed inside PKCS7_verify: not ours to free */
		} else {
			v = FIXED;
			BIO_free(content);
		}
	}
	BIO_free(out);
	BIO_free(detached);
	PKCS7_free(p7);
	BIO_free(in);
	return v;
}

/* ---- 34182: an AuthEnvelopedData whose tag was cut to one byte must not decrypt ---- */

static unsigned char *authenv_der;
static long authenv_der_len;

static enum verdict trigger_34182(void)
{
	static const unsigned char key[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
					       0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F };
	static const unsigned char keyid[3] = { 0xC0, 0xFE, 0xE0 };
	const unsigned char *p = authenv_der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, authenv_der_len);
	BIO *out = BIO_new(BIO_s_mem());
	enum verdict v;

	if (cms == NULL || out == NULL)
		v = error_because("cannot parse authenv-tag1.der");
	else if (!CMS_decrypt_set1_key(cms, (unsigned char *)key, sizeof(key), keyid,
				       sizeof(keyid)))
		v = error_because("CMS_decrypt_set1_key failed");
	else
		v = CMS_decrypt(cms, NULL, NULL, NULL, out, 0) == 1 ? VULNERABLE : FIXED;
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return v;
}

/* ---- main loop ---- */

static char *read_all(const char *dir, const char *name, long *len)
{
	char path[4096];
	FILE *f;
	char *data;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "probe: cannot read %s\n", path);
		exit(2);
	}
	data = malloc((size_t)*len);
	if (data == NULL || fread(data, 1, (size_t)*len, f) != (size_t)*len) {
		fprintf(stderr, "probe: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	return data;
}

static void report(const char *name, enum verdict (*trigger)(void))
{
	enum verdict v;

	ERR_clear_error();
	v = trigger();
	if (v == ERROR)
		printf("%s error: %s\n", name, why);
	else
		printf("%s %s\n", name, verdict_name[v]);
	ERR_clear_error();
}

int main(int argc, char **argv)
{
	int once = 0, interval_ms = 500;
	unsigned long round;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: probe DATADIR [--once] [--interval-ms N]\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "probe: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	pkcs7_eml = read_all(argv[1], "pkcs7-empty-digest-set.eml", &pkcs7_eml_len);
	authenv_der = (unsigned char *)read_all(argv[1], "authenv-tag1.der", &authenv_der_len);
	printf("probe pid %d, %s\n", (int)getpid(), OpenSSL_version(OPENSSL_VERSION));

	for (round = 1;; round++) {
		report("45445", trigger_45445);
		report("42770", trigger_42770);
		report("45447", trigger_45447);
		report("34182", trigger_34182);
		printf("round %lu\n", round);
		fflush(stdout);
		if (once)
			return 0;
		struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

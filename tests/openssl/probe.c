/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A long-running process that uses OpenSSL for real and shows, from outside, whether fixed
 * bugs of OpenSSL are present in the library it has mapped. Every interval (500 ms unless
 * --interval-ms says otherwise) it runs each trigger in-process and prints one line per case,
 * followed by a line "round N". A trigger that cannot decide prints "CASE error: WHY".
 * The triggers never crash the probe when the library is vulnerable (45447 watches the
 * free through a BIO callback instead of touching freed memory), so the same process can be
 * observed flipping from vulnerable to fixed and back while patches are applied and reverted.
 *
 * Which bugs is chosen when it is compiled. By default, four fixed in OpenSSL 3.0.21 (the
 * tests on the pristine 3.0.20 build; compile with -I DATADIR for dhx_vectors.h):
 *
 *   45445 vulnerable|fixed     AES-OCB ignores the IV on the EVP_Cipher() path
 *   42770 vulnerable|fixed     DHX peer whose q was forged is accepted
 *   45447 vulnerable|fixed     PKCS7_verify() frees the caller's content BIO
 *   34182 vulnerable|fixed     CMS AuthEnvelopedData with a 1-byte tag decrypts
 *
 *   usage: probe DATADIR [--once] [--interval-ms N]
 *     DATADIR holds pkcs7-empty-digest-set.eml and authenv-tag1.der (the trigger data).
 *
 * With -DPROBE_3022, two fixed in OpenSSL 3.0.22 (open in Debian 12's 3.0.20-1~deb12u2; the
 * tests on Debian's own build):
 *
 *   63074 vulnerable|fixed   a CMP server context keeps the extraCerts of a rejected request
 *   75803 vulnerable|fixed   EVP_Cipher(ctx, out, NULL, 0) accepts a forged AEAD tag
 *                            (ChaCha20-Poly1305 and AES-128-OCB; vulnerable if either does)
 *
 *   63074: one CMP server context lives as long as the probe (a live patch stops further
 *   growth but does not shrink what is already cached, so each round compares the count of
 *   its untrusted certificates before and after one rejected request). The client has a
 *   wrong PBM secret and a fresh self-signed certificate in its extraCerts each round.
 *
 *   usage: probe_3022 [--once] [--interval-ms N]
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#ifdef PROBE_3022
#include <openssl/cmp.h>
#include <openssl/x509.h>
#else
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pkcs7.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PROBE_3022
#include "dhx_vectors.h"
#endif

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

struct probe_case {
	const char *name;
	enum verdict (*trigger)(void);
};

#ifdef PROBE_3022

/* ---- 63074 ---- */

static OSSL_CMP_SRV_CTX *srv;
static EVP_PKEY *client_key;

static int srv_genm(OSSL_CMP_SRV_CTX *ctx, const OSSL_CMP_MSG *genm,
		    const STACK_OF(OSSL_CMP_ITAV) *in, STACK_OF(OSSL_CMP_ITAV) **out)
{
	(void)ctx;
	(void)genm;
	(void)in;
	/* never reached for the probe's requests (they are rejected before), but a server
	 * context needs its general-message handler */
	*out = sk_OSSL_CMP_ITAV_new_null();
	return *out != NULL;
}

/* A fresh self-signed certificate (new serial each call): the server adds extraCerts with
 * X509_ADD_FLAG_NO_DUP, so the same certificate twice would not show growth. */
static X509 *fresh_cert(void)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	if (x == NULL || n == NULL
	    || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"probe", -1, -1, 0)
	    || !X509_set_version(x, X509_VERSION_3)
	    || !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++)
	    || !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n)
	    || !X509_gmtime_adj(X509_getm_notBefore(x), 0)
	    || !X509_gmtime_adj(X509_getm_notAfter(x), 3600)
	    || !X509_set_pubkey(x, client_key) || !X509_sign(x, client_key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(n);
	return x;
}

static int setup_63074(void)
{
	client_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	srv = OSSL_CMP_SRV_CTX_new(NULL, NULL);
	if (client_key == NULL || srv == NULL
	    || !OSSL_CMP_SRV_CTX_init(srv, NULL, NULL, NULL, srv_genm, NULL, NULL, NULL))
		return 0;
	OSSL_CMP_CTX *sctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
	static const unsigned char secret[] = "server-secret";
	return OSSL_CMP_CTX_set1_secretValue(sctx, secret, sizeof(secret) - 1)
	       && OSSL_CMP_CTX_set_log_cb(sctx, NULL);
}

static int quiet_log(const char *func, const char *file, int line, OSSL_CMP_severity level,
		     const char *msg)
{
	(void)func; (void)file; (void)line; (void)level; (void)msg;
	return 1;
}

static enum verdict trigger_63074(void)
{
	static const unsigned char wrong[] = "wrong-secret", ref[] = "probe-client";
	OSSL_CMP_CTX *sctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(srv);
	OSSL_CMP_CTX *c = OSSL_CMP_CTX_new(NULL, NULL);
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *cert = fresh_cert();
	enum verdict v;

	OSSL_CMP_CTX_set_log_cb(sctx, quiet_log);
	if (c == NULL || extra == NULL || cert == NULL || !sk_X509_push(extra, cert)
	    || !OSSL_CMP_CTX_set_log_cb(c, quiet_log)
	    || !OSSL_CMP_CTX_set1_referenceValue(c, ref, sizeof(ref) - 1)
	    || !OSSL_CMP_CTX_set1_secretValue(c, wrong, sizeof(wrong) - 1)
	    || !OSSL_CMP_CTX_set1_extraCertsOut(c, extra)
	    || !OSSL_CMP_CTX_set_transfer_cb(c, OSSL_CMP_CTX_server_perform)
	    || !OSSL_CMP_CTX_set_transfer_cb_arg(c, srv)) {
		if (sk_X509_num(extra) == 0)
			X509_free(cert);
		v = error_because("cannot set up the CMP client");
		goto out;
	}
	int before = sk_X509_num(OSSL_CMP_CTX_get0_untrusted(sctx));
	STACK_OF(OSSL_CMP_ITAV) *res = OSSL_CMP_exec_GENM_ses(c);
	int after = sk_X509_num(OSSL_CMP_CTX_get0_untrusted(sctx));
	if (res != NULL) {
		sk_OSSL_CMP_ITAV_pop_free(res, OSSL_CMP_ITAV_free);
		v = error_because("the server accepted a request with a wrong secret");
	} else {
		v = after > (before < 0 ? 0 : before) ? VULNERABLE : FIXED;
	}
out:
	sk_X509_pop_free(extra, X509_free);
	OSSL_CMP_CTX_free(c);
	return v;
}

/* ---- 75803 ---- */

/* 1 when EVP_Cipher(ctx, out, NULL, 0) accepts a bogus tag after AAD, 0 when it refuses,
 * -1 when the trigger could not run. */
static int empty_final_accepts(const char *name, int keylen, int ivlen)
{
	static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
	static const unsigned char iv[16] = "nonce-nonce-non";
	static const unsigned char aad[] = "header that the tag must cover";
	unsigned char tag[16], out[32];
	int l, r = -1;
	EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, name, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	memset(tag, 0x5a, sizeof(tag));
	(void)keylen;
	if (ciph != NULL && ctx != NULL && EVP_CipherInit_ex2(ctx, ciph, NULL, NULL, 0, NULL)
	    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, ivlen, NULL) > 0
	    && EVP_CipherInit_ex2(ctx, NULL, key, iv, 0, NULL)
	    && EVP_CipherUpdate(ctx, NULL, &l, aad, sizeof(aad))
	    && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) > 0)
		r = EVP_Cipher(ctx, out, NULL, 0) >= 0 ? 1 : 0;
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(ciph);
	return r;
}

static enum verdict trigger_75803(void)
{
	int chacha = empty_final_accepts("ChaCha20-Poly1305", 32, 12);
	int ocb = empty_final_accepts("AES-128-OCB", 16, 12);

	if (chacha < 0 || ocb < 0)
		return error_because(chacha < 0 ? "ChaCha20-Poly1305 trigger failed" : "AES-128-OCB trigger failed");
	return chacha || ocb ? VULNERABLE : FIXED;
}

/* ---- the cases, and what they need before the first round ---- */

static const struct probe_case cases[] = { { "63074", trigger_63074 }, { "75803", trigger_75803 } };
#define USAGE "usage: probe_3022 [--once] [--interval-ms N]\n"
#define FIRST_OPTION 1	/* the index of the first option in argv */

static void setup(char **argv)
{
	(void)argv;
	if (!setup_63074()) {
		fprintf(stderr, "probe_3022: cannot set up the CMP server context\n");
		exit(1);
	}
}

#else /* the 3.0.21 fixes */

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

/* ---- the cases, and what they need before the first round ---- */

static const struct probe_case cases[] = { { "45445", trigger_45445 }, { "42770", trigger_42770 },
					   { "45447", trigger_45447 }, { "34182", trigger_34182 } };
#define USAGE "usage: probe DATADIR [--once] [--interval-ms N]\n"
#define FIRST_OPTION 2

static void setup(char **argv)
{
	pkcs7_eml = read_all(argv[1], "pkcs7-empty-digest-set.eml", &pkcs7_eml_len);
	authenv_der = (unsigned char *)read_all(argv[1], "authenv-tag1.der", &authenv_der_len);
}

#endif

/* ---- main loop ---- */

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
	size_t c;
	int i;

	if (argc < FIRST_OPTION) {
		fprintf(stderr, USAGE);
		return 2;
	}
	for (i = FIRST_OPTION; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
			interval_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "unknown argument %s\n" USAGE, argv[i]);
			return 2;
		}
	}
	setup(argv);
	printf("probe pid %d, %s\n", (int)getpid(), OpenSSL_version(OPENSSL_VERSION));

	for (round = 1;; round++) {
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			report(cases[c].name, cases[c].trigger);
		printf("round %lu\n", round);
		fflush(stdout);
		if (once)
			return 0;
		struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

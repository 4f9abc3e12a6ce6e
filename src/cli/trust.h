/* SPDX-License-Identifier: Apache-2.0 */
/* Which signing keys this machine trusts, and which key signs new patches.
 *
 * Trusted public keys (PEM, Ed25519) come from, in order: --trusted-key options, the
 * colon-separated SUTURE_TRUSTED_KEYS environment variable (ignored when suture runs
 * with privileges another user handed it, see util/env.h), and every *.pem file in
 * /etc/suture/trusted-keys/. The signing key for `suture build` is --sign-key, else
 * SUTURE_SIGNING_KEY (the same rule).
 *
 * A key is trusted only if nobody but root (or the user suture runs as) could have
 * written it: the file, after symlinks are resolved, and every directory above it must
 * be owned by root or that user, and not writable by group or others (a directory with
 * the sticky bit, like /tmp, is allowed: others cannot replace what is in it). A key that
 * fails this, or cannot be read, is left out with a warning; the others still count. */
#ifndef SUTURE_CLI_TRUST_H
#define SUTURE_CLI_TRUST_H

#include <stddef.h>

#include "patch/patch.h"
#include "util/err.h"

#define SUT_TRUST_DIR "/etc/suture/trusted-keys"

/* The trusted keys that passed the checks, and why the others were left out. */
struct cli_trust {
	char **keys;      /* resolved paths */
	size_t nkeys;
	char **warnings;  /* one sentence per key left out, for the caller to print */
	size_t nwarnings;
};

/* Collects the extra keys plus the configured ones (never fails: see warnings). */
void cli_trust_load(struct cli_trust *t, const char *const *extra, size_t nextra);
/* Verifies p against the loaded keys. 0 when trusted (signer's key id in key_id_out). */
int cli_trust_check(const struct cli_trust *t, const struct sut_patch *p, char *key_id_out,
		    struct sut_err *err);
/* Prints each warning once ("suture: warning: ..."). */
void cli_trust_print_warnings(const struct cli_trust *t);
void cli_trust_free(struct cli_trust *t);

/* Is the file at path (resolved) safe to trust, as above? 0, or -1 with the reason. */
int cli_trust_safe_file(const char *path, char *resolved, size_t cap, struct sut_err *err);

/* The signing key configured in the environment, or NULL. */
const char *cli_default_signing_key(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Which signing keys this machine trusts, and which key signs new patches.
 *
 * Trusted public keys (PEM, Ed25519) come from, in order: --trusted-key options, the
 * colon-separated SUTURE_TRUSTED_KEYS environment variable, and every *.pem file in
 * /etc/suture/trusted-keys/. The signing key for `suture build` is --sign-key, else
 * SUTURE_SIGNING_KEY. */
#ifndef SUTURE_CLI_TRUST_H
#define SUTURE_CLI_TRUST_H

#include <stddef.h>

#include "patch/patch.h"
#include "util/err.h"

#define SUT_TRUST_DIR "/etc/suture/trusted-keys"

/* Verifies p against the extra keys plus the configured ones. 0 when trusted. */
int cli_trust_verify(const struct sut_patch *p, const char *const *extra, size_t nextra,
		     char *key_id_out, struct sut_err *err);

/* The signing key configured for this user (environment), or NULL. */
const char *cli_default_signing_key(void);

#endif

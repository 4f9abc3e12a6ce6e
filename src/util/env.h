/* SPDX-License-Identifier: Apache-2.0 */
/* Environment overrides, and whether they may be believed.
 *
 * suture honours a few SUTURE_* variables (trusted keys, audit log, state directory,
 * worker count, fault injection for tests). They are the caller's wishes, and the caller
 * may not be the one holding the privileges: under `sudo` (SUDO_UID names a user other
 * than the real one) or a set-id start (the kernel's AT_SECURE), the environment was
 * written by someone who is not root. Then every SUTURE_* variable is ignored, and only
 * command-line options count: an ordinary user must not be able to make root trust a key,
 * write its audit trail elsewhere, or kill itself mid-transaction by setting a variable.
 * The caller (cli) says which variables were ignored; this layer does not print. */
#ifndef SUTURE_UTIL_ENV_H
#define SUTURE_UTIL_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* True when the privileges were handed over by another user (see above). */
bool sut_env_handed_privileges(void);

/* getenv(name), or NULL when privileges were handed over or the value is empty. */
const char *sut_env(const char *name);

/* The SUTURE_* variables that are set and ignored (names, malloc'd array of pointers
 * into environ; *n entries). NULL with *n == 0 when nothing is ignored. */
const char **sut_env_ignored(size_t *n);

#endif

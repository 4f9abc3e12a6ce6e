/* SPDX-License-Identifier: Apache-2.0 */
/* The `store` layer: the patches this machine keeps applied, and the policy for them.
 *
 * Two folders hold signed patch files (ID.suture): the operator's (`suture store add`),
 * ROOT/var/lib/suture/patches/, and the packages' (`suture package`),
 * ROOT/usr/lib/suture/patches/. ROOT is "" on a real system; tests give their own. A file
 * enters the store's view only if it reads, validates and carries a signature from a
 * trusted key (invariant 4); any other file found in a store folder is listed as refused,
 * with the reason, and is never applied. A patch id found twice is refused the second time
 * (the operator's folder is read first).
 *
 * The policy file ROOT/etc/suture/suture.conf is a GLib key file (the INI dialect of
 * freedesktop.org desktop entries and of systemd units):
 *
 *   [patch ID]             policy of one patch: auto (applied everywhere by sutured, the
 *   policy=manual          default) or manual (kept, applied only on request)
 *   [exclude]              processes sutured never touches, as fnmatch(3) patterns:
 *   executables=/usr/bin/gdb;/opt/legacy/bin/x  the executable's path (/proc/PID/exe)
 *   units=postgresql*.service                   the systemd unit, from /proc/PID/cgroup
 *   cgroups=/system.slice/db.slice/x.scope      the cgroup path itself
 *   [daemon]
 *   rescan-ms=1000         bound on noticing a library loaded later with dlopen
 *   timeout-ms=5000        consistency timeout of the daemon's transactions
 *   kernel-hold=true       stop new processes at the target's first initialiser (eBPF)
 *   hold-terminal=false    ... also processes with a controlling terminal
 *   hold-paths=/opt/x/lib;/srv/libfoo.so   more folders (or files) where targets live
 *
 * The layer reads files and /proc/PID/{exe,cgroup}; it never writes into a process and
 * never prints. Signature checking is the caller's (a callback), so the daemon and the
 * command line trust exactly the same keys. */
#ifndef SUTURE_STORE_STORE_H
#define SUTURE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "patch/patch.h"
#include "util/err.h"

/* ---- paths ---- */
struct sut_store_paths {
	char *root;         /* "" or a prefix without trailing slash */
	char *operator_dir; /* ROOT/var/lib/suture/patches */
	char *package_dir;  /* ROOT/usr/lib/suture/patches */
	char *config;       /* ROOT/etc/suture/suture.conf */
	char *state_dir;    /* ROOT/var/lib/suture (sutured's list of patches it manages) */
	char *run_dir;      /* ROOT/run/suture (the control socket) */
	char *socket;       /* ROOT/run/suture/sutured.sock */
};
void sut_store_paths_init(struct sut_store_paths *p, const char *root);
void sut_store_paths_free(struct sut_store_paths *p);

/* ---- policy file ---- */
enum sut_policy { SUT_POLICY_AUTO = 0, SUT_POLICY_MANUAL = 1 };
const char *sut_policy_name(enum sut_policy p);
int sut_policy_parse(const char *s, enum sut_policy *out); /* 0 or -1 */

struct sut_policy_entry {
	char *id;
	enum sut_policy policy;
};

struct sut_conf {
	struct sut_policy_entry *patches;
	size_t npatches;
	char **exe_patterns, **unit_patterns, **cgroup_patterns; /* NULL-terminated */
	int rescan_ms;  /* default 1000 */
	int timeout_ms; /* default 5000 */
	bool kernel_hold;   /* [daemon] kernel-hold, default true (read when sutured starts) */
	bool hold_terminal; /* [daemon] hold-terminal, default false */
	char **hold_paths;  /* [daemon] hold-paths: more files or folders of targets */
};
/* Reads the policy file; a missing file gives the defaults. A malformed one is an error
 * naming the file, the line and the problem. */
int sut_conf_load(const char *path, struct sut_conf *out, struct sut_err *err);
void sut_conf_free(struct sut_conf *c);
enum sut_policy sut_conf_policy(const struct sut_conf *c, const char *id);
/* Sets (or, with remove, drops) the [patch ID] group of the file, keeping its comments
 * and everything else; written to a temporary file and renamed over the old one. */
int sut_conf_set_policy(const char *path, const char *id, enum sut_policy p,
			struct sut_err *err);
int sut_conf_forget_patch(const char *path, const char *id, struct sut_err *err);

/* Is pid excluded by the policy? 1 yes (why: which rule, e.g. "unit sshd.service matches
 * 'ssh*.service'"), 0 no, -1 the process could not be read (gone). */
int sut_conf_excludes(const struct sut_conf *c, pid_t pid, char *why, size_t cap);

/* The systemd unit of a cgroup path ("/system.slice/foo.service" -> "foo.service"; the
 * innermost component ending in .service, .scope, .socket, .mount, .swap, .slice), into
 * out; "" when there is none. Exposed for tests. */
void sut_cgroup_unit(const char *cgroup, char *out, size_t cap);

/* ---- the patches ---- */
enum sut_store_origin { SUT_STORE_OPERATOR = 0, SUT_STORE_PACKAGE = 1 };
const char *sut_store_origin_name(enum sut_store_origin o);

/* Checks a patch's signature against the trusted keys: 0 trusted (signer: key id), -1
 * not (err says why). */
typedef int (*sut_store_verify_fn)(const struct sut_patch *p, void *ctx, char *signer,
				   size_t cap, struct sut_err *err);

struct sut_store_entry {
	char *path;
	enum sut_store_origin origin;
	struct sut_patch *patch; /* NULL when refused */
	char signer[32];
	enum sut_policy policy;
	char *refused;           /* why the file is not in the store; NULL when accepted */
};

struct sut_store {
	struct sut_store_entry *v;
	size_t n;
};

/* Reads both folders (missing folders are empty). Fails only when a folder exists but
 * cannot be listed; bad files are entries with `refused` set. */
int sut_store_load(const struct sut_store_paths *paths, const struct sut_conf *conf,
		   sut_store_verify_fn verify, void *ctx, struct sut_store *out,
		   struct sut_err *err);
void sut_store_free(struct sut_store *s);
/* The accepted entry with this patch id, or NULL. */
const struct sut_store_entry *sut_store_find(const struct sut_store *s, const char *id);

/* Copies the patch file src into the operator's folder as ID.suture, after reading,
 * validating and verifying it (nothing unverified enters). *id_out: the patch id (malloc'd).
 * A patch of the same id already there is refused. */
int sut_store_add(const struct sut_store_paths *paths, const char *src,
		  sut_store_verify_fn verify, void *ctx, char **id_out, struct sut_err *err);
/* The same, replacing a patch of the same id already there (`suture store add --replace`). */
int sut_store_replace(const struct sut_store_paths *paths, const char *src,
		      sut_store_verify_fn verify, void *ctx, char **id_out, struct sut_err *err);
/* Removes patch `id` from the operator's folder. A patch that only a package installed is
 * refused with a message naming the package folder. */
int sut_store_remove(const struct sut_store_paths *paths, const char *id, struct sut_err *err);

#endif

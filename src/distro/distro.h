/* SPDX-License-Identifier: Apache-2.0 */
/* The `distro` layer: a distribution's own build of a library, reproduced exactly.
 *
 * For a Debian source package and version (openssl 3.0.20-1~deb12u2) it downloads the source
 * package and the official binary packages through a private apt configuration (its own
 * sources list with deb-src entries, lists folder and archive cache, under the cache folder;
 * the machine's apt configuration is never read for sources nor changed), installs the build
 * dependencies, unpacks the source as `dpkg-source -x` does (Debian's patches applied) in the
 * build daemons' path (/build/reproducible-path/SOURCE-UPSTREAM), configures and builds only
 * what the target needs with Debian's flags (dpkg-buildflags as debian/rules sets them) and
 * SOURCE_DATE_EPOCH from debian/changelog, and proves the rebuilt target is the official one:
 * the same GNU build-id, or every loaded section and the dynamic symbol table byte-identical
 * (what Debian strips, debug information and .symtab, is all that may differ; the patch then
 * names the official build-id).
 *
 * Invariants:
 * - A cache entry (CACHE/debian/SOURCE_VERSION/) that exists is complete and proved: it is
 *   built in a temporary sibling and renamed into place after its `facts` file is written; a
 *   failed or killed build leaves only the temporary folder, removed by the next run. Runs
 *   serialise on CACHE/debian/lock (flock, released by the kernel if suture dies).
 * - Nothing here prints: progress goes to the caller's callback, errors to struct sut_err
 *   (what differs, and what to do).
 * Knows nothing of processes. */
#ifndef SUTURE_DISTRO_DISTRO_H
#define SUTURE_DISTRO_DISTRO_H

#include <stdbool.h>
#include <stddef.h>

#include "build/build.h"
#include "util/err.h"

#define SUT_DISTRO_CACHE "/var/cache/suture"
#define SUT_DISTRO_BUILD_ROOT "/build/reproducible-path"

/* Progress: one human sentence per step, e.g. "building libcrypto.so.3 (about 2 minutes)". */
typedef void (*sut_distro_progress_fn)(void *arg, const char *msg);

struct sut_distro_opts {
	const char *source;  /* source package, e.g. "openssl" */
	const char *version; /* Debian version; NULL = the version installed on this machine */
	const char *target;  /* file name of the target, e.g. "libcrypto.so.3" */
	const char *cache;   /* NULL = $SUTURE_CACHE or SUT_DISTRO_CACHE */
	const char *build_root; /* NULL = SUT_DISTRO_BUILD_ROOT */
	int jobs;               /* parallel compile jobs; 0 = number of CPUs */
	bool no_build_deps;     /* do not install build dependencies (they must be present) */
	sut_distro_progress_fn progress;
	void *progress_arg;
};

/* How the rebuilt target was proved to be the official one. */
enum sut_distro_proof {
	SUT_PROOF_BUILD_ID = 1, /* the same GNU build-id */
	SUT_PROOF_SECTIONS = 2, /* build-ids differ; loaded sections and .dynsym identical */
};

/* A proved pristine build of one target, in the cache. */
struct sut_distro_build {
	char *source, *version;  /* openssl, 3.0.20-1~deb12u2 */
	char *binary_package;    /* the official package holding the target, e.g. libssl3 */
	char *entry;             /* the cache entry folder */
	char *tree;              /* entry/tree: the built source tree (`suture build --src`) */
	char *target_rel;        /* the target relative to tree, e.g. build_shared/libcrypto.so.3 */
	char *official;          /* the official (stripped) file, unpacked from the .deb */
	char *build_cmd;         /* shell command that rebuilds the target in a copy of tree */
	char official_build_id[129];
	char rebuilt_build_id[129];
	enum sut_distro_proof proof;
	long long source_date_epoch;
	bool cached;             /* the entry existed: nothing was downloaded or built */
	double secs_download, secs_deps, secs_build; /* of the first build (from facts) */
};

/* Finds or makes the proved pristine build of o->target. */
int sut_distro_prepare(const struct sut_distro_opts *o, struct sut_distro_build *b,
		       struct sut_err *err);
void sut_distro_build_free(struct sut_distro_build *b);

/* Splits "SOURCE[=VERSION]" (VERSION may be empty = installed); *source, *version allocated. */
int sut_distro_parse_spec(const char *spec, char **source, char **version, struct sut_err *err);

/* How a diff relates to the pristine tree (as dpkg-source -x left it). */
enum sut_diff_state {
	SUT_DIFF_APPLIES = 0,     /* applies exactly (offsets allowed, no fuzz) */
	SUT_DIFF_IN_SOURCE = 1,   /* already there: its reverse applies exactly (a backport) */
};
/* Dry runs of `patch -p1` on b->tree; a diff that neither applies nor is already in the
 * source is an error quoting patch's complaint. */
int sut_distro_check_diff(const struct sut_distro_build *b, const char *diff,
			  enum sut_diff_state *state, struct sut_err *err);

/* Builds a patch for the official target of b: sut_build on a copy of b->tree with
 * b->build_cmd; the rebuilt original is checked against b->official (sut_distro_compare)
 * before the diff is applied, and the patch names the official build-id and the package.
 * From o the caller gives the diff, output, id, CVEs, description, keep, per_call; src,
 * target, build_cmd and the checks are set here. Check the diff first
 * (sut_distro_check_diff): one already in the source makes no patch. */
struct sut_distro_debug {
	char *path;       /* the debug file used for the cross-check; NULL when none exists */
	size_t confirmed; /* replaced functions and bound target symbols it confirmed */
};
int sut_distro_build_patch(const struct sut_distro_build *b, const struct sut_build_opts *o,
			   struct sut_build_report *rep, struct sut_distro_debug *dbg,
			   struct sut_err *err);

/* Compares two builds of one ELF object: *same_id when their GNU build-ids are equal;
 * otherwise 0 only when every loaded section (SHF_ALLOC, contents, address, size, except
 * the build-id note) and the program headers are identical. A difference is reported with
 * what it is: the compiler (.comment), the flags or date OpenSSL embeds ("compiler:",
 * "built on:" strings), or the first differing section and offset. */
int sut_distro_compare(const char *official, const char *rebuilt, bool *same_id,
		       struct sut_err *err);

/* Debug information for a build-id: ROOT/.build-id/xx/yyyy.debug (ROOT: $SUTURE_DEBUG_ROOT,
 * default /usr/lib/debug), else through elfutils' debuginfod client when DEBUGINFOD_URLS is
 * set. 0 and *path (allocated) when found, 1 when there is none, -1 on error. */
int sut_distro_find_debuginfo(const char *build_id_hex, char **path, struct sut_err *err);

/* Cross-checks a patch's addresses against a debug file of its target: every replaced
 * function the debug .symtab names must be at the patch's address, and every target
 * function the patch binds to must be a function there. *checked counts what agreed. */
struct sut_patch;
int sut_distro_debug_check(const struct sut_patch *p, const char *debug_path, size_t *checked,
			   struct sut_err *err);

#endif

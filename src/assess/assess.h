/* SPDX-License-Identifier: Apache-2.0 */
/* The `assess` layer: what runs where, what is vulnerable, and proof that patches hold.
 *
 *   inventory  every process x every ELF object it maps: build-id, the path as the process
 *              sees it, whether the file on disk at that path is still the mapped one (same
 *              device and inode), the Debian package owning it, the OpenSSL version it
 *              reports, the process's network exposure, its live patches. Anything that is
 *              read from a file is read once per build-id (or per file now on disk), never
 *              once per process.
 *   vulns      vulnerability records in the OSV model, read from OSV JSON files or folders
 *              or imported from Debian's security-tracker JSON; versions compared with
 *              dpkg's ordering (Debian policy 5.6.12).
 *   verify     proof that a process runs the signed code of each patch its registry names:
 *              the jump at each entry, its destination inside the patch image, the image's
 *              code equal (SHA-256) to the signed patch re-linked for that process.
 *   verdicts   one per process and vulnerability: exposed, fixed by a live patch (verified),
 *              fixed on disk but the process runs the old code, not affected; ordered by
 *              severity, then exposure, then age.
 *
 * Invariants: nothing here writes into a process (DESIGN.md invariant 8: read-only
 * commands never do); everything read from a process is bounded and validated; a live
 * patch counts as a fix only when verify proved it, so a forged or stale registry can
 * never turn "exposed" into "fixed". Library code returns results; the cli prints. */
#ifndef SUTURE_ASSESS_ASSESS_H
#define SUTURE_ASSESS_ASSESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "patch/patch.h"
#include "util/err.h"

/* ---- Versions ---- */

/* dpkg's version comparison ([epoch:]upstream[-revision], '~' before everything, letters
 * before non-letters): <0, 0, >0 like strcmp. */
int sut_dpkg_vercmp(const char *a, const char *b);

/* ---- Verify ---- */

enum sut_vfy_kind {
	SUT_VFY_OK = 0,
	SUT_VFY_REGISTRY,   /* registry unreadable, corrupt, or a transaction left unfinished */
	SUT_VFY_STALE,      /* record names an object/bias the process does not map */
	SUT_VFY_NO_PATCH,   /* no trusted patch file with this id and build-id was given */
	SUT_VFY_FUNC,       /* the record's functions differ from the signed patch's */
	SUT_VFY_JUMP,       /* the entry does not hold the recorded jump into the image */
	SUT_VFY_IMAGE,      /* the image's code differs from the signed code as re-linked */
	SUT_VFY_MISSING,    /* the process maps a patched build without this patch */
};

/* One finding; function is "" when it concerns the whole record. */
struct sut_vfy_issue {
	enum sut_vfy_kind kind;
	char patch_id[SUT_PATCH_ID_MAX];
	char function[96];
	char msg[512];
};

/* One record of a process's registry and what verify found for it. */
struct sut_vfy_patch {
	char id[SUT_PATCH_ID_MAX];
	uint32_t version;
	uint8_t build_id[SUT_BUILD_ID_MAX];
	size_t build_id_len;
	char cves[256];        /* comma-separated, as recorded */
	size_t nfuncs;
	bool verified;         /* every check passed against a trusted patch file */
	char image_sha256[65]; /* of the image's code as read from the process ("" if unread) */
};

/* An object the process maps (for the cross-process check). */
struct sut_vfy_build {
	uint8_t id[SUT_BUILD_ID_MAX];
	size_t len;
	char path[256];
};

struct sut_vfy_result {
	pid_t pid;
	char comm[64];
	bool has_registry;
	bool registry_ok;      /* readable, consistent, no transaction in flight */
	struct sut_vfy_patch *patches;
	size_t npatches;
	struct sut_vfy_issue *issues;
	size_t nissues;
	struct sut_vfy_build *builds;
	size_t nbuilds;
};

/* Patches the caller trusts (signature already checked), to compare processes with. */
struct sut_patch_set {
	struct sut_patch **v;
	char **paths; /* where each came from, for messages */
	size_t n;
};

/* Verifies every record of pid's registry against `known` (patch id, version and build-id
 * must match) and checks that every patch in `known` whose build pid maps is applied.
 * Read-only. -1 only when pid cannot be read at all (gone); findings go to res. */
int sut_verify_process(pid_t pid, const struct sut_patch_set *known, struct sut_vfy_result *res,
		       struct sut_err *err);
void sut_vfy_result_free(struct sut_vfy_result *res);
/* Across processes: a patch verified in one process is missing from every other process of
 * the set that maps the same build (SUT_VFY_MISSING added there). */
void sut_verify_cross(struct sut_vfy_result *r, size_t n);
/* Did verify prove patch `id` in this process (record verified, registry sound)? */
bool sut_vfy_proved(const struct sut_vfy_result *r, const char *id);
const char *sut_vfy_kind_name(enum sut_vfy_kind k);

/* ---- Sockets ---- */

/* The inodes of the TCP sockets pid holds in LISTEN state (at most cap of them stored;
 * the count found is returned, -1 when its fds cannot be read). Read-only. */
int sut_proc_listening_inodes(pid_t pid, uint64_t *out, size_t cap);

/* ---- Inventory ---- */

/* What is known of one file, by build-id (mapped file) or device+inode (file on disk). */
struct sut_inv_file {
	uint8_t build_id[SUT_BUILD_ID_MAX];
	size_t build_id_len;
	char *package;        /* binary package, "libssl3:amd64"; NULL when dpkg does not know */
	char *version;        /* of that package */
	char *source;         /* its source package, "openssl" */
	char *ecosystem;      /* the OSV ecosystem of that package database, "Debian:12" */
	char *openssl;        /* "3.0.20" from the "OpenSSL 3.0.20 ..." string, or NULL */
	char *openssl_text;   /* the whole string, "OpenSSL 3.0.20 27 Jan 2026" */
	bool on_disk;         /* a file now on disk that no process maps (it replaced one) */
	uint64_t dev, ino;    /* of the file (the mapping's device and inode) */
	char *path;           /* a path it was seen at */
};

/* One object in one process. */
struct sut_inv_obj {
	char *path;          /* as the process sees it, " (deleted)" stripped */
	bool deleted;
	bool on_disk_same;   /* the file now at path (in the process's root) is the mapped one */
	size_t file;         /* index into inv->files: the mapped file */
	long disk_file;      /* index into inv->files of the file now at path when it differs
				and is readable, else -1 */
	uint64_t bias;
};

struct sut_inv_proc {
	pid_t pid;
	char comm[64];
	uid_t euid;
	uint64_t mntns, netns;
	unsigned listening;   /* TCP sockets in LISTEN, bound unconnected UDP sockets */
	unsigned established; /* TCP connections established, connected UDP sockets */
	bool external;        /* listens on or talks to a non-loopback address */
	struct sut_inv_obj *objs;
	size_t nobjs;
	struct sut_vfy_result vfy; /* its registry, verified against the known patches */
};

struct sut_inventory {
	struct sut_inv_proc *procs;
	size_t nprocs;
	struct sut_inv_file *files;
	size_t nfiles;
	size_t files_read; /* distinct files opened to learn versions (for the benchmark) */
	struct sut_inv_skip *skipped; /* processes left out, and why */
	size_t nskipped;
};

/* A process the inventory could not read (it exited, or its maps or objects could not be
 * read): the reason names the file and what was wrong with it. */
struct sut_inv_skip {
	pid_t pid;
	char *reason;
};

struct sut_inv_opts {
	const pid_t *pids; /* only these processes; all when npids == 0 */
	size_t npids;
	bool dpkg;         /* ask dpkg-query who owns the files */
};

/* Builds the inventory. Processes that vanish or cannot be read are left out, each with its
 * reason in inv->skipped. */
int sut_inventory_build(const struct sut_inv_opts *o, const struct sut_patch_set *known,
			struct sut_inventory *inv, struct sut_err *err);
void sut_inventory_free(struct sut_inventory *inv);

/* The "X.Y.Z" version in an "OpenSSL X.Y.Z[...] DATE" string found in data, copied into
 * ver (and the whole string into text); false when none. Pure, for the unit tests. */
bool sut_openssl_version_in(const uint8_t *data, size_t len, char *ver, size_t vcap,
			    char *text, size_t tcap);

/* ---- Vulnerability records (OSV model) ---- */

enum sut_range_type { SUT_RANGE_ECOSYSTEM = 0, SUT_RANGE_SEMVER = 1 };

struct sut_range {
	enum sut_range_type type;
	char *introduced; /* "0" = from the beginning */
	char *fixed;      /* NULL = not fixed */
	char *last_affected;
};

/* One affected[] entry: a package in an ecosystem, with ranges and listed versions. */
struct sut_affected {
	char *ecosystem; /* "Debian:12", "OpenSSL" (upstream; also "" with purl pkg:generic/openssl) */
	char *name;      /* source package for Debian, "openssl" upstream */
	char *purl;
	struct sut_range *ranges;
	size_t nranges;
	char **versions;
	size_t nversions;
};

struct sut_vuln {
	char *id;        /* the record's id */
	char *cve;       /* the CVE id among id and aliases (id when none is a CVE) */
	char **aliases;
	size_t naliases;
	char *summary;
	char *published; /* RFC 3339 or NULL */
	int severity;    /* 0 unknown, 1 low, 2 moderate/medium, 3 high, 4 critical */
	double cvss;     /* CVSS v3 base score when a vector was given, else 0 */
	struct sut_affected *affected;
	size_t naffected;
	char *source;    /* the file it came from */
};

struct sut_vulndb {
	struct sut_vuln *v;
	size_t n;
};

/* Reads an OSV file (one record, an array of records, or {"vulns": [...]}) or every
 * *.json file of a folder. Records with the same CVE are merged (affected[] joined). */
int sut_osv_load(struct sut_vulndb *db, const char *path, struct sut_err *err);
/* Imports Debian's security-tracker JSON ({source: {CVE: {releases: {codename: ...}}}}):
 * one affected entry per release, ecosystem "Debian:N". */
int sut_debian_tracker_load(struct sut_vulndb *db, const char *path, struct sut_err *err);
void sut_vulndb_free(struct sut_vulndb *db);

/* Does this affected entry cover `version` of `name` in `ecosystem`? */
bool sut_affected_matches(const struct sut_affected *a, const char *ecosystem, const char *name,
			  const char *version);
/* Is file f affected by v? 1 affected, 0 not, -1 unknown (nothing about f is known that
 * v speaks of). A Debian-owned file is judged by the records of its ecosystem (f->ecosystem,
 * the host's release, e.g. Debian:12) for its source package only (Debian backports fixes
 * without changing the upstream version); other files by the upstream OpenSSL version they
 * report. */
int sut_vuln_affects(const struct sut_vuln *v, const struct sut_inv_file *f);

/* ---- Verdicts ---- */

enum sut_verdict {
	SUT_V_NOT_AFFECTED = 0,
	SUT_V_FIXED_LIVE,      /* a verified live patch naming the CVE covers the object */
	SUT_V_FIXED_ON_DISK,   /* the file on disk is fixed; this process runs the old code */
	SUT_V_EXPOSED,
};

struct sut_finding {
	size_t proc;          /* index into inv->procs */
	size_t vuln;          /* index into db->v */
	size_t obj;           /* index into the process's objs: the affected object */
	enum sut_verdict verdict;
	char live_patch[SUT_PATCH_ID_MAX];  /* fixed-live: the patch; exposed: one in the store */
	char unproven[SUT_PATCH_ID_MAX];    /* a recorded patch naming the CVE that verify did
					       not prove (altered, stale, unknown), or "" */
	int exposure;         /* score: listening/established 2, external 2, root 1 */
};

struct sut_assessment {
	struct sut_finding *v; /* most urgent first; not_affected pairs are not listed */
	size_t n;
};

/* One verdict per process and vulnerability that touches one of its objects, sorted:
 * exposed and fixed-on-disk first, then by severity, exposure, age (oldest published
 * first). `store` names patches that could be applied (for the action). */
int sut_assess(const struct sut_inventory *inv, const struct sut_vulndb *db,
	       const struct sut_patch_set *store, struct sut_assessment *out, struct sut_err *err);
void sut_assessment_free(struct sut_assessment *a);

/* What a VEX document may say of one build (product) and one vulnerability. */
enum sut_vex_status {
	SUT_VEX_AFFECTED = 0,     /* some process mapping the build runs the vulnerable code */
	SUT_VEX_MITIGATED,        /* every process mapping it runs a verified live patch */
	SUT_VEX_FIXED,            /* the build's version is past the fix */
	SUT_VEX_NOT_PRESENT,      /* nothing on the host is of the affected package */
};

struct sut_vex_stmt {
	size_t vuln;
	long file;                /* index into inv->files; -1 for SUT_VEX_NOT_PRESENT */
	enum sut_vex_status status;
	size_t nprocs, npatched;  /* processes mapping the build, and how many are patched */
	char patches[512];        /* the verified live patches, comma-separated */
	char action[SUT_PATCH_ID_MAX]; /* a store patch for this build and CVE, or "" */
};

/* One statement per vulnerability and build it is about (and one "not present" statement
 * for a vulnerability that touches nothing here). MITIGATED only when every process mapping
 * the build has the CVE fixed by a patch verify proved. */
int sut_vex_statements(const struct sut_inventory *inv, const struct sut_vulndb *db,
		       const struct sut_patch_set *store, struct sut_vex_stmt **out, size_t *n);
const char *sut_verdict_name(enum sut_verdict v);

#endif

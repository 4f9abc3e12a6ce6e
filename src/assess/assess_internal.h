/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces shared inside the assess layer. Internal: other layers use assess.h only. */
#ifndef SUTURE_ASSESS_ASSESS_INTERNAL_H
#define SUTURE_ASSESS_ASSESS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "assess/assess.h"
#include "proc/proc.h"

/* A process's registry, decoded and bounds-checked, every string NUL-terminated. This is
 * the only view of the apply layer's registry the assess layer uses (registry_view.c). */
struct sut_rv_func {
	uint64_t addr, size, repl, repl_size;
	uint8_t saved[SUT_JMP_LEN], written[SUT_JMP_LEN];
	char name[96];
};

struct sut_rv_patch {
	char id[SUT_PATCH_ID_MAX];
	uint32_t version;
	uint8_t build_id[SUT_BUILD_ID_MAX];
	size_t build_id_len;
	uint64_t bias, region, region_size;
	char cves[256];
	struct sut_rv_func *funcs;
	size_t nfuncs;
};

struct sut_rv {
	bool found;     /* the process has a registry mapping */
	bool idle;      /* no transaction left in flight */
	unsigned tool_pid;
	struct sut_rv_patch *v;
	size_t n;
};

/* 0 (rv->found false when there is no registry), -1 corrupt or unreadable registry. */
int sut_rv_read(pid_t pid, const struct sut_maps *maps, struct sut_rv *rv, struct sut_err *err);
void sut_rv_free(struct sut_rv *rv);
/* Index of the newest record naming a function at addr, or -1. */
long sut_rv_owner(const struct sut_rv *rv, uint64_t addr);

/* SHA-256 hex of len bytes (65 bytes out). */
void sut_sha256_hex(const void *data, size_t len, char out[65]);

/* The Debian package owning each path (dpkg-query -S, one call for all), then the
 * version and source of each package (dpkg-query -W, one call). pkg/ver/src[i] are
 * malloc'd or NULL. */
void sut_dpkg_owners(char *const *paths, size_t n, char **pkg, char **ver, char **src);

/* Network exposure of pid from its sockets and /proc/PID/net/tcp{,6}, read once per
 * network namespace (the cache lives in ctx). */
struct sut_netcache;
struct sut_netcache *sut_netcache_new(void);
void sut_netcache_free(struct sut_netcache *c);
void sut_proc_exposure(struct sut_netcache *c, pid_t pid, uint64_t netns, unsigned *listening,
		       unsigned *established, bool *external);

#endif

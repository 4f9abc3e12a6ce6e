/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces shared inside the assess layer. Internal: other layers use assess.h only. */
#ifndef SUTURE_ASSESS_ASSESS_INTERNAL_H
#define SUTURE_ASSESS_ASSESS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "assess/assess.h"
#include "proc/proc.h"

/* The host's OSV ecosystem, from /etc/os-release ("Debian:12"; that when it says nothing
 * else), into eco (cap bytes). */
void sut_host_ecosystem(char *eco, size_t cap);

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

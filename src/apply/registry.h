/* SPDX-License-Identifier: Apache-2.0 */
/* The registry: the record of applied patches kept inside the target process.
 *
 * It lives in a private mapping of a memfd named "suture-registry", so /proc/PID/maps
 * shows "/memfd:suture-registry (deleted)". The process is the source of truth: status
 * needs no daemon, a tool restart loses nothing, and a forked child inherits its parent's
 * patched code together with the record of it (MAP_PRIVATE: the copies then diverge).
 * The tool writes it through /proc/PID/mem; the process never touches it.
 *
 * Layout (little-endian, all fields naturally aligned): a header, then npatches records in
 * application order (oldest first), each a struct sut_reg_patch followed by nfuncs
 * struct sut_reg_func. The stack rule: for a given function address the newest record that
 * names it owns the live jump; each record's `saved` bytes are what was at the address just
 * before that record's jump was written (for a stacked function, the lower patch's jump).
 *
 * A transaction in flight is journalled in the header (state + the pending record) before
 * the first byte of code is written, so a tool killed mid-way leaves enough for the next
 * run to repair (see apply/repair.c). */
#ifndef SUTURE_APPLY_REGISTRY_H
#define SUTURE_APPLY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/proc.h"
#include "util/err.h"

#define SUT_REG_NAME "suture-registry"
#define SUT_REG_MAGIC "SUTUREG1"
#define SUT_REG_VERSION 1
#define SUT_REG_SIZE (256 * 1024)

enum sut_reg_state {
	SUT_REG_IDLE = 0,
	SUT_REG_APPLYING = 1,  /* pending record = the last one (not yet counted) */
	SUT_REG_REVERTING = 2, /* pending = record index `pending_index` being removed */
};

struct sut_reg_header {
	char magic[8];
	uint32_t version;
	uint32_t size;       /* bytes of the mapping */
	uint64_t generation; /* +1 at every committed transaction */
	uint32_t state;      /* enum sut_reg_state */
	uint32_t npatches;   /* committed records */
	uint32_t used;       /* bytes of records after the header (committed ones) */
	uint32_t pending_index;
	uint64_t txn_started;/* CLOCK_REALTIME seconds of the transaction in flight */
	uint32_t tool_pid;   /* the suture process running that transaction */
	uint32_t reserved;
};

struct sut_reg_func {
	uint64_t addr;      /* function entry in the process */
	uint64_t size;      /* original function size */
	uint64_t repl;      /* replacement entry */
	uint64_t repl_size;
	uint8_t saved[8];   /* first 5 bytes before this record's jump */
	uint8_t written[8]; /* the 5-byte jump this record wrote */
	char name[96];
};

struct sut_reg_patch {
	uint32_t rec_size; /* bytes of this record including its funcs */
	uint32_t nfuncs;
	char id[128];
	uint32_t version;
	uint32_t flags;    /* bit0: per-call consistency */
	uint8_t build_id[64];
	uint32_t build_id_len;
	uint32_t reserved;
	uint64_t bias;     /* target load bias when applied */
	uint64_t region;   /* patch image address */
	uint64_t region_size;
	uint64_t applied_at; /* CLOCK_REALTIME seconds */
	char cves[256];    /* comma-separated */
	char target[128];  /* target name, informational */
	/* struct sut_reg_func funcs[nfuncs] follow */
};

/* A registry read out of a process, or built up in memory before being written back. */
struct sut_registry {
	uint64_t addr; /* address of the mapping in the process; 0 if none yet */
	struct sut_reg_header hdr;
	uint8_t *records; /* hdr.used bytes (plus the pending record while one is in flight) */
	size_t records_len;
	size_t pending_len; /* bytes of an interrupted apply's record after hdr.used, 0 if none */
};

/* Reads the registry of pid. No registry mapping is not an error: *found = false.
 * A mapping with a bad magic/version or inconsistent sizes is an error. */
int sut_registry_read(pid_t pid, const struct sut_maps *maps,
		      struct sut_registry *reg, bool *found, struct sut_err *err);
void sut_registry_free(struct sut_registry *reg);

/* Is patch `id` applied in pid (maps: pid's current maps)? false when unreadable. */
bool sut_registry_has(pid_t pid, const struct sut_maps *maps, const char *id);

/* Iterates committed records: returns the i-th record or NULL. */
const struct sut_reg_patch *sut_registry_patch(const struct sut_registry *reg, size_t i);
static inline const struct sut_reg_func *sut_reg_funcs(const struct sut_reg_patch *p)
{
	return (const struct sut_reg_func *)(p + 1);
}
/* Index of the committed record with this patch id, or -1. */
long sut_registry_find(const struct sut_registry *reg, const char *id);
/* The newest committed record (index > after, or any when after < 0) naming addr, or -1. */
long sut_registry_owner(const struct sut_registry *reg, uint64_t addr, long after);
/* The bytes that were at addr before any recorded patch (bottom of the stack); NULL if no
 * record names addr. */
const uint8_t *sut_registry_original(const struct sut_registry *reg, uint64_t addr);

/* Serialises header + records into buf (hdr.size bytes max). Returns bytes used or -1. */
long sut_registry_encode(const struct sut_registry *reg, uint8_t *buf, size_t cap,
			 struct sut_err *err);

#endif

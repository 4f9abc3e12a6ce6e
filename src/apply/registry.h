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
 * run to repair (see apply/repair.c).
 *
 * Internal to the apply layer: callers outside it use the decoded status view of apply.h. */
#ifndef SUTURE_APPLY_REGISTRY_H
#define SUTURE_APPLY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/proc.h"
#include "util/err.h"

#define SUT_REG_NAME "suture-registry"
/* A patch image's memfd is named SUT_PATCH_MEMFD_PREFIX + the patch id; its mapping shows
 * as "/memfd:" SUT_PATCH_MEMFD_PREFIX "ID" (" (deleted)"). */
#define SUT_PATCH_MEMFD_PREFIX "suture:"
#define SUT_PATCH_MAP_PREFIX "/memfd:" SUT_PATCH_MEMFD_PREFIX
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
	uint8_t saved[8];   /* first SUT_JMP_LEN bytes before this record's jump */
	uint8_t written[8]; /* the jump (SUT_JMP_LEN bytes) this record wrote */
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

/* flags of struct sut_reg_patch */
#define SUT_REG_FLAG_PER_CALL 1u

/* A registry read out of a process, or built up in memory before being written back. */
struct sut_registry {
	uint64_t addr; /* address of the mapping in the process; 0 if none yet */
	struct sut_reg_header hdr;
	uint8_t *records; /* hdr.used bytes (plus the pending record while one is in flight) */
	size_t records_len;
	size_t pending_len; /* bytes of an interrupted apply's record after hdr.used, 0 if none */
	bool corrupt;       /* set by a failed read when the mapping fails validation */
};

/* The registry is untrusted input: any process can map a memfd named "suture-registry"
 * and write what it likes into it, including the journal. Before any field is used the
 * whole image is validated (sut_registry_decode): the mapping has exactly SUT_REG_SIZE
 * bytes and lives on the kernel's memfd file system, magic/version/state are known
 * values, records tile `used` exactly with rec_size == header + nfuncs funcs, every
 * length is within its field, every string is NUL-terminated inside its field, ids and
 * CVEs have the syntax the patch reader enforces, every jump is the rel32 jump from the
 * entry to the replacement and every replacement lies inside the record's region, and
 * the journal names an existing record (revert) or holds one more valid record (apply).
 * Anything else makes the registry corrupt: it is reported by process and mapping and
 * never used. Validation is linear in the image size. */

/* Decodes and validates a registry image without any process: `bytes` holds the header
 * and what follows it (at least the used bytes, plus the pending record of an
 * interrupted apply), `map_size` is the size of the mapping the image came from. On
 * success reg holds a copy (free with sut_registry_free) and 0 is returned; otherwise -1
 * with err saying what is wrong, and reg holds nothing. */
int sut_registry_decode(const uint8_t *bytes, size_t len, uint64_t map_size,
			struct sut_registry *reg, struct sut_err *err);

/* Reads the registry of pid. No registry mapping is not an error: *found = false.
 * A registry that fails validation is an error with reg->corrupt set and a message
 * naming the process and the mapping; one that cannot be read is an error with
 * reg->corrupt clear. */
int sut_registry_read(pid_t pid, const struct sut_maps *maps,
		      struct sut_registry *reg, bool *found, struct sut_err *err);
void sut_registry_free(struct sut_registry *reg);

/* Iterates committed records: returns the i-th record or NULL (O(i): loops over all
 * records walk them with sut_registry_next instead). */
const struct sut_reg_patch *sut_registry_patch(const struct sut_registry *reg, size_t i);
/* The record after p (p NULL: the first), or NULL after the last committed one. */
const struct sut_reg_patch *sut_registry_next(const struct sut_registry *reg,
					      const struct sut_reg_patch *p);
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

/* Whether each committed record is true now (DESIGN.md invariant 8: never report
 * "patched" for code that is not). A record is live when the object with its build-id
 * is mapped at its recorded bias with every function address inside that object, its
 * patch memory is still mapped, and every entry it owns (it is the newest record naming
 * the address) holds the jump it wrote. Otherwise it is stale and why[i] says why (a
 * library unloaded or reloaded, entry bytes overwritten). Reads SUT_JMP_LEN bytes per owned entry
 * from pid; writes nothing. live and why have hdr.npatches entries; superseded, when
 * not NULL, gets one flag per function in record order (a newer record owns its jump).
 * O(F log F) in the number of functions. */
struct sut_reg_liveness {
	bool live;
	char why[200];
};
int sut_registry_liveness(pid_t pid, const struct sut_registry *reg,
			  const struct sut_maps *maps, const struct sut_objects *objs,
			  struct sut_reg_liveness *out, bool *superseded, struct sut_err *err);
/* The object with p's build-id mapped at p's recorded bias, or NULL. */
const struct sut_object *sut_registry_object(const struct sut_objects *objs,
					     const struct sut_reg_patch *p);
/* Total functions over all committed records. */
size_t sut_registry_nfuncs(const struct sut_registry *reg);

/* Removes the committed records whose drop[i] is set (records that are stale: no jump
 * of theirs is live). A function a newer kept record also names inherits the dropped
 * record's saved bytes, as in a revert, so the stack stays consistent. Returns the
 * number removed. Only the in-memory registry changes: the caller writes it back. */
size_t sut_registry_drop(struct sut_registry *reg, const bool *drop);

/* Serialises header + records into buf (hdr.size bytes max). Returns bytes used or -1. */
long sut_registry_encode(const struct sut_registry *reg, uint8_t *buf, size_t cap,
			 struct sut_err *err);

#endif

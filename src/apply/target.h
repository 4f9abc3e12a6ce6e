/* SPDX-License-Identifier: Apache-2.0 */
/* A process seen as the home of one target object: its maps, its objects, the object with
 * the patch's build-id, and the symbol resolver the link layer calls back. Internal to the
 * apply layer. */
#ifndef SUTURE_APPLY_TARGET_H
#define SUTURE_APPLY_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "patch/patch.h"
#include "proc/proc.h"
#include "util/err.h"

struct sut_target {
	pid_t pid;
	char comm[32];
	char label[64]; /* "pid 123 (comm)" for messages, set by sut_target_open */
	struct sut_maps maps;
	struct sut_objects objs;
	const struct sut_object *obj; /* NULL until found */
	struct sut_elf **elf_cache;   /* per objs index, opened on demand for EXTERN lookups */
	uint64_t *order;              /* link-map biases, loaded on demand */
	size_t norder;
};

/* Reads maps and objects. When build_id is non-NULL, finds that object or fails with a
 * message naming the process and the build-id. */
int sut_target_open(pid_t pid, const uint8_t *build_id, size_t len, struct sut_target *t,
		    struct sut_err *err);
/* Re-reads maps (objects are kept: they cannot change while we hold the process). */
int sut_target_refresh_maps(struct sut_target *t, struct sut_err *err);
void sut_target_close(struct sut_target *t);

/* sut_link_resolve_fn for a struct sut_target. */
int sut_target_resolve(void *ctx, const struct sut_patch_symbol *sym, uint64_t *addr,
		       struct sut_err *err);

/* The implementation an IFUNC symbol of object objs.v[obj] (its resolver at `resolver`, an
 * ELF vaddr) resolves to in this process: read from the GOT slot of that object's own
 * IRELATIVE relocation for the resolver, which the dynamic linker filled at load time.
 * Fails, naming the symbol and the object, when there is none; suture never runs a
 * resolver (bind_ifunc.c says why). */
int sut_target_resolve_ifunc(struct sut_target *t, size_t obj, uint64_t resolver,
			     const struct sut_patch_symbol *sym, uint64_t *addr,
			     struct sut_err *err);

/* Whether [lo, lo + rx + rw) is covered without a hole by one mapping after another of
 * the memfd `name` at matching offsets, the first rx bytes with permissions rx_perms
 * ("r-xp"), the rest with rw_perms (NULL: any): what staging left is still there. */
bool sut_maps_holds_memfd(const struct sut_maps *m, const char *name, uint64_t lo, uint64_t rx,
			  const char *rx_perms, uint64_t rw, const char *rw_perms);

/* The split-off parts of function `name` (file: its STT_FILE scope when local, else NULL)
 * in t->obj, found by symbol name in the object's .symtab (or in its debug file when
 * stripped): NAME.cold, NAME.part.N and combinations (NAME.part.0.cold...). GCC moves an
 * unlikely path or an outlined piece of a function there; an activation of the function
 * may be executing in them. Appends runtime [lo, hi) pairs to *out (*n of them, grown
 * as needed). An object without symbols has none to find. */
void sut_target_fragments(struct sut_target *t, const char *name, const char *file,
			  uint64_t (**out)[2], size_t *n);

/* "pid 123 (comm)" for messages: t->label, valid as long as t is. */
const char *sut_target_label(const struct sut_target *t);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Binding a new reference to an IFUNC (STT_GNU_IFUNC: glibc's strlen, memcpy, strchrnul...).
 *
 * The value of an IFUNC symbol is the address of its resolver, a function that returns the
 * implementation to use (chosen from the CPU's features and the process's tunables). A call
 * bound to the symbol's value would run the resolver with the caller's arguments and return
 * a code address as the result: a signed patch computing garbage. What the program itself
 * calls is the resolver's result, which the dynamic linker stored when the object was
 * loaded. suture binds to that stored result and nothing else:
 *
 * - the target's own GOT slot for the name, when it has one (build time: SUT_SYM_TARGET_GOT,
 *   exactly what the program uses, interposition included);
 * - else the defining object's own IRELATIVE slot for that resolver: glibc calls most of its
 *   string functions internally through such slots, so libc.so.6 holds the resolved strlen,
 *   memcpy or strchrnul of this very process (45 of the 58 IFUNCs of Debian 12's glibc);
 * - else a GOT slot of any loaded object for that name whose value is code of the defining
 *   object (the program's own bound `strstr`, say), when that object defines the name only
 *   once: the dynamic linker put the resolver's result there. A slot not yet bound (lazy
 *   binding: it still points into its own object's PLT) or bound to another object's
 *   definition (an interposer) does not qualify;
 * - else the reference is refused, naming the symbol and the object.
 *
 * suture never runs a resolver itself. Running it in suture's own process gives suture's
 * choice, not the target's (another glibc build, other hardware capabilities masked by
 * GLIBC_TUNABLES in the target's environment); running it in the target means executing
 * the target's code on a borrowed thread, with whatever locks and signal state that thread
 * has, outside the dynamic linker's ordering guarantees. A value the dynamic linker already
 * computed in this process needs neither and is what the program's own calls use. */
#include <inttypes.h>

#include "apply/target.h"
#include "elf/elf.h"

/* An implementation in the defining object's code, other than the resolver itself. */
static bool is_implementation(const struct sut_object *o, uint64_t resolver, uint64_t v)
{
	return v != o->bias + resolver && v >= o->text_lo && v < o->text_hi;
}

/* 1 and *addr set when some loaded object's GOT slot for the name holds an implementation
 * of objs.v[obj]'s only definition of it. Objects that cannot be read are skipped. */
static int bound_elsewhere(struct sut_target *t, size_t obj, uint64_t resolver,
			   const struct sut_patch_symbol *sym, uint64_t *addr)
{
	const struct sut_object *d = &t->objs.v[obj];
	if (sut_elf_count_dynsym_defs(t->elf_cache[obj], sym->name) != 1)
		return 0; /* several versions: a slot may hold another version's choice */
	for (size_t i = 0; i < t->objs.n; i++) {
		if (i == obj)
			continue;
		if (!t->elf_cache[i]) {
			struct sut_err e2;
			if (sut_elf_open(t->objs.v[i].open_path, &t->elf_cache[i], &e2) < 0)
				continue;
		}
		uint64_t slot, v = 0;
		struct sut_err e2;
		if (sut_elf_got_slot(t->elf_cache[i], sym->name, &slot) != 1 ||
		    sut_proc_read(t->pid, t->objs.v[i].bias + slot, &v, sizeof v, &e2) < 0)
			continue;
		if (is_implementation(d, resolver, v)) {
			*addr = v;
			return 1;
		}
	}
	return 0;
}

int sut_target_resolve_ifunc(struct sut_target *t, size_t obj, uint64_t resolver,
			     const struct sut_patch_symbol *sym, uint64_t *addr,
			     struct sut_err *err)
{
	const struct sut_object *o = &t->objs.v[obj];
	uint64_t slot;
	if (sut_elf_irelative_slot(t->elf_cache[obj], resolver, &slot) != 1) {
		if (bound_elsewhere(t, obj, resolver, sym, addr) == 1)
			return 0;
		return sut_errf(err,
				"%s: %s is an IFUNC of %s and nothing in the process holds the "
				"implementation its resolver chose (no IRELATIVE slot for it in %s, "
				"no bound GOT slot for it in any loaded object); suture does not "
				"run resolvers",
				sut_target_label(t), sym->name, o->path, o->path);
	}
	uint64_t v = 0;
	if (sut_proc_read(t->pid, o->bias + slot, &v, sizeof v, err) < 0)
		return sut_err_wrap(err, "%s: reading the IRELATIVE slot of %s in %s",
				    sut_target_label(t), sym->name, o->path);
	/* The slot is written by the dynamic linker before the program runs, and is in
	 * RELRO memory in every glibc build; still, what the process holds is checked:
	 * it must be code of that object, not the resolver itself. */
	if (!is_implementation(o, resolver, v))
		return sut_errf(err,
				"%s: the IRELATIVE slot of %s in %s holds 0x%" PRIx64
				", which is not an implementation in that object's code",
				sut_target_label(t), sym->name, o->path, v);
	*addr = v;
	return 0;
}

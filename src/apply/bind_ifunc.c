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

int sut_target_resolve_ifunc(struct sut_target *t, size_t obj, uint64_t resolver,
			     const struct sut_patch_symbol *sym, uint64_t *addr,
			     struct sut_err *err)
{
	const struct sut_object *o = &t->objs.v[obj];
	uint64_t slot;
	if (sut_elf_irelative_slot(t->elf_cache[obj], resolver, &slot) != 1)
		return sut_errf(err,
				"%s: %s is an IFUNC of %s and nothing in the process holds the "
				"implementation its resolver chose (neither the target nor %s has "
				"a GOT slot for it); suture does not run resolvers",
				sut_target_label(t), sym->name, o->path, o->path);
	uint64_t v = 0;
	if (sut_proc_read(t->pid, o->bias + slot, &v, sizeof v, err) < 0)
		return sut_err_wrap(err, "%s: reading the IRELATIVE slot of %s in %s",
				    sut_target_label(t), sym->name, o->path);
	/* The slot is written by the dynamic linker before the program runs, and is in
	 * RELRO memory in every glibc build; still, what the process holds is checked:
	 * it must be code of that object, not the resolver itself. */
	if (v == o->bias + resolver || v < o->text_lo || v >= o->text_hi)
		return sut_errf(err,
				"%s: the IRELATIVE slot of %s in %s holds 0x%" PRIx64
				", which is not an implementation in that object's code",
				sut_target_label(t), sym->name, o->path, v);
	*addr = v;
	return 0;
}

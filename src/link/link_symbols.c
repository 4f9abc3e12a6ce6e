/* SPDX-License-Identifier: Apache-2.0 */
/* Symbol binding: the final address of each patch symbol. */
#include "link/link_passes.h"

int sut_link_bind_symbols(const struct sut_patch *p, const struct sut_link_layout *lay,
			  const struct sut_link_env *env, uint64_t *sym_addr, struct sut_err *err)
{
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *s = &p->symbols[i];
		const char *name = s->name ? s->name : "(unnamed)";
		sym_addr[i] = 0;
		switch (s->kind) {
		case SUT_SYM_LOCAL:
			if (s->section >= p->nsections)
				return sut_errf(err, "symbol %s: section index %u out of range",
						name, s->section);
			sym_addr[i] = env->place + lay->sec_off[s->section] + s->value;
			break;
		case SUT_SYM_TARGET:
			sym_addr[i] = env->target_bias + s->value;
			break;
		case SUT_SYM_TARGET_GOT:
		case SUT_SYM_EXTERN:
			/* Only what relocations use: asking the process about a symbol nothing
			 * needs could fail a link that would have worked. */
			if (!lay->referenced[i])
				break;
			if (!env->resolve)
				return sut_errf(err, "%s: no resolver for symbols of the process",
						name);
			if (env->resolve(env->ctx, s, &sym_addr[i], err) < 0) {
				if (s->kind == SUT_SYM_EXTERN && s->version)
					return sut_err_wrap(err, "%s@%s", name, s->version);
				return sut_err_wrap(err, "%s", name);
			}
			break;
		default:
			return sut_errf(err, "symbol %s: unknown kind %d", name, (int)s->kind);
		}
	}
	return 0;
}

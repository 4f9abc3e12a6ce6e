/* SPDX-License-Identifier: Apache-2.0 */
/* sut_link: layout, symbol binding, image bytes, GOT/PLT, relocations, in that order.
 *
 * Invariant: the image depends only on the inputs. Every byte is written deterministically:
 * RX padding is int3 (0xcc, so a stray jump into padding traps instead of sliding), RW
 * padding and BSS are zero. */
#include "link/link.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_layout.h"
#include "link/link_passes.h"
#include "util/buf.h"

uint64_t sut_link_size(const struct sut_patch *p)
{
	struct sut_link_layout lay;
	sut_link_layout_compute(p, &lay);
	uint64_t size = lay.rx_size + lay.rw_size;
	sut_link_layout_free(&lay);
	return size;
}

/* Refuses what the layout cannot honour: an unknown section kind, a section without bytes,
 * or an alignment above the page size that this placement does not happen to satisfy
 * (offsets are aligned relative to the image, which is only page-aligned). */
static int check_sections(const struct sut_patch *p, const struct sut_link_layout *lay,
			  uint64_t place, struct sut_err *err)
{
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		const char *name = s->name ? s->name : "(unnamed)";
		if (s->kind < SUT_SEC_TEXT || s->kind > SUT_SEC_BSS)
			return sut_errf(err, "section %s: unknown kind %d", name, (int)s->kind);
		if (s->kind != SUT_SEC_BSS && s->size && !s->bytes)
			return sut_errf(err, "section %s: no bytes", name);
		if (s->align && (place + lay->sec_off[i]) % s->align)
			return sut_errf(err,
					"section %s: alignment 0x%" PRIx64 " not met at 0x%" PRIx64,
					name, s->align, place + lay->sec_off[i]);
	}
	return 0;
}

/* RX filled with int3 then TEXT/RODATA copied; RW zero then DATA copied (BSS stays 0). */
static void copy_sections(const struct sut_patch *p, const struct sut_link_layout *lay,
			  uint8_t *bytes)
{
	memset(bytes, 0xcc, lay->rx_size);
	memset(bytes + lay->rx_size, 0, lay->rw_size);
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		if (s->kind != SUT_SEC_BSS && s->size)
			memcpy(bytes + lay->sec_off[i], s->bytes, s->size);
		else if (s->kind == SUT_SEC_BSS)
			memset(bytes + lay->sec_off[i], 0, s->size);
	}
}

int sut_link(const struct sut_patch *p, const struct sut_link_env *env,
	     struct sut_link_image *out, struct sut_err *err)
{
	if (env->place % SUT_LINK_PAGE)
		return sut_errf(err, "image address 0x%" PRIx64 " is not page-aligned",
				env->place);
	struct sut_link_layout lay;
	sut_link_layout_compute(p, &lay);
	struct sut_link_image img = {
		.size = lay.rx_size + lay.rw_size,
		.rx_size = lay.rx_size,
		.rw_size = lay.rw_size,
		.nsyms = p->nsymbols,
	};
	/* Stubs and every intra-image PC-relative field rely on the image spanning less than
	 * 2 GiB; refusing here also keeps an absurd model from aborting in the allocator. */
	if (img.size > INT32_MAX) {
		sut_errf(err, "image of 0x%" PRIx64 " bytes exceeds the 2 GiB a rel32 can span",
			 img.size);
		goto fail;
	}
	if (check_sections(p, &lay, env->place, err) < 0)
		goto fail;
	img.sym_addr = sut_xcalloc(p->nsymbols, sizeof *img.sym_addr);
	if (sut_link_bind_symbols(p, &lay, env, img.sym_addr, err) < 0)
		goto fail;
	img.bytes = sut_xmalloc(img.size);
	copy_sections(p, &lay, img.bytes);
	sut_link_emit_got_plt(p, &lay, img.sym_addr, img.bytes);
	for (size_t i = 0; i < p->nrelocs; i++)
		if (sut_link_apply_reloc(p, i, &lay, env->place, img.sym_addr, img.bytes, err) < 0)
			goto fail;
	sut_link_layout_free(&lay);
	*out = img;
	return 0;
fail:
	sut_link_layout_free(&lay);
	sut_link_image_free(&img);
	return -1;
}

void sut_link_image_free(struct sut_link_image *img)
{
	if (!img)
		return;
	free(img->bytes);
	free(img->sym_addr);
	*img = (struct sut_link_image){0};
}

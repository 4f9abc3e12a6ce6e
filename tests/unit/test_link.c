/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the link layer: patch models built by hand (and one from a real compiled
 * object), linked at chosen addresses, checked byte by byte or by running the result. */
#include "fixtures.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "link/link.h"

#define PAGE 4096u

/* ---- building patch models ------------------------------------------------------------ */

static uint32_t add_section(struct sut_patch *p, const char *name, enum sut_sec_kind kind,
			    uint64_t align, uint64_t size, uint8_t fill)
{
	p->sections = realloc(p->sections, (p->nsections + 1) * sizeof *p->sections);
	struct sut_patch_section *s = &p->sections[p->nsections];
	*s = (struct sut_patch_section){.name = strdup(name), .kind = kind, .align = align,
					.size = size};
	if (kind != SUT_SEC_BSS) {
		s->bytes = malloc(size ? size : 1);
		memset(s->bytes, fill, size);
	}
	return (uint32_t)p->nsections++;
}

static uint32_t add_symbol(struct sut_patch *p, const char *name, enum sut_sym_kind kind,
			   uint32_t section, uint64_t value, bool is_func)
{
	p->symbols = realloc(p->symbols, (p->nsymbols + 1) * sizeof *p->symbols);
	p->symbols[p->nsymbols] = (struct sut_patch_symbol){
		.name = strdup(name), .kind = kind, .section = section, .value = value,
		.is_func = is_func};
	return (uint32_t)p->nsymbols++;
}

static void add_reloc(struct sut_patch *p, uint32_t section, uint64_t offset, uint32_t type,
		      uint32_t symbol, int64_t addend)
{
	p->relocs = realloc(p->relocs, (p->nrelocs + 1) * sizeof *p->relocs);
	p->relocs[p->nrelocs++] = (struct sut_patch_reloc){
		.section = section, .offset = offset, .type = type, .symbol = symbol,
		.addend = addend};
}

/* The patch layer owns sut_patch_free; the test frees its own models so it depends on
 * nothing but the link layer. */
static void free_model(struct sut_patch *p)
{
	for (size_t i = 0; i < p->nsections; i++) {
		free(p->sections[i].name);
		free(p->sections[i].bytes);
	}
	for (size_t i = 0; i < p->nsymbols; i++) {
		free(p->symbols[i].name);
		free(p->symbols[i].version);
	}
	free(p->sections);
	free(p->symbols);
	free(p->relocs);
	*p = (struct sut_patch){0};
}

/* ---- a resolver that records what it was asked ---------------------------------------- */

#define MAX_NAMES 8
struct resolver {
	const char *names[MAX_NAMES];
	uint64_t addrs[MAX_NAMES];
	int calls[MAX_NAMES];
	size_t n;
	const char *fail; /* name whose resolution fails */
};

static void resolver_add(struct resolver *r, const char *name, uint64_t addr)
{
	r->names[r->n] = name;
	r->addrs[r->n++] = addr;
}

static int resolve(void *ctx, const struct sut_patch_symbol *sym, uint64_t *addr,
		   struct sut_err *err)
{
	struct resolver *r = ctx;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->names[i], sym->name) != 0)
			continue;
		r->calls[i]++;
		if (r->fail && strcmp(r->fail, sym->name) == 0)
			return sut_errf(err, "not found in any loaded object");
		*addr = r->addrs[i];
		return 0;
	}
	return sut_errf(err, "unknown to the test resolver");
}

static int calls_of(const struct resolver *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->names[i], name) == 0)
			return r->calls[i];
	return -1;
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get64(const uint8_t *b)
{
	return (uint64_t)get32(b) | (uint64_t)get32(b + 4) << 32;
}

/* Address a PC-relative 32-bit field (addend -4, as in call/lea/mov) points to. */
static uint64_t pcrel_target(const struct sut_link_image *img, uint64_t place, uint64_t off)
{
	return place + off + 4 + (uint64_t)(int64_t)(int32_t)get32(img->bytes + off);
}

/* ---- relocation arithmetic ------------------------------------------------------------ */

static void test_each_reloc_type(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 128, 0x90);
	uint32_t data = add_section(&p, ".data.d", SUT_SEC_DATA, 8, 16, 0);
	uint32_t d = add_symbol(&p, "d", SUT_SYM_LOCAL, data, 8, false);
	uint32_t t = add_symbol(&p, "t", SUT_SYM_TARGET, 0, 0x1234, true);
	uint32_t e = add_symbol(&p, "e", SUT_SYM_EXTERN, 0, 0, false);
	add_reloc(&p, text, 0, R_X86_64_64, t, 5);
	add_reloc(&p, text, 8, R_X86_64_PC64, d, -3);
	add_reloc(&p, text, 16, R_X86_64_32, t, 0);
	add_reloc(&p, text, 20, R_X86_64_32S, t, -0x10);
	add_reloc(&p, text, 24, R_X86_64_PC32, t, -4);
	add_reloc(&p, text, 28, R_X86_64_PLT32, t, -4);
	add_reloc(&p, text, 32, R_X86_64_GOTPCREL, e, -4);
	add_reloc(&p, text, 36, R_X86_64_GOTPCRELX, e, -4);
	add_reloc(&p, text, 40, R_X86_64_REX_GOTPCRELX, d, -4);

	const uint64_t place = 0x40000000, bias = 0x10000000, e_addr = 0x7fff12345678;
	struct resolver r = {0};
	resolver_add(&r, "e", e_addr);
	struct sut_link_env env = {.place = place, .target_bias = bias, .resolve = resolve,
				   .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(img.rx_size, PAGE);
	assert_int_equal(img.rw_size, PAGE);
	assert_int_equal(img.size, 2 * PAGE);

	const uint64_t S_t = bias + 0x1234, S_d = place + PAGE + 8;
	assert_int_equal(img.sym_addr[t], S_t);
	assert_int_equal(img.sym_addr[d], S_d);
	assert_int_equal(img.sym_addr[e], e_addr);

	assert_int_equal(get64(img.bytes + 0), S_t + 5);
	assert_int_equal(get64(img.bytes + 8), S_d - 3 - (place + 8));
	assert_int_equal(get32(img.bytes + 16), (uint32_t)S_t);
	assert_int_equal(get32(img.bytes + 20), (uint32_t)(S_t - 0x10));
	assert_int_equal(get32(img.bytes + 24), (uint32_t)(S_t - 4 - (place + 24)));
	assert_int_equal(get32(img.bytes + 28), (uint32_t)(S_t - 4 - (place + 28)));

	/* GOT: both GOTPCREL* against e share one slot holding e's address, inside RX after
	 * the text, 8-aligned; d has its own slot holding d's address. */
	uint64_t g_e = pcrel_target(&img, place, 32);
	assert_int_equal(pcrel_target(&img, place, 36), g_e);
	uint64_t g_d = pcrel_target(&img, place, 40);
	assert_int_not_equal(g_e, g_d);
	for (int k = 0; k < 2; k++) {
		uint64_t g = k ? g_d : g_e;
		assert_true(g >= place + 128 && g + 8 <= place + img.rx_size);
		assert_int_equal(g % 8, 0);
	}
	assert_int_equal(get64(img.bytes + (g_e - place)), e_addr);
	assert_int_equal(get64(img.bytes + (g_d - place)), S_d);
	/* bytes no relocation touched are the section's own */
	assert_int_equal(img.bytes[44], 0x90);
	assert_int_equal(img.bytes[127], 0x90);
	sut_link_image_free(&img);
	free_model(&p);
}

static void test_pc32_far_target_overflows(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 64, 0);
	uint32_t s = add_symbol(&p, "parse_header", SUT_SYM_TARGET, 0, 0x1000, true);
	add_reloc(&p, text, 0x12, R_X86_64_PC32, s, -4);
	struct sut_link_env env = {.place = 0x7f0000000000, .target_bias = 0x555500000000};
	struct sut_link_image img = {0};
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_string_equal(err.msg, "relocation R_X86_64_PC32 in .text.f+0x12 against "
				     "parse_header: target out of range");
	assert_null(img.bytes);

	/* TARGET symbols get no stub: a far PLT32 fails the same way */
	p.relocs[0].type = R_X86_64_PLT32;
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_non_null(strstr(err.msg, "R_X86_64_PLT32"));
	assert_non_null(strstr(err.msg, "out of range"));

	/* the same reference from a place within reach links */
	env.place = 0x555540000000;
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(pcrel_target(&img, env.place, 0x12), 0x555500001000);
	sut_link_image_free(&img);
	free_model(&p);
}

static void test_abs32_ranges(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.g", SUT_SEC_TEXT, 1, 16, 0);
	uint32_t s = add_symbol(&p, "table", SUT_SYM_TARGET, 0, 0x80000000, false);
	add_reloc(&p, text, 4, R_X86_64_32S, s, 0);
	struct sut_link_env env = {.place = 0x10000};
	struct sut_link_image img;
	struct sut_err err = {0};

	/* 0x80000000 fits unsigned 32 but not signed 32 */
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_string_equal(err.msg, "relocation R_X86_64_32S in .text.g+0x4 against table: "
				     "value does not fit in 32 bits (signed)");
	p.relocs[0].type = R_X86_64_32;
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(get32(img.bytes + 4), 0x80000000u);
	sut_link_image_free(&img);

	/* -0x80000000 (sign-extended) is the reverse: fine for 32S, not for 32 */
	p.symbols[s].value = 0;
	p.relocs[0].addend = -0x80000000LL;
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_non_null(strstr(err.msg, "R_X86_64_32 in .text.g+0x4 against table"));
	assert_non_null(strstr(err.msg, "unsigned"));
	p.relocs[0].type = R_X86_64_32S;
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(get32(img.bytes + 4), 0x80000000u);
	sut_link_image_free(&img);
	free_model(&p);
}

/* ---- GOT and PLT stubs ---------------------------------------------------------------- */

static void test_plt32_far_extern_goes_through_stub(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 32, 0xcc);
	uint32_t far = add_symbol(&p, "far_fn", SUT_SYM_EXTERN, 0, 0, true);
	uint32_t near = add_symbol(&p, "near_fn", SUT_SYM_TARGET_GOT, 0, 0x4000, true);
	uint32_t far_data = add_symbol(&p, "far_var", SUT_SYM_EXTERN, 0, 0, false);
	add_reloc(&p, text, 1, R_X86_64_PLT32, far, -4);
	add_reloc(&p, text, 6, R_X86_64_PLT32, near, -4);
	add_reloc(&p, text, 11, R_X86_64_PC32, far, -4);

	const uint64_t place = 0x400000000, far_addr = 0x7f1234567890,
		       near_addr = place + 0x100000;
	struct resolver r = {0};
	resolver_add(&r, "far_fn", far_addr);
	resolver_add(&r, "near_fn", near_addr);
	resolver_add(&r, "far_var", far_addr + 0x1000);
	struct sut_link_env env = {.place = place, .resolve = resolve, .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);

	/* far: the call lands on a 16-byte aligned stub in RX: jmp *slot(%rip), int3s */
	uint64_t stub = pcrel_target(&img, place, 1);
	assert_int_equal(pcrel_target(&img, place, 11), stub);
	assert_true(stub >= place + 32 && stub + 16 <= place + img.rx_size);
	assert_int_equal(stub % 16, 0);
	const uint8_t *sb = img.bytes + (stub - place);
	assert_int_equal(sb[0], 0xff);
	assert_int_equal(sb[1], 0x25);
	for (int k = 6; k < 16; k++)
		assert_int_equal(sb[k], 0xcc);
	uint64_t slot = stub + 6 + (uint64_t)(int64_t)(int32_t)get32(sb + 2);
	assert_true(slot >= place && slot + 8 <= place + img.rx_size);
	assert_int_equal(get64(img.bytes + (slot - place)), far_addr);

	/* near: direct call even though a stub is reserved for it */
	assert_int_equal(pcrel_target(&img, place, 6), near_addr);
	sut_link_image_free(&img);

	/* a far PC32 against data gets no stub: error */
	add_reloc(&p, text, 20, R_X86_64_PC32, far_data, -4);
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_string_equal(err.msg, "relocation R_X86_64_PC32 in .text.f+0x14 against far_var: "
				     "target out of range");
	free_model(&p);
}

static void test_gotpcrel_slot_holds_resolved_address(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 24, 0);
	uint32_t v = add_symbol(&p, "errno_loc", SUT_SYM_TARGET_GOT, 0, 0x3ff8, true);
	uint32_t w = add_symbol(&p, "counter", SUT_SYM_TARGET, 0, 0x5000, false);
	add_reloc(&p, text, 3, R_X86_64_REX_GOTPCRELX, v, -4);
	add_reloc(&p, text, 10, R_X86_64_GOTPCREL, w, 0x10);
	const uint64_t place = 0x7f0000000000, bias = 0x7f0100000000, v_addr = 0x7fabcdef0000;
	struct resolver r = {0};
	resolver_add(&r, "errno_loc", v_addr);
	struct sut_link_env env = {.place = place, .target_bias = bias, .resolve = resolve,
				   .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	uint64_t g_v = pcrel_target(&img, place, 3);
	assert_int_equal(get64(img.bytes + (g_v - place)), v_addr);
	/* G + A - P with A = 0x10: the slot is at P + field - 0x10 */
	uint64_t g_w = place + 10 + (uint64_t)(int64_t)(int32_t)get32(img.bytes + 10) - 0x10;
	assert_int_equal(get64(img.bytes + (g_w - place)), bias + 0x5000);
	assert_int_equal(g_w - g_v == 8 || g_v - g_w == 8, true);
	sut_link_image_free(&img);
	free_model(&p);
}

/* ---- the resolver --------------------------------------------------------------------- */

static void test_resolver_called_once_per_used_symbol(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 64, 0);
	uint32_t x = add_symbol(&p, "x", SUT_SYM_EXTERN, 0, 0, true);
	uint32_t y = add_symbol(&p, "y", SUT_SYM_TARGET_GOT, 0, 0x2000, false);
	uint32_t z = add_symbol(&p, "z", SUT_SYM_EXTERN, 0, 0, true);
	add_reloc(&p, text, 0, R_X86_64_PLT32, x, -4);
	add_reloc(&p, text, 8, R_X86_64_GOTPCRELX, x, -4);
	add_reloc(&p, text, 16, R_X86_64_64, x, 0);
	add_reloc(&p, text, 24, R_X86_64_GOTPCREL, y, -4);
	struct resolver r = {0};
	resolver_add(&r, "x", 0x7f0000001000);
	resolver_add(&r, "y", 0x7f0000002000);
	resolver_add(&r, "z", 0x7f0000003000);
	struct sut_link_env env = {.place = 0x7f0000100000, .resolve = resolve, .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(calls_of(&r, "x"), 1);
	assert_int_equal(calls_of(&r, "y"), 1);
	assert_int_equal(calls_of(&r, "z"), 0);
	assert_int_equal(img.nsyms, 3);
	assert_int_equal(img.sym_addr[x], 0x7f0000001000);
	assert_int_equal(img.sym_addr[y], 0x7f0000002000);
	assert_int_equal(img.sym_addr[z], 0);
	assert_int_equal(get64(img.bytes + 16), 0x7f0000001000);
	sut_link_image_free(&img);

	/* its error comes back prefixed with the symbol's name (and version when it has one) */
	r.fail = "y";
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_string_equal(err.msg, "y: not found in any loaded object");
	r.fail = "x";
	p.symbols[x].version = strdup("LIB_1.2");
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_string_equal(err.msg, "x@LIB_1.2: not found in any loaded object");
	free_model(&p);
}

/* ---- sections: BSS, alignment, size --------------------------------------------------- */

static void test_bss_zeroed_in_rw_part(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 16, 0x90);
	uint32_t data = add_section(&p, ".data.x", SUT_SEC_DATA, 4, 12, 0xab);
	uint32_t bss = add_section(&p, ".bss.buf", SUT_SEC_BSS, 32, 5000, 0);
	uint32_t b = add_symbol(&p, "buf", SUT_SYM_LOCAL, bss, 0, false);
	uint32_t dx = add_symbol(&p, "x", SUT_SYM_LOCAL, data, 4, false);
	add_reloc(&p, text, 0, R_X86_64_64, b, 8);
	add_reloc(&p, data, 4, R_X86_64_64, dx, 0); /* data pointing at itself */
	const uint64_t place = 0x20000000;
	struct sut_link_env env = {.place = place};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(img.rx_size, PAGE);
	/* 12 bytes of data, aligned to 32, then 5000 bytes of BSS: two pages */
	assert_int_equal(img.rw_size, 2 * PAGE);
	uint64_t baddr = img.sym_addr[b];
	assert_true(baddr >= place + img.rx_size + 12);
	assert_true(baddr + 5000 <= place + img.size);
	assert_int_equal(baddr % 32, 0);
	assert_int_equal(get64(img.bytes + 0), baddr + 8);
	for (uint64_t k = 0; k < 5000; k++)
		assert_int_equal(img.bytes[baddr - place + k], 0);
	/* DATA at the start of RW, its bytes copied, its relocation applied */
	assert_int_equal(img.sym_addr[dx], place + img.rx_size + 4);
	assert_int_equal(img.bytes[img.rx_size], 0xab);
	assert_int_equal(get64(img.bytes + img.rx_size + 4), place + img.rx_size + 4);
	sut_link_image_free(&img);

	/* a relocation into BSS has nothing to patch */
	add_reloc(&p, bss, 16, R_X86_64_64, b, 0);
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_non_null(strstr(err.msg, "relocation R_X86_64_64 in .bss.buf+0x10 against buf"));
	assert_non_null(strstr(err.msg, "BSS"));
	free_model(&p);
}

static void test_alignment_honoured(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	static const struct {
		enum sut_sec_kind kind;
		uint64_t align, size;
	} secs[] = {
		{SUT_SEC_DATA, 256, 3},   {SUT_SEC_TEXT, 1, 3},	   {SUT_SEC_RODATA, 4096, 10},
		{SUT_SEC_TEXT, 64, 5},	  {SUT_SEC_BSS, 128, 1},   {SUT_SEC_RODATA, 16, 7},
		{SUT_SEC_TEXT, 2, 1},	  {SUT_SEC_DATA, 8, 9},
	};
	uint32_t sym[8];
	for (uint32_t i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof name, ".s%u", i);
		uint32_t s = add_section(&p, name, secs[i].kind, secs[i].align, secs[i].size, 1);
		sym[i] = add_symbol(&p, name, SUT_SYM_LOCAL, s, 0, false);
	}
	const uint64_t place = 0x30000000;
	struct sut_link_env env = {.place = place};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	uint64_t a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = img.sym_addr[sym[i]];
		assert_int_equal(a[i] % secs[i].align, 0);
	}
	/* TEXT in patch order from the start, then RODATA, then DATA, then BSS in RW */
	assert_int_equal(a[1], place);
	assert_true(a[1] + 3 <= a[3] && a[3] + 5 <= a[6]);
	assert_true(a[6] < a[2] && a[2] + 10 <= a[5]);
	assert_true(a[5] + 7 <= place + img.rx_size);
	assert_int_equal(a[0], place + img.rx_size);
	assert_true(a[0] + 3 <= a[7] && a[7] + 9 <= a[4]);
	assert_true(a[4] < place + img.size);
	/* the padding between text sections is int3 */
	assert_int_equal(img.bytes[3], 0xcc);
	assert_int_equal(img.bytes[a[3] - place - 1], 0xcc);
	sut_link_image_free(&img);

	/* an alignment above the page size holds only where the placement allows it */
	p.sections[2].align = 8192;
	env.place = 0x30002000;
	assert_int_equal(sut_link(&p, &env, &img, &err), 0);
	assert_int_equal(img.sym_addr[sym[2]] % 8192, 0);
	sut_link_image_free(&img);
	env.place = 0x30001000;
	assert_int_equal(sut_link(&p, &env, &img, &err), -1);
	assert_non_null(strstr(err.msg, ".s2"));
	assert_non_null(strstr(err.msg, "alignment"));
	free_model(&p);
}

static void test_size_matches_every_placement(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.a", SUT_SEC_TEXT, 16, 4000, 0x90);
	add_section(&p, ".rodata.a", SUT_SEC_RODATA, 8, 90, 0x11);
	uint32_t data = add_section(&p, ".data.a", SUT_SEC_DATA, 8, 16, 0);
	uint32_t f1 = add_symbol(&p, "f1", SUT_SYM_EXTERN, 0, 0, true);
	uint32_t f2 = add_symbol(&p, "f2", SUT_SYM_TARGET_GOT, 0, 0x1000, true);
	uint32_t t = add_symbol(&p, "t", SUT_SYM_TARGET, 0, 0x2000, true);
	uint32_t d = add_symbol(&p, "d", SUT_SYM_LOCAL, data, 0, false);
	add_reloc(&p, text, 0, R_X86_64_PLT32, f1, -4);
	add_reloc(&p, text, 4, R_X86_64_PC32, f2, -4);
	add_reloc(&p, text, 8, R_X86_64_PLT32, t, -4);
	add_reloc(&p, text, 12, R_X86_64_GOTPCREL, d, -4);
	add_reloc(&p, text, 16, R_X86_64_GOTPCREL, f1, -4);

	/* 4000 text + 90 rodata + 3 GOT slots + 2 stubs > 4096: RX spills into a second page */
	uint64_t size = sut_link_size(&p);
	assert_int_equal(size, 3 * PAGE);
	const uint64_t places[] = {0x1000, 0x555500000000, 0x7f0000000000, 0x7ffff0000000};
	for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
		struct resolver r = {0};
		/* f1 near for some placements, far for others */
		resolver_add(&r, "f1", i % 2 ? places[i] + 0x10000 : 0x7fffff000000);
		resolver_add(&r, "f2", 0x400000);
		struct sut_link_env env = {.place = places[i], .target_bias = places[i] - 0x100000,
					   .resolve = resolve, .ctx = &r};
		struct sut_link_image img;
		struct sut_err err = {0};
		assert_int_equal(sut_link(&p, &env, &img, &err), 0);
		assert_int_equal(img.size, size);
		assert_int_equal(img.rx_size + img.rw_size, size);
		assert_int_equal(img.rx_size % PAGE, 0);
		assert_int_equal(img.rw_size, PAGE);
		sut_link_image_free(&img);
	}

	/* no writable sections: no RW part */
	struct sut_patch q = {0};
	add_section(&q, ".text.b", SUT_SEC_TEXT, 16, 10, 0);
	assert_int_equal(sut_link_size(&q), PAGE);
	struct sut_link_env env = {.place = 0x9000};
	struct sut_link_image img;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&q, &env, &img, &err), 0);
	assert_int_equal(img.rw_size, 0);
	assert_int_equal(img.size, PAGE);
	sut_link_image_free(&img);
	free_model(&q);
	free_model(&p);
}

static void test_deterministic_and_refusals(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 36, 0x90);
	uint32_t f = add_symbol(&p, "f", SUT_SYM_EXTERN, 0, 0, true);
	add_reloc(&p, text, 1, R_X86_64_PLT32, f, -4);
	struct resolver r = {0};
	resolver_add(&r, "f", 0x7f0000000000);
	struct sut_link_env env = {.place = 0x10000000, .resolve = resolve, .ctx = &r};
	struct sut_link_image a, b;
	struct sut_err err = {0};
	assert_int_equal(sut_link(&p, &env, &a, &err), 0);
	assert_int_equal(sut_link(&p, &env, &b, &err), 0);
	assert_int_equal(a.size, b.size);
	assert_memory_equal(a.bytes, b.bytes, a.size);
	/* everything in RX that is not section, slot or stub is int3: here the 4 bytes
	 * between the text (36) and the 8-aligned GOT (40), and the page's tail */
	for (int k = 36; k < 40; k++)
		assert_int_equal(a.bytes[k], 0xcc);
	assert_int_equal(get64(a.bytes + 40), 0x7f0000000000);
	assert_int_equal(a.bytes[a.rx_size - 1], 0xcc);
	sut_link_image_free(&a);
	sut_link_image_free(&b);

	/* unsupported relocation type */
	p.relocs[0].type = R_X86_64_TPOFF32;
	assert_int_equal(sut_link(&p, &env, &a, &err), -1);
	assert_string_equal(err.msg, "relocation R_X86_64_TPOFF32 in .text.f+0x1 against f: "
				     "unsupported relocation type");
	/* field past the end of its section */
	p.relocs[0].type = R_X86_64_64;
	p.relocs[0].offset = 36;
	assert_int_equal(sut_link(&p, &env, &a, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));
	/* placement not page-aligned */
	p.relocs[0].offset = 0;
	env.place = 0x10000010;
	assert_int_equal(sut_link(&p, &env, &a, &err), -1);
	assert_non_null(strstr(err.msg, "page-aligned"));
	/* an image a rel32 cannot span (sections sized, never filled: the link stops first) */
	env.place = 0x10000000;
	p.relocs[0].type = R_X86_64_PLT32;
	p.relocs[0].offset = 1;
	add_section(&p, ".bss.huge", SUT_SEC_BSS, 16, 0x80000000, 0);
	assert_int_equal(sut_link(&p, &env, &a, &err), -1);
	assert_non_null(strstr(err.msg, "2 GiB"));
	free_model(&p);
}

/* ---- jmp ------------------------------------------------------------------------------ */

static void test_jmp_encoding(void **state)
{
	(void)state;
	uint8_t j[5];
	assert_int_equal(sut_link_jmp(0x1000, 0x2000, j), 0);
	assert_memory_equal(j, ((uint8_t[]){0xe9, 0xfb, 0x0f, 0x00, 0x00}), 5);
	assert_int_equal(sut_link_jmp(0x2000, 0x1000, j), 0);
	/* 0x1000 - 0x2005 = -0x1005 */
	assert_memory_equal(j, ((uint8_t[]){0xe9, 0xfb, 0xef, 0xff, 0xff}), 5);
	/* exact limits: rel32 = INT32_MAX and INT32_MIN reach, one more does not */
	const uint64_t from = 0x7f0000000000;
	assert_int_equal(sut_link_jmp(from, from + 5 + 0x7fffffff, j), 0);
	assert_memory_equal(j, ((uint8_t[]){0xe9, 0xff, 0xff, 0xff, 0x7f}), 5);
	assert_int_equal(sut_link_jmp(from, from + 5 - 0x80000000, j), 0);
	assert_memory_equal(j, ((uint8_t[]){0xe9, 0x00, 0x00, 0x00, 0x80}), 5);
	memset(j, 0, sizeof j);
	assert_int_equal(sut_link_jmp(from, from + 5 + 0x80000000, j), -1);
	assert_int_equal(sut_link_jmp(from, from + 4 - 0x80000000, j), -1);
	assert_int_equal(sut_link_jmp(0x555555554000, 0x7f0000000000, j), -1);
	assert_int_equal(sut_link_jmp(0x7f0000000000, 0x555555554000, j), -1);
}

/* ---- end to end: compiled code, linked at its real address, run ----------------------- */

static const char e2e_src[] =
	"extern int ext_add(int a, int b);\n"
	"extern int ext_global;\n"
	"static int calls;\n"
	"static int base = 1000;\n"
	"int patched(int x)\n"
	"{\n"
	"\tint r = ext_add(x, ext_global) + base + ++calls;\n"
	"\tbase += 100; /* written, so it stays in .data */\n"
	"\treturn r;\n"
	"}\n"
	"const char *patched_msg(void) { return \"hello from the patch\"; }\n";

static int ext_add_called;
static int ext_add_impl(int a, int b)
{
	ext_add_called++;
	return a * 100 + b;
}
static int ext_global_var = 37;

struct e2e_model {
	struct sut_patch p;
	long patched, patched_msg; /* symbol indices */
	long call_reloc;	   /* the PLT32 against ext_add */
};

static enum sut_sec_kind kind_of(const GElf_Shdr *sh)
{
	if (sh->sh_type == SHT_NOBITS)
		return SUT_SEC_BSS;
	if (sh->sh_flags & SHF_EXECINSTR)
		return SUT_SEC_TEXT;
	if (sh->sh_flags & SHF_WRITE)
		return SUT_SEC_DATA;
	return SUT_SEC_RODATA;
}

/* Converts the object's allocated sections, their relocations and the symbols those use
 * into a patch model: defined symbols become LOCAL, undefined ones EXTERN. */
static void model_from_object(const char *path, struct e2e_model *m)
{
	memset(m, 0, sizeof *m);
	m->patched = m->patched_msg = m->call_reloc = -1;
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	size_t shnum, shstrndx;
	assert_int_equal(elf_getshdrnum(e, &shnum), 0);
	assert_int_equal(elf_getshdrstrndx(e, &shstrndx), 0);
	long *sec_map = calloc(shnum, sizeof *sec_map);
	Elf_Scn *symtab = NULL;
	for (size_t i = 0; i < shnum; i++) {
		sec_map[i] = -1;
		Elf_Scn *scn = elf_getscn(e, i);
		GElf_Shdr sh;
		assert_non_null(gelf_getshdr(scn, &sh));
		if (sh.sh_type == SHT_SYMTAB)
			symtab = scn;
		if (!(sh.sh_flags & SHF_ALLOC) || !sh.sh_size ||
		    (sh.sh_type != SHT_PROGBITS && sh.sh_type != SHT_NOBITS))
			continue;
		const char *name = elf_strptr(e, shstrndx, sh.sh_name);
		uint32_t s = add_section(&m->p, name, kind_of(&sh),
					 sh.sh_addralign ? sh.sh_addralign : 1, sh.sh_size, 0);
		if (sh.sh_type == SHT_PROGBITS) {
			Elf_Data *d = elf_getdata(scn, NULL);
			assert_non_null(d);
			memcpy(m->p.sections[s].bytes, d->d_buf, sh.sh_size);
		}
		sec_map[i] = s;
	}
	assert_non_null(symtab);
	GElf_Shdr symsh;
	gelf_getshdr(symtab, &symsh);
	Elf_Data *symdata = elf_getdata(symtab, NULL);
	size_t nelfsyms = symsh.sh_size / symsh.sh_entsize;
	long *sym_map = calloc(nelfsyms, sizeof *sym_map);
	for (size_t i = 0; i < nelfsyms; i++)
		sym_map[i] = -1;

	/* function symbols first, so the test can call them */
	for (size_t i = 1; i < nelfsyms; i++) {
		GElf_Sym sym;
		gelf_getsym(symdata, (int)i, &sym);
		const char *name = elf_strptr(e, symsh.sh_link, sym.st_name);
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    sec_map[sym.st_shndx] < 0)
			continue;
		sym_map[i] = add_symbol(&m->p, name, SUT_SYM_LOCAL,
					(uint32_t)sec_map[sym.st_shndx], sym.st_value, true);
		if (strcmp(name, "patched") == 0)
			m->patched = sym_map[i];
		if (strcmp(name, "patched_msg") == 0)
			m->patched_msg = sym_map[i];
	}
	for (size_t i = 0; i < shnum; i++) {
		Elf_Scn *scn = elf_getscn(e, i);
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_RELA || sec_map[sh.sh_info] < 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; k++) {
			GElf_Rela rela;
			gelf_getrela(d, (int)k, &rela);
			size_t si = GELF_R_SYM(rela.r_info);
			uint32_t type = (uint32_t)GELF_R_TYPE(rela.r_info);
			GElf_Sym sym;
			gelf_getsym(symdata, (int)si, &sym);
			const char *name = elf_strptr(e, symsh.sh_link, sym.st_name);
			if (sym_map[si] < 0) {
				if (sym.st_shndx == SHN_UNDEF) {
					/* undefined symbols carry no type in an object: a PLT32
					 * reference says it is a function */
					sym_map[si] = add_symbol(&m->p, name, SUT_SYM_EXTERN, 0, 0,
								 type == R_X86_64_PLT32);
				} else {
					assert_true(sec_map[sym.st_shndx] >= 0);
					if (GELF_ST_TYPE(sym.st_info) == STT_SECTION) {
						GElf_Shdr ssh;
						gelf_getshdr(elf_getscn(e, sym.st_shndx), &ssh);
						name = elf_strptr(e, shstrndx, ssh.sh_name);
					}
					sym_map[si] = add_symbol(
						&m->p, name && *name ? name : "(section)",
						SUT_SYM_LOCAL, (uint32_t)sec_map[sym.st_shndx],
						sym.st_value, GELF_ST_TYPE(sym.st_info) == STT_FUNC);
				}
			}
			if (type == R_X86_64_PLT32 && strcmp(name, "ext_add") == 0)
				m->call_reloc = (long)m->p.nrelocs;
			add_reloc(&m->p, (uint32_t)sec_map[sh.sh_info], rela.r_offset, type,
				  (uint32_t)sym_map[si], rela.r_addend);
		}
	}
	free(sym_map);
	free(sec_map);
	elf_end(e);
	close(fd);
	assert_true(m->patched >= 0 && m->patched_msg >= 0 && m->call_reloc >= 0);
}

static bool model_has_reloc(const struct sut_patch *p, uint32_t type)
{
	for (size_t i = 0; i < p->nrelocs; i++)
		if (p->relocs[i].type == type)
			return true;
	return false;
}

/* Links the model into RWX memory at `mem` and runs it; `direct` says whether the call to
 * ext_add must be a direct call (near placement) or go through a stub (far placement). */
static void run_linked(struct e2e_model *m, uint8_t *mem, bool direct)
{
	struct resolver r = {0};
	resolver_add(&r, "ext_add", (uint64_t)(uintptr_t)&ext_add_impl);
	resolver_add(&r, "ext_global", (uint64_t)(uintptr_t)&ext_global_var);
	uint64_t place = (uint64_t)(uintptr_t)mem;
	struct sut_link_env env = {.place = place, .resolve = resolve, .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	if (sut_link(&m->p, &env, &img, &err) < 0)
		fail_msg("link: %s", err.msg);
	assert_int_equal(img.size, sut_link_size(&m->p));
	memcpy(mem, img.bytes, img.size);

	/* where does the call to ext_add go? */
	const struct sut_patch_reloc *cr = &m->p.relocs[m->call_reloc];
	uint64_t sec_start = 0;
	for (size_t i = 0; i < m->p.nsymbols; i++)
		if (m->p.symbols[i].kind == SUT_SYM_LOCAL && m->p.symbols[i].section == cr->section)
			sec_start = img.sym_addr[i] - m->p.symbols[i].value;
	uint64_t call_to = pcrel_target(&img, place, sec_start - place + cr->offset);
	if (direct)
		assert_int_equal(call_to, (uint64_t)(uintptr_t)&ext_add_impl);
	else
		assert_true(call_to >= place && call_to < place + img.rx_size);

	int (*patched)(int) = (int (*)(int))(uintptr_t)img.sym_addr[m->patched];
	const char *(*patched_msg)(void) =
		(const char *(*)(void))(uintptr_t)img.sym_addr[m->patched_msg];
	ext_add_called = 0;
	ext_global_var = 37;
	/* ext_add(5, 37) + base + calls, base then grows by 100 (.data), calls by 1 (.bss) */
	assert_int_equal(patched(5), 537 + 1000 + 1);
	ext_global_var = 2;
	assert_int_equal(patched(7), 702 + 1100 + 2);
	assert_int_equal(ext_add_called, 2);
	const char *msg = patched_msg();
	assert_string_equal(msg, "hello from the patch");
	assert_true((uint64_t)(uintptr_t)msg >= place &&
		    (uint64_t)(uintptr_t)msg < place + img.rx_size);
	sut_link_image_free(&img);
}

static void test_end_to_end_compiled_code(void **state)
{
	(void)state;
	char *obj = fixture_cc("e2e", e2e_src, "-c -O2 -fPIC -fno-asynchronous-unwind-tables",
			       "e2e.o");
	assert_non_null(obj);
	struct e2e_model m;
	model_from_object(obj, &m);
	/* the point of the test: the compiler used a PLT call and a GOT load */
	assert_true(model_has_reloc(&m.p, R_X86_64_PLT32));
	assert_true(model_has_reloc(&m.p, R_X86_64_REX_GOTPCRELX) ||
		    model_has_reloc(&m.p, R_X86_64_GOTPCREL));
	bool has_data = false, has_bss = false;
	for (size_t i = 0; i < m.p.nsections; i++) {
		has_data |= m.p.sections[i].kind == SUT_SEC_DATA;
		has_bss |= m.p.sections[i].kind == SUT_SEC_BSS;
	}
	assert_true(has_data && has_bss);
	size_t size = sut_link_size(&m.p);

	/* far from this executable (mmap picks the library area): the call needs a stub */
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	int64_t dist = (int64_t)((uint64_t)(uintptr_t)mem - (uint64_t)(uintptr_t)&ext_add_impl);
	if (dist > INT32_MAX || dist < INT32_MIN)
		run_linked(&m, mem, false);
	else /* not a failure: the near case below still runs */
		print_message("mmap landed near the executable; far case not exercised\n");
	munmap(mem, size);

	/* near this executable: the call is direct */
	uint64_t near = ((uint64_t)(uintptr_t)&ext_add_impl & ~(uint64_t)0xfffff) + 0x10000000;
	mem = MAP_FAILED;
	for (int tries = 0; tries < 16 && mem == MAP_FAILED; tries++, near += 0x1000000)
		mem = mmap((void *)(uintptr_t)near, size, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	assert_true(mem != MAP_FAILED);
	run_linked(&m, mem, true);
	munmap(mem, size);
	free_model(&m.p);
	free(obj);
}

/* ---- the table of relocation types ---------------------------------------------------- */

/* Every carried type is computed as its table entry says, (via_got ? G : S) + A - (pcrel ?
 * P : 0) in `width` bytes; every thread-local type is known by name and never linked. */
static void test_reloc_table(void **state)
{
	(void)state;
	const uint32_t carried[] = { R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32,
				     R_X86_64_32S, R_X86_64_PC64, R_X86_64_GOTPCREL,
				     R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX };
	for (size_t c = 0; c < sizeof carried / sizeof carried[0]; c++) {
		const struct sut_reloc_type *t = sut_reloc_type(carried[c]);
		assert_non_null(t);
		assert_true(t->carried && !t->tls);
		assert_true(sut_patch_reloc_type_ok(carried[c]));
		struct sut_patch p = {0};
		uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 64, 0x90);
		uint32_t y = add_symbol(&p, "t", SUT_SYM_TARGET, 0, 0x1234, false);
		add_reloc(&p, text, 8, carried[c], y, 0x10);
		const uint64_t place = 0x40000000, bias = 0x30000000;
		struct sut_link_env env = {.place = place, .target_bias = bias};
		struct sut_link_image img;
		struct sut_err err = {0};
		if (sut_link(&p, &env, &img, &err)) fail_msg("%s: %s", t->name, err.msg);
		uint64_t S = bias + 0x1234, P = place + 8, base = S;
		if (t->via_got) { /* the one slot, right after the text */
			base = place + 64;
			assert_int_equal(get64(img.bytes + 64), S);
		}
		uint64_t want = base + 0x10 - (t->pcrel ? P : 0);
		if (t->width == 8)
			assert_int_equal(get64(img.bytes + 8), want);
		else
			assert_int_equal(get32(img.bytes + 8), (uint32_t)want);
		assert_int_equal(img.bytes[8 + t->width], 0x90);
		sut_link_image_free(&img);
		free_model(&p);
	}
	const uint32_t tls[] = { R_X86_64_TLSGD, R_X86_64_TLSLD, R_X86_64_DTPOFF32,
				 R_X86_64_GOTTPOFF, R_X86_64_TPOFF32, R_X86_64_DTPOFF64,
				 R_X86_64_TPOFF64, R_X86_64_DTPMOD64, R_X86_64_GOTPC32_TLSDESC,
				 R_X86_64_TLSDESC_CALL };
	for (size_t c = 0; c < sizeof tls / sizeof tls[0]; c++) {
		const struct sut_reloc_type *t = sut_reloc_type(tls[c]);
		assert_non_null(t);
		assert_true(t->tls && !t->carried);
		assert_false(sut_patch_reloc_type_ok(tls[c]));
		assert_int_equal(strncmp(t->name, "R_X86_64_", 9), 0);
		struct sut_patch p = {0};
		uint32_t text = add_section(&p, ".text.g", SUT_SEC_TEXT, 16, 64, 0);
		uint32_t y = add_symbol(&p, "counter", SUT_SYM_TARGET, 0, 0x10, false);
		add_reloc(&p, text, 4, tls[c], y, -4);
		struct sut_link_env env = {.place = 0x40000000, .target_bias = 0x30000000};
		struct sut_link_image img = {0};
		struct sut_err err = {0};
		assert_int_equal(sut_link(&p, &env, &img, &err), -1);
		char want[128];
		snprintf(want, sizeof want, "relocation %s in .text.g+0x4 against counter: "
			 "unsupported relocation type", t->name);
		assert_string_equal(err.msg, want);
		free_model(&p);
	}
	char buf[32];
	assert_null(sut_reloc_type(0x7777));
	assert_string_equal(sut_reloc_type_name(0x7777, buf, sizeof buf), "type 30583");
}

/* A library target's tls_index as the builder carries it: 16 read-only bytes {0, offset}
 * with an R_X86_64_64 at 0 against a TARGET_GOT symbol (the library's own DTPMOD64 entry),
 * which the resolver reads in the process: the pair holds {module, offset}, and the code's
 * PC32 (what TLSGD became) points at the pair. */
static void test_tls_index_module_from_target_slot(void **state)
{
	(void)state;
	struct sut_patch p = {0};
	uint32_t text = add_section(&p, ".text.f", SUT_SEC_TEXT, 16, 32, 0x90);
	uint32_t pair = add_section(&p, ".tls_index.n@0x10", SUT_SEC_RODATA, 16, 16, 0);
	p.sections[pair].bytes[8] = 0x10;
	uint32_t ps = add_symbol(&p, ".tls_index.n@0x10", SUT_SYM_LOCAL, pair, 0, false);
	uint32_t mod = add_symbol(&p, "(TLS module id)", SUT_SYM_TARGET_GOT, 0, 0x3fa8, false);
	add_reloc(&p, text, 4, R_X86_64_PC32, ps, -4);
	add_reloc(&p, pair, 0, R_X86_64_64, mod, 0);
	struct resolver r = {0};
	resolver_add(&r, "(TLS module id)", 3);
	const uint64_t place = 0x40000000;
	struct sut_link_env env = {.place = place, .target_bias = 0x30000000, .resolve = resolve,
				   .ctx = &r};
	struct sut_link_image img;
	struct sut_err err = {0};
	if (sut_link(&p, &env, &img, &err)) fail_msg("%s", err.msg);
	uint64_t at = pcrel_target(&img, place, 4);
	assert_int_equal(at % 16, 0);
	assert_true(at >= place + 32 && at + 16 <= place + img.rx_size);
	assert_int_equal(get64(img.bytes + (at - place)), 3);
	assert_int_equal(get64(img.bytes + (at - place) + 8), 0x10);
	assert_int_equal(calls_of(&r, "(TLS module id)"), 1);
	sut_link_image_free(&img);
	free_model(&p);
}

int main(void)
{
	/* fixtures.h defines its helpers as plain statics; this test needs no shell step */
	(void)fixture_sh;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_reloc_type),
		cmocka_unit_test(test_pc32_far_target_overflows),
		cmocka_unit_test(test_abs32_ranges),
		cmocka_unit_test(test_plt32_far_extern_goes_through_stub),
		cmocka_unit_test(test_gotpcrel_slot_holds_resolved_address),
		cmocka_unit_test(test_resolver_called_once_per_used_symbol),
		cmocka_unit_test(test_bss_zeroed_in_rw_part),
		cmocka_unit_test(test_alignment_honoured),
		cmocka_unit_test(test_size_matches_every_placement),
		cmocka_unit_test(test_deterministic_and_refusals),
		cmocka_unit_test(test_jmp_encoding),
		cmocka_unit_test(test_end_to_end_compiled_code),
		cmocka_unit_test(test_reloc_table),
		cmocka_unit_test(test_tls_index_module_from_target_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

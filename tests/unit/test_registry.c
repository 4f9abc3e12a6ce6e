/* SPDX-License-Identifier: Apache-2.0 */
/* The registry decoder on hostile bytes (no process involved): a valid image decodes; every
 * truncation, every planted bad length and thousands of random corruptions are refused or
 * decode to something every query can walk safely; dropping records keeps the stack. */
#include "fixtures.h"

#include <stddef.h>

#include "apply/registry.h"

#define NREC 3

static size_t img_len;
static uint8_t img[SUT_REG_SIZE];

static struct sut_reg_header *hdr(uint8_t *b) { return (struct sut_reg_header *)b; }
static struct sut_reg_patch *rec(uint8_t *b, size_t i)
{
	return (struct sut_reg_patch *)(b + sizeof(struct sut_reg_header) +
					i * (sizeof(struct sut_reg_patch) +
					     2 * sizeof(struct sut_reg_func)));
}

static void put_func(struct sut_reg_patch *r, uint32_t k, uint64_t addr, uint64_t repl)
{
	struct sut_reg_func *f = (struct sut_reg_func *)(r + 1) + k;
	f->addr = addr;
	f->size = 32;
	f->repl = repl;
	f->repl_size = 16;
	memcpy(f->saved, "\x55\x48\x89\xe5\x90", 5);
	int32_t rel = (int32_t)(repl - (addr + 5));
	f->written[0] = 0xe9;
	memcpy(f->written + 1, &rel, 4);
	snprintf(f->name, sizeof f->name, "func_%u", k);
}

/* header + NREC records of two functions each; record 2 stacks on record 0's first
 * function; `pending` adds the record of an interrupted apply after them. */
static size_t make_image(uint8_t *b, bool pending)
{
	memset(b, 0, SUT_REG_SIZE);
	struct sut_reg_header *h = hdr(b);
	memcpy(h->magic, SUT_REG_MAGIC, 8);
	h->version = SUT_REG_VERSION;
	h->size = SUT_REG_SIZE;
	size_t rsz = sizeof(struct sut_reg_patch) + 2 * sizeof(struct sut_reg_func);
	for (size_t i = 0; i < NREC + (pending ? 1 : 0); i++) {
		struct sut_reg_patch *r = rec(b, i);
		r->rec_size = (uint32_t)rsz;
		r->nfuncs = 2;
		snprintf(r->id, sizeof r->id, "fix-%zu", i);
		r->version = 1;
		r->build_id_len = 20;
		memset(r->build_id, 0xab, 20);
		r->bias = 0x400000;
		r->region = 0x10000000ull + i * 0x10000;
		r->region_size = 0x2000;
		snprintf(r->cves, sizeof r->cves, "CVE-2024-%04zu,CVE-2025-12345", 1000 + i);
		snprintf(r->target, sizeof r->target, "libfoo.so");
		uint64_t a0 = i == 2 ? 0x401000 : 0x401000 + 0x100 * (i + 1);
		put_func(r, 0, a0, r->region + 0x10);
		put_func(r, 1, 0x402000 + 0x100 * i, r->region + 0x40);
	}
	h->npatches = NREC;
	h->used = (uint32_t)(NREC * rsz);
	if (pending) {
		h->state = SUT_REG_APPLYING;
		return sizeof *h + (NREC + 1) * rsz;
	}
	return sizeof *h + NREC * rsz;
}

static int setup(void **state)
{
	img_len = make_image(img, false);
	return 0;
}

/* Walks a decoded registry with every query, as status and the transactions do. */
static void walk(const struct sut_registry *reg)
{
	size_t n = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); p;
	     p = sut_registry_next(reg, p), n++) {
		assert_non_null(memchr(p->id, 0, sizeof p->id));
		assert_true(p->build_id_len >= 1 && p->build_id_len <= sizeof p->build_id);
		for (uint32_t k = 0; k < p->nfuncs; k++) {
			const struct sut_reg_func *f = &sut_reg_funcs(p)[k];
			assert_non_null(memchr(f->name, 0, sizeof f->name));
			assert_true(sut_registry_owner(reg, f->addr, -1) >= (long)n);
			assert_non_null(sut_registry_original(reg, f->addr));
		}
		assert_int_equal(sut_registry_find(reg, p->id) <= (long)n, 1);
	}
	assert_int_equal(n, reg->hdr.npatches);
	assert_null(sut_registry_patch(reg, n));
}

static int decode(const uint8_t *b, size_t len, struct sut_registry *reg, struct sut_err *err)
{
	return sut_registry_decode(b, len, SUT_REG_SIZE, reg, err);
}

static void test_valid(void **state)
{
	struct sut_registry reg;
	struct sut_err err;
	if (decode(img, img_len, &reg, &err) != 0)
		fail_msg("valid registry refused: %s", err.msg);
	assert_int_equal(reg.hdr.npatches, NREC);
	walk(&reg);
	assert_int_equal(sut_registry_find(&reg, "fix-1"), 1);
	assert_int_equal(sut_registry_owner(&reg, 0x401000, -1), 2);
	assert_int_equal(sut_registry_nfuncs(&reg), 2 * NREC);
	sut_registry_free(&reg);
	/* the pending record of an interrupted apply is decoded too */
	uint8_t *b = malloc(SUT_REG_SIZE);
	size_t len = make_image(b, true);
	assert_int_equal(decode(b, len, &reg, &err), 0);
	assert_int_equal(reg.pending_len, rec(b, 1)->rec_size);
	sut_registry_free(&reg);
	/* ... and must be there in full */
	assert_int_equal(decode(b, len - 1, &reg, &err), -1);
	free(b);
}

static void test_every_truncation(void **state)
{
	struct sut_registry reg;
	struct sut_err err;
	for (size_t len = 0; len < img_len; len++) {
		assert_int_equal(decode(img, len, &reg, &err), -1);
		assert_null(reg.records);
	}
}

/* Each planted fault, alone, makes the registry corrupt. */
static void test_planted_faults(void **state)
{
	static const struct {
		const char *what;
		size_t off; /* from the start of the image */
		size_t width;
		uint64_t value;
	} faults[] = {
		{"oversized build-id length", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, build_id_len), 4, 100000},
		{"zero build-id length", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, build_id_len), 4, 0},
		{"record size too large", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, rec_size), 4, 0xfffffff0},
		{"record size too small", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, rec_size), 4, 8},
		{"function count huge", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, nfuncs), 4, 0x7fffffff},
		{"function count zero", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, nfuncs), 4, 0},
		{"npatches beyond used", offsetof(struct sut_reg_header, npatches), 4, 1000},
		{"used beyond the mapping", offsetof(struct sut_reg_header, used), 4, SUT_REG_SIZE},
		{"size not what suture makes", offsetof(struct sut_reg_header, size), 4, 4096},
		{"unknown state", offsetof(struct sut_reg_header, state), 4, 7},
		{"revert journal names a missing record", offsetof(struct sut_reg_header, pending_index), 4, 3},
		{"unknown flags", sizeof(struct sut_reg_header) + offsetof(struct sut_reg_patch, flags), 4, 0x80},
		{"bad version", offsetof(struct sut_reg_header, version), 4, 9},
	};
	struct sut_registry reg;
	struct sut_err err;
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		uint8_t *b = malloc(SUT_REG_SIZE);
		memcpy(b, img, SUT_REG_SIZE);
		if (faults[i].off == offsetof(struct sut_reg_header, pending_index)) /* pending index only matters while reverting */
			hdr(b)->state = SUT_REG_REVERTING;
		memcpy(b + faults[i].off, &faults[i].value, faults[i].width);
		if (decode(b, img_len, &reg, &err) == 0)
			fail_msg("planted fault '%s' was not refused", faults[i].what);
		free(b);
	}
	/* strings without their NUL, anywhere */
	struct {
		size_t off, len;
	} strs[] = {{offsetof(struct sut_reg_patch, id), 128},
		    {offsetof(struct sut_reg_patch, cves), 256},
		    {offsetof(struct sut_reg_patch, target), 128},
		    {sizeof(struct sut_reg_patch) + offsetof(struct sut_reg_func, name), 96}};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		uint8_t *b = malloc(SUT_REG_SIZE);
		memcpy(b, img, SUT_REG_SIZE);
		memset((uint8_t *)rec(b, 1) + strs[i].off, 'A', strs[i].len);
		assert_int_equal(decode(b, img_len, &reg, &err), -1);
		free(b);
	}
	/* a wrong mapping size, control bytes in an id, a jump that is not to the
	 * replacement, a replacement outside the patch memory */
	assert_int_equal(sut_registry_decode(img, img_len, SUT_REG_SIZE * 2, &reg, &err), -1);
	uint8_t *b = malloc(SUT_REG_SIZE);
	memcpy(b, img, SUT_REG_SIZE);
	rec(b, 0)->id[2] = '\033';
	assert_int_equal(decode(b, img_len, &reg, &err), -1);
	memcpy(b, img, SUT_REG_SIZE);
	((struct sut_reg_func *)(rec(b, 0) + 1))->written[2] ^= 1;
	assert_int_equal(decode(b, img_len, &reg, &err), -1);
	memcpy(b, img, SUT_REG_SIZE);
	((struct sut_reg_func *)(rec(b, 0) + 1))->repl = 0x1000;
	assert_int_equal(decode(b, img_len, &reg, &err), -1);
	free(b);
}

/* Random corruptions: never a crash, and whatever decodes can be walked. */
static void test_random_corruptions(void **state)
{
	uint8_t *b = malloc(SUT_REG_SIZE);
	size_t ok = 0, bad = 0;
	srand(4242);
	for (int i = 0; i < 20000; i++) {
		memcpy(b, img, img_len);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++) {
			size_t at = (i % 3 == 0) ? (size_t)rand() % sizeof(struct sut_reg_header) : (size_t)rand() % img_len;
			b[at] = (i & 1) ? (uint8_t)rand() : b[at] ^ (uint8_t)(1u << (rand() % 8));
		}
		size_t len = (i % 7 == 0) ? (size_t)rand() % (img_len + 1) : img_len;
		struct sut_registry reg;
		struct sut_err err;
		if (decode(b, len, &reg, &err) == 0) {
			walk(&reg);
			sut_registry_free(&reg);
			ok++;
		} else {
			assert_true(strlen(err.msg) > 0);
			bad++;
		}
	}
	print_message("registry fuzz: %zu decoded, %zu refused\n", ok, bad);
	assert_true(bad > 0);
	free(b);
}

/* Dropping a stale record hands its saved bytes to the newer record stacked on it. */
static void test_drop(void **state)
{
	struct sut_registry reg;
	struct sut_err err;
	assert_int_equal(decode(img, img_len, &reg, &err), 0);
	bool drop[NREC] = {true, false, false};
	const uint8_t *orig = sut_registry_original(&reg, 0x401000 + 0x100);
	uint8_t saved0[5];
	memcpy(saved0, orig, 5);
	/* make record 2's saved bytes differ, as they would (record 0's jump) */
	struct sut_reg_func *f2 = (struct sut_reg_func *)sut_reg_funcs(sut_registry_patch(&reg, 2));
	assert_int_equal(f2->addr, 0x401000);
	struct sut_reg_func *f0 = (struct sut_reg_func *)sut_reg_funcs(sut_registry_patch(&reg, 0));
	f0->addr = 0x401000; /* record 0 now names the function record 2 stacks on */
	memcpy(f2->saved, f0->written, 5);
	assert_int_equal(sut_registry_drop(&reg, drop), 1);
	assert_int_equal(reg.hdr.npatches, NREC - 1);
	assert_int_equal(sut_registry_find(&reg, "fix-0"), -1);
	assert_int_equal(sut_registry_find(&reg, "fix-2"), 1);
	assert_memory_equal(sut_registry_original(&reg, 0x401000), saved0, 5);
	/* what remains encodes to an image that decodes again */
	uint8_t *b = malloc(SUT_REG_SIZE);
	long n = sut_registry_encode(&reg, b, SUT_REG_SIZE, &err);
	assert_true(n > 0);
	struct sut_registry again;
	assert_int_equal(decode(b, (size_t)n, &again, &err), 0);
	assert_int_equal(again.hdr.npatches, NREC - 1);
	sut_registry_free(&again);
	sut_registry_free(&reg);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid, setup),
		cmocka_unit_test_setup(test_every_truncation, setup),
		cmocka_unit_test_setup(test_planted_faults, setup),
		cmocka_unit_test_setup(test_random_corruptions, setup),
		cmocka_unit_test_setup(test_drop, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

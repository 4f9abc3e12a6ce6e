/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding cost of the in-process registry against its size: builds valid registries of
 * 1/8, 1/4, 1/2 and all of SUT_REG_SIZE (records of one function, and one record holding
 * as many functions as fit) and times sut_registry_decode plus a walk of every record.
 * Prints one JSON document; the figures should grow linearly with the bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply/registry.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A valid image of `nrec` records of `nf` functions; returns its length. */
static size_t build(uint8_t *b, size_t nrec, size_t nf)
{
	memset(b, 0, SUT_REG_SIZE);
	struct sut_reg_header *h = (void *)b;
	memcpy(h->magic, SUT_REG_MAGIC, 8);
	h->version = SUT_REG_VERSION;
	h->size = SUT_REG_SIZE;
	size_t off = sizeof *h, rsz = sizeof(struct sut_reg_patch) + nf * sizeof(struct sut_reg_func);
	for (size_t i = 0; i < nrec; i++, off += rsz) {
		struct sut_reg_patch *r = (void *)(b + off);
		r->rec_size = (uint32_t)rsz;
		r->nfuncs = (uint32_t)nf;
		snprintf(r->id, sizeof r->id, "patch-%zu", i);
		r->version = 1;
		r->build_id_len = 20;
		memset(r->build_id, (int)(i % 7), 20);
		r->region = 0x10000000ull + i * 0x100000;
		r->region_size = 0x80000;
		snprintf(r->cves, sizeof r->cves, "CVE-2024-1234,CVE-2025-56789");
		struct sut_reg_func *f = (void *)(r + 1);
		for (size_t k = 0; k < nf; k++) {
			f[k].addr = 0x400000 + (i * nf + k) * 64;
			f[k].size = 48;
			f[k].repl = r->region + k * 32;
			f[k].repl_size = 32;
			int32_t rel = (int32_t)(f[k].repl - (f[k].addr + 5));
			f[k].written[0] = 0xe9;
			memcpy(f[k].written + 1, &rel, 4);
			snprintf(f[k].name, sizeof f[k].name, "function_%zu", k);
		}
	}
	h->npatches = (uint32_t)nrec;
	h->used = (uint32_t)(off - sizeof *h);
	return off;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	uint8_t *b = malloc(SUT_REG_SIZE);
	size_t room = SUT_REG_SIZE - sizeof(struct sut_reg_header);
	size_t per1 = sizeof(struct sut_reg_patch) + sizeof(struct sut_reg_func);
	size_t maxf = (room - sizeof(struct sut_reg_patch)) / sizeof(struct sut_reg_func);
	printf("{\"benchmark\": \"registry_decode\", \"registry_bytes\": %d, \"cases\": [",
	       SUT_REG_SIZE);
	const char *sep = "";
	for (int shape = 0; shape < 2; shape++) {
		for (int frac = 8; frac >= 1; frac /= 2) {
			size_t nrec = shape == 0 ? room / per1 / (size_t)frac : 1;
			size_t nf = shape == 0 ? 1 : maxf / (size_t)frac;
			size_t len = build(b, nrec, nf);
			enum { RUNS = 201 };
			uint64_t t[RUNS];
			for (int r = 0; r < RUNS; r++) {
				struct sut_registry reg;
				struct sut_err err;
				uint64_t t0 = now_ns();
				if (sut_registry_decode(b, len, SUT_REG_SIZE, &reg, &err) < 0) {
					fprintf(stderr, "decode: %s\n", err.msg);
					return 1;
				}
				size_t n = 0;
				for (const struct sut_reg_patch *p = sut_registry_next(&reg, NULL); p;
				     p = sut_registry_next(&reg, p))
					n += p->nfuncs;
				t[r] = now_ns() - t0;
				sut_registry_free(&reg);
				if (n != nrec * nf)
					return 1;
			}
			qsort(t, RUNS, sizeof t[0], cmp_u64);
			printf("%s{\"records\": %zu, \"functions_per_record\": %zu, \"bytes\": %zu, "
			       "\"decode_median_us\": %.1f, \"ns_per_byte\": %.2f}",
			       sep, nrec, nf, len, t[RUNS / 2] / 1e3, (double)t[RUNS / 2] / (double)len);
			sep = ", ";
		}
	}
	printf("]}\n");
	free(b);
	return 0;
}

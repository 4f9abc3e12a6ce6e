/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer-style harness for the registry decoder: the bytes are a registry image as a
 * hostile process could plant it (header and what follows); every query a status or a
 * transaction makes is then run on whatever decoded. Build, e.g.:
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_registry.c \
 *         LAYER-LIBRARIES -lelf -ldw -lcrypto -lpthread
 * or link it with a driver that feeds files to LLVMFuzzerTestOneInput. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apply/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sut_registry reg;
	struct sut_err err;
	/* the mapping size comes from /proc/PID/maps, which the process also controls: let
	 * the first bytes choose between the right size and another */
	uint64_t map_size = size && (data[0] & 0x80) ? size : SUT_REG_SIZE;
	if (sut_registry_decode(data, size, map_size, &reg, &err) < 0)
		return 0;
	size_t n = 0;
	for (const struct sut_reg_patch *p = sut_registry_next(&reg, NULL); p;
	     p = sut_registry_next(&reg, p), n++) {
		(void)sut_registry_find(&reg, p->id);
		for (uint32_t k = 0; k < p->nfuncs; k++) {
			const struct sut_reg_func *f = &sut_reg_funcs(p)[k];
			(void)sut_registry_owner(&reg, f->addr, -1);
			(void)sut_registry_original(&reg, f->addr);
			(void)strlen(f->name);
		}
		(void)strlen(p->cves);
		(void)strlen(p->target);
	}
	if (n != reg.hdr.npatches)
		__builtin_trap();
	(void)sut_registry_patch(&reg, n ? n - 1 : 0);
	(void)sut_registry_nfuncs(&reg);
	/* dropping every other record and encoding what is left gives a valid image again */
	bool *drop = calloc(n ? n : 1, sizeof *drop);
	for (size_t i = 0; i < n; i += 2)
		drop[i] = true;
	sut_registry_drop(&reg, drop);
	free(drop);
	reg.hdr.state = SUT_REG_IDLE;
	reg.pending_len = 0;
	uint8_t *img = calloc(1, SUT_REG_SIZE);
	long len = sut_registry_encode(&reg, img, SUT_REG_SIZE, &err);
	struct sut_registry again;
	if (len < 0 || sut_registry_decode(img, (size_t)len, SUT_REG_SIZE, &again, &err) < 0)
		__builtin_trap();
	sut_registry_free(&again);
	free(img);
	sut_registry_free(&reg);
	return 0;
}

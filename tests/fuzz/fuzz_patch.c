/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the patch file reader (src/patch/patch_read.c, patch_validate.c).
 *
 * Any byte string must be either refused with a message or read into a model that is
 * valid; a model that was read must write back (deterministically) to bytes that read
 * again into a model that writes the very same bytes. Crashes, leaks and undefined
 * behaviour are the sanitizers' findings; a broken property aborts. Seeds are in
 * tests/fuzz/corpus/patch/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch/patch.h"
#include "patch/sign.h"

static void property(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_patch: property broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sut_patch *p = NULL;
	struct sut_err err;
	if (sut_patch_read_mem(data, size, &p, &err) < 0) {
		property(err.msg[0] != 0, "a refusal says why");
		return 0;
	}
	property(sut_patch_validate(p, &err) == 0, "what the reader accepts is valid");
	uint8_t *w1 = NULL, *w2 = NULL, *canon = NULL;
	size_t n1 = 0, n2 = 0, nc = 0;
	property(sut_patch_write_mem(p, &w1, &n1, &err) == 0, "an accepted model writes");
	struct sut_patch *q = NULL;
	property(sut_patch_read_mem(w1, n1, &q, &err) == 0, "what the writer wrote reads");
	property(sut_patch_write_mem(q, &w2, &n2, &err) == 0, "the re-read model writes");
	property(n1 == n2 && memcmp(w1, w2, n1) == 0, "writing is deterministic across a round trip");
	property(sut_patch_canonical_bytes(p, &canon, &nc, &err) == 0, "canonical bytes exist");
	free(canon);
	free(w1);
	free(w2);
	sut_patch_free(q);
	sut_patch_free(p);
	return 0;
}

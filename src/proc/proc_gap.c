/* SPDX-License-Identifier: Apache-2.0 */
/* Choosing free address space near an object, so that code placed there reaches the
 * object, and the object reaches it, with 32-bit pc-relative displacements (jmp rel32,
 * R_X86_64_PC32). A pure function of the map list: it is tested on synthetic maps. */
#include "proc/proc.h"

#include <inttypes.h>
#include <string.h>

#define PAGE 4096ULL
/* User space that mmap(MAP_FIXED_NOREPLACE) can use: above the usual mmap_min_addr and below
 * the top of the 47-bit canonical half (the last page is never handed out). */
#define USER_LO 0x10000ULL
#define USER_HI 0x7ffffffff000ULL
/* 2 GiB less a margin, so later growth of either side (a few more pages of patch code,
 * displacement measured from the end of an instruction) cannot push a displacement out of
 * rel32 range. */
#define REACH ((2ULL << 30) - (16ULL << 20))
/* Room kept free below the main stack: it grows down on demand (default 8 MiB limit) and
 * the kernel keeps a guard gap below it; placing code there would collide with growth. */
#define STACK_ROOM ((8ULL << 20) + (1ULL << 20))

static uint64_t page_down(uint64_t x) { return x & ~(PAGE - 1); }
static uint64_t page_up(uint64_t x) { return (x + PAGE - 1) & ~(PAGE - 1); }

/* Distance from [a, a+size) to [lo, hi): 0 when they overlap. */
static uint64_t distance(uint64_t a, uint64_t size, uint64_t lo, uint64_t hi)
{
	if (a + size <= lo)
		return lo - (a + size);
	if (a >= hi)
		return a - hi;
	return 0;
}

/* Best page-aligned placement of size bytes inside the free range [g_lo, g_hi), limited to
 * the window [w_lo, w_hi) where every byte reaches every byte of [lo, hi): as close to
 * [lo, hi) as the gap allows. Returns 1 and sets *addr, or 0 when it does not fit. */
static int place_in_gap(uint64_t g_lo, uint64_t g_hi, uint64_t w_lo, uint64_t w_hi,
			uint64_t lo, uint64_t size, uint64_t *addr)
{
	uint64_t a_lo = page_up(g_lo > w_lo ? g_lo : w_lo);
	uint64_t a_hi = g_hi < w_hi ? g_hi : w_hi; /* end limit for the range */
	if (a_hi < size || page_down(a_hi - size) < a_lo)
		return 0;
	uint64_t last = page_down(a_hi - size);
	/* Below the object: hug its start (the highest start); above it: the lowest start;
	 * a gap around an unmapped [lo, hi) (synthetic input): as near lo as it allows. */
	uint64_t want = page_down(lo);
	*addr = want < a_lo ? a_lo : want > last ? last : want;
	return 1;
}

int sut_maps_find_gap_near(const struct sut_maps *m, uint64_t lo, uint64_t hi, uint64_t size,
			   uint64_t *addr, struct sut_err *err)
{
	if (!size || hi <= lo)
		return sut_errf(err, "find gap: empty range (size %" PRIu64 ", [0x%" PRIx64
				", 0x%" PRIx64 "))", size, lo, hi);
	size = page_up(size);
	/* Every byte x of the new range must satisfy x >= (hi - 1) - REACH and
	 * x <= lo + REACH: that keeps |x - y| <= REACH for every y in [lo, hi). */
	if (hi - lo + size > REACH)
		return sut_errf(err, "find gap: range [0x%" PRIx64 ", 0x%" PRIx64
				") plus %" PRIu64 " bytes exceeds the rel32 reach", lo, hi, size);
	uint64_t w_lo = (hi - 1 > REACH) ? hi - 1 - REACH : 0;
	uint64_t w_hi = lo + REACH + 1; /* exclusive end of the window */
	if (w_lo < USER_LO)
		w_lo = USER_LO;
	if (w_hi > USER_HI)
		w_hi = USER_HI;

	int found = 0;
	uint64_t best = 0, best_dist = UINT64_MAX;
	uint64_t prev_end = USER_LO;
	/* One extra iteration for the gap above the last mapping. */
	for (size_t i = 0; i <= m->n; i++) {
		uint64_t g_lo = prev_end;
		uint64_t g_hi = i < m->n ? m->v[i].start : USER_HI;
		if (i < m->n && strcmp(m->v[i].path, "[stack]") == 0)
			g_hi = g_hi > STACK_ROOM ? g_hi - STACK_ROOM : 0;
		if (i < m->n && m->v[i].end > prev_end)
			prev_end = m->v[i].end;
		if (g_hi > USER_HI)
			g_hi = USER_HI;
		if (g_hi <= g_lo)
			continue;
		uint64_t a;
		if (!place_in_gap(g_lo, g_hi, w_lo, w_hi, lo, size, &a))
			continue;
		uint64_t d = distance(a, size, lo, hi);
		if (d < best_dist) {
			best_dist = d;
			best = a;
			found = 1;
		}
	}
	if (!found)
		return sut_errf(err, "no free %" PRIu64 "-byte range within +-2 GiB of [0x%" PRIx64
				", 0x%" PRIx64 ")", size, lo, hi);
	*addr = best;
	return 0;
}

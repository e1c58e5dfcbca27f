/* heap.c -- the heap set up for one pass over a large policy: `check`,
 * and `run` from reading the policy to ready. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "heap.h"

/* A 100,000-origin policy touches about 40 MB of heap (50 MB in `run`,
 * with the token values): 8,900 page faults with 4 KiB pages, 1,350 with
 * huge pages, 380 (330 of them the process's start) with the heap's
 * first two huge pages left out (below). Freed memory is kept for the
 * next stage rather than each block over 128 KiB going back to the
 * kernel to be faulted in again. */
#define PF_HEAP_GROW (64ul << 20)
#define HUGE_PAGE    (2ul << 20)

/* glibc's defaults (mallopt(3); M_TOP_PAD: DEFAULT_TOP_PAD, 128 KiB):
 * what pf_heap_done() goes back to. Its dynamic mmap threshold stays off
 * once set: a daemon's later allocations are small. */
#define GLIBC_MMAP_THRESHOLD (128ul << 10)
#define GLIBC_TRIM_THRESHOLD (128ul << 10)
#define GLIBC_TOP_PAD        (128ul << 10)

/* The range pf_heap_grow() advised (0, 0: none). */
static uintptr_t huge_lo, huge_hi;

/* See heap.h. Up to the first huge page boundary the grown heap cannot
 * be in huge pages, and up to the next one the growing malloc wrote its
 * own bookkeeping before the madvise, so that page is in 4 KiB pages
 * too: the block returned is the heap up to there, never touched. The
 * blocks after it, the 5 MB policy file first, start in huge pages.
 * Best effort: an allocator that does not grow the heap by sbrk (ASan's)
 * or a kernel without THP gets only the thresholds. */
void *pf_heap_grow(void)
{
	uintptr_t before, lo, hi;
	void *p, *below;

	mallopt(M_MMAP_THRESHOLD, PF_HEAP_GROW);
	mallopt(M_TRIM_THRESHOLD, 2 * PF_HEAP_GROW);
	mallopt(M_TOP_PAD, PF_HEAP_GROW);
	before = (uintptr_t)sbrk(0);
	p = malloc(HUGE_PAGE);   /* more than the heap has: it grows now */
	lo = (before + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	hi = (uintptr_t)sbrk(0) & ~(HUGE_PAGE - 1);
	if (!p || hi <= lo + HUGE_PAGE)  /* only what this sbrk added */
		goto none;
	if (!madvise((void *)lo, hi - lo, MADV_HUGEPAGE)) {
		huge_lo = lo;
		huge_hi = hi;
	}
	if ((uintptr_t)p >= lo)
		goto none;
	below = realloc(p, lo + HUGE_PAGE - (uintptr_t)p);  /* grows in place */
	if (below)
		return below;
none:
	free(p);
	return NULL;
}

/* See heap.h. The advice goes too: the kernel's huge page collapser
 * would fill the trimmed range's 2 MB pages again around the blocks
 * still in use, and a fault there would take a whole huge page. */
void pf_heap_done(void *below, int daemon)
{
	free(below);
	if (!daemon)
		return;
	mallopt(M_TOP_PAD, GLIBC_TOP_PAD);
	mallopt(M_TRIM_THRESHOLD, GLIBC_TRIM_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, GLIBC_MMAP_THRESHOLD);
	if (huge_hi > huge_lo)
		madvise((void *)huge_lo, huge_hi - huge_lo, MADV_NOHUGEPAGE);
	huge_lo = huge_hi = 0;
	malloc_trim(0);
}

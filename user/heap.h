/* User: the heap set up for a pass over a large policy (check, run's start). */
#ifndef PF_HEAP_H
#define PF_HEAP_H

/* Grow the heap once, by PF_HEAP_GROW bytes, in transparent huge pages
 * where the kernel has them (madvise mode), and keep freed memory for the
 * next stage. Returns a block for pf_heap_done() (NULL if none). */
void *pf_heap_grow(void);

/* End of the pass: free the block pf_heap_grow() returned; daemon: also
 * go back to glibc's thresholds, in 4 KiB pages, and give the free heap
 * back to the kernel (a long-running process keeps no start-up peak).
 * Before the daemon's threads start: an arena they create then gets
 * glibc's padding, not the pass's (start-up's loading threads, user/
 * load.h and progs.h, run during the pass: malloc_trim here gives back
 * what is free inside every arena, but not a thread arena's top, which
 * only a free in that arena trims -- pf_progs_trim, after this). Safe
 * to call again (NULL). */
void pf_heap_done(void *below, int daemon);

#endif /* PF_HEAP_H */

/* User: `run`'s start-up -- the datapath object opened, sized, prepared and verified (cmd_run.c). */
/*
 * load.h -- the TC object (struct preflightd_bpf) from open to loaded,
 * one way for every start, in line or on a thread of its own.
 *
 * Verifying the programs is most of start to ready (about 260 ms here);
 * reading and compiling a 100,000-origin policy about 70-130 ms more.
 * The load needs two things of the policy: pf_tokens' size (its strings)
 * and whether the response offload's programs load. On a fresh start --
 * nothing pinned for the interface, so nothing to adopt, settle or
 * detach, none of whose effects may precede a policy found valid --
 * pf_load_start guesses both from the file's text (pf_policy_hint) and
 * loads on a thread while the caller reads the policy; pf_load_join then
 * tells whether the guess holds for the compiled policy: room for its
 * strings in the hash buckets its own size would get (the same memory),
 * the offload's programs as it asks. If not (an alias repeating a list
 * under another key; many lines that hold no string, e.g. regex
 * origins; "responses" named but not enabled), the caller discards the
 * object and loads it again in line: the same maps and programs, later.
 * The guessed map may leave a reload more room (PF_TOKENS_HEADROOM: at
 * least). Not guessed: a guess over PF_LOAD_GUESS_MAX, a lock busy at
 * first. The policy file is read once (pf_policy_read_file), before the
 * thread starts, and loaded from those bytes.
 *
 * What differs for the caller: the probes and the verification run for
 * a policy then found invalid too (its errors said after them); the
 * thread's messages (libbpf's, the verifier's with -v) come while the
 * policy is read; the probes run twice where the guess fails. The lock
 * is held from before the policy is read (`detach` meanwhile refused).
 * The thread's malloc arena is made under the policy pass's padding
 * (heap.h): pf_heap_done's malloc_trim trims every arena.
 */
#ifndef PF_LOAD_H
#define PF_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include "maps.h"
#include "offload.h"
#include "pin.h"
#include "progs.h"

struct preflightd_bpf;

/* Files whose guessed strings exceed this load in line: pf_tokens' hash
 * buckets (16 bytes each, pf_maps_tokens_max rounded up to a power of
 * two) are allocated for the guess before the policy is known: 2^18
 * strings, 2^21 entries, 32 MiB. */
#define PF_LOAD_GUESS_MAX (1u << 18)

struct pf_load {
	/* in (pf_load_programs; pf_load_start sets n_toks and ofl_want) */
	const char *iface;
	int ifindex;
	unsigned max_flows;
	unsigned drain_timeout;
	bool xdp;              /* XDP mode (its program is xdp.c's object) */
	bool shadow;
	bool cgroup;           /* --cgroup: the offload's programs load */
	unsigned n_toks;       /* pf_tokens sized for this many strings */
	bool ofl_want;         /* the policy enables the response offload */
	bool no_may_goto;      /* the bpf_loop variant whatever the kernel has
				* (kfeat.h): after the verifier refused the
				* open-coded loops (cmd_run.c) */
	struct pf_pin *pin;    /* locked */
	struct pf_ofl *ofl;
	struct pf_prefill *pre;
	/* out */
	struct preflightd_bpf *skel;
	struct pf_progs progs; /* its programs' objects (progs.h) */
	/* pf_load_start's thread */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started;
	bool created;          /* pf_tokens exists, or the thread is done */
	int err;               /* the thread's: 0 or -errno */
};

/* A struct pf_load's initial value: the rest is the caller's to set. */
#define PF_LOAD_INIT { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER }

/* Open the object, probe the kernel, size the maps for l->n_toks
 * strings, adopt (or detach) what a previous instance left in l->pin,
 * prepare the response offload, create pf_tokens (pf_maps_prefill),
 * start writing c's tokens into it if c is not NULL, and load (the
 * maps, then the programs, the longest side by side: progs.h). l->skel
 * is set once opened. Returns 0 or -errno (message printed; what was
 * made is pf_load_discard's). */
int pf_load_programs(struct pf_load *l, const struct pf_compiled *c);

/* pf_load_programs on a thread, guessing n_toks and ofl_want from the
 * policy's text (len bytes, as pf_policy_read_file read them), if the
 * start is a fresh one (l->pin->dir absent) and the guess within
 * PF_LOAD_GUESS_MAX. Returns 1 if started, 0 if not (the caller loads in
 * line once the policy is compiled). */
int pf_load_start(struct pf_load *l, const char *text, size_t len);

/* Started: once pf_tokens exists, if the guess holds for the compiled
 * policy c (pf_tokens as large as c's strings need, pf_maps_tokens_max;
 * the response offload's programs as c and --cgroup ask for them), start
 * writing c's tokens while the rest loads; then wait for the thread.
 * Returns 0 with l->skel loaded, 1 if the guess does not hold (l's
 * object discarded: load in line), or the thread's -errno (message
 * printed). */
int pf_load_join(struct pf_load *l, const struct pf_compiled *c);

/* Wait for the thread if it was never joined, destroy l->skel (and its
 * programs' objects, progs.h) and close pf_tokens' fd once the token
 * fill is done (pf_maps_prefill_join).
 * Safe on what was never started or opened; leaves l reusable. */
void pf_load_discard(struct pf_load *l);

#endif /* PF_LOAD_H */

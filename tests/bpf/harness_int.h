/* tests/bpf: harness internals (the loaded object, its maps, raw runs): harness.c, state.c, chain.c, pause.c, and the test files that reach into the object itself. */
#ifndef PF_TEST_HARNESS_INT_H
#define PF_TEST_HARNESS_INT_H

#include "harness.h"
#include "preflightd_test.skel.h"
#include "policy.h"
#include "maps.h"

extern struct preflightd_test *h_skel;
extern int h_up_fd[2];      /* ETH_P_IP / ETH_P_IPV6 packet sockets on lo */
extern int h_lo_ifindex;
extern struct pf_maps h_maps;  /* the loaded object's, for user/maps.c */

/* Print "bpftest: what: strerror(err)" and exit 2. */
void h_die(const char *what, int err) __attribute__((noreturn));

/* Sum of the per-CPU counters into v; r->delta = now - before. */
void h_read_stats(long long v[PF_STAT__MAX]);
void h_stats_delta(struct h_run *r, const long long before[PF_STAT__MAX]);
/* Leave r's XDP leg (h_test_run) out of r->delta. */
void h_leg_adjust(struct h_run *r);
/* The counters of one CPU into v. */
void h_read_stats_cpu(int cpu, long long v[PF_STAT__MAX]);

/* One bpf_prog_test_run_opts of prog over pkt into r (output, retval,
 * verdict, XDP metadata); no counters, no capture: safe on any thread. */
int h_test_run(const struct h_prog *prog, const __u8 *pkt, size_t len,
	       const struct h_env *env, struct h_run *r);

/* Collect the frames transmitted on lo since the last call into r's tx
 * (NULL: discard them). */
void h_capture(struct h_run *r);

/* Discard what the after-TC sockets (h_up_fd) hold. */
void h_drain_up(void);

/* Check run r of fixture f (input in, n bytes) against the deltas d. */
bool h_check_fix(const struct h_fix *f, const __u8 *in, size_t n, const struct h_run *r,
		 const struct h_delta *d);

/* Set by h_pause_finish when the stopped packet went on by itself (see
 * run_case: the case is run again, at most 3 times). */
extern bool h_pause_timed_out;

/* Write c into the maps with the daemon's installer (its slot's old
 * tokens removed first) and make its slot active. */
void h_install_policy(const struct pf_compiled *c);

/* Compile policy yaml for slot into c (exits if it does not compile). */
void h_compile(const char *yaml, __u32 slot, struct pf_compiled *c);

/* Make slot the active one, serving ports (what a reload switches). */
void h_activate(__u32 slot, const __u16 *ports, unsigned n);

#endif /* PF_TEST_HARNESS_INT_H */

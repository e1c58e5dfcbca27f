/* User: shadow mode (issue 13) -- compare the app's CORS answers with the policy's, field by field. */
#ifndef PF_SHADOW_H
#define PF_SHADOW_H

#include <stdio.h>
#include <stdbool.h>
#include <linux/types.h>
#include "policy.h"

struct ring_buffer;
struct preflightd_bpf;
struct pf_shd_pending;

struct pf_shadow {
	struct pf_compiled comp;         /* the running policy, compiled for
					  * userspace decisions */
	bool have_policy;
	struct pf_shd_pending *tab;      /* requests waiting for their answer */
	struct pf_shd_stats st;
	int stats_fd, diffs_fd;          /* pf_shd_stats, pf_shd_diffs */
};

/* Start: decide with pol (the policy `run` loaded and enforces: never
 * the file read again, which may have changed since), use skel's shadow
 * maps and read the pf_shd ring buffer through rb. Returns 0 or -errno
 * (message printed). */
int pf_shadow_start(struct pf_shadow *s, struct preflightd_bpf *skel,
		    const struct pf_policy *pol, struct ring_buffer *rb);

/* The policy was reloaded as pol (the one installed): decide with it
 * from now on (compiled here; the old one stays if that fails). pol is
 * not kept. */
void pf_shadow_policy(struct pf_shadow *s, const struct pf_policy *pol);

void pf_shadow_free(struct pf_shadow *s);

/* One pair, decided and compared (also what the ring buffer callback
 * does): req/resp are the heads, key/preflight-ness for the records.
 * Exposed for the unit tests. */
void pf_shadow_compare(struct pf_shadow *s, const struct pf_flow_key *key,
		       const __u8 *req, __u32 req_len, const __u8 *resp, __u32 resp_len);

/* `preflightd stats` / `/metrics`: print the counters in the pinned
 * pf_shd_stats map at path (nothing if there is none). json: as
 * ",\"shadow\":{...}" to splice into stats --json. */
void pf_shadow_print_stats(const char *path, bool json);
void pf_shadow_metrics(FILE *f);

/* One disagreement as a `trace` line (with its newline) into buf;
 * mono_to_real_ns converts its timestamp. The client's and the app's
 * bytes are escaped (escape.h): a line is one line of plain ASCII whose
 * fields nothing in them can fake. Returns what snprintf returns. */
int pf_shadow_diff_line(char *buf, size_t cap, const struct pf_shd_diff *d,
			__s64 mono_to_real_ns);

/* `preflightd trace`: print (and remove) at most max (0: all) of the
 * disagreements waiting in the pinned pf_shd_diffs queue at path;
 * mono_to_real_ns converts their timestamps. Returns how many were
 * printed, or -errno: of opening the queue, or of writing stdout (then
 * ferror(stdout) is set; EPIPE: its reader went away). */
int pf_shadow_trace(const char *path, __s64 mono_to_real_ns, unsigned max);

#endif /* PF_SHADOW_H */

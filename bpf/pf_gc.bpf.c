// SPDX-License-Identifier: GPL-2.0
/*
 * pf_gc.bpf.c -- the GC's conditional delete (user/gc.c), an object of its
 * own: one BPF_PROG_TYPE_SYSCALL program and the datapath's pf_flows map,
 * whose fd the daemon reuses (bpf_map__reuse_fd), so nothing here changes
 * the datapath object, its layout fingerprint or restart adoption.
 *
 * The GC decides that an entry is dead from a copy read in a batch, and
 * deletes it later. Meanwhile the datapath may have deleted that entry
 * (the server's SYN-ACK on its 4-tuple: pf_syn_out, pf_xlate.h) and a new
 * connection on the same tuple created its own (pf_track_first, or a
 * splice in pf_answer.h): a delete by key would free the new connection's
 * entry and leave its later segments untranslated. pf_gc_delete deletes
 * an entry only if its gen and last_ns are still those the GC read (a new
 * entry has a random gen and a later last_ns; an old one that saw a packet
 * since has a later last_ns: both stay).
 *
 * The check and the delete are a few instructions apart, with preemption
 * off between them (bpf_preempt_disable): no syscall boundary, no sleep,
 * no reschedule. To slip in there, the old entry's SYN-ACK delete and the
 * new connection's first client segment (a network round trip after that
 * SYN-ACK) would both have to happen within those instructions; an
 * interrupt on this CPU could stretch them by microseconds at most, still
 * short of a round trip that passes the client's stack and the app.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../include/pf_structs.h"

char LICENSE[] SEC("license") = "GPL";

/* The datapath's map (bpf/pf_maps.h); the loader reuses its fd, so only
 * the key and value types matter here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct pf_flow_key);
	__type(value, struct pf_flow);
} pf_flows SEC(".maps");

/* In: the candidates and how many (userspace writes them through the
 * mmapped .bss). Out: what became of them. */
struct pf_gc_cand pf_gc_cands[PF_GC_CHUNK];
__u32 pf_gc_n;
__u32 pf_gc_deleted;   /* deleted */
__u32 pf_gc_changed;   /* kept: gen or last_ns changed since the read */

extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

/* bpf_loop callback: candidate i. */
static long pf_gc_one(__u64 i, void *ctx)
{
	struct pf_gc_cand *c;
	struct pf_flow *f;
	long err;

	(void)ctx;
	if (i >= PF_GC_CHUNK)
		return 1;
	c = &pf_gc_cands[i];
	bpf_preempt_disable();
	f = bpf_map_lookup_elem(&pf_flows, &c->key);
	if (!f) {
		/* gone already (the datapath's SYN-ACK delete) */
		bpf_preempt_enable();
		return 0;
	}
	if (f->gen != c->gen || f->last_ns != c->last_ns) {
		bpf_preempt_enable();
		pf_gc_changed++;
		return 0;
	}
	err = bpf_map_delete_elem(&pf_flows, &c->key);
	bpf_preempt_enable();
	if (!err)
		pf_gc_deleted++;
	return 0;
}

SEC("syscall")
int pf_gc_delete(void *ctx)
{
	(void)ctx;
	pf_gc_deleted = 0;
	pf_gc_changed = 0;
	bpf_loop(pf_gc_n < PF_GC_CHUNK ? pf_gc_n : PF_GC_CHUNK, pf_gc_one, NULL, 0);
	return 0;
}

/* BPF only (every program): the datapath's maps and global configuration, and the matcher bound to them (userspace sees them through the skeleton). */
/*
 * pf_maps.h -- one comment per map. Sizes marked "set at load" are
 * overridden by the loader with bpf_map__set_max_entries().
 */
#ifndef PF_MAPS_H
#define PF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_structs.h"
#include "pf_test.h"    /* PF_TEST_LOCK_FAIL */

/* Map helpers' errors (negated) that callers tell apart: a delete of a
 * key not there; bpf_map_update_elem's BPF_NOEXIST on an existing key,
 * and a socket map's socket whose old psock is still being dropped. */
#define PF_ENOENT 2
#define PF_EBUSY  16
#define PF_EEXIST 17

/* Policy strings (origins, headers, methods, hosts) of both slots. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);  /* set at load */
	__type(key, struct pf_tok_key);
	__type(value, struct pf_tok_val);
} pf_tokens SEC(".maps");

/* Rules of both slots, index slot * PF_MAX_RULES + rule. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PF_SLOTS * PF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pf_rule);
} pf_rules SEC(".maps");

/* Slow path: the origins whose regex verdict the daemon learned (a
 * PF_TOK_ORIGIN token per origin and slot: rules = the matching regex
 * rules, 0 = none). LRU, apart from the policy's pf_tokens: a flood of
 * distinct origins evicts the least recently used verdicts (decided again
 * at their next punt) instead of filling a table that then refuses every
 * new origin -- and can never crowd out the policy itself. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pf_tok_key);
	__type(value, struct pf_tok_val);
} pf_learned SEC(".maps");

/* A policy string, or for an origin the policy does not list exactly,
 * a learned regex verdict. */
static __always_inline const struct pf_tok_val *pf_tok_lookup(const struct pf_tok_key *k)
{
	const struct pf_tok_val *v = bpf_map_lookup_elem(&pf_tokens, k);

	if (!v && k->kind == PF_TOK_ORIGIN)
		v = bpf_map_lookup_elem(&pf_learned, k);
	return v;
}
#define PF_TOK_LOOKUP(k) pf_tok_lookup(k)

/* Slow path: request-header lists over the kernel's limits, decided by
 * the daemon (struct pf_acrh_key/val). LRU: an evicted verdict is only
 * decided again. The daemon clears a slot's entries when it reloads. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pf_acrh_key);
	__type(value, struct pf_acrh_val);
} pf_acrh SEC(".maps");

#define PF_ACRH_LOOKUP(k) \
	((const struct pf_acrh_val *)bpf_map_lookup_elem(&pf_acrh, (k)))

/* Each slot's table of allowed request-header names (struct
 * pf_hdr_tab): one look-up per request-header list instead of one
 * pf_tokens look-up per name. Written with the slot's rules. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PF_SLOTS);
	__type(key, __u32);
	__type(value, struct pf_hdr_tab);
} pf_hdrs SEC(".maps");

static __always_inline const struct pf_hdr_tab *pf_hdrs_lookup(__u32 slot)
{
	return bpf_map_lookup_elem(&pf_hdrs, &slot);
}
#define PF_HDRS_LOOKUP(s) pf_hdrs_lookup(s)

static __always_inline const struct pf_rule *pf_rule_lookup(__u32 idx)
{
	return bpf_map_lookup_elem(&pf_rules, &idx);
}
#define PF_RULE_LOOKUP(i) pf_rule_lookup(i)

/* The matcher needs the four look-ups above. */
#include "pf_resp.h"

/* Spliced connections. Preallocated hash, never LRU: a full table means
 * "pass to the app", never "evict a live splice". */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, struct pf_flow_key);
	__type(value, struct pf_flow);
} pf_flows SEC(".maps");

/* Connections whose SYN-ACK this interface's TC egress sent (two tags a
 * bucket, struct pf_synack_bucket): a connection whose first request is
 * answered before any server byte was seen needs that proof that its
 * server segments leave here, to be translated -- with asymmetric routing
 * (ECMP over two interfaces, a reply route or policy rule via another
 * one) they would leave untranslated and break it. A tag that two other
 * SYN-ACKs of its bucket pushed out in between (a SYN flood) only passes
 * that first request to the app. Not pinned: a restarted instance passes
 * the first request of connections accepted before it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PF_SYNACK_BUCKETS);
	__type(key, __u32);
	__type(value, struct pf_synack_bucket);
} pf_synack SEC(".maps");

/* The pf_synack bucket of connection k (NULL if the look-up fails) and
 * (*tag, never 0) its tag there (pf_synack_hash). */
static __always_inline struct pf_synack_bucket *pf_synack_get(const struct pf_flow_key *k,
							     __u32 *tag)
{
	__u64 h = pf_synack_hash(k);
	__u32 b = PF_SYNACK_BUCKET(h);

	*tag = PF_SYNACK_TAG(h);
	return bpf_map_lookup_elem(&pf_synack, &b);
}

/* TC egress: a SYN-ACK of connection k left; its tag goes first in its
 * bucket, the older one second (written only when the tag is not there:
 * no cache line dirtied per SYN-ACK sent again). Two CPUs writing one
 * bucket at once may lose a tag: that connection's first request goes
 * to the app. */
static __always_inline void pf_synack_note(const struct pf_flow_key *k)
{
	struct pf_synack_bucket *v;
	__u32 tag;

	v = pf_synack_get(k, &tag);
	if (!v || v->tag[0] == tag || v->tag[1] == tag)
		return;
	v->tag[1] = v->tag[0];
	v->tag[0] = tag;
}

/* Did this interface's TC egress send the SYN-ACK of connection k? */
static __always_inline int pf_synack_seen(const struct pf_flow_key *k)
{
	struct pf_synack_bucket *v;
	__u32 tag;

	v = pf_synack_get(k, &tag);
	return v && (v->tag[0] == tag || v->tag[1] == tag);
}

/* Outcome counters, indexed by enum pf_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PF_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} pf_stats SEC(".maps");

/* The segment pf_emit builds (pf_emit.h). */
struct pf_emit {
	__u32 seq;        /* wire seq (host order) */
	__u32 ack;        /* ack (host order) */
	__u16 win;        /* raw (scaled) window, host order */
	__u8  has_ts;
	__u8  to_server;  /* 1: client -> server pure ACK, no payload */
	__u32 tsval;      /* host order */
	__u32 tsecr;      /* host order */
};

/* The request's timestamp option (TSval/TSecr as sent by the client). */
struct pf_reqts {
	__u32 has, val, ecr;
};

/* Per-CPU scratch: the request copy, the response being built and the
 * parse/match results (too big for the 512-byte BPF stack). */
struct pf_scratch {
	/* headers being built (Ethernet, IP, TCP: pf_emit builds them to
	 * end at resp, to store headers and payload with one call), or a
	 * request's TCP header being read (pf_verify_csum) */
	__u8 hdrs[128];
	__u8 resp[2 * PF_RESP_MAX];
	struct pf_req r;
	struct pf_match m;
	/* new flow entry being created; raw bytes because a per-CPU map
	 * value may not contain a bpf_spin_lock */
	__u64 nf[(sizeof(struct pf_flow) + 7) / 8];
	__u8 eth[16];            /* the request's Ethernet header */
	struct pf_sockinfo si;   /* the local socket's state */
	__u32 grown;             /* XDP: bytes the frame grew at its head */
	/* the answer's TCP timestamps and segment: here, not on the stack,
	 * they left pf_tc_ingress's frame 16 bytes smaller, the first on
	 * its deepest call chain (pf_decide's), which stood at 512 bytes
	 * (one spilled word more: "combined stack size of 4 calls is 528.
	 * Too large") */
	struct pf_reqts ts;
	struct pf_emit e;
	/* r is pf_parse_head's PF_P_OK parse of req's first head_n bytes (0:
	 * it is not): set by pf_frame_req, cleared before req or r is
	 * written otherwise (pf_load_req, pf_client_bytes, pf_decide). The
	 * response offload's recorder (pf_ofl_reuse) takes r instead of
	 * parsing the same head again. */
	__u32 head_n;
	/* the partial sum of req's n bytes (zero-padded to 4) when
	 * pf_load_req summed them as it copied (pf_copy_sum), else -1: for
	 * pf_verify_csum right after */
	__s64 req_sum;
	/* after the answer's other fields: they stay in the value's first
	 * pages, whatever PF_REQ_MAX is (8-aligned, as every field before
	 * it: the parser reads it in words) */
	__u8 req[PF_REQ_BUF];
	/* a request about to be punted (pf_punt_req): its headers as they
	 * arrived (punt_hlen bytes, 0: none kept) and its payload's length
	 * (in req), for the record's copy of the segment. Behind req: a
	 * field before it would move req (measured: by 140 bytes, to 4 past
	 * a word) for a path taken once per punt */
	__u8 punt_hdr[PF_PUNT_HDR_MAX];
	__u32 punt_hlen;
	__u32 punt_plen;
	__u32 punt_l4;
	/* its client's address, an IPv6 one cut to its /64: the key of
	 * pf_punt_srcs (pf_punt_src_of) */
	__u8 punt_src[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_scratch);
} pf_scratch SEC(".maps");

/* Decision tracing: off unless `preflightd trace` sets a sample rate. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_trace_ctl);
} pf_trace_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} pf_trace SEC(".maps");

/* Slow path: what the datapath hands to the daemon (struct
 * pf_punt_rec, see pf_punt_req in pf_answer.h); about 1,290 records of
 * 3,240 bytes plus an 8-byte header (the punted segment travels with
 * its origin). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} pf_punt SEC(".maps");

/* A pf_punt record reserved with every field set but data's bytes and no
 * segment (frame_len 0): the ring's memory holds an older record's bytes,
 * so each writer starts here (pf_punt_req, pf_ofl_learn). NULL when the
 * ring is full. */
static __always_inline struct pf_punt_rec *pf_punt_rec_new(__u64 h, __u32 slot, __u32 rule,
							   __u64 len, __u8 kind, __u64 now)
{
	struct pf_punt_rec *rec = bpf_ringbuf_reserve(&pf_punt, sizeof(*rec), 0);

	if (!rec)
		return NULL;
	rec->hash = h;
	rec->slot = slot & (PF_SLOTS - 1);
	rec->rule = rule & (PF_MAX_RULES - 1);
	rec->len = (__u16)len;
	rec->kind = kind;
	__builtin_memset(rec->pad, 0, sizeof(rec->pad));
	rec->ns = now;
	rec->frame_len = 0;
	rec->frame_l4 = 0;
	rec->pad2 = 0;
	return rec;
}

/* The daemon is alive if its heartbeat (CLOCK_MONOTONIC, the clock of
 * bpf_ktime_get_ns) is younger than this; an origin waits at most this
 * long for the daemon's verdict before requests from it go to the app. */
#define PF_PUNT_WAIT_NS 1000000000ULL

/* Slow path: the punts a client address (pf_scratch.punt_src) made in
 * the current second (from t, bpf_ktime_get_ns), at most PF_PUNT_SRC_MAX;
 * more go to the app (PF_STAT_PASS_PUNT_LIMIT). Every punt costs the
 * daemon a record to read (3 KiB of a 4 MiB ring), regexes to run and a
 * verdict to insert into an LRU map: one client sending request after
 * request with a new regex-only origin or header list each -- each
 * dropped, so its connection never moves on -- filled the ring (every
 * other client's punt then passed as daemon_down), evicted the learned
 * verdicts of others and held the daemon's loop (a review finding, stop
 * 51). A browser punts once per origin and policy. LRU: a source
 * evicted starts a fresh second; counts are approximate across CPUs. */
#define PF_PUNT_SRC_NS  1000000000ULL  /* the second; PF_PUNT_SRC_MAX: pf_structs.h */

struct pf_punt_src {
	__u64 t;
	__u64 n;
};

struct pf_punt_src_key {
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct pf_punt_src_key);
	__type(value, struct pf_punt_src);
} pf_punt_srcs SEC(".maps");

/* The client address of flow key fk (family 4 or 6) for the punt limit
 * into dst (16 bytes): an IPv6 one cut to its /64, which one host
 * usually holds whole. pf_punt_keep and pf_ofl_learn. */
static __always_inline void pf_punt_src_of(const struct pf_flow_key *fk, __u32 family, __u8 *dst)
{
	__builtin_memcpy(dst, fk->caddr, 16);
	if (family == 6)
		__builtin_memset(dst + 8, 0, 8);
}

/* May the address in k punt once more (now: bpf_ktime_get_ns)? Counts it. */
static __always_inline bool pf_punt_src_ok(const struct pf_punt_src_key *k, __u64 now)
{
	struct pf_punt_src *v = bpf_map_lookup_elem(&pf_punt_srcs, k);
	struct pf_punt_src fresh = { .t = now, .n = 1 };

	if (!v || now - v->t > PF_PUNT_SRC_NS) {
		bpf_map_update_elem(&pf_punt_srcs, k, &fresh, BPF_ANY);
		return true;
	}
	__sync_fetch_and_add(&v->n, 1);
	return v->n <= PF_PUNT_SRC_MAX;
}
#define PF_PUNT_STALE_NS (2 * PF_PUNT_WAIT_NS)

/* Slow path: punt hash (origin or header list) -> bpf_ktime_get_ns of its
 * first punt. A request punted more than PF_PUNT_WAIT_NS ago and still
 * undecided is passed to the app: a lagging daemon never black-holes a
 * client. The daemon deletes the entry once it has taught the kernel
 * (or marks it PF_PUNT_FAILED), on the record submitted after the entry
 * was written (pf_punt_req, pf_ofl_learn: the entry first, so the
 * daemon's delete cannot come before it). A wait older than
 * PF_PUNT_STALE_NS no record will clear any more (its record lost with a
 * daemon that died, or read by one that never answered it): armed anew by
 * the next punt, not a pass to the app for as long as the entry lives.
 * LRU: losing an entry only restarts that wait; two punts whose hashes
 * collide only share one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} pf_punted SEC(".maps");

/* Whether pf_punted's value v (at now) is a wait no record will clear any
 * more (older than PF_PUNT_STALE_NS, not a failed mark): the next punt
 * arms it anew. pf_punt_req and pf_ofl_learn. */
static __always_inline bool pf_punt_wait_stale(__u64 v, __u64 now)
{
	return !(v & PF_PUNT_FAILED) && now - v > PF_PUNT_STALE_NS;
}

/* Written by userspace through the mmapped .bss (see struct pf_config). */
struct pf_config pf_cfg;

/* Mark a TC probe word of pf_cfg.tc_seen: this program runs. Written only
 * when the daemon has cleared it, so CPUs do not bounce its cache line. */
static __always_inline void pf_tc_seen(__u32 dir)
{
	volatile __u32 *w = &pf_cfg.tc_seen[dir & 1];

	if (!*w)
		*w = 1;
}

static __always_inline void pf_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&pf_stats, &stat);

	if (v)
		*v += 1;
}

/* The flow entry's lock (struct bpf_res_spin_lock, include/pf_structs.h).
 * Set by the loader before load (user/kfeat.h): 1 when this kernel has no
 * bpf_res_spin_lock (before 6.15) and the type was renamed bpf_spin_lock
 * in the object's BTF. Read-only data: the verifier walks only the
 * calls of the kind this kernel has; the other kind's are dead code (a
 * weak kfunc this kernel lacks is left unresolved, never reached). */
const volatile __u32 pf_flow_lock_plain;

extern int bpf_res_spin_lock(struct bpf_res_spin_lock *lock) __ksym __weak;
extern void bpf_res_spin_unlock(struct bpf_res_spin_lock *lock) __ksym __weak;

/* Take f's lock: 0, or -1 when the resilient lock gives up (a deadlock
 * it detected, or its timeout of a quarter second: neither can happen
 * with these short sections, none nested, every holder with softirqs
 * off) -- counted flow_lock_failed; the caller then drops its packet for
 * a retransmission (docs/tcp-splice.md section 3). The helper never
 * fails. */
static __always_inline int pf_flow_lock(struct pf_flow *f)
{
	if (!PF_TEST_LOCK_FAIL()) {
		if (pf_flow_lock_plain) {
			bpf_spin_lock((struct bpf_spin_lock *)&f->lock);
			return 0;
		}
		if (!bpf_res_spin_lock(&f->lock))
			return 0;
	}
	pf_count(PF_STAT_FLOW_LOCK_FAILED);
	return -1;
}

static __always_inline void pf_flow_unlock(struct pf_flow *f)
{
	if (pf_flow_lock_plain)
		bpf_spin_unlock((struct bpf_spin_lock *)&f->lock);
	else
		bpf_res_spin_unlock(&f->lock);
}


#endif /* PF_MAPS_H */

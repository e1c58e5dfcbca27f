/* Both: included by BPF programs and userspace; every map key/value type lives here, once. */
/*
 * pf_structs.h -- layouts of the BPF maps shared by the datapath, the
 * loader/compiler and the tests. Sizes are fixed; all strings are byte
 * arrays with an explicit length (no NUL terminator required).
 */
#ifndef PF_STRUCTS_H
#define PF_STRUCTS_H

#include <linux/bpf.h>   /* struct bpf_spin_lock */
#include "pf_common.h"

/* pf_tokens map key: the hash of one policy string of one kind in one
 * policy slot. The value repeats the string so a hash hit is verified
 * byte for byte (a crafted collision can never grant anything). */
struct pf_tok_key {
	__u64 hash;   /* pf_hash_* of the string, see pf_common.h */
	__u32 kind;   /* enum pf_tok_kind */
	__u32 slot;   /* policy slot 0..PF_SLOTS-1 */
};

struct pf_tok_val {
	__u64 rules;  /* bit r set: rule r lists this string */
	__u16 len;    /* bytes used in s */
	__u8  pad[6];
	char  s[PF_TOKEN_MAX];
};

/* pf_hdrs map value, index slot: the slot's allowed request-header names
 * (its PF_TOK_HEADER tokens) up to PF_HDR_NAME bytes, open-addressed by
 * pf_hdr_home (entry (home + j) % PF_HDR_ENTRIES, j < PF_HDR_PROBE,
 * linear probing; an empty entry, len 0, ends the probe). One array
 * look-up per request-header list; each name then costs a probe and a
 * compare of its bytes instead of a pf_tokens look-up. A hit is verified
 * byte for byte like a token's (an attacker's page picks the names). A
 * name the table has no entry for is decided by pf_tokens unless
 * complete is set: every header token of the slot that is no longer
 * than PF_HDR_NAME is in the table. A zeroed value (no policy yet, a
 * slot being reinstalled) sends every name to pf_tokens. The slot's
 * methods (its PF_TOK_METHOD tokens, exact bytes: methods are
 * case-sensitive) are held alike in m, m_complete and m_n: the method
 * check reads them from the same look-up's value instead of pf_tokens
 * (a hash-map look-up per preflight). */
#define PF_HDR_ENTRIES 128   /* power of 2 */
#define PF_HDR_NAME    32    /* longest name an entry holds (pf_tab_find
			      * compares its 4 words) */
#define PF_HDR_PROBE   4     /* entries probed at most */
#define PF_HDR_BITS    7     /* log2(PF_HDR_ENTRIES) */
#define PF_METH_ENTRIES 16   /* power of 2 */

/* A header name's home entry in e: the top PF_HDR_BITS bits of the XOR
 * of its 4 (lower-case, zero-padded) 8-byte words, each multiplied by its
 * own odd constant. Not the token hash (a chain of dependent multiplies
 * over the bytes, seeded with the length): the datapath takes the words
 * from its scan of the name (pf_name_scan, include/pf_match_acr.h) and
 * multiplies them independently; the compiler does the same with the
 * entry's string (user/policy_compile.c). The methods' table m keeps the
 * token hash. */
PF_INLINE __u64 pf_hdr_home(const __u64 *w)
{
	return (w[0] * 0x9e3779b97f4a7c15ULL ^ w[1] * 0xff51afd7ed558ccdULL ^
		w[2] * 0xc4ceb9fe1a85ec53ULL ^ w[3] * 0x100000001b3ULL) >> (64 - PF_HDR_BITS);
}
_Static_assert(PF_HDR_ENTRIES == 1 << PF_HDR_BITS, "PF_HDR_BITS is log2(PF_HDR_ENTRIES)");
_Static_assert(PF_HDR_NAME == 32, "pf_hdr_home takes PF_HDR_NAME / 8 = 4 words");

struct pf_hdr_ent {
	__u64 rules;  /* as struct pf_tok_val.rules */
	__u32 len;    /* bytes used in s; 0: empty entry */
	__u32 pad;
	char  s[PF_HDR_NAME];  /* lower case, zero-padded */
};

struct pf_hdr_tab {
	__u32 complete;  /* every header token of <= PF_HDR_NAME bytes is here */
	__u32 n;         /* entries used */
	struct pf_hdr_ent e[PF_HDR_ENTRIES];
	__u32 m_complete; /* every method token of <= PF_HDR_NAME bytes is in m */
	__u32 m_n;        /* entries of m used */
	struct pf_hdr_ent m[PF_METH_ENTRIES];
};

/* Rule flags (struct pf_rule.flags). */
#define PF_RULE_ANY_ORIGIN   (1u << 0)  /* origins: ["*"] */
#define PF_RULE_ANY_METHOD   (1u << 1)  /* methods: ["*"] */
#define PF_RULE_ANY_HEADER   (1u << 2)  /* headers: ["*"] */
#define PF_RULE_CREDENTIALS  (1u << 3)  /* credentials: true */
#define PF_RULE_PNA          (1u << 4)  /* private_network: true */
#define PF_RULE_REJECT       (1u << 5)  /* on_deny: reject */
#define PF_RULE_HAS_HOSTS    (1u << 6)
#define PF_RULE_HAS_PATHS    (1u << 7)
#define PF_RULE_AUTHZ_LISTED (1u << 8)  /* "authorization" listed explicitly */
#define PF_RULE_HAS_REGEX    (1u << 9)  /* origins has {regex: ...} entries
					 * (decided by the daemon) */

struct pf_path {
	__u16 len;
	char  s[PF_PATH_MAX];
};

/* pf_rules map value, index slot * PF_MAX_RULES + rule. The response
 * pieces that do not depend on the request are precomputed here. */
struct pf_rule {
	__u32 flags;        /* PF_RULE_* */
	__u16 n_paths;
	__u16 fixed_len;    /* bytes used in fixed */
	__u16 reject_len;   /* bytes used in reject */
	__u16 pad[3];
	struct pf_path paths[PF_MAX_PATHS];
	/* Allowed-response tail, after the dynamic headers: fixed
	 * Access-Control-Allow-Methods, -Allow-Credentials, -Max-Age,
	 * Vary, and the blank line that ends the header block. */
	char fixed[PF_FIXED_MAX];
	/* 403 tail after the status line and Date: Vary, Content-Length: 0,
	 * blank line. */
	char reject[PF_REJECT_MAX];
};

/* Per-slot summary, part of struct pf_config. */
struct pf_slot_info {
	__u32 n_rules;
	__u32 has_paths;        /* some rule has paths: path must be normal */
	__u64 any_origin_rules; /* rules with origins: ["*"] */
	__u64 any_host_rules;   /* rules without hosts */
	__u64 all_rules;        /* bits 0..n_rules-1 */
	__u64 regex_rules;      /* rules with regex origins (PF_RULE_HAS_REGEX) */
};

/* struct pf_config.xdp_mode: XDP mode in the driver (native) or in skb
 * (generic) mode, which also runs on frames handed to the receive path
 * (the slow path's replay, user/replay.h). */
#define PF_XDP_NATIVE  1
#define PF_XDP_GENERIC 2

/* pf_config map (single-entry array, mmapable), written by userspace. */
struct pf_config {
	__u32 active_slot;       /* slot the datapath reads */
	__u32 draining;          /* 1: answer nothing new, keep translating */
	__u32 xdp_mode;          /* PF_XDP_NATIVE or PF_XDP_GENERIC: XDP
				  * answers; TC ingress only takes the
				  * requests XDP flags for it. 0: TC mode */
	__u32 pad0;
	__u32 date_idx;          /* which date[] is current (double buffer) */
	__u32 date_valid;        /* 0: no Date header */
	char  date[2][32];       /* "Sun, 06 Nov 1994 08:49:37 GMT" */
	__u64 heartbeat_ns;      /* daemon liveness (bpf_ktime_get_ns clock) */
	/* daemon-side counters (the datapath's are in pf_stats) */
	__u64 flows_freed;       /* entries of ended connections removed */
	__u64 reloads;           /* successful policy reloads */
	__u64 reload_failures;   /* refused policy reloads */
	__u64 drain_resets;      /* connections reset at the drain timeout */
	__u64 learned_origins;   /* regex-origin verdicts the daemon taught
				  * the datapath (pf_tokens entries) */
	__u64 learned_acrh;      /* request-header lists the daemon decided
				  * for the datapath (pf_acrh entries) */
	__u64 learn_failures;    /* punts the daemon could not teach (marked
				  * PF_PUNT_FAILED: the retransmission goes
				  * to the app) */
	struct pf_slot_info slot[PF_SLOTS];
	__u64 port_bits[1024];   /* bit p: preflights to TCP port p are answered */
	/* bit p: connections to port p may carry splices and are translated.
	 * Only ever grows while the daemon runs: a reload that drops a port
	 * must not stop translating connections spliced before it. */
	__u64 xlate_bits[1024];
	/* response offload (issue 13, bpf/pf_offload.h) */
	__u32 ofl_on;            /* sockops/SK_MSG attached: record and edit */
	__u32 ofl_stop;          /* the stop flag of builds before the adopted
				  * pf_ofl_ctl map (their programs read it
				  * here; detach still sets it, user/layout.c) */
	__u32 shadow;            /* run --shadow: record and read, change nothing */
	__u32 pad_ofl;
	/* TC chain watch (user/tc_chain.c): the daemon clears a word, the
	 * TC program of that direction sets it on its next packet. [0]:
	 * ingress, [1]: egress */
	__u32 tc_seen[2];
	/* the daemon's flow-table GC (user/gc.c): entries in pf_flows at its
	 * last complete pass, and how many passes completed (0: none yet, or
	 * the daemon has exited). `preflightd stats` reads these instead of
	 * walking the table while the daemon runs. */
	__u64 gc_entries;
	__u64 gc_passes;
	/* the slow path's replays (user/replay.h): punted segments handed
	 * back to the receive path once decided, and those it could not */
	__u64 replayed;
	__u64 replay_failed;
};

/* pf_flows map key: one TCP connection, client side first. IPv4 addresses
 * use the first 4 bytes of the 16-byte arrays; the rest stays zero. */
struct pf_flow_key {
	__u8   caddr[16];  /* client address, network order */
	__u8   saddr[16];  /* server (local) address, network order */
	__be16 cport;      /* client port, network order */
	__be16 sport;      /* server port, network order */
	__u8   family;     /* 4 or 6 */
	__u8   pad[3];
};

/* pf_synack map value (bpf/pf_maps.h), index: the bucket of a
 * connection's key (pf_synack_hash): the tags of the last two
 * connections of that bucket whose SYN-ACK this interface's TC egress
 * sent, the newer first (0: none). Two ways, not one slot each: with one,
 * 64 connections opened at once shared a slot about once in 32 starts
 * (its first preflight then went to the app, pass_route); with two, a
 * tag goes only when two later SYN-ACKs land in its bucket. */
#define PF_SYNACK_BUCKETS 65536  /* power of 2 */
#define PF_SYNACK_WAYS    2

struct pf_synack_bucket {
	__u32 tag[PF_SYNACK_WAYS];
};
/* pf_synack_note and pf_synack_seen (bpf/pf_maps.h) name both ways, the
 * newer and the older, by hand: one load and compare each, no loop */
_Static_assert(PF_SYNACK_WAYS == 2, "pf_synack_note/pf_synack_seen handle exactly two ways");

/* Connection k's pf_synack bucket (low bits) and tag (high half, never
 * 0): the keyed hash (pf_hash_word) of the key's ten 32-bit words
 * (4-aligned, as struct pf_pkt holds it: a stack load must be aligned). */
PF_INLINE __u64 pf_synack_hash(const struct pf_flow_key *k)
{
	const __u32 *w = (const __u32 *)(const void *)k;
	__u64 h = PF_HASH_INIT;
	__u32 i;

	for (i = 0; i < sizeof(*k) / 8; i++)
		h = pf_hash_word(h, (__u64)w[2 * i] | (__u64)w[2 * i + 1] << 32);
	return pf_hash_end(h) | 1ULL << 32;
}

#define PF_SYNACK_BUCKET(h) ((__u32)(h) & (PF_SYNACK_BUCKETS - 1))
#define PF_SYNACK_TAG(h)    ((__u32)((h) >> 32))

#define PF_FIN_CLIENT 1
#define PF_FIN_SERVER 2

/* pf_flows map value: one connection on an answered port, followed from
 * its first client byte (see docs/tcp-splice.md). All sequence numbers
 * are host order.
 *
 * The splice: the two-record seqadj state (docs/tcp-splice.md section 1).
 * Client -> server (deletions): client wire seq X maps to socket seq
 *   X - c_after  if X >= c_pos (the consumed request itself maps below
 *                the socket's rcv_nxt, as if the socket had it),
 *   X - c_before if X < c_pos.
 * Server -> client (insertions): socket seq X maps to wire seq
 *   X + s_after  if X >= s_pos,             X + s_before otherwise.
 * Only one correction is live: a new splice needs the previous response
 * acknowledged (resp_acked), so older segments can no longer occur.
 * Once a side has moved 2^30 bytes past its position (c_hi, s_hi) with
 * the response acked, pf_flow_fold (bpf/pf_xlate.h) makes its mapping
 * constant (before = after, req_len / resp_len 0): the serial comparison
 * with the position would flip 2^31 bytes past it.
 *
 * The guard. A preflight at client wire seq S is answered only if
 *  - the connection was followed from its first byte, and every client
 *    request head on it was read (PF_FS_FRAMED): its framing (Content-
 *    Length or no body) gives c_next, where the next request starts;
 *    anything else (chunked, a head split over segments or over PF_REQ_MAX,
 *    Upgrade...) clears FRAMED for good;
 *  - S == c_next: a request boundary, never bytes the app expects as body
 *    (an Expect: 100-continue upload, a body still arriving after an early
 *    response);
 *  - a final response to the request before it began after that
 *    request's head was framed (PF_FS_ANSWERED: server bytes past s_mark,
 *    the server's position when the head was framed, not starting with
 *    "HTTP/1.x 1": a 100 Continue or 103 Early Hints is not an answer):
 *    never behind an unanswered request. Its body need not all have
 *    arrived -- an early final response (a 413 while the upload goes on)
 *    is the answer; S == c_next keeps the body's bytes before S;
 *  - the socket's own state agrees: it has read every byte before S
 *    (rcv_nxt, copied_seq) and the client has acked everything the app
 *    wrote (write_seq), and no byte past S or past the response position
 *    went through with the old offsets (c_hi, s_hi).
 * A client that does not pipeline sends S only after the whole previous
 * response, so all of its preflights are answered, the first one after
 * other requests included. One that pipelines is caught unless it sends S
 * after a response has begun but before it is complete.
 *
 * Concurrency: packets of one connection run on several CPUs at once
 * (multi-queue NICs, RPS, TC egress on the sending CPU). Every field is
 * written under lock only. A packet works on a copy (struct pf_adj, with
 * gen) read without the lock (pf_flow_peek; under it only to re-answer a
 * retransmission) and then, under the lock, acts only if gen is unchanged
 * and every field it used is still the entry's (pf_adj_torn: a copy read
 * during a commit may mix the states before and after): a splice
 * committed meanwhile by another CPU makes a commit drop its segment (the
 * duplicate that lost) and a translation drop its segment (rewritten
 * with offsets the entry does not hold; TCP sends it again). The
 * translation rewrites seq, ack and SACK from the copy before it takes
 * the lock, so a mixed copy must never pass: the rewrite reads only the
 * compared fields, and what the framing follow read (c_next, s_mark,
 * state) pf_flow_note compares with the entry before applying it. c_hi/
 * s_hi record, under the same lock, the furthest bytes each side has had
 * passed with the current offsets; a commit needs none past the request
 * (client) or past the response position (server). gen starts random, so
 * a straggler holding an entry that GC freed and the map reused for
 * another connection fails the check too.
 *
 * A restarted instance adopts the flow table only if its layout is this
 * one (user/layout.c fingerprints the BTF). PF_FLOW_EPOCH: bump it when
 * the meaning of these fields changes while their layout does not. */
#define PF_FLOW_EPOCH 1

/* The flow entry's lock, named as the kernel's (it finds the field by its
 * type's name and size): Linux 6.15's resilient spin lock, taken by the
 * kfunc bpf_res_spin_lock, which leaves interrupts on -- bpf_spin_lock's
 * interrupt save and restore was 6 % of an answer's test-run time in
 * this paravirtualized VM (bench/results/profile.md). On an older kernel
 * the loader renames the type bpf_spin_lock in the object's BTF, same
 * size, and the datapath takes it with the helper (pf_flow_lock,
 * bpf/pf_maps.h; user/kfeat.h). Not in the UAPI headers: defined here. */
struct bpf_res_spin_lock {
	__u32 val;
};

struct pf_flow {
	struct bpf_res_spin_lock lock;
	__u32 gen;         /* changes at every commit and fold; random at creation */
	__u32 c_pos;       /* wire seq of the latest consumed request */
	__u32 c_before;    /* client bytes consumed before c_pos */
	__u32 c_after;     /* c_before + req_len */
	__u32 s_pos;       /* socket seq P where the latest response sits */
	__u32 s_before;    /* bytes inserted before s_pos */
	__u32 s_after;     /* s_before + resp_len */
	__u32 c_hi;        /* client wire seq: end of the furthest payload
			    * passed or consumed (PF_FLOW_C_HI) */
	__u32 s_hi;        /* server socket seq: end of the furthest payload
			    * or FIN translated (PF_FLOW_S_HI) */
	__u32 c_next;      /* client wire seq where the next request starts */
	__u32 s_mark;      /* s_hi when the current request's head was framed */
	__u16 req_len;
	__u16 resp_len;
	__u8  resp_acked;  /* client acked the whole latest response */
	__u8  state;       /* PF_FS_* bits */
	__u8  fin;         /* PF_FIN_* bits */
	__u8  hi;          /* PF_FLOW_* bits: c_hi, s_hi, syn_end valid;
			    * the latest response was a 403 */
	__u32 syn_end;     /* client wire seq: the ack an RST answering the
			    * latest client SYN (no ACK) on this 4-tuple
			    * carries (PF_FLOW_SYN; pf_syn_in, pf_rst_out) */
	__u32 splices;     /* responses injected on this connection */
	__u64 last_ns;     /* bpf_ktime_get_ns of the last packet */
};
/* one per connection on an answered port: no field added without need */
_Static_assert(sizeof(struct pf_flow) == 72, "struct pf_flow grew");

/* A request head split over segments, held in a socket's storage
 * (bpf/pf_split.h; the BPF tier reads the follower's mocked one): its
 * first n bytes in b from seq start (b[i] the byte at start + i), and a
 * piece of it that came ahead of the bytes before it: o_n bytes from
 * start + o_off (o_off > n). b is twice PF_REQ_MAX: a segment is loaded
 * at b + n or b + o_off (below PF_REQ_MAX, at most PF_REQ_MAX bytes),
 * which the verifier can only bound by the two maxima. */
struct pf_split {
	struct bpf_spin_lock lock; /* over start, n, gen, o_off, o_n */
	__u32 start;   /* seq of the head's first byte */
	__u32 n;       /* bytes held from start; 0: none */
	__u32 gen;     /* what else names the head (the recorder: n_req; the follower: 0) */
	__u32 o_off;   /* the piece ahead: its offset from start */
	__u32 o_n;     /* its bytes; 0: none */
	__u8 b[2 * PF_REQ_MAX + 8];
};

/* The GC's delete request (user/gc.c -> bpf/pf_gc.bpf.c): an entry it
 * read as dead, deleted only if gen and last_ns are still these. Not a
 * map key/value of the datapath: the GC object's global array. */
#define PF_GC_CHUNK 4096
struct pf_gc_cand {
	struct pf_flow_key key;
	__u64 last_ns;
	__u32 gen;
	__u32 pad;
};

#define PF_FS_FRAMED   1  /* followed from the first byte: c_next is valid */
/* (2: no longer set, nor tested -- a request's body need not have all
 * arrived; see "The guard" above) */
#define PF_FS_ANSWERED 4  /* a final response to the request before c_next began */

#define PF_FLOW_C_HI     1
#define PF_FLOW_S_HI     2
#define PF_FLOW_REJECTED 4  /* the latest response was a 403 */
#define PF_FLOW_SYN      8  /* syn_end holds a client SYN's (pf_syn_in) */
#define PF_FLOW_SPLIT    16 /* TC's socket storage may hold bytes of the head
			     * at c_next (bpf/pf_split.h): let go when the
			     * head is framed whole, whichever segment
			     * brought it */

/* What the datapath reads from the local TCP socket (tcp_sock via BTF);
 * also the value of the test-only pf_test_sock map (PF_TEST_MOCK_SOCK). */
struct pf_sockinfo {
	__u32 rcv_nxt, copied_seq, snd_nxt, snd_una, write_seq, mss;
	__u32 rcv_wnd, wscale;
	__u64 bytes_received;
	__u32 valid;       /* mock only: 0 means "no socket" */
	__u32 ts_now;      /* the socket's TCP timestamp clock now (TSval units) */
	__u32 snd_wscale;  /* the client's window scale */
	__u8  ts_ok;       /* ts_now is known (0: a request socket, whose
			    * clock is not readable; any value of ts_now,
			    * 0 included, is a valid clock reading) */
	__u8  closing;     /* past ESTABLISHED but can still send and receive
			    * (FIN_WAIT1/2, CLOSE_WAIT, CLOSING, LAST_ACK):
			    * only a retransmission is answered (again) */
	__u8  later;       /* client bytes wait past rcv_nxt: its out-of-order
			    * queue or its backlog is not empty */
	__u8  pad;
};

/* pf_trace_ctl map value (single entry), set by `preflightd trace`. */
struct pf_trace_ctl {
	__u32 sample;      /* 0: off; N: record 1 decision in N */
	__u32 pad;
};

#define PF_TRACE_ORIGIN 64

/* One record of the pf_trace ring buffer: a preflight-shaped request and
 * what the datapath did with it. */
struct pf_trace_rec {
	__u64 ts_ns;               /* bpf_ktime_get_ns */
	struct pf_flow_key key;
	__u32 stat;                /* enum pf_stat: the outcome counted */
	__u32 verdict;             /* enum pf_verdict (if matched) */
	__u32 reason;              /* enum pf_reason (if matched) */
	__u32 rule;                /* deciding rule (if matched) */
	__u16 origin_len;          /* bytes in origin (truncated) */
	__u8  xdp;                 /* decided at XDP */
	__u8  matched;             /* verdict/reason/rule are valid */
	char  origin[PF_TRACE_ORIGIN];
};

/* What a pf_punt_rec asks the daemon to decide. */
enum pf_punt_kind {
	PF_PUNT_ORIGIN = 0,        /* a regex origin (PF_R_REGEX) */
	PF_PUNT_ACRH   = 1,        /* request headers over the kernel's
				    * limits (PF_R_ACRH_SLOW) */
};

/* A punted segment's Ethernet, IP and TCP headers: an answerable request
 * has no VLAN tag, IP options or IPv6 extension headers (ip_simple), so
 * at most 14 + 40 + 60 bytes. */
#define PF_PUNT_HDR_MAX   128
/* punts a client address may make a second (bpf/pf_maps.h pf_punt_srcs) */
#define PF_PUNT_SRC_MAX   64
#define PF_PUNT_FRAME_MAX (PF_PUNT_HDR_MAX + PF_ANSWER_MAX)

/* One record of the pf_punt ring buffer: something the datapath could
 * not decide and dropped for a client retransmission.
 *  PF_PUNT_ORIGIN: the daemon evaluates the regexes of slot and inserts
 *    a PF_TOK_ORIGIN token (rules = the matching regex rules, 0 = none).
 *  PF_PUNT_ACRH: the daemon checks the header list against rule with no
 *    limits and inserts a pf_acrh entry.
 * Either way the retransmission is decided in the kernel. frame holds
 * the dropped segment as it arrived (frame_len 0: not kept): the daemon
 * then hands it back to the interface's receive path at once
 * (user/replay.h), so the decision does not wait for the client's
 * retransmission timer. */
struct pf_punt_rec {
	__u64 hash;                /* key of the wait in pf_punted */
	__u32 slot;                /* policy slot the request was matched in */
	__u32 rule;                /* PF_PUNT_ACRH: the deciding rule */
	__u16 len;                 /* bytes in data: 1..PF_TOKEN_MAX for an
				    * origin, 1..PF_ACRH_SLOW_MAX-1 for ACRH */
	__u8  kind;                /* enum pf_punt_kind */
	__u8  pad[5];
	char  data[PF_ACRH_SLOW_MAX]; /* the origin or the ACRH value */
	__u64 ns;                  /* bpf_ktime_get_ns of the punt */
	__u16 frame_len;           /* bytes in frame: headers, then payload */
	__u16 frame_l4;            /* where its TCP header starts (its IP
				    * header at ETH_HLEN) */
	__u32 pad2;
	__u8  frame[PF_PUNT_FRAME_MAX];
};

/* pf_punted map value: bpf_ktime_get_ns of the first punt, or -- written
 * by the daemon when it could not teach the verdict (an insert failed, a
 * hash collision, no regexes for the slot) -- PF_PUNT_FAILED with the
 * policy slot in bit PF_PUNT_SLOT_BIT: the datapath then passes such
 * requests to the app at once (until a reload makes the other slot
 * active: then it punts again). */
#define PF_PUNT_FAILED   (1ULL << 63)
#define PF_PUNT_SLOT_BIT 62

/* pf_acrh map key: an Access-Control-Request-Headers value over the
 * kernel's limits (PF_ACRH_MAX_LEN / PF_ACRH_MAX_TOKENS), under one rule
 * of one slot. The whole value is the key, so a hit is exact (there is
 * no hash a crafted list could collide with). */
struct pf_acrh_key {
	__u32 slot;
	__u32 rule;
	__u32 len;                 /* bytes used in v; the rest is zero */
	__u32 pad;
	__u8  v[PF_ACRH_SLOW_MAX];
} __attribute__((aligned(8)));  /* zeroed by pf_zero64 */

/* pf_acrh map value: the daemon's verdict, what pf_check_headers says
 * about the value with no limits. */
struct pf_acrh_val {
	__u32 reason;              /* enum pf_reason: OK, HEADER, HEADER_BAD,
				    * AUTHZ_WILDCARD */
	__u8  acah;                /* as struct pf_match.acah */
	__u8  has_authz;
	__u16 bad_off;             /* offending name: offset in the value */
	__u16 bad_len;
	__u16 pad;
};

/* Test build only (tests/bpf, bpf/pf_test.h): where a packet stops,
 * and the .bss record through which a test stops and releases it. The
 * test sets point and cpu (CPU id + 1), waits for entered, runs other
 * packets on another CPU, then sets release. A pause ends by itself
 * after about 5 s (timed_out set): a test run never hangs. */
enum pf_test_point {
	PF_TP_NONE = 0,
	PF_TP_ANSWER,    /* pf_try_answer: flow looked up and snapshot taken */
	PF_TP_XLATE_IN,  /* pf_translate_in: snapshot taken, not yet translated */
	PF_TP_XLATE_OUT, /* pf_translate_out: the same for a server segment */
	PF_TP_OFL_LEAVE, /* pf_ofl_egress: the socket taken for leaving, not yet deleted */
	PF_TP_COMMIT,    /* pf_try_answer: the guards passed, not yet committed */
	PF_TP_NEW_FLOW,  /* pf_flow_new: the entry inserted, the socket not read again */
	PF_TP_XLATE_FOLLOWED, /* pf_translate_in: the framing followed (a split
			       * head's bytes stored), the flow not yet noted */
};

struct pf_test_pause {
	__u32 point;     /* enum pf_test_point to stop at */
	__u32 cpu;       /* 1 + the CPU that stops; 0: none */
	__u32 entered;   /* set by the program when it stops */
	__u32 release;   /* set by the test to let it go on */
	__u32 timed_out; /* the pause ended without a release */
	__u32 pad;
};

/* The context of the test build's pf_test_flow_put (bpf/preflightd.bpf.c):
 * every field of f but the lock written into key's entry. */
struct pf_test_flow_put {
	struct pf_flow_key key;
	struct pf_flow f;
};

#endif /* PF_STRUCTS_H */

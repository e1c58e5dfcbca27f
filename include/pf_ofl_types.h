/* Both: map key/value types of the response offload (issue 13); the logic is in pf_ofl.h. */
/*
 * pf_ofl_types.h -- what TC ingress, the sockops and SK_MSG programs and
 * the daemon share: the per-connection request FIFO (sk_storage), the
 * per-rule response settings, and their limits.
 */
#ifndef PF_OFL_TYPES_H
#define PF_OFL_TYPES_H

#include "pf_structs.h"

#define PF_OFL_FIFO        8     /* requests that may wait for their response
				  * on one connection (a power of 2) */
#define PF_OFL_HEADS_SEG   PF_OFL_FIFO /* request heads parsed in one segment */
#define PF_OFL_EXPOSE_MAX  256   /* "Access-Control-Expose-Headers: ...\r\n" */
#define PF_OFL_CORK_MAX    64    /* writes a head may be split over */
/* A socket back from a body's trip out of pf_ofl_socks cannot go in while
 * the app's write that sent the head still holds its old psock (the
 * kernel refuses the re-add: EBUSY). A request that comes that early --
 * the client had the whole body before that write returned -- has its
 * segment dropped at TC ingress, at most this many times in a row, so
 * that the client sends it again after the write has ended: recorded
 * then, its response edited. Past that, recording stops: something else
 * holds the psock -- another socket map's message program, or a thread
 * of the app blocked in recv() since before the socket left, which only
 * this request would wake (two drops cost it about 0.6 s: the client's
 * loss probe, then its retransmission). */
#define PF_OFL_READD_DROPS 2
/* A response whose Content-Length body is at least this long takes its
 * socket out of pf_ofl_socks (the SK_MSG path) for the body: the kernel
 * copies every sendfile page into the message while the socket is in a
 * socket map. Back in at the connection's next request (TC ingress). */
#ifndef PF_OFL_DETACH_MIN
#define PF_OFL_DETACH_MIN  65536
#endif

/* Slots of the offload's program array (pf_ofl_tail): the request recorder
 * behind pf_tc_ingress, the shadow response reader behind pf_tc_egress. */
#define PF_OFL_TAIL_REC    0
#define PF_OFL_TAIL_SHD    1
#define PF_OFL_TAILS       2

/* What the response to a request gets. */
enum pf_ofl_kind {
	PF_OFL_NONE = 0,   /* no rule covers it (or responses: false): untouched */
	PF_OFL_VARY,       /* covered, no Origin or a denied one: Vary: Origin
			    * (responses: false whose URL's answer depends on
			    * the origin: the same with PF_OFL_E_KEEP) */
	PF_OFL_ALLOW,      /* allowed origin: ACAO, ACAC, ACEH, Vary: Origin
			    * (origin "*": a "*" rule's answer that still
			    * depends on the origin, pf_ofl_varies) */
	PF_OFL_STAR,       /* rule with origins ["*"]: ACAO: *, ACEH */
};

/* struct pf_ofl_ent.flags */
#define PF_OFL_E_HEAD     (1u << 0)  /* HEAD request: the response has no body */
#define PF_OFL_E_CRED     (1u << 1)  /* the rule has credentials: true */
#define PF_OFL_E_KEEP     (1u << 2)  /* app_headers: keep */
#define PF_OFL_E_UPGRADE  (1u << 3)  /* Upgrade or CONNECT: after its final
				      * response the stream may not be HTTP */
#define PF_OFL_E_LEARN    (1u << 4)  /* an origin only the daemon's regexes
				      * decide: the recorder teaches it */
#define PF_OFL_E_PREFLIGHT (1u << 5) /* a covered preflight the answer path
				      * passed to the app: its answer's
				      * Access-Control-* lines kept (counted) */
#define PF_OFL_E_UNNORM   (1u << 6)  /* a path not matched without normalizing
				      * on a replace rule's host: the app's
				      * Access-Control-* lines go (counted) */

/* One request waiting for its response. */
struct pf_ofl_ent {
	__u8 kind;         /* enum pf_ofl_kind */
	__u8 flags;        /* PF_OFL_E_* */
	__u8 rule;         /* deciding rule (kind != NONE) */
	__u8 slot;         /* its policy slot */
	__u8 origin_len;   /* PF_OFL_ALLOW: bytes in origin */
	__u8 pad[3];
	char origin[PF_TOKEN_MAX];
};

/* Request framing of one connection (struct pf_ofl_state.in_state). */
enum pf_ofl_in {
	PF_OFL_IN_INIT = 0,  /* being set up (a zeroed value): record nothing */
	PF_OFL_IN_HEAD,      /* the next request head starts at next */
	PF_OFL_IN_STOP,      /* framing lost or not followed: record nothing */
};

/* struct pf_ofl_state.detached: the socket's place in pf_ofl_socks for a
 * large body (bpf/pf_ofl_tc.h). Only TC egress moves IN -> LEAVING ->
 * OUT (or back to IN when its delete failed); only the recorder moves
 * OUT -> IN (its re-add). LEAVING covers TC egress's delete, between its
 * two lock sections: a recorder that took the socket for OUT there would
 * re-add it before the delete (EEXIST: "in") and mark it IN, and the
 * delete would then leave it out marked IN -- its later responses would
 * pass the SK_MSG program by, silently. A request that arrives while
 * LEAVING stops the recording instead (ofl_leave_race). */
enum pf_ofl_det {
	PF_OFL_DET_IN = 0,   /* in the map (or never taken out) */
	PF_OFL_DET_OUT,      /* deleted for a body: re-added at the next request */
	PF_OFL_DET_LEAVING,  /* TC egress is deleting it right now */
};

/* What TC ingress writes and SK_MSG reads, under struct pf_ofl_sk's lock.
 * Sequence numbers are the server socket's. */
struct pf_ofl_state {
	__u32 next;        /* where the next request head starts */
	__u32 gap_end;     /* has_gap: end of the furthest segment seen that
			    * started beyond next (not parsed) */
	__u32 n_req;       /* requests recorded */
	__u32 n_resp;      /* entries taken by final responses; entries
			    * n_resp..n_req-1 wait in q[i % PF_OFL_FIFO] */
	__u8  in_state;    /* enum pf_ofl_in */
	__u8  has_gap;
	__u8  detach_req;  /* SK_MSG passed a head with a large body: TC
			    * egress may take the socket out of the map */
	__u8  detached;    /* enum pf_ofl_det: out of pf_ofl_socks, TC
			    * ingress puts it back before it records the
			    * next request */
	__u8  readd_busy;  /* request segments dropped since the socket
			    * left: its old psock was still there (see
			    * PF_OFL_READD_DROPS) */
	__u8  split;       /* pf_ofl_split may hold bytes of the head at
			    * next (held, or a piece kept ahead): let go
			    * when it is recorded, whichever segment
			    * brought it whole */
	__u8  pad[2];
	struct pf_ofl_ent q[PF_OFL_FIFO];
};

/* The response side's framing (struct pf_ofl_sk.out_state), in the
 * socket's send sequence space (tcp_sock write_seq): what starts at
 * out_seq. */
enum pf_ofl_out {
	PF_OFL_OUT_HEAD = 0, /* a response head */
	PF_OFL_OUT_BODY,     /* bytes before out_seq are body; at out_seq
			      * starts what out_after says */
	PF_OFL_OUT_CHUNK,    /* a chunk-size line */
	PF_OFL_OUT_TRAILER,  /* the trailer section after the last chunk */
	PF_OFL_OUT_PASS,     /* not followed any more: pass everything */
};

/* sk_storage value of a covered server socket (and of pf_ofl_early). */
struct pf_ofl_sk {
	struct bpf_spin_lock lock;  /* TC ingress (softirq, any CPU) against
				     * SK_MSG (the socket's sender) */
	__u32 isn;                  /* pf_ofl_early only: the client's ISN */
	struct pf_ofl_state s;      /* under lock */
	/* set by the sockops program when it covers the socket */
	__u64 cookie;               /* its pf_ofl_socks key */
	struct pf_flow_key key;     /* its connection (pf_ofl_held value) */
	/* SK_MSG only (serialised by the socket lock) */
	__u8  out_state;            /* enum pf_ofl_out */
	__u8  out_after;            /* PF_OFL_OUT_BODY: the state at out_seq */
	__u8  corked;               /* the unit at hand was corked this often */
	__u8  seq_ok;               /* out_seq is set (by the first write) */
	__u32 out_seq;              /* write_seq where the next unit starts */
	__u64 born_ns;              /* pf_ofl_early only: bpf_ktime_get_ns
				     * when it was created */
};

/* ---- shadow mode (run --shadow) ----
 * The datapath changes nothing; it ships each request head (TC ingress)
 * and the head of the final response that answers it (TC egress) of a
 * covered connection to the daemon through the pf_shd ring buffer. The
 * daemon pairs them by (key, idx), decides the request as the datapath
 * would, and compares its answer with the app's field by field
 * (user/shadow.c). */
#define PF_SHD_HEAD_MAX PF_REQ_MAX /* a request head (a response head: PF_RHEAD_MAX) */

enum pf_shd_kind {
	PF_SHD_REQ = 1,     /* a request head the app is about to read */
	PF_SHD_RESP,        /* the head of the final response to request idx */
};

struct pf_shd_rec {
	__u64 ts_ns;              /* bpf_ktime_get_ns */
	struct pf_flow_key key;   /* the connection, client first */
	__u32 idx;                /* the request's index on the connection */
	__u16 len;                /* bytes in head */
	__u8  kind;               /* enum pf_shd_kind */
	__u8  pad;
	__u8  head[PF_SHD_HEAD_MAX];
};

/* What shadow mode compares (struct pf_shd_stats, pf_shd_diff.field). */
#define PF_SHD_FIELDS(X) \
	X(STATUS, "status class") \
	X(ACAO,   "Access-Control-Allow-Origin") \
	X(ACAC,   "Access-Control-Allow-Credentials") \
	X(ACAM,   "Access-Control-Allow-Methods") \
	X(ACAH,   "Access-Control-Allow-Headers") \
	X(MAXAGE, "Access-Control-Max-Age") \
	X(VARY,   "Vary") \
	X(EXPOSE, "Access-Control-Expose-Headers")

enum pf_shd_field {
#define PF_SHD_ENUM(name, desc) PF_SHD_F_##name,
	PF_SHD_FIELDS(PF_SHD_ENUM)
#undef PF_SHD_ENUM
	PF_SHD_F__MAX
};

/* pf_shd_stats map value (one entry), written by the daemon. */
struct pf_shd_stats {
	__u64 preflights;       /* app preflight answers compared */
	__u64 would_answer;     /* of them, ones the kernel would have answered
				 * (the policy allows or rejects: 204/403) */
	__u64 forwarded;        /* preflights the policy leaves to the app */
	__u64 actual;           /* actual responses compared (a rule covers them) */
	__u64 uncovered;        /* actual responses no rule covers */
	__u64 differ;           /* responses with a disagreement */
	__u64 unpaired;         /* responses whose request record was lost */
	__u64 agree[PF_SHD_F__MAX];
	__u64 disagree[PF_SHD_F__MAX];
};

#define PF_SHD_VAL 96

/* pf_shd_diffs queue value: one disagreement, for `preflightd trace`. */
struct pf_shd_diff {
	__u64 ts_ns;               /* bpf_ktime_get_ns clock */
	struct pf_flow_key key;
	__u32 field;               /* enum pf_shd_field */
	__u8  preflight;           /* a preflight answer (else an actual response) */
	__u8  pad[3];
	char  ours[PF_SHD_VAL];    /* what preflightd would have sent ("" absent) */
	char  app[PF_SHD_VAL];     /* what the app sent */
	char  origin[PF_SHD_VAL];  /* the request's Origin */
	char  target[PF_SHD_VAL];  /* "METHOD /path" */
};

/* pf_ofl_ctl value (one entry, pinned and adopted: every generation of
 * the programs a restart leaves on covered sockets reads the same one). */
struct pf_ofl_ctl {
	__u32 stop;   /* detaching: cover no new socket, hold no head back */
	__u32 pad;
};

/* pf_ofl_early entries older than this are removed by the daemon. */
#define PF_OFL_EARLY_NS 2000000000ULL

/* pf_ofl_rules map value (index slot * PF_MAX_RULES + rule): the rule's
 * response settings, compiled from the policy. */
#define PF_OFL_R_RESPONSES (1u << 0)  /* responses: true */
#define PF_OFL_R_KEEP      (1u << 1)  /* app_headers: keep */

struct pf_ofl_rule {
	__u32 flags;                 /* PF_OFL_R_* */
	__u16 expose_len;            /* bytes in expose (0: no such line) */
	__u16 pad;
	char  expose[PF_OFL_EXPOSE_MAX]; /* "Access-Control-Expose-Headers: a, b\r\n" */
	__u64 resp_rules;            /* the slot's rules with responses: true (the
				      * same in each of its entries: the look-up
				      * of the deciding rule brings it along) */
};

#endif /* PF_OFL_TYPES_H */

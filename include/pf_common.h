/* Both: included by BPF programs (clang -target bpf) and userspace (gcc). */
/*
 * pf_common.h -- portable base for code shared by the datapath and userspace:
 * integer types, the inline attribute, compile-time limits, the statistics
 * enum and the loop/copy shims that let one parser run in both worlds.
 *
 * Byte order: every field named *_be* or typed __be16/__be32 is network
 * order; everything else is host order.
 */
#ifndef PF_COMMON_H
#define PF_COMMON_H

#ifdef __bpf__
#include <linux/types.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>  /* __always_inline, the helpers */
#define PF_INLINE static __always_inline
/* bpf_loop callbacks must stay real (non-inlined) functions. */
#define PF_CALLBACK static __attribute__((noinline))
/* Constant tables: clang would put small ones in .rodata.cst32, which
 * libbpf 1.1 cannot describe ("Error finalizing .BTF: -2"). */
#define PF_RODATA __attribute__((section(".rodata")))
#else
#include <linux/types.h>
#include <stdbool.h>
#include <string.h>
#define PF_INLINE static inline __attribute__((unused))
#define PF_CALLBACK static __attribute__((unused))
#define PF_RODATA
#endif

/* ---- limits (sizes only; behaviour lives in maps) ---- */
#define PF_REQ_MAX        4096   /* request head bytes copied for parsing (the
				  * framing, the offload's recorder); power of 2 */
#define PF_ANSWER_MAX     2048   /* longest preflight answered (its copy and sum) */
#define PF_REQ_BUF        (PF_REQ_MAX + 8) /* buffer size: word scans read 8 past */
#define PF_RESP_MAX       1024   /* response bytes; power of 2 */
#define PF_TOKEN_MAX      112    /* longest origin/host/header/method stored */
#define PF_MAX_RULES      64     /* rules per policy (one bit each in a __u64) */
#define PF_MAX_PATHS      8      /* path prefixes per rule */
#define PF_PATH_MAX       64     /* longest path prefix */
#define PF_FIXED_MAX      320    /* precomputed per-rule response tail */
#define PF_REJECT_MAX     192    /* precomputed per-rule 403 tail */
#define PF_MAX_LINES      48     /* header lines looked at */
#define PF_LINE_MAX       4096   /* longest request header line (a Cookie) */
/* Response heads (pf_rhead.h: the offload's SK_MSG program, shadow mode)
 * are read in a request-sized buffer up to these bounds: each bound is
 * loop iterations the verifier walks in pf_ofl_msg (a power of 2). */
#define PF_RHEAD_MAX      2048   /* longest response head */
#define PF_RHEAD_LINE_MAX 1024   /* longest response header line */
_Static_assert(PF_RHEAD_LINE_MAX <= PF_RHEAD_MAX && PF_RHEAD_MAX <= PF_REQ_MAX,
	       "a response head fits the request-sized buffer it is read into");
_Static_assert(PF_ANSWER_MAX <= PF_REQ_MAX, "a preflight answered is a head parsed");
#define PF_ACRH_MAX_LEN   256    /* longest Access-Control-Request-Headers value */
#define PF_ACRH_MAX_TOKENS 16    /* most names in that value */
/* IPv6 extension headers walked to a segment's TCP header (bpf/pf_pkt.h).
 * RFC 8200 (4.1) recommends at most five of the kinds walked (hop-by-hop,
 * destination options, routing, fragment, destination options again); no
 * stack builds a longer chain: counted as malformed, passed untouched. */
#define PF_IP6_EXT_MAX    8
#define PF_ACRH_SLOW_MAX  1024   /* longer values than the two above go to the
				  * daemon up to this length (exclusive) */
/* Longest stretch the tchar and separator scans look at: a header name
 * (< 64), a method (PF_TOKEN_MAX) or a request-header list; the kernel
 * checks lists up to PF_ACRH_MAX_LEN, the daemon up to PF_ACRH_SLOW_MAX.
 * Each word the bound allows is a loop iteration the verifier walks. */
#ifdef __bpf__
#define PF_SCAN_MAX       PF_ACRH_MAX_LEN
#else
#define PF_SCAN_MAX       PF_ACRH_SLOW_MAX
#endif
#define PF_MAX_LABELS     8      /* wildcard suffixes tried per origin */
#define PF_DATE_LEN       29     /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define PF_SLOTS          2      /* policy double buffer for atomic reloads */

#define PF_MARK           0x70660001u /* skb->mark on injected responses */
/* XDP mode: the 4-byte metadata pf_xdp_ingress puts in front of a frame
 * it passes to TC ingress (bpf/preflightd.bpf.c; a test run's output
 * starts with it) */
#define PF_META_ANSWER    0x70664d31u /* "answer this one" */
#define PF_META_FOLLOW    0x70664d32u /* "follow and translate this one":
					* its answer path ran and counted at
					* XDP; its framing needs the socket's
					* storage (PF_ANS_FOLLOW_TC) */

/* ---- token kinds: which table a hashed string belongs to ---- */
enum pf_tok_kind {
	PF_TOK_ORIGIN      = 1, /* exact serialized origin, case-sensitive */
	PF_TOK_WILD_HTTP   = 2, /* "host-suffix[:port]" of http:// + "*." + suffix */
	PF_TOK_WILD_HTTPS  = 3, /* same for https */
	PF_TOK_HEADER      = 4, /* lower-case header name */
	PF_TOK_METHOD      = 5, /* method token, case-sensitive */
	PF_TOK_HOST        = 6, /* lower-case host without port */
};

/* ---- statistics: one slot per datapath outcome ---- */
#define PF_STATS(X) \
	X(PKT_SEEN,            "packets looked at") \
	X(ANSWERED,            "preflights answered (allowed, 204)") \
	X(REJECTED,            "preflights answered (denied, 403)") \
	X(RETX_ANSWERED,       "retransmitted preflights answered again") \
	X(FWD_DENIED,          "denied preflights forwarded to the app") \
	X(FWD_NO_RULE,         "preflights matching no rule, forwarded") \
	X(PASS_NOT_OPTIONS,    "payload is not an OPTIONS request") \
	X(PASS_PLAIN_OPTIONS,  "OPTIONS without Origin/ACRM (not a preflight)") \
	X(PASS_INCOMPLETE,     "request split over segments") \
	X(PASS_TOO_LONG,       "request longer than the kernel limit") \
	X(PASS_BAD_REQUEST,    "malformed request line or header") \
	X(PASS_HTTP_VERSION,   "not HTTP/1.1") \
	X(PASS_CONN_CLOSE,     "Connection: close, or two Connection lines") \
	X(PASS_BODY,           "request carries a body") \
	X(PASS_DUP_HEADER,     "duplicate Origin/ACRM/Host/ACRH header") \
	X(PASS_OBS_FOLD,       "obsolete line folding") \
	X(PASS_PIPELINED,      "data behind the request") \
	X(PASS_PATH_UNNORM,    "path not normalized") \
	X(PASS_ACRH_LIMIT,     "request-headers too long even for the daemon") \
	X(PASS_GSO,            "GRO-merged skb") \
	X(PASS_TCP_FLAGS,      "SYN/FIN/RST/URG or no ACK on the request") \
	X(PASS_NO_SOCKET,      "no local established socket") \
	X(PASS_SERVER_BUSY,    "server has unsent or unacked data") \
	X(PASS_NOT_NEXT,       "request is not the next expected byte") \
	X(PASS_RCV_LATER,      "a connection's first request with later client bytes waiting in the socket (out-of-order queue or backlog)") \
	X(PASS_ORDER,          "the previous request has no answer yet (pipelining)") \
	X(PASS_FRAMING,        "request framing on this connection unknown") \
	X(SPLIT_HELD,          "request heads split over segments: their start held on the socket for the rest") \
	X(SPLIT_JOINED,        "split request heads completed and followed (the framing kept)") \
	X(SPLIT_AHEAD,         "segments that came before the bytes in front of them (lost, reordered) while a request head was awaited: kept for the head's join") \
	X(SPLIT_LOST,          "split request heads not followed (not understood, over the kernel limit, a second head behind): framing lost") \
	X(SPLIT_LEFT,          "request heads framed whole at XDP on a flow marked as holding bytes in the socket's storage, which XDP cannot let go (TC stored them on another CPU meanwhile, or no metadata room to hand it over): what it holds stays until the next split head or the close") \
	X(FOLLOW_CSUM,         "client segments of a tracked connection starting a request head with a bad TCP checksum: translated, nothing framed or noted (the stack drops them; their retransmission is framed)") \
	X(PASS_NOT_BOUNDARY,   "not where the next request starts (body bytes, a gap)") \
	X(PASS_SPLICE_PENDING, "previous splice not yet acknowledged") \
	X(PASS_ROUTE,          "connection's SYN-ACK not seen leaving by this interface (its server segments may bypass translation)") \
	X(PASS_TABLE_FULL,     "flow table full") \
	X(PASS_DRAINING,       "draining: not answering new preflights") \
	X(PUNT_DAEMON,         "punted to the daemon, segment dropped for a retransmission") \
	X(PASS_DAEMON_DOWN,    "daemon down or lagging: passed") \
	X(PASS_DAEMON_FAILED,  "the daemon could not learn its verdict: passed") \
	X(PASS_PUNT_LIMIT,     "over 64 punts in a second from the client's address (an IPv6 one's /64): passed") \
	X(PASS_ORIGIN_BYTES,   "Origin not ASCII (no browser sends one): its regexes not asked, passed") \
	X(PASS_MSS,            "response larger than MSS") \
	X(PASS_WINDOW,         "response larger than the client's window") \
	X(PASS_IP,             "IP fragments/options/extension headers") \
	X(PASS_ERROR,          "helper failure while answering") \
	X(PASS_CSUM,           "request with a bad TCP checksum") \
	X(PASS_TCP_OPT,        "TCP option besides NOP/SACK/TS (MD5, AO, MPTCP) or malformed options on the request") \
	X(XDP_TO_TC,           "XDP handed a frame to TC (clone, tailroom, socket guards, retransmission, a first request or split head to follow; on a kernel without XDP metadata: every frame it passes)") \
	X(XDP_NO_META_RETX,    "XDP could not hand a retransmitted request to TC (no metadata room): handled at XDP (retx_answered / retx_dropped)") \
	X(TRANSLATED_IN,       "client segments translated (but follow_csum's)") \
	X(TRANSLATED_OUT,      "server segments translated") \
	X(SACK_TRANSLATED,     "SACK blocks translated") \
	X(SACK_STRIPPED,       "SACK blocks covering a response removed") \
	X(RETX_DROPPED,        "partial/mismatched request retransmits dropped") \
	X(RETX_SHORT_DROPPED,  "request retransmits shorter than the consumed request (re-segmented), dropped: not answered again") \
	X(RETX_TAIL_PASSED,    "client segments starting inside a consumed request past its first byte (keepalive probes, re-segmented tails), passed as old data below rcv_nxt") \
	X(RETX_SPAN_PASSED,    "client segments starting before a consumed request and reaching into it (collapsed or merged retransmissions), passed whole as old data below rcv_nxt") \
	X(RACE_LOST,           "copy of a request answered on another CPU at the same time, dropped") \
	X(XLATE_RACE,          "segment translated while another CPU spliced, dropped for a retransmission") \
	X(XLATE_ERROR,         "segments of a tracked connection whose rewrite failed (a helper: no memory to make the packet writable), dropped for their sender to send again") \
	X(FLOW_LOCK_FAILED,    "flow entry's lock not taken (the kernel's resilient lock gave up: a deadlock or a stall): the packet dropped for its sender to send again (an ICMP error passed unchanged, a fold put off)") \
	X(FLOW_FOLDED,         "spliced connections moved 2^30 bytes past a splice: its offset made constant") \
	X(FLOW_CREATED,        "flow entries created") \
	X(SYN_UNTRANSLATED,    "SYN segments on a tracked 4-tuple passed untranslated, the entry kept") \
	X(FLOW_REUSED,         "entries of ended connections freed by a new connection's SYN-ACK, passed untranslated") \
	X(FLOW_REFUSED,        "entries of ended connections freed by the RST refusing a new connection's SYN, passed untranslated") \
	X(ICMP_TRANSLATED,     "ICMP errors quoting a spliced connection's server segment: quoted seq mapped back to the socket's (path MTU discovery)") \
	X(ICMP_PASSED,         "ICMP errors quoting a segment of a translated port with nothing to map (no flow entry, nothing inserted): passed unchanged") \
	X(ICMP_UNREAD,         "ICMP errors whose quote cannot be read to a TCP seq (truncated, a later IPv4 fragment, IPv6 extension headers): passed unchanged") \
	X(MALFORMED,           "malformed packets passed") \
	PF_STATS_OFFLOAD(X)

/* Response offload (issue 13, bpf/pf_offload.h): requests recorded at
 * ingress, responses edited in the server socket (SK_MSG), and every
 * reason a response went out unchanged. */
#define PF_STATS_OFFLOAD(X) \
	X(OFL_REQ_RECORDED,    "offload: requests recorded for their response") \
	X(OFL_LEARN,           "offload: a request's regex origin handed to the daemon (its response: Vary only)") \
	X(OFL_REQ_EARLY,       "offload: first request seen before the socket was established") \
	X(OFL_RESP_EDITED,     "offload: responses given CORS headers in the socket") \
	X(OFL_RESP_UNCOVERED,  "offload: responses no rule covers (or responses: false), unchanged") \
	X(OFL_RESP_INTERIM,    "offload: 1xx responses passed (they take no request)") \
	X(OFL_HEAD_CORKED,     "offload: response head split over writes, held for the rest") \
	X(OFL_IN_GAP,          "offload: request framing lost (a skipped request head): later responses unchanged") \
	X(OFL_IN_UNPARSED,     "offload: request head not followed (malformed, too long): later responses unchanged") \
	X(OFL_IN_SPLIT,        "offload: request heads split over segments: their start held on the socket for the rest") \
	X(OFL_IN_AHEAD,        "offload: segments after a request head still missing kept ahead of it, for the head's join") \
	X(OFL_IN_BODY,         "offload: chunked or upgraded request: later responses unchanged") \
	X(OFL_FIFO_FULL,       "offload: too many requests waiting for responses: later responses unchanged") \
	X(OFL_NO_REQUEST,      "offload: response without a recorded request: connection passed unchanged") \
	X(OFL_RESP_BAD,        "offload: response head not understood or too long: connection passed unchanged") \
	X(OFL_RESP_STREAM,     "offload: response body to connection close or protocol switch: connection passed") \
	X(OFL_EDIT_FAILED,     "offload: push/pop/pull failed or insertion too long: response unchanged") \
	X(OFL_BUSY,            "offload: per-CPU scratch busy (preempted program): response unchanged") \
	X(OFL_SOCKS_FULL,      "offload: socket table full: a connection not covered") \
	X(OFL_HELD_FULL,       "offload: table of sockets holding a head full: response unchanged") \
	X(OFL_NO_ROOM,         "offload: send buffer too full to push a rewritten head safely: response unchanged") \
	X(OFL_MISSED,          "offload: response bytes went out unseen (kernel cork/window): connection passed") \
	X(OFL_DETACHED,        "offload: sockets out of the SK_MSG path for a large body (zero-copy sendfile)") \
	X(OFL_READDED,         "offload: sockets back in the SK_MSG path at their next request") \
	X(OFL_LEAVE_RACE,      "offload: a request arrived while TC egress took its socket out of the SK_MSG path: later responses unchanged") \
	X(OFL_DETACH_FAILED,   "offload: socket map update/delete for a body failed: connection passed unchanged") \
	X(OFL_READD_BUSY,      "offload: request segments dropped for the client to send again: the write before still held the socket's old psock") \
	X(OFL_KEEP_STAR,       "offload: app_headers: keep and the app's own ACAO is *: no Access-Control-Allow-Credentials added to it") \
	X(OFL_WINDOW,          "offload: responses whose small body passed without another SK_MSG run (apply_bytes)") \
	X(OFL_PREFLIGHT_APP,   "offload: preflights passed to the app on a covered URL: the app's Access-Control-* lines kept, Vary merged") \
	X(OFL_PATH_UNNORM,     "offload: paths not matched without normalizing on a replace rule's host: the app's Access-Control-* lines removed, Vary: Origin") \
	X(OFL_IN_CSUM,         "offload: request segment with a bad TCP checksum: not recorded (its retransmission is)") \
	X(OFL_IN_OOW,          "offload: request segment past the socket's largest window: not recorded, no gap marked") \
	X(SHD_READ,            "shadow: app response heads read at TC egress for comparison")

enum pf_stat {
#define PF_STAT_ENUM(name, desc) PF_STAT_##name,
	PF_STATS(PF_STAT_ENUM)
#undef PF_STAT_ENUM
	PF_STAT__MAX
};

/* may_goto's opcode, BPF_JMP | BPF_JCOND | BPF_K: the uapi headers of
 * this build (Debian's, before 6.9) name neither (pf_can_loop below,
 * user/kfeat.h). */
#define PF_MAY_GOTO_CODE 0xe5

/* ---- loop shim: bpf_loop() in the kernel, a for loop under gcc ----
 * The callback has the bpf_loop signature: long cb(__u32 i, void *ctx),
 * returning 0 to continue and 1 to stop. bpf_loop lets the verifier check
 * the body once instead of once per iteration (avoids "BPF program is too
 * large. Processed 1000001 insn" on nested scans). */
#ifdef __bpf__
#define pf_loop(n, cb, ctx) bpf_loop((n), (cb), (ctx), 0)

/* ---- open-coded loops: may_goto (6.9+) ----
 * The answer path's two longest loops -- a request's header lines
 * (pf_lines_buf) and a request-header list's names (pf_hdr_elems_buf) --
 * run without a bpf_loop callback where the kernel has the may_goto
 * instruction: a callback's call and return per line or name go through
 * the return thunk (AMD's SRSO Safe RET on this project's VMs) and cost
 * about as much as a short line's scan. pf_can_loop is the loop's test:
 * 1 while may_goto lets the loop go on, 0 once the kernel's bound for it
 * is spent (a count of turns, or on newer x86 kernels a time budget) --
 * far beyond the parse's own bound, a count in map memory, which ends
 * the loops first. The verifier checks such a loop's body as it checks a
 * callback's, until its states repeat, so positions stay laundered as
 * before (PF_LAUNDER). pf_may_goto (read-only data, set by every loader:
 * user/kfeat.h) picks the open-coded loops or the bpf_loop ones; the
 * others are dead code the verifier prunes; a verifier that refuses the
 * open-coded variant (6.9+ verifiers differ: verified on 6.18) gets the
 * other (run loads again, user/cmd_run.c). A kernel before 6.9 refuses
 * the opcode even there, so its loaders open an image in which each
 * may_goto is a conditional jump instead (pf_kfeat_goto_scan). clang 14
 * has no mnemonic for it: the encoding, code PF_MAY_GOTO_CODE, src_reg 0
 * (BPF_MAY_GOTO), the 16-bit jump offset in instructions, imm 0 -- laid
 * out for a little-endian target (bpfel, as every host this runs on). */
const volatile __u32 pf_may_goto;

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "pf_can_loop's encoding is little-endian (offset, then imm)");
#define PF_STR_(x) #x
#define PF_STR(x) PF_STR_(x)
#define pf_can_loop ({ __label__ l_stop, l_go; int go_ = 1; \
	asm volatile goto("1: .byte " PF_STR(PF_MAY_GOTO_CODE) "; .byte 0; " \
			  ".long ((%l[l_stop] - 1b - 8) / 8) & 0xffff; .short 0" :::: l_stop); \
	goto l_go; l_stop: go_ = 0; l_go:; go_; })
#else
PF_INLINE long pf_loop(__u32 n, long (*cb)(__u32, void *), void *ctx)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (cb(i, ctx))
			return i + 1;
	return n;
}
#endif

/* ---- laundering ----
 * Store x in slot (memory) and read it back. In the kernel every parser
 * work area lives in a per-CPU map value, whose contents the verifier does
 * not track: the value read back is an unknown scalar. Used on positions
 * found by a scan loop; otherwise the verifier re-checks everything after
 * the loop once per possible exit position ("BPF program is too large").
 * In userspace it is a plain store and load. */
#ifdef __bpf__
#define PF_LAUNDER(slot, x) \
	(*(volatile __u32 *)&(slot) = (__u32)(x), *(volatile __u32 *)&(slot))
#else
#define PF_LAUNDER(slot, x) ((void)&(slot), (__u32)(x))
#endif

/* min(a, b) for a, b < 2^63, without a branch. BPF has no conditional
 * move: "a < b ? a : b" is a branch, and its two ways leave the verifier
 * two states of the result (and of its spilled copies) with different
 * ranges. In the header-line loop (pf_line_cb) those copies are dead
 * leftovers that 6.17+ does not clean in a loop, so every later line was
 * walked once per way each earlier min went (pf_tc_ingress 270,848 ->
 * 211,090 processed instructions with pf_line's two limits and
 * pf_scan_split's inline bound as pf_min_nb; "BPF program is too large.
 * Processed 1000001 insn" is what the programs must stay far from). The
 * asm is not volatile: clang may still move it (volatile, with the
 * scans' final mins too, cost the answer +20 ns). */
PF_INLINE __u64 pf_min_nb(__u64 a, __u64 b)
{
	__u64 d = a - b;

#ifdef __bpf__
	/* hidden from clang, which turns the pattern back into a branch */
	asm("" : "+r"(d));
#endif
	return b + (d & (__u64)((__s64)d >> 63));
}

/* ---- global functions ----
 * In BPF a PF_GLOBAL function is a real (global) function, which the
 * verifier checks once on its own, with unknown arguments, instead of
 * once per call site and state: the scanning loops live in these, and
 * the callers stay cheap to verify (the whole program must stay under
 * "BPF program is too large. Processed 1000001 insn"). Its pointer
 * arguments must point to structs (a u8 pointer would be one byte long:
 * buffers are passed as struct pf_buf) and be checked for NULL. In
 * userspace it is a static inline function like the rest. */
#ifdef __bpf__
#define PF_GLOBAL __attribute__((noinline))
#else
#define PF_GLOBAL static inline __attribute__((unused))
#endif

/* A request buffer (PF_REQ_BUF bytes) as global functions take it. */
struct pf_buf {
	__u8 b[PF_REQ_BUF];
};

/* Stack holder handed to bpf_loop callbacks (the helper wants a stack
 * pointer): the buffer pointer plus the callback's work area, which lives
 * in map memory for the reason above. */
struct pf_hold {
	const __u8 *buf;
	void *w;
};

/* ---- variable-length copy between two in-memory buffers ----
 * The verifier has no variable-length memcpy; bpf_probe_read_kernel copies
 * n bytes (n bounded by the caller's mask) in one helper call. */
#ifdef __bpf__
#define pf_copy(dst, src, n) bpf_probe_read_kernel((dst), (n), (src))
#else
#define pf_copy(dst, src, n) ((void)memcpy((dst), (src), (n)))
#endif

/* Zero n8 8-byte words at p (8-byte aligned). Volatile stores in a
 * loop: clang turns a __builtin_memset over ~1 KiB into a call, "A call
 * to built-in function 'memset' is not supported". */
PF_INLINE void pf_zero64(void *p, __u32 n8)
{
	volatile __u64 *w = (volatile __u64 *)p;
	__u32 i;

	for (i = 0; i < n8; i++)
		w[i] = 0;
}

/* ---- 8 bytes at a time ----
 * The parser, matcher and response builder read and write buffers in
 * 8-byte little-endian words. pf_ld64/pf_st64 (pf_ld32: 4 bytes) are one
 * unaligned access: a plain load/store in BPF (x86's JIT needs no alignment, and
 * the verifier checks it only under BPF_F_STRICT_ALIGNMENT), memcpy under
 * gcc (which UBSan accepts and which compiles to one mov). Clang lowers a
 * __builtin_memcpy of 8 bytes from a byte pointer to 8 byte loads for BPF.
 * Only little-endian hosts (x86, arm64) are supported. */
#ifdef __bpf__
#define pf_ld64(p) (*(const __u64 *)(const void *)(p))
#define pf_ld32(p) (*(const __u32 *)(const void *)(p))
#define pf_st64(p, x) (*(__u64 *)(void *)(p) = (x))
#else
PF_INLINE __u64 pf_ld64(const void *p)
{
	__u64 x;

	memcpy(&x, p, 8);
	return x;
}

PF_INLINE __u32 pf_ld32(const void *p)
{
	__u32 x;

	memcpy(&x, p, 4);
	return x;
}

PF_INLINE void pf_st64(void *p, __u64 x)
{
	memcpy(p, &x, 8);
}
#endif

/* Byte-parallel tests ("SWAR"): each returns the high bit (0x80) of every
 * byte of x for which the test holds, exactly (no carries between bytes). */
#define PF_ONES  0x0101010101010101ULL
#define PF_HIGHS 0x8080808080808080ULL
#define PF_LOW7  0x7f7f7f7f7f7f7f7fULL

/* byte >= c, for 1 <= c <= 0x80 (bytes >= 0x80 always) */
PF_INLINE __u64 pf_geb(__u64 x, __u32 c)
{
	return (((x & PF_LOW7) + (0x80 - c) * PF_ONES) | x) & PF_HIGHS;
}

/* byte == c */
PF_INLINE __u64 pf_eqb(__u64 x, __u32 c)
{
	__u64 z = x ^ (c * PF_ONES);

	return ~(((z & PF_LOW7) + PF_LOW7) | z) & PF_HIGHS;
}

/* lo <= byte <= hi, for 1 <= lo <= hi < 0x80 */
PF_INLINE __u64 pf_inb(__u64 x, __u32 lo, __u32 hi)
{
	return pf_geb(x, lo) & ~pf_geb(x, hi + 1);
}

/* Index (0..7) of the lowest byte flagged in m (m != 0, high bits only):
 * the lowest flag isolated and multiplied by a byte ladder (the BPF
 * backend has no count-trailing-zeros or popcount instruction). */
PF_INLINE __u32 pf_first_byte(__u64 m)
{
	return (__u32)((((m & -m) >> 7) * 0x0001020304050607ULL) >> 56);
}

/* The low n bytes of a word (1 <= n <= 8). */
PF_INLINE __u64 pf_low_bytes(__u32 n)
{
	return n >= 8 ? ~0ULL : (1ULL << (8 * n)) - 1;
}

/* pf_low_bytes(n < 8 ? n : 8) for 1 <= n < 2^31, without a branch: in a
 * loop over words, a second way on to the next word (the last word
 * masked, the others not) doubles the verifier's walk at each word. */
PF_INLINE __u64 pf_low_bytes_upto(__u32 n)
{
	return ~0ULL >> ((64 - 8 * n) & (0u - ((n - 8) >> 31)) & 63);
}

/* ASCII A-Z to a-z in all 8 bytes. */
PF_INLINE __u64 pf_lower64(__u64 x)
{
	return x | (pf_inb(x, 'A', 'Z') >> 2);
}

/* Are the n bytes of a at off equal to the first n bytes of b (a's
 * words lower-cased first when ci)? 8 bytes a step, the last word masked
 * (the bytes past n may be anything, and are read). a is read at
 * (off + 8k) & (PF_REQ_MAX - 1) (PF_M): a request buffer of PF_REQ_BUF
 * bytes. b holds at least 8 * max_w bytes; n > 8 * max_w compares the
 * first max_w words only (callers bound n). Verifier workaround: max_w
 * is a constant bound on the loop, so b + 8k stays inside b's array
 * where the verifier cannot relate n to it (a loop on n alone:
 * "invalid access to memory, mem_size=5840 off=5840 size=8" in
 * pf_ofl_reuse). Arithmetic in 32 bits as the callers had it: with n and
 * k 64-bit, pf_ofl_tc's verification went over "BPF program is too
 * large. Processed 1000001 insn" (clang kept n - 8k in a loop-carried
 * register, tested in place; not studied further). The compare of
 * pf_tok_eq, pf_path_match (pf_match_tok.h, pf_match.h) and pf_ofl_reuse
 * (bpf/pf_ofl_tc.h). */
PF_INLINE int pf_eq_words(const __u8 *a, __u32 off, const __u8 *b, __u32 n, const __u32 max_w,
			  int ci)
{
	__u64 x, d;
	__u32 k;


	for (k = 0; k < max_w; k++) {
		if (8 * k >= n)
			break;
		x = pf_ld64(a + ((off + 8 * k) & (PF_REQ_MAX - 1)));
		d = (ci ? pf_lower64(x) : x) ^ pf_ld64(b + 8 * k);
		/* the last word's bytes past n masked off without a
		 * branch (n - 8k >= 1 here) */
		d &= pf_low_bytes_upto(n - 8 * k);
		if (d)
			return 0;
	}
	return 1;
}

/* A word of 8 literal characters, for masked compares: PF_LIT8("host\0\0\0\0"). */
#define PF_LIT8(s) \
	((__u64)(__u8)(s)[0] | (__u64)(__u8)(s)[1] << 8 | (__u64)(__u8)(s)[2] << 16 | \
	 (__u64)(__u8)(s)[3] << 24 | (__u64)(__u8)(s)[4] << 32 | (__u64)(__u8)(s)[5] << 40 | \
	 (__u64)(__u8)(s)[6] << 48 | (__u64)(__u8)(s)[7] << 56)

/* ---- 64-bit string hash, 8 bytes at a time ----
 * Policy strings are stored under pf_hash_bytes() of their bytes (the
 * compiler, userspace); the datapath computes the same value over request
 * bytes with pf_hash_slice() (include/pf_match_tok.h). Both feed the same words
 * (the last one zero-padded) into pf_hash_word() and finish with
 * pf_hash_end(). A hit is always verified byte for byte: the hash only
 * has to spread natural strings (the compiler refuses collisions between
 * policy strings). */
/* The hash is keyed: it starts from pf_hash_seed, which `preflightd run`
 * draws at random (getrandom) before it compiles anything and hands to
 * its BPF object (read-only data, set before load: to the verifier a
 * known constant). Unkeyed, anyone could compute an origin whose hash
 * equals an allowed regex origin's (a few seconds: the word steps are
 * invertible), have the daemon learn it first as a negative under that
 * hash, and so make the allowed one unlearnable (pass_daemon_failed)
 * until the next reload. Not a cryptographic MAC: one difference in the
 * top bit of two words survives any seed (x * odd flips bit 63 alike),
 * so only ASCII origins are handed to the daemon (pf_ascii_buf). Every
 * other user -- tests, `check`, `explain`, the test object -- keeps the
 * default, so their hashes agree with each other. */
#define PF_HASH_SEED0 0xcbf29ce484222325ULL
#ifdef __bpf__
const volatile __u64 pf_hash_seed = PF_HASH_SEED0;
#else
/* weak: this header defines it in every file that includes it, the
 * linker keeps one */
__attribute__((weak)) __u64 pf_hash_seed = PF_HASH_SEED0;
#endif
#define PF_HASH_INIT  pf_hash_seed
#define PF_HASH_PRIME 0x100000001b3ULL  /* the FNV prime (punt keys mix with it) */
#define PF_HASH_MUL1  0x9e3779b97f4a7c15ULL
#define PF_HASH_MUL2  0xff51afd7ed558ccdULL

PF_INLINE __u64 pf_hash_word(__u64 h, __u64 w)
{
	h = (h ^ w) * PF_HASH_MUL1;
	return h ^ (h >> 29);
}

PF_INLINE __u64 pf_hash_end(__u64 h)
{
	h *= PF_HASH_MUL2;
	return h ^ (h >> 32);
}

/* ASCII lower-casing by table: a compare here would put two verifier
 * branches in every loop that uses it. */
static const __u8 pf_lower_tab[256] PF_RODATA = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
	0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
	0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
	0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
	0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
	0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

PF_INLINE __u8 pf_lower(__u8 c)
{
	return pf_lower_tab[c];
}

/* 1 if none of the n (<= PF_TOKEN_MAX) bytes at rb->b[off] has its
 * high bit set: a serialized origin, which is all a browser sends, is
 * ASCII (RFC 6454; IDNA hosts). Reads up to 7 bytes past them. A global
 * function: inlined into the offload recorder's head callback it took
 * pf_ofl_tc over "BPF program is too large. Processed 1000001 insn". */
PF_GLOBAL int pf_ascii_buf(const struct pf_buf *rb, __u32 off, __u32 n)
{
	__u64 acc = 0, w;
	__u32 k;

	/* 32-bit counters, as pf_eq_words has them (see there) */
	if (!rb || n > PF_TOKEN_MAX)
		return 0;
	for (k = 0; k < PF_TOKEN_MAX / 8; k++) {
		if (8 * k >= n)
			break;
		w = pf_ld64(rb->b + ((off + 8 * k) & (PF_REQ_MAX - 1)));
		if (n - 8 * k < 8)
			w &= pf_low_bytes(n - 8 * k);
		acc |= w;
	}
	return !(acc & PF_HIGHS);
}

#ifndef __bpf__
/* Hash of len bytes of s (optionally lower-cased, ASCII). Userspace
 * compiles policy strings with this; it reads no byte past s + len. */
PF_INLINE __u64 pf_hash_bytes(const __u8 *s, __u32 len, int lower)
{
	__u64 h = PF_HASH_INIT ^ len, w;
	__u32 i;

	for (i = 0; i < len; i += 8) {
		w = 0;
		memcpy(&w, s + i, len - i < 8 ? len - i : 8);
		h = pf_hash_word(h, lower ? pf_lower64(w) : w);
	}
	return pf_hash_end(h);
}
#endif

#endif /* PF_COMMON_H */

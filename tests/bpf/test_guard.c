/* test_guard.c -- BPF tier: the splice guard -- request boundaries and answers, never body bytes (issue 9 item 3). */
/*
 * A preflight-shaped segment is answered only at a request boundary
 * (c_next, from the framing of every earlier request) after an answer to
 * the request before it began (not a 1xx). Each case first answers a
 * preflight (conn_splice) and acks the response, so the connection is
 * followed and would take another splice -- then sends what the app
 * expects as body, or an interim response, and a preflight-shaped
 * segment that must go to the app.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conn.h"
#include "harness_int.h"

#define S0 1000000u
#define P0 5000000u

#define PUT_HEAD(len) \
	"PUT /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n" \
	"Expect: 100-continue\r\nContent-Length: " len "\r\n\r\n"
#define CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"
#define EARLY_HINTS "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\n\r\n"
#define GET_REQ "GET /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
#define OK_200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* A spliced connection whose response the client acked; returns the
 * client's next wire seq (*cs) and the server socket's next seq (*ss). */
static bool spliced(struct conn *c, __u32 *cs, __u32 *ss)
{
	if (!conn_splice_acked(c, 4, S0, P0))
		return false;
	*cs = c->S + c->L;
	*ss = c->P;
	return true;
}

/* Client data d at wire seq cs (socket: cs - L), acking server socket
 * seq ss: passed, translated; counted with stat (PASS_NOT_OPTIONS for
 * ordinary data). The socket mock is idle and at that byte, so only the
 * flow's state can refuse a preflight-shaped one. */
/* client_data, with a second counter (split >= 0: PF_STAT_SPLIT_*)
 * moved by 1 -- PF_STAT_FOLLOW_CSUM instead of translated_in (a head's
 * start with a wrong checksum: translated, not noted); if bad, the
 * segment's TCP checksum corrupted: passed (its checksum left wrong),
 * only the counters checked. */
static bool client_seg(const struct conn *c, __u32 cs, __u32 ss, const char *d, int stat,
		       int split, bool bad)
{
	struct h_delta dl[] = {
		H_D(PKT_SEEN, 1), { stat, 1 }, H_D(TRANSLATED_IN, 1), H_DEND, H_DEND,
	};
	struct pkt_spec in, want;
	struct pf_sockinfo si = h_sock(cs - c->L, ss);
	struct h_run r;

	if (split == PF_STAT_FOLLOW_CSUM)
		dl[2] = (struct h_delta){ split, 1 };
	else if (split >= 0)
		dl[3] = (struct h_delta){ split, 1 };
	si.bytes_received = 1000;
	h_set_sock(&si);
	conn_cseg(&in, c, cs, ss + c->R, d);
	if (bad) {
		in.bad_csum = 1;
		return h_run_spec(h_in, &in, NULL, &r) && H_EQ(r.verdict, H_PASS, "verdict") &&
		       h_check_deltas(&r, dl);
	}
	want = in;
	want.seq = cs - c->L;
	want.ack = ss;
	return conn_expect(h_in, &in, NULL, &want, dl);
}

static bool client_data(const struct conn *c, __u32 cs, __u32 ss, const char *d, int stat)
{
	return client_seg(c, cs, ss, d, stat, -1, false);
}

/* Server data d at socket seq ss acking client socket seq cs. */
static bool server_data(const struct conn *c, __u32 ss, __u32 cs, const char *d)
{
	struct pkt_spec in, want;

	conn_sseg(&in, c, ss, cs, d);
	want = in;
	want.seq = ss + c->R;
	want.ack = cs + c->L;
	return conn_expect(&h_tc_out, &in, NULL, &want, conn_d_out);
}

/* An Expect: 100-continue upload whose body is, byte for byte, a
 * complete preflight: after the app's 100 Continue it looks like the
 * next request -- but it is the body the app waits for. Answered, the app
 * would read the client's next request as body. */
static void t_continue_body(void)
{
	const __u32 H = (__u32)strlen(PUT_HEAD("184"));
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss) || !H_EQ(c.L, 184, "test bug: preflight length"))
		return;
	if (!client_data(&c, cs, ss, PUT_HEAD("184"), PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + H, CONTINUE))
		return;
	client_data(&c, cs + H, ss + (__u32)strlen(CONTINUE), H_PREFLIGHT,
		    PF_STAT_PASS_NOT_BOUNDARY);
}

/* The app answers early (413) while the body is still arriving; the rest
 * of the body happens to be a complete preflight. */
static void t_early_response_body(void)
{
	static const char early[] = "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n";
	const __u32 H = (__u32)strlen(PUT_HEAD("284"));
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_data(&c, cs, ss, PUT_HEAD("284") "0123456789012345678901234567890123456789"
			 "0123456789012345678901234567890123456789"
			 "01234567890123456789", PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + H + 100, early))
		return;
	client_data(&c, cs + H + 100, ss + (__u32)strlen(early), H_PREFLIGHT,
		    PF_STAT_PASS_NOT_BOUNDARY);
}

/* A 103 Early Hints is not the answer: a preflight sent behind the GET
 * (pipelined) before the final response goes to the app. */
static void t_early_hints_not_answer(void)
{
	const __u32 G = (__u32)strlen(GET_REQ);
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_data(&c, cs, ss, GET_REQ, PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + G, EARLY_HINTS))
		return;
	client_data(&c, cs + G, ss + (__u32)strlen(EARLY_HINTS), H_PREFLIGHT, PF_STAT_PASS_ORDER);
}

/* ... and the final response after it is: the next preflight (a client
 * that waited for the whole response) is answered. */
static void t_after_early_hints_answered(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(ANSWERED, 1), H_DEND,
	};
	const __u32 G = (__u32)strlen(GET_REQ), E = (__u32)strlen(EARLY_HINTS);
	const __u32 O = (__u32)strlen(OK_200);
	struct pkt_spec req;
	struct pf_sockinfo si;
	struct h_run r;
	struct h_want w;
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_data(&c, cs, ss, GET_REQ, PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + G, EARLY_HINTS) ||
	    !server_data(&c, ss + E, cs - c.L + G, OK_200))
		return;
	si = h_sock(cs - c.L + G, ss + E + O);
	si.bytes_received = 1000;
	h_set_sock(&si);
	h_req_spec(&req, 4, H_PREFLIGHT, cs + G, ss + E + O + c.R, 333, 444);
	if (!h_run_spec(h_in, &req, NULL, &r))
		return;
	w = (struct h_want){ .req = &req, .seq = ss + E + O + c.R, .ack = cs + G + c.L,
			     .win = (__u16)(si.rcv_wnd >> si.wscale), .has_ts = true,
			     .tsval = H_TS_NOW, .tsecr = 333, .pay = H_RESP_204, .paylen = c.R };
	if (h_check_response(&r, &w))
		h_check_deltas(&r, d);
}

/* A request with a chunked body: its length cannot be followed, so no
 * later preflight on the connection is answered (pass_framing). */
static void t_chunked_lost(void)
{
	static const char chunked[] = "POST /api/items HTTP/1.1\r\nHost: api.example.com\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	const __u32 C = (__u32)strlen(chunked);
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_data(&c, cs, ss, chunked, PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + C, OK_200))
		return;
	client_data(&c, cs + C, ss + (__u32)strlen(OK_200), H_PREFLIGHT, PF_STAT_PASS_FRAMING);
}

/* A preflight at client wire seq cs acking server socket seq ss, the
 * socket idle at that byte: answered (what names the check). */
static void preflight_answered(const struct conn *c, __u32 cs, __u32 ss, const char *what)
{
	struct pf_sockinfo si = h_sock(cs - c->L, ss);
	struct pkt_spec in;
	struct h_run r;

	si.bytes_received = 1000;
	h_set_sock(&si);
	h_req_spec(&in, 4, H_PREFLIGHT, cs, ss + c->R, 333, 444);
	if (h_run_spec(h_in, &in, NULL, &r))
		H_EQ(r.verdict, H_TX, what);
}

/* The first part of a split request head (XDP, TC without GRO: a head
 * over one MSS). */
static const char split1[] = "GET /api/items/7 HTTP/1.1\r\nHost: api.exa";

/* A request head sent as the n segments part[] after a splice: held on
 * the socket at the first (split_held), the middle ones leaving it held,
 * the last (first a corrupted copy if bad: it joins nothing, the stack
 * drops it) counted end -- split_joined: the head followed, the
 * preflight after its answer answered; split_lost: the framing lost, the
 * preflight to the app. */
static void split_head(const char *const *part, unsigned n, bool bad, int end)
{
	struct conn c;
	__u32 cs, ss, off = 0;
	unsigned k;
	int st;

	if (!spliced(&c, &cs, &ss))
		return;
	for (k = 0; k < n; k++) {
		st = k == 0 ? PF_STAT_SPLIT_HELD : k + 1 == n ? end : -1;
		if (k + 1 == n && bad &&
		    !client_seg(&c, cs + off, ss, part[k], PF_STAT_PASS_NOT_OPTIONS, -1, true))
			return;
		if (!client_seg(&c, cs + off, ss, part[k], PF_STAT_PASS_NOT_OPTIONS, st, false))
			return;
		off += (__u32)strlen(part[k]);
	}
	if (!server_data(&c, ss, cs - c.L + off, OK_200))
		return;
	if (end == PF_STAT_SPLIT_JOINED)
		preflight_answered(&c, cs + off, ss + (__u32)strlen(OK_200),
				   "the preflight after the split head's answer");
	else
		client_data(&c, cs + off, ss + (__u32)strlen(OK_200), H_PREFLIGHT,
			    PF_STAT_PASS_FRAMING);
}

/* A split head's first segment held (arg NULL; else its last segment
 * kept ahead), then the whole head again in one skb (the client sent it
 * all again and the receiver's GRO merged the copies; in XDP mode one
 * frame): followed from that copy, and what was held or kept let go.
 * Before, only a join let go: the socket's storage kept the bytes (~16
 * KiB charged to optmem_max) until it closed. */
static void t_split_head_whole_copy_lets_go(const void *arg)
{
	static const char rest[] = "mple.com\r\n\r\n";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	static struct pf_split sp;
	struct h_env gro = { .gso_segs = 2 };
	struct pf_sockinfo si;
	struct pkt_spec in;
	char whole[128];
	struct h_run r;
	struct conn c;
	__u32 cs, ss, W;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!arg ? !client_seg(&c, cs, ss, split1, PF_STAT_PASS_NOT_OPTIONS, PF_STAT_SPLIT_HELD,
			       false) :
		   !client_seg(&c, cs + (__u32)strlen(split1), ss, rest, PF_STAT_PASS_NOT_OPTIONS,
			       PF_STAT_SPLIT_AHEAD, false))
		return;
	if (!h_split_read(&sp) ||
	    !H_CHECK(!arg ? sp.n == strlen(split1) : sp.o_n == strlen(rest),
		     "the %s not %s (n %u, piece %u)", !arg ? "first segment" : "last segment",
		     !arg ? "held" : "kept ahead", sp.n, sp.o_n))
		return;
	W = (__u32)snprintf(whole, sizeof(whole), "%s%s", split1, rest);
	si = h_sock(cs - c.L, ss);
	si.bytes_received = 1000;
	h_set_sock(&si);
	conn_cseg(&in, &c, cs, ss + c.R, whole);
	if (!h_run_spec(h_in, &in, h_xdp() ? NULL : &gro, &r) ||
	    !H_EQ(r.verdict, H_PASS, "the whole copy's verdict") || !h_check_deltas(&r, d))
		return;
	if (!h_split_read(&sp) ||
	    !H_CHECK(!sp.n && !sp.o_n, "the held bytes kept after the head was followed whole "
				       "(n %u, piece %u)", sp.n, sp.o_n))
		return;
	if (server_data(&c, ss, cs - c.L + W, OK_200))
		preflight_answered(&c, cs + W, ss + (__u32)strlen(OK_200),
				   "the preflight after the head's answer");
}

/* s1 through the current ingress on a second CPU, stopped after its
 * framing follow (PF_TP_XLATE_FOLLOWED, before its flow note), s2 run
 * meanwhile, then s1 let go on: their runs in r1 and r2. */
static bool race_followed(const struct pkt_spec *s1, struct h_run *r1,
			  const struct pkt_spec *s2, struct h_run *r2)
{
	if (!h_pause_start(h_in, s1, PF_TP_XLATE_FOLLOWED))
		return false;
	h_run_spec(h_in, s2, NULL, r2);
	return h_pause_finish(r1);
}

/* The flow of in (c's, at client seq cs) framed the head of W bytes
 * there whole -- c_next past it, no PF_FLOW_SPLIT mark left -- and the
 * preflight after the app's answer to it is answered. */
static void head_framed_then_answered(const struct conn *c, const struct pkt_spec *in,
				      __u32 cs, __u32 ss, __u32 W)
{
	struct pf_flow fl;

	if (!H_CHECK(h_flow(in, &fl), "no flow entry") ||
	    !H_CHECK(!(fl.hi & PF_FLOW_SPLIT) && fl.c_next == cs + W,
		     "flow hi %#x, c_next %u (want no PF_FLOW_SPLIT, c_next %u)", fl.hi, fl.c_next,
		     cs + W))
		return;
	if (server_data(c, ss, cs - c->L + W, OK_200))
		preflight_answered(c, cs + W, ss + (__u32)strlen(OK_200),
				   "the preflight after the head's answer");
}

/* A split head's first segment (a) and a whole copy of the head (b, the
 * client's retransmission collapsed into one segment) on two CPUs: one
 * stopped after its framing follow (PF_TP_XLATE_FOLLOWED) -- a with its
 * bytes stored (arg NULL), or b having read no mark on the flow (arg
 * set) -- while the other runs through, then let go on. Whichever notes
 * second lets the stored bytes go: a, finding the flow moved past the
 * head; b, finding the mark under the flow's lock (at XDP, which has no
 * socket storage, they stay: split_left). Before, both missed it: a
 * marked the flow at the head b had framed, and the bytes stayed in the
 * socket's storage (~8 KiB, a 16 KiB allocation) until it closed
 * (review LOW-2). The head is followed either way. */
static void t_split_hold_race_whole_copy(const void *arg)
{
	static const char rest[] = "mple.com\r\n\r\n";
	const bool left = arg && h_xdp_frames();
	const struct h_delta da[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_HELD, 1),
		H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const struct h_delta db[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(TRANSLATED_IN, 1),
		{ left ? PF_STAT_SPLIT_LEFT : -1, 1 }, H_DEND,
	};
	struct pf_sockinfo si;
	struct pkt_spec a, b;
	struct h_run ra, rb;
	struct pf_split sp;
	char whole[128];
	struct conn c;
	__u32 cs, ss, W;

	if (!spliced(&c, &cs, &ss))
		return;
	W = (__u32)snprintf(whole, sizeof(whole), "%s%s", split1, rest);
	si = h_sock(cs - c.L, ss);
	si.bytes_received = 1000;
	h_set_sock(&si);
	conn_cseg(&a, &c, cs, ss + c.R, split1);
	conn_cseg(&b, &c, cs, ss + c.R, whole);
	if (!(arg ? race_followed(&b, &rb, &a, &ra) : race_followed(&a, &ra, &b, &rb)))
		return;
	if (!H_EQ(ra.verdict, H_PASS, "the first segment's verdict") || !h_check_deltas(&ra, da) ||
	    !H_EQ(rb.verdict, H_PASS, "the whole copy's verdict") || !h_check_deltas(&rb, db))
		return;
	if (!h_split_read(&sp) ||
	    !H_CHECK(left ? sp.n == strlen(split1) : !sp.n && !sp.o_n,
		     "bytes %s after the head was framed whole on another CPU (n %u, piece %u)",
		     left ? "not left (XDP cannot let go)" : "still stored", sp.n, sp.o_n))
		return;
	head_framed_then_answered(&c, &a, cs, ss, W);
}

/* A split head's first segment held (the flow marked), then its rest
 * (j) joins it -- the storage let go before j is noted -- while, on
 * another CPU, a copy of the first segment (f2) is held again in a fresh
 * value and noted first, marking the flow at the head j frames: j,
 * stopped after its framing follow (PF_TP_XLATE_FOLLOWED), finds the
 * mark under the flow's lock and lets f2's bytes go too. Before, j's
 * let-go cleared the mark and f2's bytes stayed in the socket's storage
 * until it closed (review L1 of the LOW-2 mend). */
static void t_split_join_race_first_again(void)
{
	static const char rest[] = "mple.com\r\n\r\n";
	const __u32 W = (__u32)(strlen(split1) + strlen(rest));
	const struct h_delta df[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_HELD, 1),
		H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const struct h_delta dj[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(SPLIT_JOINED, 1),
		H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct pkt_spec f2, j;
	struct h_run rf, rj;
	struct pf_split sp;
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss) ||
	    !client_seg(&c, cs, ss, split1, PF_STAT_PASS_NOT_OPTIONS, PF_STAT_SPLIT_HELD, false))
		return;
	conn_cseg(&j, &c, cs + (__u32)strlen(split1), ss + c.R, rest);
	conn_cseg(&f2, &c, cs, ss + c.R, split1);
	if (!race_followed(&j, &rj, &f2, &rf))
		return;
	if (!H_EQ(rf.verdict, H_PASS, "the first segment's copy's verdict") ||
	    !h_check_deltas(&rf, df) || !H_EQ(rj.verdict, H_PASS, "the rest's verdict") ||
	    !h_check_deltas(&rj, dj))
		return;
	if (!h_split_read(&sp) ||
	    !H_CHECK(!sp.n && !sp.o_n,
		     "bytes held again by the first segment's copy still stored after the join "
		     "(n %u, piece %u)", sp.n, sp.o_n))
		return;
	head_framed_then_answered(&c, &j, cs, ss, W);
}

/* A segment far past the head at c_next (more than PF_REQ_MAX bytes on:
 * no head reaches it) is not kept ahead, and the flow is not marked as
 * having bytes in the socket's storage (PF_FLOW_SPLIT). Before, it was:
 * at XDP the next whole head went to TC ingress for nothing (review
 * LOW-4 of stop 42). */
static void t_split_far_ahead_not_marked(void)
{
	struct pf_split sp;
	struct pkt_spec in;
	struct pf_flow fl;
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss) ||
	    !client_seg(&c, cs + PF_REQ_MAX + 100, ss, "0123456789", PF_STAT_PASS_NOT_OPTIONS, -1,
			false))
		return;
	conn_cseg(&in, &c, cs, ss + c.R, "x");
	if (!H_CHECK(h_flow(&in, &fl), "no flow entry") ||
	    !H_CHECK(!(fl.hi & PF_FLOW_SPLIT), "flow marked split with nothing stored (hi %#x)",
		     fl.hi))
		return;
	if (h_split_read(&sp))
		H_CHECK(!sp.n && !sp.o_n, "bytes stored (n %u, piece %u)", sp.n, sp.o_n);
}

/* XDP with metadata, live (h_chain, not the harness's pf_test_follow):
 * XDP cannot call for socket storage ("program of this type cannot use
 * helper bpf_sk_storage_get#107"), so it hands each segment of a split
 * head to TC ingress untouched, marked PF_META_FOLLOW in its metadata;
 * TC holds the first and joins the second, translating both -- each
 * counted once (pkt_seen, its pass reason: XDP's). Before, the XDP
 * program called the helper itself and did not load on such a kernel. */
static void t_split_head_xdp_meta(void)
{
	static const char *const part[] = { split1, "mple.com\r\n\r\n" };
	struct pkt_spec in, want;
	struct pf_sockinfo si;
	struct conn c;
	__u32 cs, ss, off = 0;
	unsigned k;

	if (!h_need_xdp_meta() || !spliced(&c, &cs, &ss))
		return;
	for (k = 0; k < 2; k++) {
		const struct h_delta d[] = {
			H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1), H_D(XDP_TO_TC, 1),
			{ k ? PF_STAT_SPLIT_JOINED : PF_STAT_SPLIT_HELD, 1 },
			H_D(TRANSLATED_IN, 1), H_DEND,
		};

		si = h_sock(cs + off - c.L, ss);
		si.bytes_received = 1000;
		h_set_sock(&si);
		conn_cseg(&in, &c, cs + off, ss + c.R, part[k]);
		want = in;
		want.seq = cs + off - c.L;
		want.ack = ss;
		if (!conn_expect_chain(&in, &want, d))
			return;
		off += (__u32)strlen(part[k]);
	}
	if (server_data(&c, ss, cs - c.L + off, OK_200))
		preflight_answered(&c, cs + off, ss + (__u32)strlen(OK_200),
				   "the preflight after the split head's answer");
}

/* Two segments: the whole head followed. */
static void t_split_head_followed(void)
{
	static const char *const part[] = { split1, "mple.com\r\n\r\n" };

	split_head(part, 2, false, PF_STAT_SPLIT_JOINED);
}

/* A 2,903-byte GET head (a large Cookie line) cut into seg[0..2] of at
 * most 1,448 bytes, as a veth or a NIC without GRO delivers it. Returns
 * its length. */
static __u32 cookie_segs(char seg[3][1500])
{
	static char get[3000];
	int n, k;

	n = snprintf(get, sizeof(get),
		     "GET /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\nCookie: s=");
	memset(get + n, 'c', 2899 - (size_t)n);
	memcpy(get + 2899, "\r\n\r\n", 5);
	for (k = 0; k < 3; k++)
		snprintf(seg[k], 1500, "%.1448s", get + 1448 * k);
	return (__u32)strlen(get);
}

/* The cookie GET in three segments. */
static void t_split_head_three(void)
{
	static char seg[3][1500];
	const char *part[3] = { seg[0], seg[1], seg[2] };

	cookie_segs(seg);
	split_head(part, 3, false, PF_STAT_SPLIT_JOINED);
}

/* A copy of the head's first segment after the second was added (a
 * spurious retransmission): what it brings is held already -- nothing
 * changes, counted nowhere -- and the third segment completes the head.
 * (It was taken for a first copy lost after the rest went through, and
 * the framing lost: review finding 3.) */
static void t_split_head_dup_first(void)
{
	static char seg[3][1500];
	const __u32 G = cookie_segs(seg);
	__u32 cs, ss;
	struct conn c;

	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_seg(&c, cs, ss, seg[0], PF_STAT_PASS_NOT_OPTIONS, PF_STAT_SPLIT_HELD, false) ||
	    !client_data(&c, cs + 1448, ss, seg[1], PF_STAT_PASS_NOT_OPTIONS) ||
	    !client_data(&c, cs, ss, seg[0], PF_STAT_PASS_NOT_OPTIONS) ||
	    !client_seg(&c, cs + 2896, ss, seg[2], PF_STAT_PASS_NOT_OPTIONS, PF_STAT_SPLIT_JOINED,
			false) ||
	    !server_data(&c, ss, cs - c.L + G, OK_200))
		return;
	preflight_answered(&c, cs + G, ss + (__u32)strlen(OK_200),
			   "the preflight after the split head's answer");
}

/* The continuation's bytes are taken only from a segment with a right
 * TCP checksum: a corrupted copy joins nothing, its retransmission does. */
static void t_split_head_bad_csum(void)
{
	static const char *const part[] = { split1, "mple.com\r\n\r\n" };

	split_head(part, 2, true, PF_STAT_SPLIT_JOINED);
}

/* A copy with a wrong TCP checksum of the segment where the next request
 * starts (req, counted stat: a GET's pass_not_options, a preflight's
 * pass_csum) frames nothing (follow_csum) -- the stack drops it -- and its
 * retransmission is framed as usual: a GET's answer, then the preflight
 * after it, answered. A preflight's retransmission goes to the app
 * (pass_not_next: the bad copy's bytes are in c_hi, as the stack may take
 * a copy our sum refused -- at XDP the verdict is ours, before the
 * driver's; review M1), and the preflight after the app's answer is
 * answered. Before, the copy lost the connection's framing, and every
 * later preflight on it went to the app (pass_framing; review LOW-8). */
static void bad_csum_head(const char *req, int stat)
{
	static const struct h_delta d_next[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_NEXT, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 O = (__u32)strlen(OK_200);
	struct pkt_spec in, want;
	struct pf_flow fl;
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss) ||
	    !client_seg(&c, cs, ss, req, stat, PF_STAT_FOLLOW_CSUM, true))
		return;
	conn_cseg(&in, &c, cs, ss + c.R, req);
	if (!H_CHECK(h_flow(&in, &fl), "no flow entry") ||
	    !H_CHECK(fl.state == (PF_FS_FRAMED | PF_FS_ANSWERED) && fl.c_next == cs,
		     "the bad copy lost or moved the framing (state %#x, c_next %u, want %u)", fl.state,
		     fl.c_next, cs))
		return;
	if (!H_CHECK((fl.hi & PF_FLOW_C_HI) && fl.c_hi == cs + (__u32)strlen(req),
		     "the bad copy's bytes not in c_hi (hi %#x, c_hi %u, want %u)", fl.hi, fl.c_hi,
		     cs + (__u32)strlen(req)))
		return;
	if (stat == PF_STAT_PASS_CSUM) {
		/* (XDP hands it to TC, which passes it) */
		want = in;
		want.seq = cs - c.L;
		want.ack = ss;
		if (!conn_expect_to_tc(&in, &want, d_next))
			return;
	} else if (!client_data(&c, cs, ss, req, stat)) {
		return;
	}
	if (server_data(&c, ss, cs - c.L + (__u32)strlen(req), OK_200))
		preflight_answered(&c, cs + (__u32)strlen(req), ss + O,
				   "the preflight after the app's answer");
}

static void t_bad_csum_get(void)
{
	bad_csum_head(GET_REQ, PF_STAT_PASS_NOT_OPTIONS);
}

static void t_bad_csum_preflight(void)
{
	bad_csum_head(H_PREFLIGHT, PF_STAT_PASS_CSUM);
}

/* A split head's first segment held, then a whole copy of the head with
 * a wrong TCP checksum: it frames nothing and lets nothing go (the bytes
 * held stay for the rest), and the head's second segment joins them.
 * Before, the copy lost the framing and let the held bytes go (review
 * LOW-8). */
static void t_split_head_bad_whole_copy(void)
{
	static const char rest[] = "mple.com\r\n\r\n";
	const __u32 W = (__u32)(strlen(split1) + strlen(rest));
	char whole[128];
	struct pf_split sp;
	struct conn c;
	__u32 cs, ss;

	snprintf(whole, sizeof(whole), "%s%s", split1, rest);
	if (!spliced(&c, &cs, &ss) ||
	    !client_seg(&c, cs, ss, split1, PF_STAT_PASS_NOT_OPTIONS, PF_STAT_SPLIT_HELD, false) ||
	    !client_seg(&c, cs, ss, whole, PF_STAT_PASS_NOT_OPTIONS, PF_STAT_FOLLOW_CSUM, true))
		return;
	if (!h_split_read(&sp) ||
	    !H_CHECK(sp.n == strlen(split1), "the held bytes let go by a corrupted copy (n %u)",
		     sp.n))
		return;
	if (client_seg(&c, cs + (__u32)strlen(split1), ss, rest, PF_STAT_PASS_NOT_OPTIONS,
		       PF_STAT_SPLIT_JOINED, false) &&
	    server_data(&c, ss, cs - c.L + W, OK_200))
		preflight_answered(&c, cs + W, ss + (__u32)strlen(OK_200),
				   "the preflight after the split head's answer");
}

/* Not understood once whole (a bare LF), or a second head behind it in
 * the last segment (pipelining): the framing lost, as for a whole head. */
static void t_split_head_bad_lost(void)
{
	static const char *const part[] = { split1, "mple.com\n\r\n" };

	split_head(part, 2, false, PF_STAT_SPLIT_LOST);
}

static void t_split_head_pipelined_lost(void)
{
	static const char *const part[] = {
		split1, "mple.com\r\n\r\nGET /b HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
	};

	split_head(part, 2, false, PF_STAT_SPLIT_LOST);
}

/* The head's segments (and its body's) in the order order[] (indices
 * into part[], n of them, every one once): each that comes before the
 * bytes in front of it is kept ahead (split_ahead), the one that
 * completes them from the start joins it all (split_joined: the
 * preflight after its answer answered), the first one otherwise held
 * (split_held). */
static void split_head_order(const char *const *part, const unsigned *order, unsigned n)
{
	__u32 off[8], total = 0, cs, ss, have;
	unsigned k, i, seen = 0;
	struct conn c;
	int st;

	for (k = 0; k < n; k++) {
		off[k] = total;
		total += (__u32)strlen(part[k]);
	}
	if (!spliced(&c, &cs, &ss))
		return;
	for (k = 0; k < n; k++) {
		i = order[k];
		/* the parts from the start in before this one */
		for (have = 0; have < n && (seen >> have & 1); have++)
			;
		seen |= 1u << i;
		if (have < i) {
			st = PF_STAT_SPLIT_AHEAD;
		} else {
			for (have = 0; have < n && (seen >> have & 1); have++)
				;
			st = have == n ? PF_STAT_SPLIT_JOINED : i == 0 ? PF_STAT_SPLIT_HELD : -1;
		}
		if (!client_seg(&c, cs + off[i], ss, part[i], PF_STAT_PASS_NOT_OPTIONS, st, false))
			return;
	}
	if (server_data(&c, ss, cs - c.L + total, OK_200))
		preflight_answered(&c, cs + total, ss + (__u32)strlen(OK_200),
				   "the preflight after the split head's answer");
}

/* A head's segments (and its body's) in another order than sent
 * (split_head_order). */
struct split_order {
	const char *part[6];
	unsigned order[6];
	unsigned n;
};

static void t_split_order(const void *arg)
{
	const struct split_order *o = arg;

	split_head_order(o->part, o->order, o->n);
}

/* The head's second segment went through first (its first was lost on
 * the way and comes again): kept ahead, the first joins it -- the head
 * followed. Before, nothing would continue the first: the framing was
 * lost (split_lost), and the preflight after it went to the app. */
static const struct split_order so_rest_first = {
	{ split1, "mple.com\r\n\r\n" }, { 1, 0 }, 2,
};

/* Three segments, the middle one lost: the first held, the third kept
 * ahead, the middle one's copy joins all three. Before, it did not
 * contain c_hi (the third's end): the head waited for nothing, every
 * later preflight went to the app (pass_not_boundary). */
static const struct split_order so_middle_lost = {
	{ split1, "mple.com\r\nX-A: ", "1\r\n\r\n" }, { 0, 2, 1 }, 3,
};

/* Three segments, the last two before the first: the third continues
 * the piece kept for the second. */
static const struct split_order so_first_last = {
	{ split1, "mple.com\r\nX-A: ", "1\r\n\r\n" }, { 1, 2, 0 }, 3,
};

/* Three segments, last to first (the first two lost, the second's copy
 * through before the first's): the second grows the piece kept for the
 * third at its start, the first joins them. Before, the second was not
 * kept (only a segment right behind the piece was): the head waited for
 * bytes the socket had, and was lost (split_lost). */
static const struct split_order so_reverse = {
	{ split1, "mple.com\r\nX-A: ", "1\r\n\r\n" }, { 2, 1, 0 }, 3,
};

/* A PUT whose head (three segments) a sender's GSO burst lost whole, its
 * body's segment through first: the body kept ahead, the first segment
 * held anyway (a piece waits further on), the second held on (c_hi past
 * it: the body), the third joins them all. Before, the first segment's
 * copy found its rest passed: the framing lost (split_lost), and every
 * later preflight on the connection went to the app -- e2e h2's lost
 * heads (tx off: the client's GSO skb dropped by faultinj at its TC
 * egress, before it is cut into segments). */
static const struct split_order so_burst_lost = {
	{ "PUT /api/items/7 HTTP/1.1\r\nHost: api.exa", "mple.com\r\nContent-Length: 10\r\n",
	  "X-A: 1\r\n\r\n", "0123456789" },
	{ 3, 0, 1, 2 }, 4,
};

/* A PUT head's last segment lost, its 4,200-byte body through first:
 * the body's first segments kept ahead, the last one cut at 4 KiB from
 * the head's start (PF_REQ_MAX), so more client bytes went through than
 * are held; the head's last segment joins it all, its end inside. Before,
 * c_hi past what was held refused the join: the head waited for nothing
 * (pass_not_boundary for every later preflight; e2e h2's waits). */
static void t_split_head_tail_lost_long_body(void)
{
	static char b[3][1401];
	const char *part[6] = {
		"PUT /api/items/7 HTTP/1.1\r\nHost: api.exa", "mple.com\r\nContent-Length: 4200\r\n",
		"X-A: 1\r\n\r\n", b[0], b[1], b[2],
	};
	static const unsigned order[] = { 0, 1, 3, 4, 5, 2 };
	unsigned k;

	for (k = 0; k < 3; k++)
		memset(b[k], 'a' + (char)k, 1400);
	split_head_order(part, order, 6);
}

/* TC: a GRO-merged skb (a PUT head and its body, merged from several
 * segments) is framed from its bytes without checking its TCP checksum:
 * the stack verified each segment while merging, and the merged header's
 * checksum is the first segment's. The preflight after the answer to the
 * PUT is then answered. */
static void t_gro_head_followed(void)
{
	static const char put[] = "PUT /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n"
				  "Content-Length: 10\r\n\r\n0123456789";
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_NOT_OPTIONS, 1),
		H_D(TRANSLATED_IN, 1), H_DEND,
	};
	const __u32 U = (__u32)strlen(put), O = (__u32)strlen(OK_200);
	struct h_env gro = { .gso_segs = 2 };
	struct pkt_spec in;
	struct pf_sockinfo si;
	struct h_run r;
	struct conn c;
	__u32 cs, ss;

	if (!spliced(&c, &cs, &ss))
		return;
	si = h_sock(cs - c.L, ss);
	si.bytes_received = 1000;
	h_set_sock(&si);
	conn_cseg(&in, &c, cs, ss + c.R, put);
	in.bad_csum = 1;
	if (!h_run_spec(h_in, &in, &gro, &r) || !H_EQ(r.verdict, H_PASS, "verdict") ||
	    !h_check_deltas(&r, d) || !server_data(&c, ss, cs - c.L + U, OK_200))
		return;
	preflight_answered(&c, cs + U, ss + O, "the preflight after the PUT's answer");
}

/* A request head of 2,906 bytes in one segment (a GET with a 2,850-byte
 * Cookie line: a jumbo frame, or at TC a GRO-merged skb) is followed --
 * its checksum summed over the copy -- and the preflight after its
 * answer is answered. With the old bounds (PF_REQ_MAX 2,048, PF_LINE_MAX
 * 1,024) the framing was lost there (pass_framing). */
static void t_large_head_followed(void)
{
	static char get[3000];
	const __u32 O = (__u32)strlen(OK_200);
	struct conn c;
	__u32 cs, ss, G;
	int n;

	n = snprintf(get, sizeof(get),
		     "GET /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\nCookie: s=");
	memset(get + n, 'c', 2902 - (size_t)n);
	memcpy(get + 2902, "\r\n\r\n", 5);
	G = (__u32)strlen(get);
	if (!spliced(&c, &cs, &ss))
		return;
	if (!client_data(&c, cs, ss, get, PF_STAT_PASS_NOT_OPTIONS) ||
	    !server_data(&c, ss, cs - c.L + G, OK_200))
		return;
	preflight_answered(&c, cs + G, ss + O, "the preflight after the large GET's answer");
}

/* No SYN-ACK seen (pf_synack zeroed), and the real look-up on
 * (pf_test_synack). */
static bool synack_none(void)
{
	static __u32 keys[PF_SYNACK_BUCKETS];
	static struct pf_synack_bucket zeros[PF_SYNACK_BUCKETS];
	__u32 i, n = PF_SYNACK_BUCKETS;

	for (i = 0; i < n; i++)
		keys[i] = i;
	if (!H_CHECK(!bpf_map_update_batch(bpf_map__fd(h_skel->maps.pf_synack), keys, zeros,
					   &n, NULL), "zero pf_synack: %s", strerror(errno)))
		return false;
	h_skel->bss->pf_test_synack = 1;
	return true;
}

/* The SYN-ACK of the connection of client -> server spec c (its
 * request at S0, the server's first byte at P0) through pf_tc_egress. */
static bool synack_out(const struct pkt_spec *c)
{
	struct pkt_spec sa;
	struct h_run r;

	pkt_default_out(&sa, c->family);
	memcpy(sa.saddr, c->daddr, sizeof(sa.saddr));
	memcpy(sa.daddr, c->saddr, sizeof(sa.daddr));
	sa.sport = c->dport;
	sa.dport = c->sport;
	sa.flags = TH_SYN | TH_ACK;
	sa.seq = P0 - 1;
	sa.ack = S0;
	return h_run_spec(&h_tc_out, &sa, NULL, &r) && H_EQ(r.verdict, H_PASS, "SYN-ACK verdict");
}

/* c[0..n), copies of client -> server spec base on other client ports
 * whose connections share base's pf_synack bucket under a tag other
 * than base's: the first n such ports above base's (n >= 1), in one
 * search. */
static bool same_bucket(struct pkt_spec *c, const struct pkt_spec *base, unsigned n)
{
	const unsigned b = base->family == 4 ? 3 : 15;
	struct pf_flow_key k;
	__u64 h0, h;
	__u32 port;
	unsigned got = 0;

	h_flow_key(base, &k);
	h0 = pf_synack_hash(&k);
	/* the bucket is 16 bits of the hash: one port in 65,536 on
	 * average; the client address's last byte widens the search */
	for (port = 0; port < 256u << 16 && got < n; port++) {
		c[got] = *base;
		c[got].sport = (__u16)(base->sport + 1 + (port & 0xffff));
		c[got].saddr[b] = (__u8)(base->saddr[b] + (port >> 16));
		h_flow_key(&c[got], &k);
		h = pf_synack_hash(&k);
		if (PF_SYNACK_BUCKET(h) == PF_SYNACK_BUCKET(h0) &&
		    PF_SYNACK_TAG(h) != PF_SYNACK_TAG(h0))
			got++;
	}
	return H_CHECK(got == n, "client ports sharing the bucket");
}

/* h_pass_first_fix's first preflight of family, after no SYN-ACK
 * (mates 0) or after its own connection's and those of mates later
 * connections sharing its pf_synack bucket: passed to the app
 * (pass_route) and followed. Its fixture in f. */
static bool first_passed(int family, unsigned mates, struct h_fix *f)
{
	struct pkt_spec b[2];
	struct h_run r;
	unsigned i;

	if (!synack_none() || !H_CHECK(mates <= 2, "at most two mates"))
		return false;
	h_pass_first_fix(f, family, H_PREFLIGHT, S0, P0, PF_STAT_PASS_ROUTE);
	h_set_sock(&f->sock);
	if (mates && (!synack_out(&f->in) || !same_bucket(b, &f->in, mates)))
		return false;
	for (i = 0; i < mates; i++)
		if (!synack_out(&b[i]))
			return false;
	return h_run_to_tc(&f->in, &r, f->d) && H_EQ(r.verdict, H_PASS, "verdict");
}

/* A connection's first request, nothing of the server seen yet, is
 * answered only if its SYN-ACK left by this interface's TC egress
 * (pf_synack, the real look-up here: pf_test_synack on): with
 * asymmetric routing its server segments would leave by another
 * interface, untranslated -- the stream broken. Passed to the app and
 * followed; the SYN-ACK sent through pf_tc_egress first, the same
 * request is answered. */
static void route_case(int family)
{
	struct h_fix f;

	if (!first_passed(family, 0, &f))
		return;
	h_reset_state();
	h_skel->bss->pf_test_synack = 1;
	if (!synack_out(&f.in))
		return;
	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	h_fix_run(&f, NULL);
}

/* Two connections whose SYN-ACKs share a pf_synack bucket, both first
 * requests still to come (64 connections opened at once share one
 * about once in 32 starts): the first one's request is answered -- a
 * bucket keeps two tags. */
static void bucket_case(int family)
{
	struct pkt_spec b;
	struct h_fix f;

	if (!synack_none())
		return;
	h_answer_fix(&f, family, H_PREFLIGHT, S0, P0);
	if (same_bucket(&b, &f.in, 1) && synack_out(&f.in) && synack_out(&b))
		h_fix_run(&f, NULL);
}

/* A third SYN-ACK in that bucket pushes the oldest tag out: its
 * connection's first request goes to the app (pass_route), followed
 * from there -- the bound docs/tcp-splice.md states. */
static void bucket_full_case(int family)
{
	struct h_fix f;

	first_passed(family, 2, &f);
}

static void t_route_v4(void)
{
	route_case(4);
}

static void t_route_v6(void)
{
	route_case(6);
}

static void t_bucket_v4(void)
{
	bucket_case(4);
}

static void t_bucket_v6(void)
{
	bucket_case(6);
}

static void t_bucket_full_v4(void)
{
	bucket_full_case(4);
}

static void t_bucket_full_v6(void)
{
	bucket_full_case(6);
}

void test_guard(void)
{
	h_case("guard_expect_continue_body_not_answered", t_continue_body);
	h_case("guard_first_request_needs_synack_here_v4", t_route_v4);
	h_case("guard_first_request_needs_synack_here_v6", t_route_v6);
	h_case("guard_synack_bucket_keeps_two_v4", t_bucket_v4);
	h_case("guard_synack_bucket_keeps_two_v6", t_bucket_v6);
	h_case("guard_synack_bucket_third_pushes_oldest_v4", t_bucket_full_v4);
	h_case("guard_synack_bucket_third_pushes_oldest_v6", t_bucket_full_v6);
	h_case("guard_early_response_body_not_answered", t_early_response_body);
	h_case("guard_early_hints_not_an_answer", t_early_hints_not_answer);
	h_case("guard_after_early_hints_and_final_answered", t_after_early_hints_answered);
	h_case("guard_chunked_request_framing_lost", t_chunked_lost);
	h_case("guard_split_head_followed", t_split_head_followed);
	h_case_m("guard_split_head_xdp_handed_to_tc_by_metadata", t_split_head_xdp_meta, H_M_XDP);
	h_case("guard_split_head_three_segments_followed", t_split_head_three);
	h_case("guard_split_head_bad_checksum_not_joined", t_split_head_bad_csum);
	h_case("guard_bad_checksum_get_framing_kept", t_bad_csum_get);
	h_case("guard_bad_checksum_preflight_framing_kept", t_bad_csum_preflight);
	h_case("guard_split_head_bad_whole_copy_keeps_hold", t_split_head_bad_whole_copy);
	h_case("guard_split_join_first_segment_again_meanwhile_lets_go",
	       t_split_join_race_first_again);
	h_case("guard_split_head_first_segment_again_followed", t_split_head_dup_first);
	h_case("guard_split_head_malformed_framing_lost", t_split_head_bad_lost);
	h_case_p("guard_split_head_after_its_rest_followed", t_split_order, &so_rest_first);
	h_case_p("guard_split_head_middle_segment_lost_followed", t_split_order, &so_middle_lost);
	h_case_p("guard_split_head_first_segment_last_followed", t_split_order, &so_first_last);
	h_case_p("guard_split_head_last_to_first_followed", t_split_order, &so_reverse);
	h_case_p("guard_split_head_whole_copy_after_hold_lets_go", t_split_head_whole_copy_lets_go,
		 NULL);
	h_case_p("guard_split_head_whole_copy_after_piece_lets_go", t_split_head_whole_copy_lets_go,
		 "piece");
	h_case_p("guard_split_head_lost_whole_body_first_followed", t_split_order, &so_burst_lost);
	h_case("guard_split_far_ahead_not_marked", t_split_far_ahead_not_marked);
	h_case_p("guard_split_head_whole_copy_between_store_and_mark_lets_go",
		 t_split_hold_race_whole_copy, NULL);
	h_case_p("guard_split_head_whole_copy_marked_meanwhile_lets_go",
		 t_split_hold_race_whole_copy, "copy first");
	h_case("guard_split_head_tail_lost_long_body_followed", t_split_head_tail_lost_long_body);
	h_case("guard_split_head_pipelined_framing_lost", t_split_head_pipelined_lost);
	h_case_m("guard_gro_merged_head_followed", t_gro_head_followed, H_M_TC); /* skb only */
	h_case("guard_large_head_followed", t_large_head_followed);
}

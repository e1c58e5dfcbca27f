/* test_race.c -- BPF tier: packets of one connection handled on two CPUs at the same moment. */
/*
 * Each case stops one packet on a second CPU at a test point (bpf/pf_test.h,
 * h_pause_start) right after it read the flow's state, runs another packet
 * of the same connection to completion on the first CPU, then lets the
 * stopped one go on (h_pause_finish): the interleaving a multi-queue NIC or
 * RPS produces when the fault injector's two copies of one segment, or a
 * request and the segment behind it, arrive together.
 */
#include <arpa/inet.h>
#include <string.h>

#include "conn.h"

#define S0 1000000u
#define P0 5000000u
#define WIN (64256u >> 7)  /* h_sock(): rcv_wnd >> wscale */

/* A connection whose first preflight (at S0, response at P0) was
 * answered and acked: the next one, at wire seq S0 + L, can be answered. */
static bool acked_splice(struct conn *c)
{
	return conn_splice_acked(c, 4, S0, P0);
}

/* The second preflight of c (client wire seq S0 + L). */
static void second_req(struct pkt_spec *s, const struct conn *c)
{
	h_req_spec(s, 4, H_PREFLIGHT, c->S + c->L, c->P + c->R, 333, 444);
}

/* r must be the response to the second preflight of c. */
static bool second_resp(const struct h_run *r, const struct pkt_spec *req, const struct conn *c)
{
	struct h_want w = { .req = req, .seq = c->P + c->R, .ack = c->S + 2 * c->L,
			    .win = WIN, .has_ts = true, .tsval = H_TS_NOW, .tsecr = 333,
			    .pay = H_RESP_204, .paylen = c->R };

	return h_check_response(r, &w);
}

/* r (the stopped copy) must have been dropped and counted race_lost:
 * anything else hands the request to the app a second time or answers
 * it twice. */
static bool dropped_as(const struct h_run *r, int stat, const char *what)
{
	struct pkt_view v;

	if (r->verdict == H_PASS && !pkt_parse(r->out, r->out_len, &v, NULL, 0))
		return H_CHECK(false, "BUG: %s passed on (%u payload bytes at seq 0x%08x)", what,
			       v.paylen, v.seq);
	if (r->verdict == H_TX)
		return H_CHECK(false, "BUG: %s answered a second time", what);
	if (!H_CHECK(r->verdict == H_DROP, "%s: retval %d, want DROP", what, r->retval))
		return false;
	return H_CHECK(r->delta[stat] == 1, "%s: counter %d moved by %lld, want 1", what, stat,
		       r->delta[stat]);
}

/* Two copies of request req on two CPUs: b stops after reading the
 * flow's state, a runs through, then (busy, if not NULL) the socket shows
 * the server has sent more, then b goes on. False (a failed check) if b
 * could not be stopped. */
static bool twins(const struct pkt_spec *req, const struct pf_sockinfo *busy,
		  struct h_run *a, struct h_run *b)
{
	if (!h_pause_start(h_in, req, PF_TP_ANSWER))
		return false;
	h_run_spec(h_in, req, NULL, a);
	if (busy)
		h_set_sock(busy);
	return h_pause_finish(b);
}

/* A socket mock like si whose server has written 100 more bytes. */
static struct pf_sockinfo busier(struct pf_sockinfo si)
{
	si.write_seq = si.snd_nxt = si.write_seq + 100;
	return si;
}

/* The two copies of a connection's first preflight: one answers and
 * creates the flow entry; the other, stopped after it found no entry,
 * loses the BPF_NOEXIST insert and must be dropped -- not passed to the
 * app (counted as a full table) while the client gets the 204. */
static void t_twins_new_flow(void)
{
	struct h_fix f;
	struct h_run a, b;
	struct h_want w;
	struct pf_flow fl;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_set_sock(&f.sock);
	if (!twins(&f.in, NULL, &a, &b))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	if (!h_check_response(&a, &w) || !dropped_as(&b, PF_STAT_RACE_LOST, "the twin"))
		return;
	if (H_CHECK(h_flow(&f.in, &fl), "flow gone")) {
		H_EQ(fl.splices, 1, "flow splices");
		H_EQ(fl.c_after, strlen(H_PREFLIGHT), "flow c_after");
	}
}

/* The two copies of a later preflight on a spliced connection, both
 * past the retransmission check before either commits: the second
 * commit must see that the entry is no longer the one its guards
 * approved. Stacked on the first, it would put a second 204 at P + R
 * and shift the client's stream by one request (the soak's "put:
 * status 204"). */
static void t_twins_spliced_flow(void)
{
	struct conn c;
	struct pkt_spec req;
	struct h_run a, b;
	struct pf_flow fl;

	if (!acked_splice(&c))
		return;
	second_req(&req, &c);
	if (!twins(&req, NULL, &a, &b))
		return;
	if (!second_resp(&a, &req, &c) || !dropped_as(&b, PF_STAT_RACE_LOST, "the twin"))
		return;
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone")) {
		H_EQ(fl.splices, 2, "flow splices");
		H_EQ(fl.c_after, 2 * c.L, "flow c_after");
		H_EQ(fl.s_after, 2 * c.R, "flow s_after");
	}
}

/* The stopped copy then fails a live guard (the server has sent more
 * since): it is passed, and the translation must not map it onto the
 * request position -- the app would read the consumed preflight. (TC
 * only: XDP hands a guard failure to TC, which sees the current state
 * from the start.) */
static void t_twin_fails_guard(void)
{
	struct conn c;
	struct pkt_spec req;
	struct pf_sockinfo si;
	struct h_run a, b;

	if (!acked_splice(&c))
		return;
	second_req(&req, &c);
	si = busier(h_sock(c.S, c.P));
	if (twins(&req, &si, &a, &b) && second_resp(&a, &req, &c))
		dropped_as(&b, PF_STAT_RACE_LOST, "the twin");
}

/* The same on a connection's first request: the stopped copy found no
 * entry, then fails a guard; the entry its twin created must still
 * stop it (TC only, as above). */
static void t_twin_new_flow_fails_guard(void)
{
	struct h_fix f;
	struct h_run a, b;
	struct h_want w;
	struct pf_sockinfo si;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_set_sock(&f.sock);
	si = busier(f.sock);
	if (!twins(&f.in, &si, &a, &b))
		return;
	w = h_want_resp(&f, P0, H_RESP_204);
	if (h_check_response(&a, &w))
		dropped_as(&b, PF_STAT_RACE_LOST, "the twin");
}

/* Segment data of c, stopped on one CPU (prog, at point) after reading
 * the flow's state while the second preflight is answered on the other:
 * translated with the offsets from before that splice it would be wrong.
 * It must be dropped (its sender sends it again, xlate_race) or carry
 * the new offsets (seq want). */
static void translated_during_splice(const struct h_prog *prog, __u32 point,
				     const struct conn *c, const struct pkt_spec *data,
				     __u32 want, const char *what)
{
	struct pkt_spec req;
	struct h_run a, b;
	struct pkt_view v;

	second_req(&req, c);
	if (!h_pause_start(prog, data, point))
		return;
	h_run_spec(h_in, &req, NULL, &a);
	h_pause_finish(&b);
	if (!second_resp(&a, &req, c))
		return;
	if (b.verdict == H_PASS && h_out_view(&b, &v)) {
		H_EQX(v.seq, want, what);
		return;
	}
	dropped_as(&b, PF_STAT_XLATE_RACE, what);
}

/* A client segment right behind the preflight (pipelined data): with
 * the old offsets it would land L bytes past the socket's next byte. */
static void t_data_behind_while_answered(void)
{
	struct conn c;
	struct pkt_spec data;

	if (!acked_splice(&c))
		return;
	conn_cseg(&data, &c, c.S + 2 * c.L, c.P + c.R, PUT_REQ);
	translated_during_splice(h_in, PF_TP_XLATE_IN, &c, &data, c.S,
				 "data behind the answered preflight: socket seq");
}

/* The app writes at the moment its client's preflight is answered: with
 * the old offsets its segment would sit exactly where the response goes. */
static void t_server_data_while_answered(void)
{
	struct conn c;
	struct pkt_spec data;

	if (!acked_splice(&c))
		return;
	conn_sseg(&data, &c, c.P, c.S, "HTTP/1.1 408 Request Timeout\r\n\r\n");
	translated_during_splice(&h_tc_out, PF_TP_XLATE_OUT, &c, &data, c.P + 2 * c.R,
				 "server data written during the splice: wire seq");
}

/* The other order: the app's segment went out (translated) first, but
 * the socket state the guards read does not show it yet. The commit
 * must see that server bytes past the response position went through:
 * the preflight goes to the app. */
static void t_server_data_before_commit(void)
{
	static const struct h_delta d[] = {
		H_D(PKT_SEEN, 1), H_D(PASS_SERVER_BUSY, 1), H_D(TRANSLATED_IN, 1), H_DEND,
	};
	struct conn c;
	struct pkt_spec req, want;

	if (!acked_splice(&c) ||
	    !conn_expect_sseg(&c, 0, "HTTP/1.1 408 Request Timeout\r\n\r\n"))
		return;
	second_req(&req, &c);
	want = req;
	want.seq = c.S;
	want.ack = c.P;
	conn_expect_to_tc(&req, &want, d);
}

/* The app's 408 on the new-flow race tests' connection: the server's
 * first bytes, at P0 in socket space, acking S0. */
static void out_408(struct pkt_spec *out)
{
	static const char to[] = "HTTP/1.1 408 Request Timeout\r\n\r\n";

	pkt_default_out(out, 4);
	out->seq = P0;
	out->ack = S0;
	out->flags = TH_ACK | TH_PSH;
	out->pay = to;
	out->paylen = sizeof(to) - 1;
}

/* What both orders of the new-flow race must end in: the 408 (e) left
 * egress at wire seq P0 (its socket seq: seq_what says why), and the
 * preflight (b) was passed, not answered over it -- in TC counted
 * pass_server_busy -- and the entry of f's connection kept with no
 * splice. Returns whether both verdicts were PASS. */
static bool new_flow_race_passed(const struct h_fix *f, const struct h_run *e,
				 const struct h_run *b, const char *seq_what)
{
	struct pkt_view v;
	struct pf_flow fl;

	if (!H_CHECK(e->verdict == H_PASS && h_out_view(e, &v), "the 408: verdict %s, want PASS",
		     h_verdict_name(e->verdict)))
		return false;
	H_EQX(v.seq, P0, seq_what);
	if (!H_CHECK(b->verdict == H_PASS, "BUG: the preflight: verdict %s, want PASS (a response "
		     "at 0x%08x too would overlap the 408)", h_verdict_name(b->verdict), P0))
		return false;
	if (!h_xdp())
		H_EQ(b->delta[PF_STAT_PASS_SERVER_BUSY], 1, "the preflight: pass_server_busy");
	if (H_CHECK(h_flow(&f->in, &fl), "flow gone"))
		H_EQ(fl.splices, 0, "flow splices");
	return true;
}

/* A connection's first tracked request is a preflight (no entry yet):
 * the guards read write_seq P0, then, before the splice's entry is in
 * the table, the app writes (a 408) and TC egress, finding no entry,
 * sends it untranslated at P0. The response at P0 as well would give
 * the client two different byte strings at P0: the request must go to
 * the app instead (TC: passed, server_busy, the entry kept, no splice;
 * XDP hands it to TC, which sees the moved socket at its guards). */
static void t_server_data_before_new_flow(void)
{
	struct h_fix f;
	struct pkt_spec out;
	struct pf_sockinfo si;
	struct h_run e, b;
	struct pkt_view v;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_set_sock(&f.sock);
	out_408(&out);
	if (!h_pause_start(h_in, &f.in, PF_TP_COMMIT))
		return;
	si = f.sock;
	si.write_seq = si.snd_nxt = P0 + out.paylen;
	h_set_sock(&si);
	h_run_spec(&h_tc_out, &out, NULL, &e);
	if (!h_pause_finish(&b) ||
	    !new_flow_race_passed(&f, &e, &b, "the 408 (no entry yet): wire seq"))
		return;
	if (!h_xdp() && h_out_view(&b, &v))
		H_EQX(v.seq, S0, "the preflight, passed: socket seq");
}

/* The other order: the 408 reaches TC egress after the entry of the
 * first tracked preflight is in the table (stopped at PF_TP_NEW_FLOW),
 * and the socket read after it does not show it yet (the mock left
 * as the guards saw it). Egress finds the entry (nothing spliced yet:
 * wire seq P0) and moves s_hi; the commit under the lock must see that
 * and pass the request, not answer it at P0. */
static void t_server_data_after_new_flow_insert(void)
{
	struct h_fix f;
	struct pkt_spec out;
	struct h_run e, b;

	h_answer_fix(&f, 4, H_PREFLIGHT, S0, P0);
	h_set_sock(&f.sock);
	out_408(&out);
	if (!h_pause_start(h_in, &f.in, PF_TP_NEW_FLOW))
		return;
	h_run_spec(&h_tc_out, &out, NULL, &e);
	if (!h_pause_finish(&b))
		return;
	H_EQ(e.delta[PF_STAT_TRANSLATED_OUT], 1, "the 408: translated_out");
	new_flow_race_passed(&f, &e, &b, "the 408 (entry, no splice yet): wire seq");
}

/* A late copy of the client's ACK of the first response, translated on
 * one CPU while the second preflight is answered on the other: it must
 * not mark the second response acknowledged (it acks only the first).
 * Marked, the next preflight would be answered before the client has the
 * second response, and a lost second response could never be asked for
 * again (the server's acks would cover its request). */
static void t_old_ack_not_new_response(void)
{
	struct conn c;
	struct pkt_spec req, ack;
	struct h_run a, b;
	struct pf_flow fl;

	if (!acked_splice(&c))
		return;
	second_req(&req, &c);
	conn_cseg(&ack, &c, c.S + c.L, c.P + c.R, "");
	if (!h_pause_start(h_in, &ack, PF_TP_XLATE_IN))
		return;
	h_run_spec(h_in, &req, NULL, &a);
	h_pause_finish(&b);
	if (!second_resp(&a, &req, &c) || !H_CHECK(h_flow(&c.req, &fl), "flow gone"))
		return;
	H_EQ(fl.splices, 2, "flow splices");
	H_EQ(fl.resp_acked, 0, "flow resp_acked (the second response is not acked)");
}

/* A straggler: a client FIN found the flow entry, then its connection
 * ended and GC freed the entry, and a new connection's first preflight
 * took the same preallocated element (the freelist hands the last freed
 * one out first). The straggler must not write into the new flow. */
static void t_straggler_reused_entry(void)
{
	struct conn c;
	struct pkt_spec fin, req2;
	struct pf_sockinfo si;
	struct pf_flow_key key;
	struct h_run a, b;
	struct pf_flow fl;

	if (!acked_splice(&c))
		return;
	conn_cseg(&fin, &c, c.S + c.L, c.P + c.R, "");
	fin.flags |= TH_FIN;
	if (!h_pause_start(h_in, &fin, PF_TP_XLATE_IN))
		return;
	memset(&key, 0, sizeof(key));
	memcpy(key.caddr, c.req.saddr, 4);
	memcpy(key.saddr, c.req.daddr, 4);
	key.cport = htons(c.req.sport);
	key.sport = htons(c.req.dport);
	key.family = 4;
	h_flow_delete(&key);
	/* another client port: a new connection, its first preflight */
	h_req_spec(&req2, 4, H_PREFLIGHT, 7000000, 9000000, 111, 222);
	req2.sport = 40001;
	si = h_sock(7000000, 9000000);
	h_set_sock(&si);
	h_run_spec(h_in, &req2, NULL, &a);
	h_pause_finish(&b);
	if (!H_CHECK(a.verdict == H_TX, "new connection's preflight: verdict %s, want TX",
		     h_verdict_name(a.verdict)) ||
	    !H_CHECK(h_flow(&req2, &fl), "new connection's flow gone"))
		return;
	H_EQ(fl.fin, 0, "new connection's flow fin (written by the straggler)");
	H_EQ(fl.splices, 1, "new connection's flow splices");
	H_EQ(b.verdict, H_DROP, "the straggler's verdict");
}

/* Stop seg (through prog) at point, right after it read the flow's state
 * of c; change the entry under its lock as a commit on another CPU would
 * (tear), gen kept; let seg go on: it must be dropped and counted stat,
 * and the entry keep its one splice. */
static void torn(const struct h_prog *prog, __u32 point, const struct pkt_spec *seg,
		 const struct conn *c, void (*tear)(struct pf_flow *), int stat, const char *what)
{
	struct h_run b;
	struct pf_flow fl;

	if (!H_CHECK(h_flow(&c->req, &fl), "flow gone") || !h_pause_start(prog, seg, point))
		return;
	tear(&fl);
	h_flow_put(&c->req, &fl);
	if (!h_pause_finish(&b) || !dropped_as(&b, stat, what))
		return;
	if (H_CHECK(h_flow(&c->req, &fl), "flow gone"))
		H_EQ(fl.splices, 1, "flow splices");
}

static void tear_s_offsets(struct pf_flow *f)
{
	f->s_before += 7;
	f->s_after += 7;
}

static void tear_c_after(struct pf_flow *f) { f->c_after += 7; }
static void tear_resp_acked(struct pf_flow *f) { f->resp_acked = 0; }

/* The answer path reads the flow's state without its lock
 * (pf_flow_peek): a commit on another CPU at that moment can leave it a
 * copy that mixes the states before and after, with the new gen. What
 * the commit then finds is made here: between the read and the commit
 * the entry changes under its lock, gen kept -- a correction field the
 * guards used (s_before, s_after) is no longer the entry's. The request
 * must lose the race (dropped; the client sends it again), not be
 * committed and answered from offsets the entry does not hold. */
static void t_torn_copy_loses(void)
{
	struct conn c;
	struct pkt_spec req;

	if (!acked_splice(&c))
		return;
	second_req(&req, &c);
	torn(h_in, PF_TP_ANSWER, &req, &c, tear_s_offsets, PF_STAT_RACE_LOST, "the torn copy");
}

/* The translation reads the flow's state without its lock too
 * (pf_flow_peek in pf_translate_in / _out), and rewrites the segment from
 * that copy before pf_flow_note takes the lock. A commit on another CPU
 * meanwhile can leave the copy fields of two states with the new gen
 * (made as above). A client request behind the answered preflight (its
 * seq read with c_after one request longer than the entry's), or a
 * server segment (its wire seq read with s_after other than the
 * entry's), rewritten with offsets the entry does not hold, must be
 * dropped (xlate_race; its sender sends it again), never passed on. */
static void t_torn_xlate_in(void)
{
	struct conn c;
	struct pkt_spec seg;

	if (!acked_splice(&c))
		return;
	conn_cseg(&seg, &c, c.S + c.L, c.P + c.R, PUT_REQ);
	torn(h_in, PF_TP_XLATE_IN, &seg, &c, tear_c_after, PF_STAT_XLATE_RACE,
	     "client data, torn copy");
}

/* The same copy, with a malformed option list (a SACK option of length
 * 1): the seq and ack are rewritten from the copy, then the option walk
 * fails and the segment takes no pf_flow_note. It must still be dropped
 * (pf_flow_same), not passed on as a helper failure. */
static void t_torn_xlate_err(void)
{
	static const __u8 bad_opt[2] = { 5, 1 };
	struct conn c;
	struct pkt_spec seg;

	if (!acked_splice(&c))
		return;
	conn_cseg(&seg, &c, c.S + c.L, c.P + c.R, PUT_REQ);
	pkt_opt_raw(&seg, bad_opt, sizeof(bad_opt));
	torn(h_in, PF_TP_XLATE_IN, &seg, &c, tear_c_after, PF_STAT_XLATE_RACE,
	     "client data, torn copy, bad options");
}

static void t_torn_xlate_out(void)
{
	struct conn c;
	struct pkt_spec seg;

	if (!acked_splice(&c))
		return;
	conn_sseg(&seg, &c, c.P, c.S, "HTTP/1.1 408 Request Timeout\r\n\r\n");
	torn(&h_tc_out, PF_TP_XLATE_OUT, &seg, &c, tear_s_offsets, PF_STAT_XLATE_RACE,
	     "server data, torn copy");
}

/* The flow entry's lock not taken (pf_test_lock_fail: the resilient
 * lock giving up, which no test can make it do): a later preflight is
 * dropped at its commit (race_lost, flow_lock_failed), neither answered
 * nor passed to the app, and the entry is unchanged; its copy, once the
 * lock is taken again, is answered. */
static void t_lock_fail_commit(void)
{
	struct pf_flow before, after;
	struct pkt_spec req;
	struct h_run r;
	struct conn c;

	if (!acked_splice(&c) || !H_CHECK(h_flow(&c.req, &before), "flow gone"))
		return;
	second_req(&req, &c);
	h_set_lock_fail(true);
	if (!h_run_spec(h_in, &req, NULL, &r) ||
	    !dropped_as(&r, PF_STAT_RACE_LOST, "the preflight without the lock") ||
	    !H_EQ(r.delta[PF_STAT_FLOW_LOCK_FAILED], 1, "flow_lock_failed") ||
	    !H_CHECK(h_flow(&c.req, &after), "flow gone") ||
	    !H_EQ(after.splices, before.splices, "flow splices") || !H_EQ(after.gen, before.gen, "gen"))
		return;
	h_set_lock_fail(false);
	if (h_run_spec(h_in, &req, NULL, &r))
		second_resp(&r, &req, &c);
}

/* The same for the translation: a client data segment and a server
 * segment of the spliced connection, rewritten from the unlocked copy,
 * are dropped (xlate_race), never passed unchecked; once the lock is
 * taken again, the client's copy passes translated. */
static void t_lock_fail_xlate(void)
{
	static const char resp[] = "HTTP/1.1 408 Request Timeout\r\n\r\n";
	struct pkt_spec seg, want;
	struct h_run r;
	struct conn c;

	if (!acked_splice(&c))
		return;
	h_set_lock_fail(true);
	conn_cseg(&seg, &c, c.S + c.L, c.P + c.R, PUT_REQ);
	if (!h_run_spec(h_in, &seg, NULL, &r) ||
	    !dropped_as(&r, PF_STAT_XLATE_RACE, "client data without the lock") ||
	    !H_EQ(r.delta[PF_STAT_FLOW_LOCK_FAILED], 1, "flow_lock_failed, client data"))
		return;
	conn_sseg(&seg, &c, c.P, c.S, resp);
	if (!h_run_spec(&h_tc_out, &seg, NULL, &r) ||
	    !dropped_as(&r, PF_STAT_XLATE_RACE, "server data without the lock") ||
	    !H_EQ(r.delta[PF_STAT_FLOW_LOCK_FAILED], 1, "flow_lock_failed, server data"))
		return;
	h_set_lock_fail(false);
	conn_next_put(&seg, &want, &c);
	conn_expect(h_in, &seg, NULL, &want, conn_d_in_data);
}

/* resp_acked goes 0 -> 1 between commits, and back to 0 only with a
 * commit (and gen): a copy with 1 where the entry has 0 mixes two states
 * even when every offset agrees. Its server ack at the request position
 * would pass unclamped -- telling the client its request was delivered
 * before it has the response -- so it is dropped. */
static void t_torn_resp_acked(void)
{
	struct conn c;
	struct pkt_spec ack;
	struct pf_flow fl;

	if (!acked_splice(&c))
		return;
	conn_sseg(&ack, &c, c.P, c.S, "");
	if (H_CHECK(h_flow(&c.req, &fl), "flow gone") &&
	    H_CHECK(fl.resp_acked == 1, "flow resp_acked %u, want 1", fl.resp_acked))
		torn(&h_tc_out, PF_TP_XLATE_OUT, &ack, &c, tear_resp_acked, PF_STAT_XLATE_RACE,
		     "server ACK, copy acked alone");
}

/* The other way is no mix: the copy read resp_acked 0 just before the
 * client's ACK of the response set it (on the other CPU). The server
 * segment goes on with the ack clamped to the request position -- what a
 * copy read under the lock before that ACK gives, an old ack to the
 * client -- and is not dropped: the check finds no torn field. */
static void t_copy_before_ack_passes(void)
{
	struct conn c;
	struct pkt_spec sack, cack;
	struct h_run a, b;
	struct pkt_view v;

	if (!conn_splice(&c, 4, S0, P0))
		return;
	conn_sseg(&sack, &c, c.P, c.S, "");
	conn_cseg(&cack, &c, c.S + c.L, c.P + c.R, "");
	if (!h_pause_start(&h_tc_out, &sack, PF_TP_XLATE_OUT))
		return;
	h_run_spec(h_in, &cack, NULL, &a);
	if (!h_pause_finish(&b))
		return;
	H_CHECK(a.verdict == H_PASS, "client ACK: verdict %s, want PASS", h_verdict_name(a.verdict));
	if (H_CHECK(b.verdict == H_PASS && h_out_view(&b, &v), "server ACK: verdict %s, want PASS",
		    h_verdict_name(b.verdict))) {
		H_EQX(v.seq, c.P + c.R, "server ACK: wire seq");
		H_EQX(v.ack, c.S, "server ACK: wire ack (clamped: the copy's resp_acked 0)");
		H_EQ(b.delta[PF_STAT_XLATE_RACE], 0, "server ACK: xlate_race");
	}
}

void test_race(void)
{
	h_case("race_twins_first_preflight_one_answer", t_twins_new_flow);
	h_case("race_twins_later_preflight_one_answer", t_twins_spliced_flow);
	h_case_m("race_twin_failing_guard_not_passed", t_twin_fails_guard, H_M_TC);
	h_case_m("race_twin_new_flow_failing_guard_not_passed", t_twin_new_flow_fails_guard, H_M_TC);
	h_case("race_data_behind_preflight_not_shifted", t_data_behind_while_answered);
	h_case("race_server_data_during_splice_not_on_response", t_server_data_while_answered);
	h_case("race_server_data_before_commit_passes", t_server_data_before_commit);
	h_case("race_server_data_before_new_flow_commit_passes", t_server_data_before_new_flow);
	h_case("race_server_data_after_new_flow_insert_passes", t_server_data_after_new_flow_insert);
	h_case("race_old_ack_does_not_ack_new_response", t_old_ack_not_new_response);
	h_case("race_straggler_does_not_write_reused_entry", t_straggler_reused_entry);
	h_case("race_torn_copy_not_committed", t_torn_copy_loses);
	h_case("race_torn_xlate_in_copy_dropped", t_torn_xlate_in);
	h_case("race_torn_xlate_out_copy_dropped", t_torn_xlate_out);
	h_case("race_torn_xlate_err_copy_dropped", t_torn_xlate_err);
	h_case("race_torn_resp_acked_copy_dropped", t_torn_resp_acked);
	h_case("race_xlate_copy_before_ack_passes", t_copy_before_ack_passes);
	h_case("lock_fail_commit_dropped_then_answered", t_lock_fail_commit);
	h_case("lock_fail_xlate_dropped_not_passed", t_lock_fail_xlate);
}

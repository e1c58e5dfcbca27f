/* BPF only (TC and XDP ingress, TC egress): translating later segments of spliced connections. */
/*
 * pf_xlate.h -- every segment of a spliced connection, in both
 * directions, gets its seq, ack and SACK blocks mapped as struct pf_flow
 * documents; per-flow bookkeeping (acked, direction, FIN/RST) is updated.
 */
#ifndef PF_XLATE_H
#define PF_XLATE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_follow.h"
#include "pf_maps.h"
#include "pf_pkt.h"
#include "pf_sock.h"
#include "pf_tcp.h"
#include "pf_test.h"

/* Under f's lock, a not torn (pf_adj_torn): does client ack x (wire)
 * acknowledge the whole latest response -- at or past its wire end, and
 * not past what the server has sent (the wire image of s_hi, the
 * furthest server byte or FIN translated; never below the response's
 * end)? The kernel ignores an ack of data not sent; so must resp_acked,
 * or a spoofed ACK with a random ack (half of all values lie "after" the
 * response's end) would end the clamp of pf_ack_out_field, and a server
 * segment at the request position would tell the client its request
 * arrived while the response may be lost (docs/tcp-splice.md section 4).
 * A blind guess now needs the few bytes in flight past the response. */
static __always_inline int pf_acks_resp(const struct pf_flow *f, const struct pf_adj *a,
					__u32 x)
{
	__u32 end = a->s_pos + a->s_after;
	__u32 hi = (f->hi & PF_FLOW_S_HI) ? pf_seq_out(a, f->s_hi) : end;

	if (pf_before(hi, end))
		hi = end;
	return x - end <= hi - end;
}

/* How far the furthest byte of a direction must be past its splice
 * position before the position is folded (pf_flow_fold): half the
 * serial-number horizon, and above the largest TCP window (65535 << 14 <
 * 2^30), so no live segment or ack of that direction is before it. */
#define PF_FOLD_DIST (1u << 30)

/* Retire a splice position the connection has moved far past. Each
 * mapping (struct pf_flow) picks before/after by a serial comparison
 * with c_pos / s_pos, which flips once a direction has moved 2^31 bytes
 * past it (and pf_in_consumed's and pf_ack_in's ranges come around again
 * after 2^32): a long transfer after the last splice would get the
 * before offset, a corrupted stream. Once the response is acked
 * (resp_acked: nothing is re-answered, the ack clamp is over) and the
 * furthest byte translated (c_hi, s_hi) is PF_FOLD_DIST past the
 * position, the sender's snd_una is past the position too (its window
 * is < 2^30): nothing before it is sent again, and the side is folded,
 * under f's lock -- before = after, the consumed range emptied (req_len
 * / resp_len 0), the position moved up to the high-water mark. With
 * before == after the mapping is one constant offset, the one every live
 * segment already got, so no comparison can flip; a copy of the consumed
 * request is then passed as old data below rcv_nxt (pf_seq_in), which
 * the kernel drops. gen moves as at a commit: an unlocked copy from
 * before the fold is torn (pf_adj_torn), its segment dropped once and
 * sent again. The next commit re-bases both sides as before (before =
 * after). Counted flow_folded (once per call that folds). Returns the
 * number of sides folded. A function of its own, called only when
 * pf_fold_due says so: inlined into pf_flow_note's lock
 * window, its registers made TC's main frame 304 -> 312 bytes ("combined
 * stack size of 5 calls is 528. Too large"). */
static __noinline int pf_flow_fold(struct pf_flow *f)
{
	int n = 0;

	if (!f)
		return 0;
	if (pf_flow_lock(f))
		return 0;
	if (!f->resp_acked)
		goto out;
	if (f->req_len && (f->hi & PF_FLOW_C_HI) &&
	    pf_after(f->c_hi, f->c_pos + PF_FOLD_DIST)) {
		f->c_before = f->c_after;
		f->c_pos = f->c_hi;
		f->req_len = 0;
		n++;
	}
	if (f->resp_len && (f->hi & PF_FLOW_S_HI) &&
	    pf_after(f->s_hi, f->s_pos + PF_FOLD_DIST)) {
		f->s_before = f->s_after;
		f->s_pos = f->s_hi;
		f->resp_len = 0;
		n++;
	}
	if (n)
		f->gen = f->gen + 1;
out:
	pf_flow_unlock(f);
	if (n)
		pf_count(PF_STAT_FLOW_FOLDED);
	return n;
}

/* Might segment p (direction dir, translated from the copy a) have
 * taken its side PF_FOLD_DIST past the splice position? A hint read
 * without the lock: pf_flow_fold decides under it. A copy that missed
 * resp_acked only defers the fold to a later segment. */
static __always_inline int pf_fold_due(const struct pf_adj *a, const struct pf_pkt *p, int dir)
{
	__u32 end = p->seq + p->pay_len;

	if (!a->resp_acked)
		return 0;
	if (dir == PF_DIR_IN)
		return a->req_len && pf_after(end, a->c_pos + PF_FOLD_DIST);
	return a->resp_len && pf_after(end, a->s_pos + PF_FOLD_DIST);
}

/* Under f's lock: is the state still the copy a's? If so, record
 * what the translated segment p (direction dir) tells about the flow:
 * the furthest bytes passed with these offsets (c_hi / s_hi), whether
 * the client acked the latest response, FIN/RST, the time, and what u
 * found (pf_follow.h): a new request's framing (client), the beginning
 * of an answer (server) -- applied only if the c_next / s_mark it was
 * computed from is still the flow's, in the state (FRAMED, ANSWERED)
 * the entry holds now. A client segment past the socket's receive
 * window (u->oow) records only FIN/RST and the time: the kernel drops it
 * unread (pf_client_oow); one starting a head with a wrong TCP checksum
 * (u->oow PF_FOLLOW_CSUM, no u->split) records only its bytes (c_hi):
 * what the storage holds stays. The socket storage's mark
 * (PF_FLOW_SPLIT) is decided here, under the lock, so that bytes of a
 * head stored on one CPU while another frames that head whole are let go
 * by whichever notes second: u->split made PF_FOLLOW_DROP where u's
 * bytes were stored for a head the flow no longer waits at, or where u
 * frames (or loses, or joins) the head on a marked flow -- the caller
 * then lets go (TC; XDP has no socket storage). Returns 0, or -1 if
 * another CPU committed a splice since a was read, or a mixes two
 * states: p was translated with offsets the entry does not hold and must
 * be dropped (its sender sends it again; see struct pf_flow). A side the
 * connection has moved far past its splice is folded (pf_flow_fold,
 * counted flow_folded; decided from the entry, whatever p).
 *
 * a is an unlocked copy (pf_flow_peek): a commit on another CPU while
 * it was read can leave it fields of two states, gen the new one's. The
 * rewrite of p (seq, ack, SACK) used only the correction fields, the
 * lengths and (server) resp_acked; pf_adj_torn drops p unless each is
 * the entry's now (resp_acked: or 0 where the entry has 1, the clamp a
 * copy read just before the client's ACK makes too). Passed, p is
 * rewritten as from a copy taken here under the lock -- only values
 * enter the rewrite, not the copy's consistency. The framing follow read
 * c_next / s_mark and state from the copy; u is applied only where they
 * are the entry's (u->from, FRAMED / ANSWERED read from f), so a torn
 * copy can only leave u unapplied or, for a client head the copy saw
 * unanswered, lose the framing (state 0: later preflights go to the app)
 * -- as a locked copy read just before the other CPU's write does. A
 * copy of the consumed request that pf_translate_in's pf_in_consumed
 * missed (a torn c_pos / req_len) cannot pass: with the entry's c_pos and
 * req_len it would have been found. */
static __always_inline int pf_flow_note(struct pf_flow *f, const struct pf_adj *a,
					const struct pf_pkt *p, int dir,
					struct pf_follow *u)
{
	__u32 end = p->seq + p->pay_len + ((p->tflags & PF_TCPF_FIN) ? 1 : 0);
	__u64 now = bpf_ktime_get_ns();
	int ret = 0;

	if (pf_flow_lock(f))
		return -1;
	if (pf_adj_torn(f, a)) {
		ret = -1;
		goto out;
	}
	if (dir == PF_DIR_IN) {
		/* past the socket's window: the kernel drops it unread */
		if (u->oow && u->oow != PF_FOLLOW_CSUM)
			goto client_end;
		if (pf_payload_queued(p)) {
			if (!(f->hi & PF_FLOW_C_HI) || pf_after(end, f->c_hi))
				f->c_hi = end;
			f->hi |= PF_FLOW_C_HI;
		}
		/* a head's start with a wrong checksum: the stack drops it,
		 * and nothing else in it is to be believed (not its ack, not
		 * its FIN) -- not recorded, nor the time; nothing let go
		 * (pf_follow_client set no u->split for it). Its bytes are in
		 * c_hi all the same: the verdict is ours (at XDP, before the
		 * driver's), and a copy the stack took after all may wait in
		 * the socket's backlog -- a copy at c_next is then passed
		 * (pass_not_next), never answered (review M1) */
		if (u->oow == PF_FOLLOW_CSUM)
			goto out;
		if ((p->tflags & PF_TCPF_ACK) && pf_acks_resp(f, a, p->ack))
			f->resp_acked = 1;
		/* bytes stored for the head at a->c_next: the flow marked
		 * only if it still waits there; else another copy framed (or
		 * lost) that head on another CPU after this one stored them,
		 * and read no mark -- this one lets them go (PF_FOLLOW_DROP).
		 * Let go of that head (a join's PF_FOLLOW_LET_GO, before this
		 * note; PF_FOLLOW_DROP, after it): its mark cleared -- and,
		 * set, bytes a copy of its first segment stored for it on
		 * another CPU since the join read the storage are let go too
		 * (PF_FOLLOW_DROP finds them, or nothing). A newer head's mark
		 * (c_next moved on) stays (review L1) */
		if (u->split == PF_FOLLOW_STORED) {
			if ((f->state & PF_FS_FRAMED) && f->c_next == a->c_next)
				f->hi |= PF_FLOW_SPLIT;
			else
				u->split = PF_FOLLOW_DROP;
		} else if (u->split && f->c_next == a->c_next) {
			if (f->hi & PF_FLOW_SPLIT)
				u->split = PF_FOLLOW_DROP;
			f->hi &= ~PF_FLOW_SPLIT;
		}
		/* a new request: its end is the next boundary, and it has
		 * no answer yet -- unless the framing is lost (not
		 * understood, or a request before an answer: pipelining) */
		if (u->have && (f->state & PF_FS_FRAMED) && f->c_next == u->from) {
			/* the mark read here, not only by pf_follow_client
			 * without the lock: a copy on another CPU may have
			 * stored bytes of this head and marked the flow
			 * since -- they are to be let go (review LOW-2) */
			if (f->hi & PF_FLOW_SPLIT) {
				f->hi &= ~PF_FLOW_SPLIT;
				u->split = PF_FOLLOW_DROP;
			}
			if (u->ok && (f->state & PF_FS_ANSWERED)) {
				f->c_next = u->next;
				f->s_mark = f->s_hi;
				f->state = PF_FS_FRAMED;
			} else {
				f->state = 0;
			}
		}
		/* the client's bytes went on PF_FOLD_DIST past c_next, which
		 * otherwise trails c_hi by a head at most (one held whose rest
		 * never came, a gap): c_next no longer moves, and 2^32 bytes
		 * on a segment would be "at c_next" again -- body bytes framed
		 * as a head, a "preflight" inside a body answered. The
		 * framing is lost instead (a review finding, stop 51) */
		if ((f->state & PF_FS_FRAMED) && (f->hi & PF_FLOW_C_HI) &&
		    pf_after(f->c_hi, f->c_next + PF_FOLD_DIST))
			f->state = 0;
client_end:
		if (p->tflags & (PF_TCPF_FIN | PF_TCPF_RST))
			f->fin |= PF_FIN_CLIENT;
	} else {
		/* socket space: the segment's own, untranslated seq */
		if (end != p->seq) {
			if (!(f->hi & PF_FLOW_S_HI) || pf_after(end, f->s_hi))
				f->s_hi = end;
			f->hi |= PF_FLOW_S_HI;
		}
		if (u->have && f->s_mark == u->from &&
		    (f->state & (PF_FS_FRAMED | PF_FS_ANSWERED)) == PF_FS_FRAMED) {
			f->s_mark = u->next;
			if (u->answered)
				f->state |= PF_FS_ANSWERED;
		}
		if (p->tflags & (PF_TCPF_FIN | PF_TCPF_RST))
			f->fin |= PF_FIN_SERVER;
	}
	f->last_ns = now;
out:
	pf_flow_unlock(f);
	if (!ret && pf_fold_due(a, p, dir))
		pf_flow_fold(f);
	return ret;
}

/* A segment whose options cannot be read (a load failed; a malformed
 * list is read as far as Linux reads it, pf_opts_partial), its seq and
 * ack rewritten from the unlocked copy a, which no pf_flow_note checked:
 * it passes (PF_STAT_PASS_ERROR, 0) only if a is still the entry's
 * (pf_flow_same), else -- or if the entry's lock was not taken -- it is
 * dropped (PF_STAT_XLATE_RACE, -1). A rewrite that failed
 * (pf_xlate_error) is never passed. */
static __always_inline int pf_xlate_failed(struct pf_flow *f, const struct pf_adj *a)
{
	if (!pf_flow_same(f, a)) {
		pf_count(PF_STAT_XLATE_RACE);
		return -1;
	}
	pf_count(PF_STAT_PASS_ERROR);
	return 0;
}

/* A rewrite of the segment failed: a helper's failure (at TC, no memory
 * to make a cloned skb writable), before anything was written or after
 * part of it (a checksum changed, its word not). Passed, it would reach
 * the socket (or the client) at its wire seq and ack -- bytes queued at
 * the wrong place, a stream corrupted: dropped (PF_STAT_XLATE_ERROR),
 * for its sender to send again. Returns -1. */
static __always_inline int pf_xlate_error(void)
{
	pf_count(PF_STAT_XLATE_ERROR);
	return -1;
}

/* A server SYN on a tuple with an entry (pf_translate_out): it is never
 * translated. A SYN-ACK that is not the entry's own connection's (a
 * handshake retransmitted after a splice at the request-socket stage,
 * pf_sock_from_request: its seq is one below the entry's first server
 * byte, s_hi, which no server byte can have moved yet) answers a new
 * connection's SYN -- which the kernel sends only when no socket that
 * can still carry data holds the tuple (a live one answers any SYN with a
 * challenge ACK, RFC 5961): the entry's connection is over, and the entry
 * goes before the new client can send a byte (it waits for this SYN-ACK).
 * Decided here, not at the SYN on ingress: a SYN is not proof (spoofed,
 * or behind the old connection's RST in the same receive batch, which
 * XDP and list receive run before the stack sees any of it), the
 * kernel's SYN-ACK is. A SYN is never translated at ingress either
 * (pf_translate_in): a live socket answers it with a challenge ACK
 * whatever its seq; TIME_WAIT takes it as a new connection by its own
 * seq or TSval (docs/tcp-splice.md section 7). A server SYN without ACK
 * (a simultaneous open: connect() from a port whose tuple no live socket
 * holds) ends the entry alike. Counted flow_reused when this call freed
 * the entry, else syn_untranslated (the entry's own SYN-ACK, or another
 * CPU or the GC freed it first). PF_FLOW_S_HI is set by both creators of
 * an entry (pf_answer.h, pf_follow.h); its test stays as a guard.
 * Returns 0 (pass it untranslated), or -1 when the entry's lock was not
 * taken (pf_flow_lock): whose SYN-ACK it is is not known, and neither
 * keeping the entry (a new connection translated with the old one's
 * offsets) nor freeing it (the splice of its own) is safe -- dropped, the
 * server sends it again. */
static __always_inline int pf_syn_out(const struct pf_pkt *p, struct pf_flow *f)
{
	int own;

	if (pf_flow_lock(f))
		return -1;
	own = (p->tflags & PF_TCPF_ACK) && (f->hi & PF_FLOW_S_HI) && f->s_hi == p->seq + 1;
	pf_flow_unlock(f);
	if (!own && !bpf_map_delete_elem(&pf_flows, &p->key)) {
		pf_count(PF_STAT_FLOW_REUSED);
		return 0;
	}
	pf_count(PF_STAT_SYN_UNTRANSLATED);
	return 0;
}

/* A client SYN without ACK on a tuple with an entry (pf_translate_in):
 * it passes untranslated, and the entry records, under the lock, only
 * the ack an RST refusing it would carry (syn_end, PF_FLOW_SYN) -- no
 * other field, not last_ns (the GC's "unchanged" check): a SYN is no
 * proof, a spoofed one must not end or alter a live splice. Linux resets
 * a segment without ACK (tcp_v4_send_reset, tcp_v6_send_reset) with seq
 * 0, ACK, ack_seq = seq + SYN + FIN + payload; pf_rst_out looks for that
 * answer. The latest SYN's wins: one spoofed in between only leaves the
 * refusal to the GC, as before this rule. Returns 0, or -1 when the
 * entry's lock was not taken (pf_flow_lock): not recorded, the SYN is
 * dropped -- passed, the RST refusing it would go out translated, which
 * its client ignores; its next copy is recorded. */
static __always_inline int pf_syn_in(const struct pf_pkt *p, struct pf_flow *f)
{
	__u32 end = p->seq + 1 + p->pay_len + ((p->tflags & PF_TCPF_FIN) ? 1 : 0);

	if (pf_flow_lock(f))
		return -1;
	f->syn_end = end;
	f->hi |= PF_FLOW_SYN;
	pf_flow_unlock(f);
	return 0;
}

/* A server RST with ACK at seq 0 on a tuple with an entry
 * (pf_translate_out): is it the kernel's refusal of the client SYN the
 * entry recorded (pf_syn_in: its ack is that SYN's syn_end), sent while
 * no socket that can carry data holds the tuple (pf_sock_holds: none, a
 * listener gone, TIME_WAIT)? Then the entry's connection is over, and
 * this RST must reach the new client as the kernel wrote it (SYN-SENT
 * accepts an RST only if it acks the SYN). A live socket answers a SYN
 * with a challenge ACK (RFC 5961), or, a request socket for an in-window
 * SYN, with an RST before the kernel drops it: that one is still found
 * and translated as before. Returns 1 (pass it untranslated; the entry
 * freed, counted flow_refused when this delete freed it), 0 (not that
 * answer: translate it as any segment) or -1 (the entry's lock not
 * taken, pf_flow_lock: which it is is not known -- dropped; the client's
 * next SYN is refused again). */
static __always_inline int pf_rst_out(void *ctx, const struct pf_pkt *p, struct pf_flow *f)
{
	int refusal;

	if (pf_flow_lock(f))
		return -1;
	refusal = (f->hi & PF_FLOW_SYN) && f->syn_end == p->ack;
	pf_flow_unlock(f);
	/* the stack's refusal only: a firewall's reject with a TCP reset
	 * (iptables REJECT --reject-with tcp-reset, nft reject with tcp
	 * reset) answers a SYN in the same shape while the live socket is
	 * there, so a spoofed SYN must not end the splice through it */
	if (!refusal || pf_sock_holds(ctx, p))
		return 0;
	if (!bpf_map_delete_elem(&pf_flows, &p->key))
		pf_count(PF_STAT_FLOW_REFUSED);
	return 1;
}

/* Translate a client segment of a tracked connection. Returns 0 (pass
 * it on), -1 (drop it: it starts at the consumed request, or a splice
 * was committed on another CPU while it was being translated, or the
 * entry's lock was not taken, pf_flow_lock) or, at
 * XDP with hand (a constant) set, 1: untouched, for TC ingress to
 * translate (its framing needs the socket's storage: pf_follow_client).
 * A SYN passes untranslated; one without ACK is recorded (pf_syn_in). */
static __always_inline int pf_translate_in(void *ctx, bool xdp, const struct pf_pkt *p,
					   struct pf_flow *f, const bool hand)
{
	struct pf_follow u;
	struct pf_opts *o;
	struct pf_adj a;

	if (p->tflags & PF_TCPF_SYN) {
		if (!(p->tflags & PF_TCPF_ACK) && pf_syn_in(p, f))
			return -1;
		pf_count(PF_STAT_SYN_UNTRANSLATED);
		return 0;
	}
	/* without the lock: pf_flow_note checks every field used */
	pf_flow_peek(f, &a);
	/* pf_try_answer's first check, against the current state: a copy
	 * of the request that lost the race to its twin on another CPU
	 * (it passed the check before the twin committed). On a torn copy
	 * it may err: a false hit drops p (sent again), a miss is dropped
	 * by pf_flow_note's check. Payload starting past the request's
	 * first byte is translated below rcv_nxt (pf_in_consumed) */
	if (p->pay_len && pf_at_consumed(&a, p->seq)) {
		pf_count(PF_STAT_RACE_LOST);
		return -1;
	}
	PF_TEST_POINT(PF_TP_XLATE_IN);
	/* the framing first: it reads the segment as it came in */
	if (pf_follow_client(ctx, xdp, p, &a, f, &u, hand))
		return 1;
	PF_TEST_POINT(PF_TP_XLATE_FOLLOWED);
	if (!(p->tflags & PF_TCPF_ACK) ?
	    pf_set_word(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seg_in(&a, p)) :
	    pf_set_words(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seg_in(&a, p), p->ack,
			 pf_ack_in(&a, p->ack)))
		return pf_xlate_error();
	if (p->tcp_hlen > 20) {
		o = pf_opts_get(PF_DIR_IN);
		/* a malformed list: Linux stops at the bad option and takes
		 * the segment with what came before it, a SACK included --
		 * so do we (pf_opts_partial) */
		if (!o || (pf_read_opts(ctx, xdp, p, o) && !pf_opts_partial(o)))
			goto err;
		if (pf_fix_sack(ctx, xdp, p, o, &a, PF_DIR_IN) < 0)
			return pf_xlate_error();
	}
	if (pf_flow_note(f, &a, p, PF_DIR_IN, &u)) {
		pf_count(PF_STAT_XLATE_RACE);
		return -1;
	}
	/* a head framed whole: what the socket's storage held of it let go
	 * (TC's: XDP hands such a segment over, pf_follow_client) -- or
	 * this segment's bytes, stored as another copy framed the head.
	 * XDP cannot (no socket storage): where the flow's mark was found
	 * only here, under the lock, they stay (split_left) */
	if (u.split == PF_FOLLOW_DROP) {
		if (xdp)
			pf_count(PF_STAT_SPLIT_LEFT);
		else
			pf_split_done_tc(ctx, p, a.c_next);
	}
	/* one count, its stat selected: a call of pf_count in pf_frame_seg
	 * instead cost pf_xdp_ingress 10k processed instructions */
	pf_count(u.oow == PF_FOLLOW_CSUM ? PF_STAT_FOLLOW_CSUM : PF_STAT_TRANSLATED_IN);
	return 0;
err:
	return pf_xlate_failed(f, &a);
}

/* Translate a server segment of a tracked connection. Returns 0 (pass
 * it on) or -1 (drop it: a splice was committed on another CPU while it
 * was being translated, or the entry's lock was not taken, pf_flow_lock;
 * the server sends it again). A SYN passes
 * untranslated, and may end the entry (pf_syn_out); so does the RST
 * refusing a recorded client SYN (pf_rst_out). */
static __always_inline int pf_translate_out(void *ctx, bool xdp, const struct pf_pkt *p,
					    struct pf_flow *f)
{
	struct pf_follow u;
	struct pf_opts *o;
	struct pf_adj a;
	int ret;

	if (p->tflags & PF_TCPF_SYN)
		return pf_syn_out(p, f);
	if ((p->tflags & (PF_TCPF_RST | PF_TCPF_ACK | PF_TCPF_FIN)) == (PF_TCPF_RST | PF_TCPF_ACK) &&
	    !p->seq && !p->pay_len) {
		ret = pf_rst_out(ctx, p, f);
		if (ret)
			return ret > 0 ? 0 : -1;
	}
	/* without the lock: pf_flow_note checks every field used */
	pf_flow_peek(f, &a);
	PF_TEST_POINT(PF_TP_XLATE_OUT);
	pf_follow_server(ctx, p, &a, &u);
	if (!(p->tflags & PF_TCPF_ACK) ?
	    pf_set_word(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seq_out(&a, p->seq)) :
	    pf_set_words(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seq_out(&a, p->seq), p->ack,
			 pf_ack_out_field(&a, p->ack, a.resp_acked)))
		return pf_xlate_error();
	if (p->tcp_hlen > 20) {
		o = pf_opts_get(PF_DIR_OUT);
		if (!o || (pf_read_opts(ctx, xdp, p, o) && !pf_opts_partial(o)))
			goto err;
		if (pf_fix_sack(ctx, xdp, p, o, &a, PF_DIR_OUT) < 0)
			return pf_xlate_error();
	}
	if (pf_flow_note(f, &a, p, PF_DIR_OUT, &u)) {
		pf_count(PF_STAT_XLATE_RACE);
		return -1;
	}
	pf_count(PF_STAT_TRANSLATED_OUT);
	return 0;
err:
	return pf_xlate_failed(f, &a);
}

#endif /* PF_XLATE_H */

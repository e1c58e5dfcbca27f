/* BPF only (SK_MSG): the response offload edits each final response head in the server socket's byte stream (pf_ofl_msg). */
#ifndef PF_BPF_OFL_MSG_H
#define PF_BPF_OFL_MSG_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_ofl_maps.h"
#include "pf_ofl_read.h"

/* The socket fields the program reads (CO-RE; tcp_sock starts with its
 * struct sock): the send sequence and the send buffer's room. */
struct tcp_sock___ofl {
	__u32 write_seq;
} __attribute__((preserve_access_index));

struct sock___ofl {
	int sk_sndbuf;
	int sk_wmem_queued;
} __attribute__((preserve_access_index));

/* The head just passed (not held back) is followed by a Content-Length
 * body of body bytes, then by the next head: for a large body, ask TC
 * egress to take the socket out of the SK_MSG path (pf_ofl_egress) --
 * the kernel then sends the body (sendfile) without copying it into a
 * message. */
static __always_inline void pf_ofl_want_detach(struct pf_ofl_sk *st, __u64 body)
{
	if (body < PF_OFL_DETACH_MIN || st->corked || st->out_state != PF_OFL_OUT_BODY ||
	    st->out_after != PF_OFL_OUT_HEAD)
		return;
	bpf_spin_lock(&st->lock);
	st->s.detach_req = 1;
	bpf_spin_unlock(&st->lock);
	if (bpf_map_update_elem(&pf_ofl_leave, &st->key, &st->cookie, BPF_ANY)) {
		bpf_spin_lock(&st->lock);
		st->s.detach_req = 0;
		bpf_spin_unlock(&st->lock);
	}
}

/* The unit at hand is no longer held back (it is complete, or passes). */
static __always_inline void pf_ofl_unhold(struct pf_ofl_sk *st)
{
	if (!st->corked)
		return;
	st->corked = 0;
	bpf_map_delete_elem(&pf_ofl_held, &st->cookie);
}

/* Stop following this connection's responses (everything passes). */
static __always_inline int pf_ofl_out_pass(struct sk_msg_md *msg, struct pf_ofl_sk *st,
					   __u32 stat)
{
	pf_ofl_unhold(st);
	st->out_state = PF_OFL_OUT_PASS;
	bpf_msg_apply_bytes(msg, 0xffffffff);
	if (stat)
		pf_count(stat);
	return SK_PASS;
}

/* Copy the n bytes at the start of the message (data to data_end covers
 * them) into sc->buf: 8 bytes a step, then the rest a byte a step. A
 * global function: verified once. bpf_probe_read_kernel took about 1.5x
 * as long for a JSON response's head (its fault-tolerant copy and the
 * address check). */
__noinline int pf_ofl_msg_copy(struct sk_msg_md *msg, struct pf_ofl_scratch *sc, __u32 n)
{
	__u32 k, i, w;
	__u8 *p, *pe;

	if (!msg || !sc || n > PF_RHEAD_MAX)
		return -1;
	p = (void *)(long)msg->data;
	pe = (void *)(long)msg->data_end;
	w = n / 8;
	for (k = 0; k < PF_RHEAD_MAX / 8; k++) {
		if (k >= w)
			break;
		if (p + 8 > pe)
			return -1;
		pf_st64(sc->buf + 8 * k, *(const __u64 *)p);
		p += 8;
	}
	for (k = 0; k < 8; k++) {
		i = 8 * w + k;
		if (i >= n)
			break;
		if (p + 1 > pe)
			return -1;
		sc->buf[i & (PF_RHEAD_MAX - 1)] = *p++;
	}
	return 0;
}

/* Do data to data_end span exactly the message's first n bytes (n <=
 * PF_OFL_OUT + PF_RHEAD_MAX), as bpf_msg_pull_data(msg, 0, n) leaves them?
 * Exactly, not "at least": pf_ofl_compose's pieces are bounded by
 * data_end, and when the ring is full the push copies the old first
 * element in behind the new head (data_end = data + n + its length);
 * then the pull runs and bounds the writes to the new head again. */
static __always_inline int pf_ofl_msg_linear(struct sk_msg_md *msg, __u64 n)
{
	void *d = (void *)(long)msg->data, *de = (void *)(long)msg->data_end;

	return n <= PF_OFL_OUT + PF_RHEAD_MAX && d + n == de;
}

/* Copy the first min(size, PF_RHEAD_MAX) bytes of the message into
 * sc->buf. Returns their number, or -1. */
static __always_inline int pf_ofl_msg_load(struct sk_msg_md *msg, struct pf_ofl_scratch *sc)
{
	__u64 n = msg->size;
	void *d, *de;

	if (n > PF_RHEAD_MAX)
		n = PF_RHEAD_MAX;
	/* Verifier workaround: one 64-bit register for test and use (see
	 * pf_load_req) */
	barrier_var(n);
	if (n == 0 || n > PF_RHEAD_MAX)
		return -1;
	d = (void *)(long)msg->data;
	de = (void *)(long)msg->data_end;
	if (d + n > de) {
		if (bpf_msg_pull_data(msg, 0, n, 0))
			return -1;
		d = (void *)(long)msg->data;
		de = (void *)(long)msg->data_end;
		if (d + n > de)
			return -1;
	}
	if (pf_ofl_msg_copy(msg, sc, (__u32)n))
		return -1;
	return (int)n;
}

/* The unit at the start of the message (a head, chunk-size line or
 * trailer) does not end within its n bytes: hold the message until the
 * app writes more (bpf_msg_cork_bytes), at most PF_OFL_CORK_MAX times.
 * Nothing is pushed meanwhile, so write_seq stays at the unit; a cork the
 * kernel does not honour (a full message) sends the bytes, and the next
 * run finds write_seq past the unit (PF_STAT_OFL_MISSED). */
static __always_inline int pf_ofl_cork(struct sk_msg_md *msg, struct pf_ofl_sk *st, __u32 n)
{
	if (n < msg->size || st->corked >= PF_OFL_CORK_MAX)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	if (st->s.detached)
		/* out of the map (the rest of the write that took it out): the
		 * psock, and what it holds, is freed when this write ends */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_DETACH_FAILED);
	/* detach must know that this socket holds bytes (pf_ofl_held) */
	if (!st->corked && bpf_map_update_elem(&pf_ofl_held, &st->cookie, &st->key, BPF_ANY))
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_HELD_FULL);
	st->corked++;
	bpf_msg_cork_bytes(msg, msg->size + 1);
	pf_count(PF_STAT_OFL_HEAD_CORKED);
	return SK_PASS;
}

/* Is there room to push len bytes at once? A push that fails half way
 * tells the app (tcp_bpf_send_verdict: copied -= what was not sent) a
 * count that is only right for bytes we did not resize: an edited head is
 * pushed alone, and only when the send buffer surely takes it. */
static __always_inline int pf_ofl_room(struct tcp_sock___ofl *tp, __u32 len)
{
	struct sock___ofl *sk = (struct sock___ofl *)tp;
	__s64 room = (__s64)sk->sk_sndbuf - sk->sk_wmem_queued;

	return room >= 2 * (__s64)len + 16384;
}

/* The unit at cur is len bytes long (rewritten, with its body); then
 * comes what after says. The verdict covers the len bytes
 * (bpf_msg_apply_bytes). A window beyond this message lets the app's
 * next writes up to the next unit (a small sendfile body) pass without
 * running the program again -- one run per JSON response instead of two.
 * But a push that fails half way (EAGAIN on a full send buffer of a
 * non-blocking socket: routine for a large sendfile body) leaves the
 * kernel's window unconsumed by the bytes it did send, so it would reach
 * into the next head, which would then go out unseen (its lines lost, the
 * connection passed: PF_STAT_OFL_MISSED). So the window reaches past this
 * message only when the send buffer surely takes all len bytes at once
 * (pf_ofl_room, as for an edited head) and the body is below
 * PF_OFL_DETACH_MIN (larger ones leave the SK_MSG path, or run the
 * program per write as before). */
static __always_inline int pf_ofl_advance(struct sk_msg_md *msg, struct pf_ofl_sk *st,
					  struct tcp_sock___ofl *tp, __u32 cur, __u64 len,
					  __u32 after)
{
	pf_ofl_unhold(st);
	if (after == PF_OFL_OUT_PASS)
		return pf_ofl_out_pass(msg, st, 0);
	if (len >= (1ULL << 30))
		/* a body of a GiB or more: beyond unambiguous seq compares */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
	st->out_seq = cur + (__u32)len;
	st->out_after = (__u8)after;
	st->out_state = PF_OFL_OUT_BODY;
	if (len < msg->size) {
		/* the next unit starts in this message: the kernel runs the
		 * program again on the rest once len bytes are pushed */
		bpf_msg_apply_bytes(msg, (__u32)len);
		st->out_state = (__u8)after;
	} else if (len > msg->size && len < PF_OFL_DETACH_MIN && pf_ofl_room(tp, (__u32)len)) {
		bpf_msg_apply_bytes(msg, (__u32)len);
		pf_count(PF_STAT_OFL_WINDOW);
	}
	return SK_PASS;
}

/* Plan the edit of the head in sc->h for the entry in sc->e. */
__noinline int pf_ofl_plan_g(struct pf_ofl_scratch *sc)
{
	const struct pf_ofl_rule *orule;

	if (!sc)
		return -1;
	orule = pf_ofl_rule_lookup((sc->e.slot & (PF_SLOTS - 1)) * PF_MAX_RULES +
				   (sc->e.rule & (PF_MAX_RULES - 1)));
	return pf_ofl_plan(sc->buf, &sc->h, &sc->e, orule, &sc->pl);
}

/* pf_ofl_piece's src: the lines to insert (sc->pl.ins) at the offset in
 * the low bits, else the head in sc->buf (five arguments at most) */
#define PF_OFL_INS 0x10000u

/* Copy len bytes into the message at d (the edited head's element, just
 * pushed: data_end checked every store) -- of the lines to insert at
 * src & ~PF_OFL_INS, or of the head in sc->buf at src: 16 bytes a step,
 * then 8, then the rest as the piece's last word (a byte a step below 8
 * bytes). A global function: verified once, called per piece. Building
 * the head in the scratch first and copying it into the message then was
 * two copies of every byte (a fifth of the program's time with the head
 * scan's own copy). */
__noinline int pf_ofl_piece(struct sk_msg_md *msg, struct pf_ofl_scratch *sc, __u32 d,
			    __u32 src, __u32 len)
{
	__u64 s = src & ~PF_OFL_INS, at = d, n = len, mask, k, w, x, y;
	const __u8 *b;
	__u8 *p, *pe;

	/* Verifier workaround: one 64-bit register for the offset's test and
	 * its use (see pf_load_req); a 32-bit one left the pointer unbounded
	 * ("R7 offset is outside of the packet") */
	barrier_var(at);
	if (!msg || !sc || n > PF_RHEAD_MAX || s > PF_RHEAD_MAX || at > PF_OFL_OUT)
		return -1;
	/* the source chosen once, not per word: its base and index mask */
	if (src & PF_OFL_INS) {
		if (s + n > PF_RESP_MAX)
			return -1;
		b = sc->pl.ins;
		mask = PF_RESP_MAX - 1;
	} else {
		b = sc->buf;
		mask = PF_RHEAD_MAX - 1;
	}
	p = (void *)(long)msg->data;
	pe = (void *)(long)msg->data_end;
	p += at;
	w = n / 16;
	for (k = 0; k < PF_RHEAD_MAX / 16; k++) {
		if (k >= w)
			break;
		x = pf_ld64(b + ((s + 16 * k) & mask));
		y = pf_ld64(b + ((s + 16 * k + 8) & mask));
		if (p + 16 > pe)
			return -1;
		*(__u64 *)p = x;
		*(__u64 *)(p + 8) = y;
		p += 16;
	}
	if (n & 8) {
		x = pf_ld64(b + ((s + 16 * w) & mask));
		if (p + 8 > pe)
			return -1;
		*(__u64 *)p = x;
		p += 8;
	}
	if (!(n & 7))
		return 0;
	if (n >= 8) {
		/* the last n & 7 bytes: the piece's last 8 bytes as one word,
		 * which writes the bytes before them again with the values
		 * just written (a byte a step took a data_end test, a branch
		 * and a store per byte) */
		x = pf_ld64(b + ((s + n - 8) & mask));
		p = (void *)(long)msg->data;
		at += n - 8;
		/* Verifier workaround: as above */
		barrier_var(at);
		if (at > PF_OFL_OUT + PF_RHEAD_MAX)
			return -1;
		p += at;
		if (p + 8 > pe)
			return -1;
		*(__u64 *)p = x;
		return 0;
	}
	for (k = 0; k < 8; k++) {
		if (k >= n)
			break;
		if (p + 1 > pe)
			return -1;
		*p++ = b[(s + k) & mask];
	}
	return 0;
}

/* Write the edited head into the message at 0 (len bytes, just pushed)
 * the way pf_user_ofl_apply builds it (user/ofl_match.c, the unit tier's
 * reference): the status line, the lines of sc->pl, the rest of the head
 * sc->h without the lines planned out (sc->pl.pop: descending offsets,
 * all after the status line). Returns 0, or -1 if the pieces do not add
 * up to len (nothing to send then: the caller pops the len bytes). */
static __always_inline int pf_ofl_compose(struct sk_msg_md *msg, struct pf_ofl_scratch *sc,
					  __u32 len)
{
	__u32 cur = sc->h.status_end, end = sc->h.len, d, i, k;
	struct pf_slice sl;

	if (sc->pl.ins_at != cur || cur > end || pf_ofl_piece(msg, sc, 0, 0, cur) ||
	    pf_ofl_piece(msg, sc, cur, PF_OFL_INS, sc->pl.ins_len))
		return -1;
	d = cur + sc->pl.ins_len;
	for (i = 0; i < PF_OFL_POP_MAX; i++) {
		if (i >= sc->pl.n_pop)
			break;
		k = sc->pl.n_pop - 1 - i;
		sl = sc->pl.pop[k & (PF_OFL_POP_MAX - 1)];
		if (sl.off < cur || sl.off + sl.len > end || d > PF_OFL_OUT ||
		    pf_ofl_piece(msg, sc, d, cur, sl.off - cur))
			return -1;
		d += sl.off - cur;
		cur = sl.off + sl.len;
	}
	if (d > PF_OFL_OUT || pf_ofl_piece(msg, sc, d, cur, end - cur))
		return -1;
	return d + end - cur == len ? 0 : -1;
}

/* Replace the head (sc->h.len bytes at the start of the message) by the
 * edited one planned in sc->pl, as one piece: the new head is pushed in
 * front (a scatterlist element of its own: a push at an element's start
 * splits nothing) and written, then the old one is popped off the front
 * of what follows (no copy). One element means one segment under
 * TCP_NODELAY -- the push inside the head split it into three, and
 * pulling them back into one cost a page and a copy per response. Returns
 * 0 with the new head's length in *hlen, -1 if nothing was changed, -2 if
 * the message must not be sent. */
static __always_inline int pf_ofl_edit(struct sk_msg_md *msg, struct pf_ofl_scratch *sc,
				       __u32 *hlen)
{
	/* the pieces of pf_ofl_compose, which checks that they add up */
	__u32 len = (__u32)sc->h.len + sc->pl.ins_len - sc->pl.popped;

	if (len == 0 || len > PF_OFL_OUT || sc->pl.popped > sc->h.len)
		return -1;
	if (bpf_msg_push_data(msg, 0, len, 0))
		return -1;
	/* the pushed element is the message's first (a push at 0), and the
	 * kernel points data at it: pulled already, unless the kernel did
	 * otherwise (a pull of one element moves no byte, but is a helper
	 * call per response) */
	if ((!pf_ofl_msg_linear(msg, len) && bpf_msg_pull_data(msg, 0, len, 0)) ||
	    pf_ofl_compose(msg, sc, len) ||
	    bpf_msg_pop_data(msg, len, sc->h.len, 0)) {
		/* never send the new page's old contents, nor two heads.
		 * Unreachable (kernel 6.18, net/core/filter.c
		 * bpf_msg_pop_data): this pop fails only for flags, for a
		 * start at or past the message's end or start + len past
		 * it (-EINVAL), or with -ENOMEM from the copy it makes when
		 * start lies inside an element. Here start is 0, always
		 * the first element's start (no copy), and len bytes were
		 * just pushed: nothing above changed the message's size
		 * (the pull and the compose do not; the failed pop of the
		 * old head fails before it changes anything -- its only
		 * failure is the same -ENOMEM, taken before any change). */
		if (bpf_msg_pop_data(msg, 0, len, 0))
			return -2;
		return -1;
	}
	*hlen = len;
	return 0;
}

/* A final or interim response head at cur, n bytes of the message at hand. */
static __always_inline int pf_ofl_head(struct sk_msg_md *msg, struct pf_ofl_sk *st,
				       struct pf_ofl_scratch *sc, struct tcp_sock___ofl *tp,
				       __u32 cur, __u32 n)
{
	__u32 status, after = PF_OFL_OUT_HEAD, edited = 0, stat, hlen;
	__u64 body = 0;
	int res;

	res = pf_ofl_scan(sc, n);
	if (res == PF_RH_INCOMPLETE)
		return pf_ofl_cork(msg, st, n);
	if (res != PF_RH_OK)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	status = sc->h.status;
	if (status < 200) {
		if (status == 101)
			return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
		pf_count(PF_STAT_OFL_RESP_INTERIM);
		return pf_ofl_advance(msg, st, tp, cur, sc->h.len, PF_OFL_OUT_HEAD);
	}
	/* the oldest request still waiting is the one this answers */
	bpf_spin_lock(&st->lock);
	if (st->s.n_resp == st->s.n_req) {
		bpf_spin_unlock(&st->lock);
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_NO_REQUEST);
	}
	sc->e = st->s.q[st->s.n_resp & (PF_OFL_FIFO - 1)];
	st->s.n_resp++;
	bpf_spin_unlock(&st->lock);
	/* the body's length (RFC 9112 6.3) */
	if ((sc->e.flags & PF_OFL_E_HEAD) || status == 204 || status == 304)
		body = 0;
	else if (sc->h.te == PF_RH_TE_CHUNKED)
		after = PF_OFL_OUT_CHUNK;
	else if (sc->h.te == PF_RH_TE_OTHER || !sc->h.has_clen)
		after = PF_OFL_OUT_PASS; /* delimited by the connection's close */
	else
		body = sc->h.clen;
	if (sc->e.flags & PF_OFL_E_UPGRADE)
		after = PF_OFL_OUT_PASS; /* a tunnel or another protocol may follow */
	stat = PF_STAT_OFL_RESP_UNCOVERED;
	hlen = sc->h.len;
	if (sc->e.kind != PF_OFL_NONE) {
		res = pf_ofl_plan_g(sc);
		if (!res && (sc->pl.flags & PF_OFL_PL_NO_ACAC))
			pf_count(PF_STAT_OFL_KEEP_STAR);
		if (res) {
			stat = PF_STAT_OFL_EDIT_FAILED;
		} else if (!sc->pl.ins_len && !sc->pl.n_pop) {
			stat = PF_STAT_OFL_RESP_EDITED; /* keep: all there already */
		} else if (!pf_ofl_room(tp, sc->h.len + sc->pl.ins_len)) {
			stat = PF_STAT_OFL_NO_ROOM;
		} else {
			res = pf_ofl_edit(msg, sc, &hlen);
			if (res == -2)
				/* unreachable (see pf_ofl_edit); were it
				 * not, the message holds a page of old
				 * kernel memory: never pass it (the write
				 * fails with EACCES) */
				return SK_DROP;
			edited = !res;
			stat = res ? PF_STAT_OFL_EDIT_FAILED : PF_STAT_OFL_RESP_EDITED;
		}
	}
	pf_count(stat);
	if (after == PF_OFL_OUT_PASS)
		pf_count(PF_STAT_OFL_RESP_STREAM);
	if (edited && hlen < msg->size) {
		/* the new head is an element of its own: joined with the byte
		 * after it, the push sends the head with MSG_MORE and the
		 * bytes behind it (the body of the same write) share its
		 * segment, as before the head was built whole (that pull
		 * copied the same element). A failure only costs a segment. */
		bpf_msg_pull_data(msg, 0, hlen + 1, 0);
		if (after != PF_OFL_OUT_PASS) {
			/* the rewritten head goes out alone (see pf_ofl_room);
			 * the body behind it is then this head's BODY */
			pf_ofl_unhold(st);
			st->out_seq = cur + hlen + (__u32)body;
			st->out_after = (__u8)after;
			st->out_state = PF_OFL_OUT_BODY;
			if (body >= (1ULL << 30))
				return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_STREAM);
			bpf_msg_apply_bytes(msg, hlen);
			pf_ofl_want_detach(st, body);
			return SK_PASS;
		}
	}
	res = pf_ofl_advance(msg, st, tp, cur, (__u64)hlen + body, after);
	pf_ofl_want_detach(st, body);
	return res;
}

/* The unit at cur (the start of the message) in state st->out_state. */
static __always_inline int pf_ofl_unit(struct sk_msg_md *msg, struct pf_ofl_sk *st,
				       struct pf_ofl_scratch *sc, struct tcp_sock___ofl *tp,
				       __u32 cur)
{
	__u64 size = 0;
	int n, len;

	n = pf_ofl_msg_load(msg, sc);
	if (n <= 0)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	if (st->out_state == PF_OFL_OUT_HEAD)
		return pf_ofl_head(msg, st, sc, tp, cur, (__u32)n);
	if (st->out_state == PF_OFL_OUT_CHUNK) {
		len = pf_ofl_chunk_g(sc, (__u32)n, &size);
		if (len == 0)
			return pf_ofl_cork(msg, st, (__u32)n);
		if (len < 0)
			return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
		if (size == 0)
			return pf_ofl_advance(msg, st, tp, cur, (__u32)len, PF_OFL_OUT_TRAILER);
		return pf_ofl_advance(msg, st, tp, cur, (__u64)len + size + 2, PF_OFL_OUT_CHUNK);
	}
	len = pf_ofl_trailer_g(sc, (__u32)n);
	if (len == 0)
		return pf_ofl_cork(msg, st, (__u32)n);
	if (len < 0)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_RESP_BAD);
	return pf_ofl_advance(msg, st, tp, cur, (__u32)len, PF_OFL_OUT_HEAD);
}

SEC("sk_msg")
int pf_ofl_msg(struct sk_msg_md *msg)
{
	struct tcp_sock___ofl *tp;
	struct pf_ofl_scratch *sc;
	struct bpf_sock *sk;
	struct pf_ofl_sk *st;
	__u32 cur, rem;
	int ret;

	/* no stale window or cork (see the top) */
	bpf_msg_apply_bytes(msg, 0);
	bpf_msg_cork_bytes(msg, 0);
	sk = msg->sk;
	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, 0);
	if (!st)
		return SK_PASS;
	if (st->out_state == PF_OFL_OUT_PASS) {
		bpf_msg_apply_bytes(msg, 0xffffffff);
		return SK_PASS;
	}
	tp = (struct tcp_sock___ofl *)bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	/* where this message's first byte goes in the stream: bytes a
	 * failed push gave back to the app are written again from here */
	cur = tp->write_seq;
	if (!st->seq_ok) {
		st->out_seq = cur;
		st->seq_ok = 1;
	}
	if (st->out_state == PF_OFL_OUT_BODY) {
		if (pf_ofl_before(cur, st->out_seq)) {
			rem = st->out_seq - cur;
			if (rem >= msg->size)
				return SK_PASS; /* all body */
			bpf_msg_apply_bytes(msg, rem);
			st->out_state = st->out_after; /* the rest is run again */
			return SK_PASS;
		}
		st->out_state = st->out_after;
	}
	if (cur != st->out_seq)
		/* bytes went by unseen: a cork the kernel did not honour, or
		 * a window a failed push left behind */
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_MISSED);
	if (pf_ofl_stopped())
		/* being detached: never hold bytes back (and a head held
		 * before goes out unchanged now) */
		return pf_ofl_out_pass(msg, st, 0);
	sc = pf_ofl_scratch_get(PF_OFL_SCR_MSG);
	if (!sc)
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_EDIT_FAILED);
	if (!pf_ofl_claim(&sc->busy))
		return pf_ofl_out_pass(msg, st, PF_STAT_OFL_BUSY);
	ret = pf_ofl_unit(msg, st, sc, tp, cur);
	pf_ofl_release(&sc->busy);
	return ret;
}

#endif /* PF_BPF_OFL_MSG_H */

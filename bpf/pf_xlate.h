/* BPF: translating later segments of spliced connections (TC and XDP ingress, TC egress). */
/*
 * pf_xlate.h -- every segment of a spliced connection, in both
 * directions, gets its seq, ack and SACK blocks mapped as struct pf_flow
 * documents; per-flow bookkeeping (acked, direction, FIN/RST) is updated.
 */
#ifndef PF_XLATE_H
#define PF_XLATE_H

/* Translate a client segment of a spliced connection. */
static __always_inline void pf_translate_in(void *ctx, bool xdp, const struct pf_pkt *p,
					    struct pf_flow *f)
{
	struct pf_opts *o;
	struct pf_adj a;

	pf_flow_snapshot(f, &a);
	if (pf_set_word(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seq_in(&a, p->seq)))
		goto err;
	if (p->tflags & PF_TCPF_ACK) {
		if (pf_set_word(ctx, xdp, p, p->l4_off + 8, p->ack, pf_ack_in(&a, p->ack)))
			goto err;
		if (!pf_before(p->ack, a.s_pos + a.s_after))
			f->resp_acked = 1;
	}
	if (p->tcp_hlen > 20) {
		o = pf_opts_get(PF_DIR_IN);
		if (!o || pf_read_opts(ctx, xdp, p, o) || pf_fix_sack(ctx, xdp, p, o, &a, PF_DIR_IN) < 0)
			goto err;
	}
	if (p->pay_len)
		f->last_dir = PF_DIR_CLIENT;
	if (p->tflags & (PF_TCPF_FIN | PF_TCPF_RST))
		f->fin |= PF_FIN_CLIENT;
	f->last_ns = bpf_ktime_get_ns();
	pf_count(PF_STAT_TRANSLATED_IN);
	return;
err:
	pf_count(PF_STAT_PASS_ERROR);
}

/* Translate a server segment of a spliced connection. */
static __always_inline void pf_translate_out(void *ctx, bool xdp, const struct pf_pkt *p,
					     struct pf_flow *f)
{
	struct pf_opts *o;
	struct pf_adj a;

	pf_flow_snapshot(f, &a);
	if (pf_set_word(ctx, xdp, p, p->l4_off + 4, p->seq, pf_seq_out(&a, p->seq)))
		goto err;
	if (p->tflags & PF_TCPF_ACK) {
		if (pf_set_word(ctx, xdp, p, p->l4_off + 8, p->ack,
				pf_ack_out_field(&a, p->ack, f->resp_acked)))
			goto err;
	}
	if (p->tcp_hlen > 20) {
		o = pf_opts_get(PF_DIR_OUT);
		if (!o || pf_read_opts(ctx, xdp, p, o) || pf_fix_sack(ctx, xdp, p, o, &a, PF_DIR_OUT) < 0)
			goto err;
	}
	if (p->pay_len)
		f->last_dir = PF_DIR_SERVER;
	if (p->tflags & (PF_TCPF_FIN | PF_TCPF_RST))
		f->fin |= PF_FIN_SERVER;
	f->last_ns = bpf_ktime_get_ns();
	pf_count(PF_STAT_TRANSLATED_OUT);
	return;
err:
	pf_count(PF_STAT_PASS_ERROR);
}

#endif /* PF_XLATE_H */

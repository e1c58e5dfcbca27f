/* chain.c -- the BPF tier's XDP -> TC hand-off runs (see h_chain() in harness.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness_int.h"

/* Drain the after-TC sockets; keep (in r, if not NULL) the frames that
 * went up the stack in the client -> server direction (frames looped
 * back from lo's transmit side are server -> client). */
static void capture_up(struct h_run *r, unsigned *n_up)
{
	static const __u8 client4[4] = { 10, 0, 0, 2 };
	__u8 buf[PKT_MAX], client6[16];
	ssize_t n;
	int i;

	pkt_addr(6, "2001:db8::2", client6);
	for (i = 0; i < 2; i++) {
		while ((n = recv(h_up_fd[i], buf, sizeof(buf), 0)) >= 0) {
			bool up = i == 0 ? n >= 34 && !memcmp(buf + 26, client4, 4) :
					   n >= 54 && !memcmp(buf + 22, client6, 16);

			if (!r || !up)
				continue;
			if (*n_up == 0) {
				memcpy(r->out, buf, (size_t)n);
				r->out_len = (__u32)n;
			}
			(*n_up)++;
		}
	}
}

void h_drain_up(void)
{
	capture_up(NULL, NULL);
}

/* The frame of h_chain: through pf_xdp_ingress, live. */
struct chain_frame {
	const __u8 *pkt;
	size_t len;
};

static int chain_xdp(void *arg)
{
	const struct chain_frame *c = arg;
	struct xdp_md xin;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = c->pkt,
		.data_size_in = (__u32)c->len,
		.repeat = 1,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);

	memset(&xin, 0, sizeof(xin));
	xin.data_end = (__u32)c->len;
	o.ctx_in = &xin;
	o.ctx_size_in = sizeof(xin);
	return bpf_prog_test_run_opts(h_xdp_in.fd, &o) ? -errno : 0;
}

bool h_chain(const __u8 *pkt, size_t len, struct h_run *r)
{
	struct chain_frame c = { .pkt = pkt, .len = len };

	return h_chain_run(chain_xdp, &c, r);
}

/* h_chain_run and h_chain_run_tc: live, run(arg) is a live-frame run. */
static bool chain_run(int (*run)(void *), void *arg, struct h_run *r, bool live)
{
	long long before[PF_STAT__MAX];
	unsigned n_up = 0;
	int err;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = h_lo_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .prog_fd = h_tc_in.fd, .handle = 0x7066, .priority = 1);

	memset(r, 0, sizeof(*r));
	if (!h_need_xdp_meta() || (live && !h_need_xdp_live()))
		return false;
	r->kind = H_KIND_TC;
	r->chain = true;
	err = bpf_tc_attach(&hook, &tco);  /* clsact made by h_init() */
	if (err)
		return H_CHECK(false, "chain: attach pf_tc_ingress to lo: %s", strerror(-err));
	h_read_stats(before);
	h_capture(NULL);
	capture_up(NULL, NULL);
	r->err = run(arg);
	h_capture(r);
	capture_up(r, &n_up);
	h_stats_delta(r, before);
	tco.prog_fd = 0;
	tco.prog_id = 0;
	tco.flags = 0;
	err = bpf_tc_detach(&hook, &tco);
	if (!H_CHECK(r->err == 0, "chain: the frame's run: %s", strerror(-r->err)) ||
	    !H_CHECK(!err, "chain: detach: %s", strerror(-err)) ||
	    !H_CHECK(n_up <= 1, "chain: %u frames went up the stack", n_up))
		return false;
	if (n_up) {
		r->verdict = H_PASS;
	} else if (r->n_tx) {
		/* the frame left by bpf_redirect: the run's output */
		r->verdict = H_TX;
		memcpy(r->out, r->tx[0], r->tx_len[0]);
		r->out_len = r->tx_len[0];
		r->n_tx--;
		if (r->n_tx) {
			memmove(r->tx[0], r->tx[1], r->tx_len[1]);
			r->tx_len[0] = r->tx_len[1];
		}
	} else {
		r->verdict = H_DROP;
	}
	return true;
}

bool h_chain_run(int (*run)(void *), void *arg, struct h_run *r)
{
	return chain_run(run, arg, r, true);
}

bool h_chain_run_tc(int (*run)(void *), void *arg, struct h_run *r)
{
	return chain_run(run, arg, r, false);
}

void h_fix_to_tc(struct h_fix *f)
{
	h_need_xdp_meta();
	f->verdict = H_PASS;
	f->unchanged = true;
	f->clones = 0;
	f->to_tc = true;
	memset(f->d, 0, sizeof(f->d));
	f->d[0] = (struct h_delta)H_D(PKT_SEEN, 1);
	f->d[1] = (struct h_delta)H_D(XDP_TO_TC, 1);
	f->d[2] = (struct h_delta)H_DEND;
}

void h_chain_deltas(const struct h_delta *tc, struct h_delta out[16])
{
	unsigned i, k = 0;
	bool seen = false;

	for (i = 0; i < 13 && tc && tc[i].stat >= 0; i++) {
		out[k] = tc[i];
		if (out[k].stat == PF_STAT_PKT_SEEN) {
			out[k].n++;
			seen = true;
		}
		k++;
	}
	if (!seen)
		out[k++] = (struct h_delta)H_D(PKT_SEEN, 1);
	out[k++] = (struct h_delta)H_D(XDP_TO_TC, 1);
	out[k] = (struct h_delta)H_DEND;
}

bool h_chain_fix(const struct h_fix *tcf, struct h_run *r)
{
	static struct h_run local;
	struct h_delta d[16];
	__u8 in[PKT_MAX];
	size_t n = pkt_build(&tcf->in, in, sizeof(in));

	if (!r)
		r = &local;
	if (!H_CHECK(n > 0, "test bug: packet does not build"))
		return false;
	h_chain_deltas(tcf->d, d);
	h_set_sock(&tcf->sock);
	if (!h_chain(in, n, r))
		return false;
	return h_check_fix(tcf, in, n, r, d);
}

bool h_run_to_tc(const struct pkt_spec *in, struct h_run *r, const struct h_delta *d_tc)
{
	static const struct h_delta hand[] = {
		H_D(PKT_SEEN, 1), H_D(XDP_TO_TC, 1), H_DEND,
	};
	struct h_delta d[16];
	__u8 b[PKT_MAX];
	size_t n = pkt_build(in, b, sizeof(b));
	__u32 meta = 0;

	if (!H_CHECK(n > 0, "test bug: packet does not build") || !h_run(h_in, b, n, NULL, r))
		return false;
	if (!h_xdp())
		return h_check_deltas(r, d_tc);
	if (!h_need_xdp_meta())
		return false;
	if (r->meta_len == 4)
		memcpy(&meta, r->meta, 4);
	if (!H_CHECK(r->verdict == H_PASS, "XDP: verdict %s, want PASS (to TC)",
		     h_verdict_name(r->verdict)) ||
	    !H_CHECK(r->meta_len == 4 && meta == PF_META_ANSWER,
		     "XDP: not handed to TC (%u metadata bytes)", r->meta_len) ||
	    !H_CHECK(r->out_len == n && !memcmp(r->out, b, n), "XDP: frame changed") ||
	    !h_check_deltas(r, hand))
		return false;
	h_chain_deltas(d_tc, d);
	return h_chain(b, n, r) && h_check_deltas(r, d);
}

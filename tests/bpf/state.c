/* state.c -- the BPF tier's datapath state: policy slots, socket mock, config, flow table. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness_int.h"

static const char *slot1_yaml;        /* policy compiled into slot 1 */
static __u16 h1_ports[PF_MAX_PORTS];  /* ... and its ports */
static unsigned h1_nports;

struct pf_maps h_maps;

/* A reload into c's slot, with the daemon's installer (user/maps.c). */
void h_install_policy(const struct pf_compiled *c)
{
	if (pf_maps_install(&h_maps, c))
		h_die("install policy", EIO);
}

/* Make slot the active one, serving ports (what a reload switches). */
void h_activate(__u32 slot, const __u16 *ports, unsigned n)
{
	pf_maps_activate(&h_maps, slot, ports, n);
}

void h_compile(const char *yaml, __u32 slot, struct pf_compiled *c)
{
	struct pf_policy pol;
	int err;

	memset(&pol, 0, sizeof(pol));
	memset(c, 0, sizeof(*c));
	err = pf_policy_load_string("reload.yaml", yaml, &pol, stderr);
	if (!err)
		err = pf_policy_compile(&pol, slot, c, stderr);
	pf_policy_free(&pol);
	if (err)
		h_die("compile policy", err);
}

int h_reload(const char *yaml, __u32 slot, unsigned *n_toks)
{
	struct pf_compiled c;
	int err;

	h_compile(yaml, slot, &c);
	if (n_toks)
		*n_toks = c.n_toks;
	if (slot == 1)
		slot1_yaml = NULL;
	err = pf_maps_install(&h_maps, &c);
	pf_compiled_free(&c);
	return err;
}

void h_use_policy(const char *yaml)
{
	struct pf_policy pol;
	struct pf_compiled c;
	int err;

	if (slot1_yaml != yaml) {
		memset(&pol, 0, sizeof(pol));
		memset(&c, 0, sizeof(c));
		err = pf_policy_load_string("conformance.yaml", yaml, &pol, stderr);
		if (err)
			h_die("load policy", err);
		err = pf_policy_compile(&pol, 1, &c, stderr);
		if (err)
			h_die("compile policy", err);
		h_install_policy(&c);
		memcpy(h1_ports, c.ports, sizeof(h1_ports));
		h1_nports = c.n_ports;
		pf_compiled_free(&c);
		pf_policy_free(&pol);
		slot1_yaml = yaml;
	}
	h_activate(1, h1_ports, h1_nports);
}

struct pf_sockinfo h_sock(__u32 rcv_nxt, __u32 snd_nxt)
{
	struct pf_sockinfo si = {
		.rcv_nxt = rcv_nxt, .copied_seq = rcv_nxt,
		.snd_nxt = snd_nxt, .snd_una = snd_nxt, .write_seq = snd_nxt,
		.mss = 1448, .rcv_wnd = 64256, .wscale = 7, .snd_wscale = 7,
		.bytes_received = 0, .valid = 1, .ts_now = H_TS_NOW, .ts_ok = 1,
	};

	return si;
}

void h_sock_not_first(struct pf_sockinfo *si)
{
	si->bytes_received = 500;
}

void h_set_sock(const struct pf_sockinfo *si)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(h_skel->maps.pf_test_sock), &zero, si, BPF_ANY))
		h_die("set socket mock", errno);
}

struct pf_config *h_cfg(void)
{
	return &h_skel->bss->pf_cfg;
}

void h_flow_key(const struct pkt_spec *s, struct pf_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->caddr, s->saddr, s->family == 4 ? 4 : 16);
	memcpy(k->saddr, s->daddr, s->family == 4 ? 4 : 16);
	k->cport = htons(s->sport);
	k->sport = htons(s->dport);
	k->family = (__u8)s->family;
}

bool h_flow(const struct pkt_spec *s, struct pf_flow *f)
{
	struct pf_flow_key k;

	h_flow_key(s, &k);
	return !bpf_map_lookup_elem(bpf_map__fd(h_skel->maps.pf_flows), &k, f);
}

void h_flow_put(const struct pkt_spec *s, const struct pf_flow *f)
{
	struct pf_test_flow_put a = { .f = *f };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a, .ctx_size_in = sizeof(a));
	int err;

	h_flow_key(s, &a.key);
	err = bpf_prog_test_run_opts(bpf_program__fd(h_skel->progs.pf_test_flow_put), &o);
	if (err)
		h_die("put flow", errno);
	if (o.retval)
		h_die("put flow", -(int)o.retval);
}

void h_flow_delete(const struct pf_flow_key *key)
{
	if (bpf_map_delete_elem(bpf_map__fd(h_skel->maps.pf_flows), key))
		h_die("delete flow", errno);
}

unsigned h_flow_count(void)
{
	int fd = bpf_map__fd(h_skel->maps.pf_flows);
	struct pf_flow_key k, next;
	unsigned n = 0;
	int more = !bpf_map_get_next_key(fd, NULL, &k);

	while (more) {
		n++;
		more = !bpf_map_get_next_key(fd, &k, &next);
		k = next;
	}
	return n;
}

unsigned h_fill_flows(void)
{
	int fd = bpf_map__fd(h_skel->maps.pf_flows);
	struct pf_flow_key k;
	struct pf_flow f;
	unsigned n;

	memset(&f, 0, sizeof(f));
	f.resp_acked = 1;
	for (n = 0; n < 2 * H_MAX_FLOWS; n++) {
		memset(&k, 0, sizeof(k));
		pkt_addr(4, "192.0.2.1", k.caddr);  /* TEST-NET-1: no test uses it */
		pkt_addr(4, "10.0.0.1", k.saddr);
		k.cport = htons((__u16)(1 + n));
		k.sport = htons(8080);
		k.family = 4;
		if (bpf_map_update_elem(fd, &k, &f, BPF_NOEXIST))
			break;
	}
	return h_flow_count();
}

/* h_punts_drain's callback: the caller's, if any, and a count. */
struct punts_drain {
	ring_buffer_sample_fn fn;
	void *ctx;
	unsigned n;
};

static int punts_rec(void *ctx, void *data, size_t size)
{
	struct punts_drain *d = ctx;

	d->n++;
	return d->fn ? d->fn(d->ctx, data, size) : 0;
}

unsigned h_punts_drain(ring_buffer_sample_fn fn, void *ctx)
{
	struct punts_drain d = { .fn = fn, .ctx = ctx };
	struct ring_buffer *rb;

	rb = ring_buffer__new(bpf_map__fd(h_skel->maps.pf_punt), punts_rec, &d, NULL);
	if (!H_CHECK(rb, "ring_buffer__new: %s", strerror(errno)))
		return 0;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return d.n;
}

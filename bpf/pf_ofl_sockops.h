/* BPF only (sockops): the response offload covers a server socket on a policy port (pf_ofl_sockops). */
#ifndef PF_BPF_OFL_SOCKOPS_H
#define PF_BPF_OFL_SOCKOPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_ofl_maps.h"

/* The flow key (client first) of skops's connection; IPv4-mapped IPv6
 * addresses as IPv4, as TC sees them. */
static __always_inline void pf_ofl_key_of(const struct bpf_sock_ops *skops,
					  struct pf_flow_key *k)
{
	__u32 r[4], l[4], ra, la, fam, i;

	/* Verifier workarounds: every context field read once, as a 4-byte
	 * load kept apart by barrier_var -- clang otherwise merges two
	 * fields into one 8-byte load ("invalid bpf_context access off=48
	 * size=8") or selects between two field addresses ("dereference of
	 * modified ctx ptr R3 off=44 disallowed") */
	r[0] = skops->remote_ip6[0]; barrier_var(r[0]);
	r[1] = skops->remote_ip6[1]; barrier_var(r[1]);
	r[2] = skops->remote_ip6[2]; barrier_var(r[2]);
	r[3] = skops->remote_ip6[3]; barrier_var(r[3]);
	l[0] = skops->local_ip6[0]; barrier_var(l[0]);
	l[1] = skops->local_ip6[1]; barrier_var(l[1]);
	l[2] = skops->local_ip6[2]; barrier_var(l[2]);
	l[3] = skops->local_ip6[3]; barrier_var(l[3]);
	ra = skops->remote_ip4; barrier_var(ra);
	la = skops->local_ip4; barrier_var(la);
	fam = skops->family;
	if (fam == 2 /* AF_INET */ ||
	    (r[0] == 0 && r[1] == 0 && r[2] == bpf_htonl(0xffff))) {
		if (fam != 2) {
			ra = r[3];
			la = l[3];
		}
		k->family = 4;
		__builtin_memcpy(k->caddr, &ra, 4);
		__builtin_memcpy(k->saddr, &la, 4);
	} else {
		k->family = 6;
		for (i = 0; i < 4; i++) {
			__builtin_memcpy(k->caddr + 4 * i, &r[i], 4);
			__builtin_memcpy(k->saddr + 4 * i, &l[i], 4);
		}
	}
	/* remote_port: the network-order port in the upper 16 bits */
	k->cport = (__be16)(skops->remote_port >> 16);
	k->sport = bpf_htons((__u16)skops->local_port);
}

SEC("sockops")
int pf_ofl_sockops(struct bpf_sock_ops *skops)
{
	struct pf_flow_key key = {};
	struct pf_ofl_sk *st, *early;
	struct pf_ofl_ent tmp;
	struct bpf_sock *sk;
	__u32 port, i, next, n_req = 0, gap_end = 0, has_gap = 0;
	__u32 in_state = PF_OFL_IN_HEAD, moved = 0;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB || !pf_cfg.ofl_on ||
	    pf_ofl_stopped())
		return 1;
	port = skops->local_port;
	if (port > 65535 || !((pf_cfg.port_bits[(port >> 6) & 1023] >> (port & 63)) & 1))
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&pf_ofl_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	next = skops->rcv_nxt;
	pf_ofl_key_of(skops, &key);
	early = bpf_map_lookup_elem(&pf_ofl_early, &key);
	if (early) {
		/* the first request(s) came with the handshake's last ACK; a
		 * stale entry of an earlier connection on this 4-tuple has
		 * another ISN */
		bpf_spin_lock(&early->lock);
		if (early->isn + 1 == skops->rcv_nxt &&
		    early->s.in_state != PF_OFL_IN_INIT) {
			moved = 1;
			next = early->s.next;
			n_req = early->s.n_req;
			gap_end = early->s.gap_end;
			has_gap = early->s.has_gap;
			in_state = early->s.in_state;
		}
		early->s.in_state = PF_OFL_IN_STOP; /* TC writes no more */
		bpf_spin_unlock(&early->lock);
		/* st is still PF_OFL_IN_INIT: nothing else writes it yet */
		for (i = 0; i < PF_OFL_FIFO && moved; i++) {
			tmp = early->s.q[i & (PF_OFL_FIFO - 1)];
			st->s.q[i & (PF_OFL_FIFO - 1)] = tmp;
		}
		bpf_map_delete_elem(&pf_ofl_early, &key);
	}
	bpf_spin_lock(&st->lock);
	st->s.next = next;
	st->s.n_req = n_req;
	st->s.n_resp = 0;
	st->s.gap_end = gap_end;
	st->s.has_gap = (__u8)has_gap;
	st->s.in_state = (__u8)in_state;
	bpf_spin_unlock(&st->lock);
	if (pf_cfg.shadow)
		return 1; /* recorded and read at TC only: no SK_MSG */
	cookie = bpf_get_socket_cookie(skops);
	st->cookie = cookie;
	st->key = key;
	if (bpf_sock_hash_update(skops, &pf_ofl_socks, &cookie, BPF_NOEXIST)) {
		bpf_sk_storage_delete(&pf_ofl_sk, sk);
		pf_count(PF_STAT_OFL_SOCKS_FULL);
	}
	return 1;
}

#endif /* PF_BPF_OFL_SOCKOPS_H */

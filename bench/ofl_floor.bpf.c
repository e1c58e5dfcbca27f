// SPDX-License-Identifier: GPL-2.0
/*
 * ofl_floor.bpf.c -- the "skpass" variant of the response offload's
 * measurement (bench/offload.sh; called "floor" before): what the kernel's
 * SK_MSG transmit path costs by itself. A sockops program puts the server
 * sockets of one port in a socket map whose SK_MSG program only returns
 * SK_PASS, for every byte the app writes. A lower bound of the offload
 * only where the offload keeps a socket in that path (small responses):
 * the offload takes sockets out for large bodies, this never does.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} floor_socks SEC(".maps");

const volatile __u32 floor_port; /* set before load */

SEC("sockops")
int floor_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    skops->local_port == floor_port) {
		cookie = bpf_get_socket_cookie(skops);
		bpf_sock_hash_update(skops, &floor_socks, &cookie, BPF_NOEXIST);
	}
	return 1;
}

SEC("sk_msg")
int floor_msg(struct sk_msg_md *msg)
{
	(void)msg;
	return SK_PASS;
}

/* BPF only (any program): kernel-internal types read through BTF (CO-RE), only the fields preflightd uses. */
/*
 * pf_kern.h -- minimal CO-RE views of struct tcp_sock and friends (and
 * struct sk_buff's checksum state).
 * preserve_access_index makes libbpf relocate every field offset against
 * the running kernel's BTF, so these need not match any header's layout.
 */
#ifndef PF_KERN_H
#define PF_KERN_H

#include <linux/types.h>

struct tcp_options_received {
	__u16 snd_wscale : 4, rcv_wscale : 4;
} __attribute__((preserve_access_index));

struct rb_node;

struct rb_root {
	struct rb_node *rb_node;
} __attribute__((preserve_access_index));

struct sock {
	struct {
		int len;         /* bytes of skbs queued while the socket is owned */
	} sk_backlog;
} __attribute__((preserve_access_index));

struct inet_sock {
	struct sock sk;
} __attribute__((preserve_access_index));

struct inet_connection_sock {
	struct inet_sock icsk_inet;
} __attribute__((preserve_access_index));

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	struct rb_root out_of_order_queue;
	__u8  tcp_usec_ts : 1;   /* TSval in microseconds (6.7+) */
	__u32 tsoffset;
	__u64 tcp_mstamp;        /* µs, time of the most recent packet */
	__u32 rcv_nxt;
	__u32 copied_seq;
	__u32 snd_nxt;
	__u32 snd_una;
	__u32 write_seq;
	__u32 mss_cache;
	__u32 rcv_wnd;
	__u64 bytes_received;
	struct tcp_options_received rx_opt;
} __attribute__((preserve_access_index));

struct request_sock {
	__u16 mss;
} __attribute__((preserve_access_index));

struct inet_request_sock {
	struct request_sock req;
	__u16 snd_wscale : 4, rcv_wscale : 4;
} __attribute__((preserve_access_index));

struct tcp_request_sock {
	struct inet_request_sock req;
	__u32 rcv_isn;
	__u32 snt_isn;
} __attribute__((preserve_access_index));

/* A TC program's context as the kernel's skb (bpf_cast_to_kern_ctx: the
 * verifier turns the call into a register move). */
struct sk_buff {
	__u8 ip_summed : 2;      /* CHECKSUM_NONE, _UNNECESSARY, ... */
} __attribute__((preserve_access_index));

#define PF_CHECKSUM_UNNECESSARY 1
#define PF_CHECKSUM_PARTIAL     3

#endif /* PF_KERN_H */

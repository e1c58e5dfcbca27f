/* BPF only (TC, sockops, SK_MSG): the response offload's maps, its per-CPU work areas and shadow mode's ring buffer (the design: bpf/pf_offload.h). */
#ifndef PF_BPF_OFL_MAPS_H
#define PF_BPF_OFL_MAPS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pf_kern.h"
#include "pf_maps.h"
#include "pf_split.h"

/* Settings of the rules of both policy slots (struct pf_ofl_rule). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PF_SLOTS * PF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct pf_ofl_rule);
} pf_ofl_rules SEC(".maps");

static __always_inline const struct pf_ofl_rule *pf_ofl_rule_lookup(__u32 idx)
{
	return bpf_map_lookup_elem(&pf_ofl_rules, &idx);
}
#define PF_OFL_RULE_LOOKUP(i) pf_ofl_rule_lookup(i)

#include "pf_ofl.h"

/* The request FIFO and framing state of each covered server socket,
 * freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pf_ofl_sk);
} pf_ofl_sk SEC(".maps");

/* A covered socket's request head split over segments, held until whole
 * (pf_ofl_hold, pf_ofl_join; the value: pf_split.h), freed with the
 * socket. Created at a socket's first split head. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pf_split);
} pf_ofl_split SEC(".maps");

/* Covered server sockets (key: socket cookie); pf_ofl_msg is attached to
 * this map. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, __u64);
	__type(value, __u64);
} pf_ofl_socks SEC(".maps");

/* The offload's control flags (struct pf_ofl_ctl): in a map, not in
 * pf_cfg, because a restart adopts it -- the SK_MSG program of a socket
 * covered before a crash keeps running there and reads the same entry,
 * so detach stops every generation of it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_ofl_ctl);
} pf_ofl_ctl SEC(".maps");

/* Is the offload being detached? */
static __always_inline int pf_ofl_stopped(void)
{
	__u32 zero = 0;
	const struct pf_ofl_ctl *c = bpf_map_lookup_elem(&pf_ofl_ctl, &zero);

	return !c || c->stop;
}

/* Covered sockets whose SK_MSG program holds a head back
 * (bpf_msg_cork_bytes) until the app writes the rest: cookie -> their
 * connection. The kernel frees held bytes with the socket's psock, so a
 * socket must not leave pf_ofl_socks while it is here: detach waits for
 * the app's next write (which finds pf_ofl_ctl stopped and sends all)
 * and resets what is still held after a bound (user/offload.c). Entries
 * of sockets closed while holding are pruned by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, __u64);
	__type(value, struct pf_flow_key);
} pf_ofl_held SEC(".maps");

/* Sockets whose SK_MSG program passed the head of a large body
 * (PF_OFL_DETACH_MIN) and asked to leave the SK_MSG path for it: flow key
 * (client first, as TC sees it) -> socket cookie. TC egress looks each
 * server segment up here -- a hash look-up instead of a socket look-up per
 * segment -- and takes the socket out of pf_ofl_socks (pf_ofl_egress). An
 * entry lost (LRU) only leaves its socket in the SK_MSG path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);  /* set at load (--max-flows) */
	__type(key, struct pf_flow_key);
	__type(value, __u64);
} pf_ofl_leave SEC(".maps");

/* Requests seen while their connection was still a request socket (the
 * handshake's last ACK and the first request in one receive batch): the
 * sockops program moves them into the socket's pf_ofl_sk. An entry that
 * is never claimed (a connection outside --cgroup) is removed by the
 * daemon after PF_OFL_EARLY_NS (born_ns). Not LRU: bpf_spin_lock needs a
 * plain hash ("map 'pf_ofl_early' has to have BTF in order to use
 * bpf_spin_lock": the kernel refuses the lock in an LRU map's BTF). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct pf_flow_key);
	__type(value, struct pf_ofl_sk);
} pf_ofl_early SEC(".maps");

/* Per-CPU work areas: slot PF_OFL_SCR_TC for TC (softirq), slot
 * PF_OFL_SCR_MSG for SK_MSG (process context, which softirqs interrupt). */
#define PF_OFL_SCR_TC  0
#define PF_OFL_SCR_MSG 1

/* The longest edited response head: a head of PF_RHEAD_MAX bytes and
 * PF_RESP_MAX inserted (a power of 2). */
#define PF_OFL_OUT (2 * PF_RHEAD_MAX)

struct pf_ofl_scratch {
	/* a request head, response bytes, or a chunk of a request segment
	 * being summed (pf_ofl_csum_bad) */
	__u8 buf[PF_REQ_BUF];
	struct pf_req r;
	struct pf_match m;
	struct pf_rhead h;
	struct pf_ofl_ent e;
	struct pf_ofl_plan pl;
	struct pf_ofl_cscan cs;
	/* a new pf_ofl_early value; raw bytes because a per-CPU map value
	 * may not contain a bpf_spin_lock */
	__u64 nsk[(sizeof(struct pf_ofl_sk) + 7) / 8];
	__u32 busy;                /* SK_MSG: runs holding this slot (pf_ofl_claim) */
	__u32 tmp;                 /* PF_LAUNDER slot */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pf_ofl_scratch);
} pf_ofl_scratch SEC(".maps");

static __always_inline struct pf_ofl_scratch *pf_ofl_scratch_get(__u32 k)
{
	return bpf_map_lookup_elem(&pf_ofl_scratch, &k);
}

/* Take the per-CPU slot's busy count *busy for this run: true if no
 * other run holds it. An SK_MSG program runs with migration disabled but
 * preemptible, so another socket's sendmsg can run the program on the
 * same CPU in the middle of a run: a test of *busy and then a store
 * could let both runs in (each preempted between its test and its
 * store), sharing the slot's buffers -- one response's head edited with
 * another's bytes. The count is raised by one atomic add (BPF_XADD:
 * __sync_fetch_and_add with its result unused; an exchange, or a fetch,
 * needs -mcpu=v3 for the whole object, which moves every program's
 * verification) and read back: a run that reads 1 holds the slot, since
 * any other run's add is either not made yet (it will read 2) or still
 * counted (this one reads 2). A run that reads more takes its add back
 * and passes (PF_STAT_OFL_BUSY); two racing runs may both pass, none both
 * hold. Same CPU only (a per-CPU value): program order is all the
 * ordering needed. */
static __always_inline bool pf_ofl_claim(__u32 *busy)
{
	__sync_fetch_and_add(busy, 1);
	if (*(volatile __u32 *)busy == 1)
		return true;
	__sync_fetch_and_add(busy, -1);
	return false;
}

/* Give back a slot pf_ofl_claim took. */
static __always_inline void pf_ofl_release(__u32 *busy)
{
	__sync_fetch_and_add(busy, -1);
}

/* Shadow mode: request and response heads for the daemon (struct
 * pf_shd_rec, see include/pf_ofl_types.h; a record holds up to a
 * PF_REQ_MAX request head); about 500 records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 * 1024 * 1024);
} pf_shd SEC(".maps");

/* Shadow mode, written and read by userspace only: the daemon's
 * comparison counters (for stats and /metrics) and its disagreements
 * (for trace, which pops them). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pf_shd_stats);
} pf_shd_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 1024);
	__type(value, struct pf_shd_diff);
} pf_shd_diffs SEC(".maps");

/* Shadow mode: hand the len-byte head in sc->buf (request idx of key) to
 * the daemon. A full ring loses the record: the daemon counts the
 * response it cannot pair. Not inlined: the key's copy took 12 spill
 * slots of its caller's frame (pf_ofl_head_cb, on the recorder's deepest
 * call chain: "combined stack size of 5 calls is 528. Too large"). */
static __noinline void pf_shd_submit(const struct pf_flow_key *key, __u32 idx,
				     __u32 kind, __u32 len, struct pf_ofl_scratch *sc)
{
	struct pf_shd_rec *rec;
	__u64 n = len;

	/* Verifier workaround: one 64-bit register for test and use (see
	 * pf_load_req) */
	barrier_var(n);
	if (n == 0 || n > PF_SHD_HEAD_MAX)
		return;
	rec = bpf_ringbuf_reserve(&pf_shd, sizeof(*rec), 0);
	if (!rec)
		return;
	rec->ts_ns = bpf_ktime_get_ns();
	rec->key = *key;
	rec->idx = idx;
	rec->len = (__u16)n;
	rec->kind = (__u8)kind;
	rec->pad = 0;
	pf_copy(rec->head, sc->buf, n);
	bpf_ringbuf_submit(rec, 0);
}

/* The offload's TC programs, reached by tail calls: the request recorder
 * from pf_tc_ingress (PF_OFL_TAIL_REC, pf_ofl_tc.h) and shadow mode's
 * response reader from pf_tc_egress (PF_OFL_TAIL_SHD, pf_ofl_shadow.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, PF_OFL_TAILS);
	__type(key, __u32);
	__type(value, __u32);
} pf_ofl_tail SEC(".maps");

#endif /* PF_BPF_OFL_MAPS_H */

/* slowpath.c -- the daemon's slow path: decide what the datapath punts
 * (the pf_punt ring buffer: regex origins, taught to pf_learned;
 * request-header lists over the kernel's limits, taught to pf_acrh), then
 * replay the punted segment (replay.c). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "slowpath.h"
#include "acrh.h"
#include "log.h"

/* Delete the failed marks of slot from pf_punted (fd). A mark holds only
 * its slot's bit: left there after a reload, it would count again once a
 * second reload makes that slot active again, for another policy (its
 * origin passed to the app, never decided again). Returns how many. */
static unsigned forget_failed(int fd, __u32 slot)
{
	__u64 key, next, v;
	unsigned n = 0;
	int more;

	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (!bpf_map_lookup_elem(fd, &key, &v) && (v & PF_PUNT_FAILED) &&
		    ((v >> PF_PUNT_SLOT_BIT) & 1) == (slot & 1) &&
		    !bpf_map_delete_elem(fd, &key))
			n++;
		key = next;
	}
	return n;
}

/* See slowpath.h. */
void pf_slow_adopt(struct pf_slow *sl, struct pf_policy *pol, struct pf_regex_set *rs,
		   __u32 slot)
{
	unsigned n;

	if (slot != sl->slot) { /* a reload: the old slot's failures go with it */
		n = forget_failed(sl->punted_fd, sl->slot);
		if (n)
			pr_debug("slow path: %u failed punts of the old policy forgotten", n);
	}
	pf_regex_set_free(&sl->rs);
	pf_policy_free(&sl->pol);
	sl->rs = *rs;
	sl->pol = *pol;
	memset(rs, 0, sizeof(*rs));
	memset(pol, 0, sizeof(*pol));
	sl->slot = slot;
	sl->learned = 0;   /* the old slot's verdicts are gone with it */
}

/* A PF_PUNT_ACRH record for the active slot: decide the header list
 * with the datapath's code and the live maps, insert it into pf_acrh.
 * Returns 0 or -errno (not taught). */
static int punt_acrh(struct pf_slow *sl, const struct pf_punt_rec *rec)
{
	struct pf_acrh_src src = { .tok_fd = sl->m.tokens_fd, .rules_fd = sl->m.rules_fd };
	static struct pf_acrh_key key;  /* 1 KiB: off the stack */
	struct pf_acrh_val val;
	int err;

	if (!rec->len || rec->len >= PF_ACRH_SLOW_MAX)
		return -EINVAL;
	err = pf_acrh_decide(&src, rec->slot, rec->rule, rec->data, rec->len, &val);
	if (err) {
		pr_warn("slow path: request headers: %s", strerror(-err));
		return err;
	}
	pf_acrh_key_make(&key, rec->slot, rec->rule, rec->data, rec->len);
	if (bpf_map_update_elem(sl->m.acrh_fd, &key, &val, BPF_ANY)) {
		err = -errno;
		pr_warn("slow path: insert request headers: %s", strerror(-err));
		return err;
	}
	sl->m.cfg->learned_acrh++;
	pr_debug("slow path: %u-byte request headers under rule %u -> %s",
		 rec->len, rec->rule + 1, val.reason ? "denied" : "allowed");
	return 0;
}

/* A PF_PUNT_ORIGIN record for the active slot: evaluate the origin
 * against the policy's regexes and insert its verdict into pf_learned
 * (rules: the matching regex rules, 0: none; an LRU map, so a flood of
 * origins evicts old verdicts instead of stopping the learning). Returns
 * 0 or -errno (not taught: -EEXIST for a hash collision with a policy
 * string or another learned origin -- the datapath would find that one
 * and punt this origin forever). */
static int punt_origin(struct pf_slow *sl, const struct pf_punt_rec *rec)
{
	struct pf_tok_key key = { 0 };
	struct pf_tok_val val, old;

	if (!rec->len || rec->len > PF_TOKEN_MAX)
		return -EINVAL;
	memset(&val, 0, sizeof(val));
	val.rules = pf_regex_set_match(&sl->rs, rec->data, rec->len);
	val.len = rec->len;
	memcpy(val.s, rec->data, rec->len);
	key.hash = pf_hash_bytes((const __u8 *)rec->data, rec->len, 0);
	key.kind = PF_TOK_ORIGIN;
	key.slot = sl->slot;
	if (!bpf_map_lookup_elem(sl->m.tokens_fd, &key, &old))
		return -EEXIST;
	if (bpf_map_update_elem(sl->m.learned_fd, &key, &val, BPF_NOEXIST)) {
		if (errno != EEXIST) {
			int err = -errno; /* before pr_warn, which may change errno */

			pr_warn("slow path: learn origin: %s", strerror(-err));
			return err;
		}
		/* taught already (the same origin punted twice), or not */
		if (bpf_map_lookup_elem(sl->m.learned_fd, &key, &old) || old.len != val.len ||
		    memcmp(old.s, val.s, val.len))
			return -EEXIST;
		return 0;
	}
	sl->learned++;
	sl->m.cfg->learned_origins++;
	pr_debug("slow path: %.*s -> rules 0x%llx", (int)rec->len, rec->data,
		 (unsigned long long)val.rules);
	return 0;
}

/* The punt h (of slot) could not be taught: mark its wait failed, so the
 * datapath passes the client's retransmission (and later requests of the
 * same origin or list) to the app instead of punting and dropping it
 * again; a reload (the other slot) lifts the mark. */
static void punt_failed(struct pf_slow *sl, __u64 h, __u32 slot, int err)
{
	struct timespec ts;
	__u64 v;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	v = PF_PUNT_FAILED | ((__u64)(slot & 1) << PF_PUNT_SLOT_BIT) |
	    (((__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec) &
	     ((1ULL << PF_PUNT_SLOT_BIT) - 1));
	if (bpf_map_update_elem(sl->punted_fd, &h, &v, BPF_ANY))
		pr_warn("slow path: mark failed punt: %s", strerror(errno));
	sl->m.cfg->learn_failures++;
	pr_debug("slow path: not taught (%s): passed to the app", strerror(-err));
}

/* See slowpath.h. */
int pf_slow_on_punt(void *ctx, void *data, size_t size)
{
	struct pf_slow *sl = ctx;
	const struct pf_punt_rec *rec = data;
	__u64 h;
	int err;

	if (size < sizeof(*rec))
		return 0;
	h = rec->hash;
	/* a punt from before a reload: its retransmission punts again in
	 * the new slot; forget the wait so that it can. A punt for the
	 * active slot when sl has no regexes for it (see reload): failed */
	if (rec->slot != sl->slot) {
		if (rec->slot != (sl->m.cfg->active_slot & (PF_SLOTS - 1)))
			bpf_map_delete_elem(sl->punted_fd, &h);
		else
			punt_failed(sl, h, rec->slot, -ENOENT);
		return 0;
	}
	err = rec->kind == PF_PUNT_ACRH ? punt_acrh(sl, rec) : punt_origin(sl, rec);
	if (err)
		punt_failed(sl, h, rec->slot, err);
	else
		bpf_map_delete_elem(sl->punted_fd, &h);
	pf_replay(&sl->rp, rec, sl->m.cfg);
	return 0;
}

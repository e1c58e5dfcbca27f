/* slowpath.c -- the daemon's slow path: decide what the datapath punts
 * (the pf_punt ring buffer: regex origins, taught to pf_tokens;
 * request-header lists over the kernel's limits, taught to pf_acrh). */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "slowpath.h"
#include "acrh.h"
#include "log.h"

/* See slowpath.h. */
void pf_slow_adopt(struct pf_slow *sl, struct pf_policy *pol, struct pf_regex_set *rs,
		   __u32 slot)
{
	pf_regex_set_free(&sl->rs);
	pf_policy_free(&sl->pol);
	sl->rs = *rs;
	sl->pol = *pol;
	memset(rs, 0, sizeof(*rs));
	memset(pol, 0, sizeof(*pol));
	sl->slot = slot;
	sl->learned = 0;   /* the old slot's tokens are gone with it */
}

/* A PF_PUNT_ACRH record for the active slot: decide the header list
 * with the datapath's code and the live maps, insert it into pf_acrh. */
static void punt_acrh(struct pf_slow *sl, const struct pf_punt_rec *rec)
{
	struct pf_acrh_src src = { .tok_fd = sl->m.tokens_fd, .rules_fd = sl->m.rules_fd };
	static struct pf_acrh_key key;  /* 1 KiB: off the stack */
	struct pf_acrh_val val;
	int err;

	if (!rec->len || rec->len >= PF_ACRH_SLOW_MAX)
		return;
	err = pf_acrh_decide(&src, rec->slot, rec->rule, rec->data, rec->len, &val);
	if (err) {
		pr_warn("slow path: request headers: %s", strerror(-err));
		return;
	}
	pf_acrh_key_make(&key, rec->slot, rec->rule, rec->data, rec->len);
	if (bpf_map_update_elem(sl->m.acrh_fd, &key, &val, BPF_ANY)) {
		pr_warn("slow path: insert request headers: %s", strerror(errno));
		return;
	}
	sl->m.cfg->learned_acrh++;
	pr_debug("slow path: %u-byte request headers under rule %u -> %s",
		 rec->len, rec->rule + 1, val.reason ? "denied" : "allowed");
}

/* A PF_PUNT_ORIGIN record for the active slot: evaluate the origin
 * against the policy's regexes and insert its token (rules: the matching
 * regex rules, 0: none). */
static void punt_origin(struct pf_slow *sl, const struct pf_punt_rec *rec)
{
	struct pf_tok_key key = { 0 };
	struct pf_tok_val val;

	if (!rec->len || rec->len > PF_TOKEN_MAX)
		return;
	if (sl->learned >= PF_LEARN_MAX) {
		pr_debug("slow path: %u origins learned, at the cap: not learning %.*s",
			 sl->learned, (int)rec->len, rec->data);
		return;
	}
	memset(&val, 0, sizeof(val));
	val.rules = pf_regex_set_match(&sl->rs, rec->data, rec->len);
	val.len = rec->len;
	memcpy(val.s, rec->data, rec->len);
	key.hash = pf_hash_bytes((const __u8 *)rec->data, rec->len, 0);
	key.kind = PF_TOK_ORIGIN;
	key.slot = sl->slot;
	if (!bpf_map_update_elem(sl->m.tokens_fd, &key, &val, BPF_NOEXIST)) {
		sl->learned++;
		sl->m.cfg->learned_origins++;
		pr_debug("slow path: %.*s -> rules 0x%llx", (int)rec->len, rec->data,
			 (unsigned long long)val.rules);
	} else if (errno != EEXIST) {
		pr_warn("slow path: insert token: %s", strerror(errno));
	}
}

/* See slowpath.h. */
int pf_slow_on_punt(void *ctx, void *data, size_t size)
{
	struct pf_slow *sl = ctx;
	const struct pf_punt_rec *rec = data;
	__u64 h;

	if (size < sizeof(*rec))
		return 0;
	h = rec->hash;
	/* a punt from before a reload: its retransmission punts again in
	 * the new slot; forget the wait so that it can. A punt for the
	 * active slot when sl has no regexes for it (see reload): leave
	 * the wait, so the datapath passes the request to the app */
	if (rec->slot != sl->slot) {
		if (rec->slot != (sl->m.cfg->active_slot & (PF_SLOTS - 1)))
			bpf_map_delete_elem(sl->punted_fd, &h);
		return 0;
	}
	if (rec->kind == PF_PUNT_ACRH)
		punt_acrh(sl, rec);
	else
		punt_origin(sl, rec);
	bpf_map_delete_elem(sl->punted_fd, &h);
	return 0;
}

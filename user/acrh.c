/*
 * acrh.c -- decide request-header lists the datapath punted (see acrh.h)
 * with the datapath's code: include/pf_match.h is compiled here with its
 * look-ups bound to the source below, and pf_check_headers() is called
 * with PF_ACRH_SLOW_MAX for both limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "../include/pf_structs.h"
#include "policy.h"
#include "acrh.h"

/* The source of the current pf_acrh_decide() call, and look-up buffers
 * (the matcher reads a result before the next look-up). */
static const struct pf_acrh_src *cur;
static struct pf_tok_val tok_buf;
static struct pf_rule rule_buf;

static const struct pf_tok_val *src_tok(const struct pf_tok_key *k)
{
	if (cur->comp)
		return pf_compiled_lookup(cur->comp, k);
	return bpf_map_lookup_elem(cur->tok_fd, k, &tok_buf) ? NULL : &tok_buf;
}

static const struct pf_rule *src_rule(__u32 idx)
{
	if (cur->comp) {
		__u32 base = cur->comp->slot * PF_MAX_RULES;

		if (idx < base || idx - base >= PF_MAX_RULES)
			return NULL;
		return &cur->comp->rules[idx - base];
	}
	return bpf_map_lookup_elem(cur->rules_fd, &idx, &rule_buf) ? NULL : &rule_buf;
}

/* The compiled policy's name table; the maps' goes unread (a 6 KiB
 * copy per look-up): without a table every name is a pf_tokens look-up,
 * the same decision (include/pf_match_acr.h, pf_hdr_find). */
static const struct pf_hdr_tab *src_hdrs(__u32 slot)
{
	return cur->comp && slot == cur->comp->slot ? &cur->comp->hdrs : NULL;
}

#define PF_TOK_LOOKUP(k) src_tok(k)
#define PF_HDRS_LOOKUP(s) src_hdrs(s)
#define PF_RULE_LOOKUP(i) src_rule(i)
#define PF_ACRH_LOOKUP(k) ((void)(k), (const struct pf_acrh_val *)0)
#include "../include/pf_match.h"

/* See acrh.h. */
void pf_acrh_key_make(struct pf_acrh_key *k, __u32 slot, __u32 rule,
		      const char *acrh, __u32 len)
{
	memset(k, 0, sizeof(*k));
	k->slot = slot;
	k->rule = rule;
	k->len = len < PF_ACRH_SLOW_MAX ? len : 0;
	memcpy(k->v, acrh, k->len);
}

/* See acrh.h. */
int pf_acrh_decide(const struct pf_acrh_src *src, __u32 slot, __u32 rule,
		   const char *acrh, __u32 len, struct pf_acrh_val *out)
{
	static __u8 buf[PF_REQ_BUF];   /* static: 4 KiB off the stack */
	struct pf_match *m;
	const struct pf_rule *r;
	struct pf_slice h = { .off = 0, .len = (__u16)len };
	int err = 0;

	if (len == 0 || len >= PF_ACRH_SLOW_MAX || rule >= PF_MAX_RULES || slot >= PF_SLOTS)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	cur = src;
	r = src_rule(slot * PF_MAX_RULES + rule);
	if (!r) {
		err = -ENOENT;
		goto out;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, acrh, len);
	memset(out, 0, sizeof(*out));
	out->reason = pf_check_headers(buf, h, slot, rule, r->flags, m,
				       PF_ACRH_SLOW_MAX, PF_ACRH_SLOW_MAX);
	out->acah = m->acah;
	out->has_authz = m->has_authz;
	if (out->reason != PF_R_OK) {
		out->bad_off = m->bad.off;
		out->bad_len = m->bad.len;
	}
out:
	cur = NULL;
	free(m);
	return err;
}

/* See acrh.h. */
unsigned pf_acrh_clear_slot(int fd, __u32 slot)
{
	static struct pf_acrh_key key, next;
	unsigned n = 0;
	int more;

	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (key.slot == slot && !bpf_map_delete_elem(fd, &key))
			n++;
		key = next;
	}
	return n;
}

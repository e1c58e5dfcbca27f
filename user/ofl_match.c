/*
 * ofl_match.c -- the response offload's datapath code in userspace: the
 * entry a request gets (pf_ofl_entry) with the map look-ups answered from
 * a struct pf_compiled (see match.c), and the SK_MSG program's way of
 * applying an edit plan (bpf/pf_ofl_msg.h, pf_ofl_edit) on a buffer.
 */
#include <string.h>

#include "ofl_match.h"

/* See ofl_match.h. */
const struct pf_ofl_rule *pf_user_ofl_rule_lookup(__u32 idx)
{
	int i = pf_user_rule_index(idx);

	return i < 0 ? NULL : &pf_user_set_policy(NULL)->ofl[i];
}

/* See ofl_match.h. */
int pf_user_ofl_entry(const struct pf_compiled *c, const __u8 *buf, __u32 len,
		      struct pf_req *r, struct pf_match *m, struct pf_ofl_ent *e)
{
	int res;

	pf_user_set_policy(c);
	memset(e, 0, sizeof(*e));
	res = pf_parse_head(buf, len, r);
	if (res == PF_P_OK)
		pf_ofl_entry(buf, r, &c->info, c->slot, m, e);
	return res;
}

/* See ofl_match.h. */
int pf_user_ofl_apply(const __u8 *head, __u32 head_len, const struct pf_ofl_plan *pl,
		      __u8 *out, __u32 cap)
{
	__u32 len = head_len, i;

	if (pl->ins_at > head_len || len + pl->ins_len > cap)
		return -1;
	/* insert at ins_at */
	memcpy(out, head, pl->ins_at);
	memcpy(out + pl->ins_at, pl->ins, pl->ins_len);
	memcpy(out + pl->ins_at + pl->ins_len, head + pl->ins_at, head_len - pl->ins_at);
	len += pl->ins_len;
	/* remove, last first, shifted by the insertion */
	for (i = 0; i < pl->n_pop; i++) {
		__u32 off = pl->pop[i].off + pl->ins_len, n = pl->pop[i].len;

		if (off + n > len)
			return -1;
		memmove(out + off, out + off + n, len - off - n);
		len -= n;
	}
	return (int)len;
}

/* test_reload.c -- BPF tier: policy reloads through the daemon's installer (user/maps.c). */
/* A reload writes the inactive slot, then switches to it. A reload that
 * fails half-way (here: more policy strings than pf_tokens holds) must
 * leave nothing in that slot: the next successful reload into the same
 * slot grants only what its own policy grants. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "conn.h"
#include "harness_int.h"

#define S0 1000000u
#define P0 5000000u
#define ONLY_FAILED "https://only-failed.example.org"

/* The failed reload: the next policy's rule with ONLY_FAILED added (a
 * credentialed DELETE grant), then n filler origins (https://oK.example.net,
 * K from off). */
static char *failed_policy(unsigned n, unsigned off)
{
	static const char head[] =
		"ports: [8080, 8443]\n"
		"rules:\n"
		"  - hosts: [api.example.com]\n"
		"    origins: [https://app.example.com, " ONLY_FAILED "]\n"
		"    methods: [GET, DELETE]\n"
		"    credentials: true\n"
		"  - origins: [https://o.example.net";
	size_t cap = sizeof(head) + (n + 1) * 48;
	char *y = malloc(cap);
	size_t len;
	unsigned i;

	if (!y)
		h_die("malloc", ENOMEM);
	len = (size_t)snprintf(y, cap, "%s", head);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(y + len, cap - len, ", https://o%u.example.net", off + i);
	snprintf(y + len, cap - len, "]\n    methods: [GET]\n");
	return y;
}

/* Entries of slot in pf_tokens (PF_SLOTS: of every slot). */
static unsigned slot_tokens(__u32 slot)
{
	int fd = bpf_map__fd(h_skel->maps.pf_tokens);
	struct pf_tok_key k, next;
	unsigned n = 0;
	int more = !bpf_map_get_next_key(fd, NULL, &k);

	while (more) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		n += slot == PF_SLOTS || k.slot == slot;
		k = next;
	}
	return n;
}

/* A failed policy for slot 1 with exactly one string more than pf_tokens
 * has room for, whose string written last (the installer writes them in
 * the compiled order) is a filler: every string that grants something
 * fits before the map is full. */
static char *failed_policy_fitting(void)
{
	unsigned room = H_MAX_TOKENS - slot_tokens(PF_SLOTS), off;
	struct pf_compiled base, c;
	char *y;

	y = failed_policy(0, 0);
	h_compile(y, 1, &base);
	free(y);
	for (off = 0; off < 64 * room; off += room) {
		y = failed_policy(room + 1 - base.n_toks, off);
		h_compile(y, 1, &c);
		if (c.n_toks == room + 1 && !pf_compiled_lookup(&base, &c.keys[c.n_toks - 1])) {
			pf_compiled_free(&c);
			pf_compiled_free(&base);
			return y;
		}
		pf_compiled_free(&c);
		free(y);
	}
	h_die("no failing policy found", ENOSPC);
}

/* The reload after it, into the same slot: its strings are a subset of
 * what the failed one wrote first; nothing for ONLY_FAILED. */
static const char next_policy[] =
	"ports: [8080, 8443]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    origins: [https://app.example.com]\n"
	"    methods: [GET, DELETE]\n"
	"    credentials: true\n";

/* A later reload into the other slot, with strings of its own. */
static char *later_policy(void)
{
	static const char extra[] =
		"  - origins: [https://later.example.org]\n"
		"    methods: [DELETE]\n";
	size_t n = strlen(H_POLICY);
	char *y = malloc(n + sizeof(extra));

	if (!y)
		h_die("malloc", ENOMEM);
	memcpy(y, H_POLICY, n);
	memcpy(y + n, extra, sizeof(extra));
	return y;
}

/* Is a preflight for method from origin (to api.example.com), asking
 * for the request headers acrh (NULL: none), answered in the kernel?
 * Runs on a fresh flow table. */
static bool answered_h(const char *origin, const char *method, const char *acrh)
{
	char req[512];
	struct h_fix f;
	struct h_run r;

	snprintf(req, sizeof(req),
		 "OPTIONS /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n"
		 "Origin: %s\r\nAccess-Control-Request-Method: %s\r\n%s%s%s\r\n", origin,
		 method, acrh ? "Access-Control-Request-Headers: " : "", acrh ? acrh : "",
		 acrh ? "\r\n" : "");
	h_reset_flows();
	h_answer_fix(&f, 4, req, S0, P0);
	h_set_sock(&f.sock);
	if (!h_run_spec(f.prog, &f.in, NULL, &r))
		return false;
	return r.verdict == H_TX && r.delta[PF_STAT_ANSWERED] == 1;
}

static bool answered(const char *origin, const char *method)
{
	return answered_h(origin, method, NULL);
}

static void t_failed_reload_leaves_nothing(void)
{
	unsigned n;
	char *y;
	int err;

	/* slot 1 as the daemon leaves an inactive slot: empty */
	pf_maps_clear_slot(&h_maps, 1);
	y = failed_policy_fitting();

	/* refused: the running policy (slot 0) stays in force */
	err = h_reload(y, 1, NULL);
	free(y);
	if (!H_CHECK(err < 0, "a policy larger than pf_tokens was installed"))
		return;
	H_EQ(h_cfg()->active_slot, 0, "active slot after the failed reload");
	H_EQ(slot_tokens(1), 0, "tokens the failed reload left in its slot");
	H_CHECK(answered(H_ORIGIN, "PUT"), "the running policy still answers");
	/* the next reload into the same slot: only its own grants */
	err = h_reload(next_policy, 1, &n);
	if (!H_CHECK(!err, "the next reload: %s", strerror(-err)))
		return;
	H_EQ(h_cfg()->active_slot, 1, "active slot after the next reload");
	H_EQ(slot_tokens(1), n, "tokens in its slot");
	H_CHECK(answered(H_ORIGIN, "DELETE"), "the new policy answers its own origin");
	H_CHECK(!answered(ONLY_FAILED, "DELETE"),
		"an origin only the failed policy had was granted DELETE");
	/* and later reloads work: into slot 0, with new strings */
	y = later_policy();
	err = h_reload(y, 0, &n);
	free(y);
	if (!H_CHECK(!err, "a later reload: %s", strerror(-err)))
		return;
	H_EQ(slot_tokens(0), n, "tokens in slot 0");
	H_CHECK(answered("https://later.example.org", "DELETE"), "the later policy answers");
	/* back to the harness's state: H_POLICY active in slot 0 */
	if (!H_CHECK(!h_reload(H_POLICY, 1, NULL) && !h_reload(H_POLICY, 0, NULL),
		     "reinstall the test policy"))
		return;
}

/* A policy whose one rule allows the request headers list (YAML). */
static void hdr_policy(char *y, size_t n, const char *list)
{
	snprintf(y, n,
		 "ports: [8080, 8443]\n"
		 "rules:\n"
		 "  - hosts: [api.example.com]\n"
		 "    origins: [https://app.example.com]\n"
		 "    methods: [PUT]\n"
		 "    headers: [%s]\n", list);
}

/* n header names "x-hNNNNN" of one home entry of the pf_hdrs table */
static void colliding_names(char names[][16], unsigned n)
{
	unsigned i, k = 0, want = 0, h;
	char s[16];

	for (i = 0; k < n && i < 1000000; i++) {
		snprintf(s, sizeof(s), "x-h%05u", i);
		h = (unsigned)pf_hdr_home_of(s, strlen(s));
		if (!k)
			want = h;
		if (h == want)
			memcpy(names[k++], s, sizeof(s));
	}
	if (k < n)
		h_die("colliding header names", ENOENT);
}

/* Each slot's request-header names (the pf_hdrs table, one value per
 * slot): a reload switches to the names of its own policy, in any case;
 * a slot cleared for the next install has an empty table; names that do
 * not fit their probe sequence are still allowed (pf_tokens decides
 * them), and a name of the same home entry that no policy lists is not. */
static void t_reload_header_names(void)
{
	char y[1024], names[PF_HDR_PROBE + 2][16], list[256] = "", acrh[64];
	struct pf_hdr_tab *t = calloc(1, sizeof(*t));
	__u32 slot = 1;
	unsigned i;

	if (!t)
		h_die("calloc", ENOMEM);
	hdr_policy(y, sizeof(y), "x-slot-a, content-type");
	if (!H_CHECK(!h_reload(y, 1, NULL), "reload into slot 1"))
		goto out;
	H_CHECK(answered_h(H_ORIGIN, "PUT", "X-Slot-A, Content-Type"), "slot 1: x-slot-a");
	H_CHECK(!answered_h(H_ORIGIN, "PUT", "x-slot-b"), "slot 1 granted x-slot-b");
	H_CHECK(!answered_h(H_ORIGIN, "PUT", "x-request-id"),
		"slot 1 granted x-request-id (only slot 0's policy has it)");
	H_CHECK(!bpf_map_lookup_elem(h_maps.hdrs_fd, &slot, t) && t->n == 2 && t->complete,
		"slot 1's table: %u names, complete %u", t->n, t->complete);
	hdr_policy(y, sizeof(y), "x-slot-b");
	if (!H_CHECK(!h_reload(y, 0, NULL), "reload into slot 0"))
		goto out;
	H_CHECK(answered_h(H_ORIGIN, "PUT", "x-slot-b"), "slot 0: x-slot-b");
	H_CHECK(!answered_h(H_ORIGIN, "PUT", "x-slot-a"), "slot 0 granted x-slot-a");
	/* the inactive slot emptied for the next install */
	pf_maps_clear_slot(&h_maps, 1);
	H_CHECK(!bpf_map_lookup_elem(h_maps.hdrs_fd, &slot, t) && t->n == 0 &&
		!t->complete && !t->e[0].len, "slot 1's table after clearing it");
	/* one name more than a probe sequence holds: the table incomplete */
	colliding_names(names, PF_HDR_PROBE + 2);
	for (i = 0; i <= PF_HDR_PROBE; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", names[i]);
	hdr_policy(y, sizeof(y), list);
	if (!H_CHECK(!h_reload(y, 1, NULL), "reload with colliding names"))
		goto out;
	H_CHECK(!bpf_map_lookup_elem(h_maps.hdrs_fd, &slot, t) && t->n == PF_HDR_PROBE &&
		!t->complete, "the table of colliding names: %u names, complete %u", t->n,
		t->complete);
	for (i = 0; i <= PF_HDR_PROBE; i++) {
		snprintf(acrh, sizeof(acrh), "X-H%s", names[i] + 3);
		H_CHECK(answered_h(H_ORIGIN, "PUT", acrh), "colliding name %u (%s)", i, acrh);
	}
	H_CHECK(!answered_h(H_ORIGIN, "PUT", names[PF_HDR_PROBE + 1]),
		"granted %s (same home entry, not listed)", names[PF_HDR_PROBE + 1]);
out:
	free(t);
	/* back to the harness's state: H_POLICY active in slot 0 */
	H_CHECK(!h_reload(H_POLICY, 1, NULL) && !h_reload(H_POLICY, 0, NULL),
		"reinstall the test policy");
}

void test_reload(void)
{
	h_case("reload: a failed install leaves nothing in its slot", t_failed_reload_leaves_nothing);
	h_case("reload: each slot's request-header names", t_reload_header_names);
}

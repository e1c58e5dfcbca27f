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

/* Is a preflight for method from origin (to api.example.com) answered
 * in the kernel? Runs on a fresh flow table. */
static bool answered(const char *origin, const char *method)
{
	char req[512];
	struct h_fix f;
	struct h_run r;

	snprintf(req, sizeof(req),
		 "OPTIONS /api/items/7 HTTP/1.1\r\nHost: api.example.com\r\n"
		 "Origin: %s\r\nAccess-Control-Request-Method: %s\r\n\r\n", origin, method);
	h_reset_flows();
	h_answer_fix(&f, 4, req, S0, P0);
	h_set_sock(&f.sock);
	if (!h_run_spec(f.prog, &f.in, NULL, &r))
		return false;
	return r.verdict == H_TX && r.delta[PF_STAT_ANSWERED] == 1;
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

void test_reload(void)
{
	h_case("reload: a failed install leaves nothing in its slot", t_failed_reload_leaves_nothing);
}

/*
 * test_policy.c -- unit tests of the policy stage (user/policy_*.c) and of
 * "preflightd check" (user/cmd_check.c): the example policy compiles to the
 * exact map contents, every invalid input is reported at the right
 * FILE:LINE:COL, and a 100,000-origin policy compiles and is searchable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "policy_util.h"

#include "policy.h"
#include "policy_hsort.h"
#include "cmds.h"
#include "../expect_vary.h"

#define VARY "Vary: " PF_EXPECT_VARY_V
/* The warning about an http:// origin in a rule with credentials. */
#define HTTP_CRED "with credentials: true: a page on an http:// origin can " \
	"be altered by anyone on its network path, who then reads " \
	"credentialed responses; prefer https://"

/* ---- helpers ---- */


/* Load and compile yaml (which must be valid) into c for slot; the
 * loader prints exactly `warnings`. "check"'s compile of it succeeds too,
 * with the same keys, rules, summary and ports and no values. */
static void load_compile_warn(const char *yaml, const char *warnings, __u32 slot,
			      struct pf_policy *pol, struct pf_compiled *c)
{
	struct pf_compiled k;
	char *errs = NULL;
	int ret = load(yaml, pol, &errs);

	if (ret)
		print_error("unexpected problems:\n%s", errs);
	assert_int_equal(ret, 0);
	assert_string_equal(errs, warnings);
	free(errs);
	assert_int_equal(pf_policy_compile(pol, slot, c, stderr), 0);
	assert_int_equal(pf_policy_check_compile(pol, &k, stderr), 0);
	assert_int_equal(k.n_toks, c->n_toks);
	assert_null(k.vals);
	for (ret = 0; ret < (int)k.n_toks; ret++) {
		assert_int_equal(k.keys[ret].hash, c->keys[ret].hash);
		assert_int_equal(k.keys[ret].kind, c->keys[ret].kind);
		assert_int_equal(k.keys[ret].slot, 0);
	}
	assert_memory_equal(k.rules, c->rules, sizeof(k.rules));
	assert_memory_equal(&k.info, &c->info, sizeof(k.info));
	assert_memory_equal(k.ports, c->ports, sizeof(k.ports));
	assert_int_equal(k.n_ports, c->n_ports);
	pf_compiled_free(&k);
}

/* Same without any warning. */
static void load_compile(const char *yaml, __u32 slot, struct pf_policy *pol,
			 struct pf_compiled *c)
{
	load_compile_warn(yaml, "", slot, pol, c);
}

/* Look up (kind, s) in c; checks the stored string and its zero padding. */
static const struct pf_tok_val *tok(const struct pf_compiled *c, __u32 kind,
				    const char *s)
{
	struct pf_tok_key k = {
		.hash = pf_hash_bytes((const __u8 *)s, (__u32)strlen(s), 0),
		.kind = kind,
		.slot = c->slot,
	};
	const struct pf_tok_val *v = pf_compiled_lookup(c, &k);
	size_t i;

	if (!v)
		return NULL;
	assert_int_equal(v->len, strlen(s));
	assert_memory_equal(v->s, s, v->len);
	for (i = v->len; i < sizeof(v->s); i++)
		assert_int_equal(v->s[i], 0);
	return v;
}

/* Assert (kind, s) is present with exactly the rule bits `rules`. */
static void assert_tok(const struct pf_compiled *c, __u32 kind, const char *s,
		       __u64 rules)
{
	const struct pf_tok_val *v = tok(c, kind, s);

	if (!v)
		print_error("token kind %u '%s' missing\n", kind, s);
	assert_non_null(v);
	assert_int_equal(v->rules, rules);
}

/* Assert rule's fixed and reject tails are exactly these strings. */
static void assert_tails(const struct pf_rule *r, const char *fixed,
			 const char *reject)
{
	assert_int_equal(r->fixed_len, strlen(fixed));
	assert_memory_equal(r->fixed, fixed, r->fixed_len);
	assert_int_equal(r->reject_len, strlen(reject));
	assert_memory_equal(r->reject, reject, r->reject_len);
}

/* Path of examples/policy.yaml, found from this file's path. */
static void example_path(char *buf, size_t cap)
{
	const char *slash = strrchr(__FILE__, '/');
	int dir = slash ? (int)(slash - __FILE__) : 1;

	snprintf(buf, cap, "%.*s/../../examples/policy.yaml", dir,
		 slash ? __FILE__ : ".");
}

/* ---- (a) valid policies compile to the exact map contents ---- */

/* examples/policy.yaml loads, and compiles to the exact tokens and tails. */
static void test_example(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	const struct pf_policy_rule *r;
	char path[512];

	(void)state;
	example_path(path, sizeof(path));
	assert_int_equal(pf_policy_load(path, &pol, stderr), 0);
	assert_string_equal(pol.file, path);
	assert_int_equal(pol.n_ports, 1);
	assert_int_equal(pol.ports[0], 8080);
	assert_int_equal(pol.n_rules, 1);
	r = &pol.rules[0];
	assert_int_equal(r->at.line, 5);
	assert_int_equal(r->at.col, 5);
	assert_int_equal(r->hosts.n, 1);
	assert_string_equal(r->hosts.v[0].s, "api.example.com");
	assert_int_equal(r->origins.n, 2);
	assert_string_equal(r->origins.v[1].s, "https://*.example.com");
	assert_int_equal(r->origins.v[1].at.line, 9);
	assert_int_equal(r->origins.v[1].at.col, 9);
	assert_int_equal(r->methods.n, 5);
	assert_int_equal(r->headers.n, 3);
	assert_false(r->credentials);
	assert_int_equal(r->max_age, 600);
	assert_false(r->private_network);
	assert_false(r->on_deny_reject);

	assert_int_equal(pf_policy_compile(&pol, 0, &c, stderr), 0);
	assert_int_equal(c.slot, 0);
	assert_int_equal(c.n_toks, 2 + 5 + 3 + 1);
	assert_tok(&c, PF_TOK_ORIGIN, "https://app.example.com", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "example.com", 1);
	assert_null(tok(&c, PF_TOK_WILD_HTTP, "example.com"));
	assert_null(tok(&c, PF_TOK_ORIGIN, "https://*.example.com"));
	assert_tok(&c, PF_TOK_METHOD, "GET", 1);
	assert_tok(&c, PF_TOK_METHOD, "POST", 1);
	assert_tok(&c, PF_TOK_METHOD, "PUT", 1);
	assert_tok(&c, PF_TOK_METHOD, "PATCH", 1);
	assert_tok(&c, PF_TOK_METHOD, "DELETE", 1);
	assert_null(tok(&c, PF_TOK_METHOD, "get"));
	assert_tok(&c, PF_TOK_HEADER, "content-type", 1);
	assert_tok(&c, PF_TOK_HEADER, "authorization", 1);
	assert_tok(&c, PF_TOK_HEADER, "x-request-id", 1);
	assert_tok(&c, PF_TOK_HOST, "api.example.com", 1);

	assert_int_equal(c.rules[0].flags, PF_RULE_HAS_HOSTS |
			 PF_RULE_HAS_PATHS | PF_RULE_AUTHZ_LISTED);
	assert_int_equal(c.rules[0].n_paths, 1);
	assert_int_equal(c.rules[0].paths[0].len, 4);
	assert_memory_equal(c.rules[0].paths[0].s, "/v1/", 4);
	assert_tails(&c.rules[0],
		"Access-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE\r\n"
		"Access-Control-Max-Age: 600\r\n"
		VARY "\r\n"
		"\r\n",
		VARY "\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(c.info.n_rules, 1);
	assert_int_equal(c.info.has_paths, 1);
	assert_int_equal(c.info.any_origin_rules, 0);
	assert_int_equal(c.info.any_host_rules, 0);
	assert_int_equal(c.info.all_rules, 1);
	assert_int_equal(c.n_ports, 1);
	assert_int_equal(c.ports[0], 8080);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

static const char merge_yaml[] =
	"ports:\n"
	"  - 443\n"
	"  - 8443\n"
	"rules:\n"
	"  - hosts: [API.Example.com]\n"
	"    origins: [https://a.example.com, https://*.example.com]\n"
	"    methods: [GET, POST]\n"
	"    headers: [Content-Type, X-A]\n"
	"    credentials: true\n"
	"    max_age: 0\n"
	"    private_network: true\n"
	"    on_deny: reject\n"
	"  - origins: [\"*\"]\n"
	"    methods: [\"*\"]\n"
	"    headers: [\"*\", Authorization]\n"
	"    paths: [/a, /b/]\n"
	"  - origins:\n"
	"      - https://a.example.com\n"
	"      - http://*.example.com:8080\n"
	"    methods: [POST, PUT]\n"
	"    headers: [content-type]\n"
	"    on_deny: forward\n";

/* Tokens shared by rules merge their bits; flags, tails and info per rule;
 * keys carry the slot; a bad slot is refused. */
static void test_merge(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_tok_key k;
	unsigned i;

	(void)state;
	load_compile(merge_yaml, 1, &pol, &c);
	assert_string_equal(pol.rules[0].hosts.v[0].s, "api.example.com");
	assert_string_equal(pol.rules[0].headers.v[1].s, "x-a");
	assert_int_equal(c.n_toks, 10);
	assert_tok(&c, PF_TOK_ORIGIN, "https://a.example.com", 0x5);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "example.com", 0x1);
	assert_tok(&c, PF_TOK_WILD_HTTP, "example.com:8080", 0x4);
	assert_tok(&c, PF_TOK_METHOD, "GET", 0x1);
	assert_tok(&c, PF_TOK_METHOD, "POST", 0x5);
	assert_tok(&c, PF_TOK_METHOD, "PUT", 0x4);
	assert_tok(&c, PF_TOK_HEADER, "content-type", 0x5);
	assert_tok(&c, PF_TOK_HEADER, "x-a", 0x1);
	assert_tok(&c, PF_TOK_HEADER, "authorization", 0x2);
	assert_tok(&c, PF_TOK_HOST, "api.example.com", 0x1);
	assert_null(tok(&c, PF_TOK_HEADER, "*"));
	assert_null(tok(&c, PF_TOK_ORIGIN, "*"));

	/* Keys are unique, for slot 1, and each finds its own value. */
	for (i = 0; i < c.n_toks; i++) {
		assert_int_equal(c.keys[i].slot, 1);
		assert_ptr_equal(pf_compiled_lookup(&c, &c.keys[i]), &c.vals[i]);
	}
	k = c.keys[0];
	k.slot = 0;
	assert_null(pf_compiled_lookup(&c, &k));

	assert_int_equal(c.rules[0].flags, PF_RULE_CREDENTIALS | PF_RULE_PNA |
			 PF_RULE_REJECT | PF_RULE_HAS_HOSTS);
	assert_int_equal(c.rules[1].flags, PF_RULE_ANY_ORIGIN |
			 PF_RULE_ANY_METHOD | PF_RULE_ANY_HEADER |
			 PF_RULE_HAS_PATHS | PF_RULE_AUTHZ_LISTED);
	assert_int_equal(c.rules[2].flags, 0);
	assert_tails(&c.rules[0],
		"Access-Control-Allow-Methods: GET, POST\r\n"
		"Access-Control-Allow-Credentials: true\r\n"
		"Access-Control-Max-Age: 0\r\n"
		VARY "\r\n\r\n",
		VARY "\r\nContent-Length: 0\r\n\r\n");
	assert_tails(&c.rules[1], VARY "\r\n\r\n",
		     VARY "\r\nContent-Length: 0\r\n\r\n");
	assert_tails(&c.rules[2],
		"Access-Control-Allow-Methods: POST, PUT\r\n" VARY "\r\n\r\n",
		VARY "\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(c.rules[1].n_paths, 2);
	assert_int_equal(c.rules[1].paths[1].len, 3);
	assert_memory_equal(c.rules[1].paths[1].s, "/b/", 3);
	assert_int_equal(c.rules[0].n_paths, 0);
	assert_int_equal(c.info.n_rules, 3);
	assert_int_equal(c.info.all_rules, 0x7);
	assert_int_equal(c.info.any_origin_rules, 0x2);
	assert_int_equal(c.info.any_host_rules, 0x6);
	assert_int_equal(c.info.has_paths, 1);
	assert_int_equal(c.n_ports, 2);
	assert_int_equal(c.ports[1], 8443);
	pf_compiled_free(&c);

	/* Bad slot. */
	{
		char *errs = NULL;
		size_t len;
		FILE *f = open_memstream(&errs, &len);

		assert_int_equal(pf_policy_compile(&pol, PF_SLOTS, &c, f),
				 -EINVAL);
		fclose(f);
		assert_string_equal(errs, "compile: slot 2 out of range 0..1\n");
		free(errs);
	}
	pf_policy_free(&pol);
}

/* Values that must load: odd but valid forms, and normalization. */
static void test_valid_forms(void **state)
{
	static const char yaml[] =
		"ports: [1, 65535]\n"
		"rules:\n"
		"  - hosts: [\"[::1]\", 10.0.0.1, Localhost]\n"
		"    origins:\n"
		"      - http://198.18.0.1:8081\n"
		"      - \"https://[2001:db8::1]\"\n"
		"      - \"https://[::1]:8443\"\n"
		"      - https://*.example.com:8443\n"
		"      - https://*.a.b.example.com\n"
		"      - https://*.a.b.c.d.e.f.example.com\n"
		"      - http://localhost:3000\n"
		"      - https://xn--bcher-kva.example\n"
		"      - 'https://a-b.example.com'\n"
		"    methods: [patch, QUERY, GET]\n"
		"    headers: []\n"
		"    max_age: 86400\n"
		"    credentials: True\n"
		"    private_network: FALSE\n"
		"    paths: [/, /a.b/, /x/..y/, /.well-known/]\n";
	struct pf_policy pol;
	struct pf_compiled c;

	(void)state;
	load_compile_warn(yaml,
		"t.yaml:5:9: warning: 'http://198.18.0.1:8081' " HTTP_CRED "\n"
		"t.yaml:11:9: warning: 'http://localhost:3000' " HTTP_CRED "\n",
		0, &pol, &c);
	assert_string_equal(pol.rules[0].hosts.v[2].s, "localhost");
	assert_true(pol.rules[0].credentials);
	assert_tok(&c, PF_TOK_HOST, "[::1]", 1);
	assert_tok(&c, PF_TOK_HOST, "10.0.0.1", 1);
	assert_tok(&c, PF_TOK_ORIGIN, "https://[2001:db8::1]", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "example.com:8443", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "a.b.example.com", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "a.b.c.d.e.f.example.com", 1);
	assert_tok(&c, PF_TOK_METHOD, "patch", 1);
	assert_int_equal(c.rules[0].flags, PF_RULE_HAS_HOSTS |
			 PF_RULE_HAS_PATHS | PF_RULE_CREDENTIALS);
	assert_int_equal(c.rules[0].n_paths, 4);
	assert_tails(&c.rules[0],
		"Access-Control-Allow-Methods: patch, QUERY, GET\r\n"
		"Access-Control-Allow-Credentials: true\r\n"
		"Access-Control-Max-Age: 86400\r\n" VARY "\r\n\r\n",
		VARY "\r\nContent-Length: 0\r\n\r\n");
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* Wildcards under a registrable domain load, including below a public
 * suffix and at a PSL exception (www.ck). */
static void test_wildcard_registrable(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;

	(void)state;
	load_compile("ports: [80]\nrules:\n  - methods: [GET]\n    origins:\n"
		     "      - https://*.example.co.uk\n"
		     "      - https://*.me.github.io\n"
		     "      - https://*.www.ck\n", 0, &pol, &c);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "example.co.uk", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "me.github.io", 1);
	assert_tok(&c, PF_TOK_WILD_HTTPS, "www.ck", 1);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* A policy with only "*" lists has no tokens at all. */
static void test_no_tokens(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	struct pf_tok_key k = { 1, PF_TOK_ORIGIN, 0 };

	(void)state;
	load_compile("ports: [80]\nrules:\n  - origins: ['*']\n"
		     "    methods: ['*']\n", 0, &pol, &c);
	assert_int_equal(c.n_toks, 0);
	assert_null(pf_compiled_lookup(&c, &k));
	assert_int_equal(c.rules[0].flags, PF_RULE_ANY_ORIGIN |
			 PF_RULE_ANY_METHOD);
	assert_int_equal(c.info.any_host_rules, 1);
	assert_int_equal(c.info.has_paths, 0);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
}

/* Build "ports: [80]\nrules:\n" plus n one-origin rules. */
static char *n_rules_yaml(unsigned n)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	unsigned i;

	assert_non_null(f);
	fputs("ports: [80]\nrules:\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "  - origins: [https://r%u.example.com]\n"
			"    methods: [GET]\n", i);
	fclose(f);
	return buf;
}

/* 64 rules use every bit; a 65th is reported at its position. */
static void test_rule_limits(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	char *yaml = n_rules_yaml(PF_MAX_RULES), *errs = NULL;

	(void)state;
	load_compile(yaml, 0, &pol, &c);
	assert_int_equal(c.info.n_rules, 64);
	assert_int_equal(c.info.all_rules, ~0ULL);
	assert_int_equal(c.info.any_host_rules, ~0ULL);
	assert_tok(&c, PF_TOK_ORIGIN, "https://r63.example.com", 1ULL << 63);
	assert_tok(&c, PF_TOK_METHOD, "GET", ~0ULL);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	free(yaml);

	yaml = n_rules_yaml(PF_MAX_RULES + 1);
	assert_int_equal(load(yaml, &pol, &errs), -EINVAL);
	/* Rule 65 starts on line 3 + 2 * 64. */
	assert_string_equal(errs, "t.yaml:131:5: rules: at most 64 rules\n");
	assert_null(pol.rules);
	free(errs);
	free(yaml);
}

/* ---- (b) invalid inputs: exact position and message ---- */

struct bad {
	const char *yaml;
	const char *where;  /* exact "t.yaml:LINE:COL: " of the first line */
	const char *msg;    /* substring of the first line */
	unsigned lines;     /* expected number of problems */
};

#define HEAD "ports: [8080]\nrules:\n"
/* A valid rule; extra lines (4-space indent) start at line 5. */
#define RULE(extra) HEAD "  - origins: [https://a.example.com]\n" \
	"    methods: [GET]\n" extra
/* One origin, at 5:9. */
#define ORIGIN(o) HEAD "  - methods: [GET]\n    origins:\n      - " o "\n"
/* Methods list starting at 4:15. */
#define METHODS(m) HEAD "  - origins: [https://a.example.com]\n" \
	"    methods: [" m "]\n"
/* Headers list starting at 5:15. */
#define HEADERS(h) RULE("    headers: [" h "]\n")
#define M10(x) x "0, " x "1, " x "2, " x "3, " x "4, " x "5, " x "6, " \
	x "7, " x "8, " x "9"
#define LONG63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct bad bad_cases[] = {
	/* shape: keys, types, YAML */
	{ "bogus: 1\n" RULE(""), "t.yaml:1:1: ",
	  "unknown key 'bogus' (expected one of: ports, rules)", 1 },
	{ RULE("    orgins: [x]\n"), "t.yaml:5:5: ",
	  "unknown key 'orgins' (expected one of: hosts, paths, origins, methods, headers, credentials, max_age, private_network, on_deny, responses, expose_headers, app_headers)", 1 },
	{ RULE("    methods: [POST]\n"), "t.yaml:5:5: ",
	  "duplicate key 'methods'", 1 },
	{ "ports: 8080\nrules:\n  - origins: [https://a.example.com]\n"
	  "    methods: [GET]\n", "t.yaml:1:8: ",
	  "ports: expected a list of integers", 1 },
	{ "ports: [http]\nrules: []\n", "t.yaml:1:9: ",
	  "ports: expected a list of integers", 2 },
	{ "ports: [\"80\"]\nrules: x\n", "t.yaml:1:9: ",
	  "ports: expected a list of integers", 2 },
	{ RULE("    credentials: yes\n"), "t.yaml:5:18: ",
	  "credentials: expected true or false", 1 },
	{ RULE("    credentials: \"true\"\n"), "t.yaml:5:18: ",
	  "credentials: expected true or false", 1 },
	{ RULE("    private_network: 1\n"), "t.yaml:5:22: ",
	  "private_network: expected true or false", 1 },
	{ HEAD "  - origins: [https://a.example.com\n    methods: [GET]\n",
	  "t.yaml:4:12: ", "did not find expected ',' or ']'", 1 },
	{ HEAD "  - origins: [*]\n    methods: [GET]\n", "t.yaml:3:16: ",
	  "(while scanning an alias at 3:15); write \"*\" in quotes", 1 },
	{ "ports: [8080]\nrules: \xff\n", "t.yaml:2:8: ",
	  "invalid leading UTF-8 octet", 1 },
	{ "", "t.yaml:1:1: ", "empty policy", 1 },
	{ "# nothing here\n", "t.yaml:1:1: ", "empty policy", 1 },
	{ "- ports\n", "t.yaml:1:1: ", "top level must be a mapping", 1 },
	{ RULE("---\nports: [1]\n"), "t.yaml:6:1: ",
	  "expected a single YAML document", 1 },
	{ "rules:\n  - origins: [https://a.example.com]\n    methods: [GET]\n",
	  "t.yaml:1:1: ", "missing required key 'ports'", 1 },
	{ "ports: [80]\nrules: []\n", "t.yaml:2:8: ",
	  "rules: expected at least one rule", 1 },
	{ "ports: [80]\nrules: {a: 1}\n", "t.yaml:2:8: ",
	  "rules: expected a list of rules", 1 },
	{ HEAD "  - 42\n", "t.yaml:3:5: ", "rules: each rule must be a mapping", 1 },
	{ HEAD "  - methods: [GET]\n", "t.yaml:3:5: ",
	  "missing required key 'origins'", 1 },
	{ HEAD "  - origins: []\n    methods: [GET]\n", "t.yaml:3:14: ",
	  "origins: list at least one origin", 1 },
	{ HEAD "  - origins: https://a.example.com\n    methods: [GET]\n",
	  "t.yaml:3:14: ", "origins: expected a list of strings", 1 },
	{ HEAD "  - origins: [[https://a.example.com]]\n    methods: [GET]\n",
	  "t.yaml:3:15: ", "origins: expected a list of strings", 1 },
	{ ORIGIN("~"), "t.yaml:5:9: ", "origins: expected a list of strings", 1 },
	{ RULE("    hosts: []\n"), "t.yaml:5:12: ", "hosts: must not be empty", 1 },
	{ "ports: [0]\nrules:\n  - origins: [https://a.example.com]\n"
	  "    methods: [GET]\n", "t.yaml:1:9: ",
	  "ports: port 0 out of range 1..65535", 1 },
	{ "ports: [70000]\nrules:\n  - origins: [https://a.example.com]\n"
	  "    methods: [GET]\n", "t.yaml:1:9: ",
	  "ports: port 70000 out of range 1..65535", 1 },
	{ "ports: [80, 81, 80]\nrules:\n  - origins: [https://a.example.com]\n"
	  "    methods: [GET]\n", "t.yaml:1:17: ", "ports: duplicate port 80", 1 },
	{ "ports: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n"
	  "rules:\n  - origins: [https://a.example.com]\n    methods: [GET]\n",
	  "t.yaml:1:48: ", "ports: at most 16 ports", 1 },
	{ RULE("    max_age: -1\n"), "t.yaml:5:14: ",
	  "max_age: expected an integer 0..86400", 1 },
	{ RULE("    max_age: 90000\n"), "t.yaml:5:14: ",
	  "max_age: expected an integer 0..86400", 1 },
	{ RULE("    max_age: 0x10\n"), "t.yaml:5:14: ",
	  "max_age: expected an integer 0..86400", 1 },
	{ RULE("    on_deny: bogus\n"), "t.yaml:5:14: ",
	  "on_deny: expected forward or reject", 1 },

	/* origins */
	{ ORIGIN("https://a.example.com/v1"), "t.yaml:5:9: ",
	  "'https://a.example.com/v1': origin must not have a path or trailing slash", 1 },
	{ ORIGIN("https://a.example.com/"), "t.yaml:5:9: ",
	  "origin must not have a path or trailing slash", 1 },
	{ ORIGIN("https://A.example.com"), "t.yaml:5:9: ",
	  "origin must be lower case: browsers serialize", 1 },
	{ ORIGIN("HTTPS://a.example.com"), "t.yaml:5:9: ",
	  "origin must be lower case", 1 },
	{ ORIGIN("https://a.example.com:443"), "t.yaml:5:9: ",
	  "default port must be omitted", 1 },
	{ ORIGIN("http://a.example.com:80"), "t.yaml:5:9: ",
	  "default port must be omitted", 1 },
	{ ORIGIN("a.example.com"), "t.yaml:5:9: ",
	  "origin is missing its scheme", 1 },
	{ ORIGIN("localhost:3000"), "t.yaml:5:9: ",
	  "origin is missing its scheme", 1 },
	{ ORIGIN("ftp://a.example.com"), "t.yaml:5:9: ",
	  "scheme 'ftp' is not allowed", 1 },
	{ ORIGIN("https://user@a.example.com"), "t.yaml:5:9: ", "userinfo", 1 },
	{ ORIGIN("\"null\""), "t.yaml:5:9: ",
	  "the null origin can be sent by any sandboxed page; refusing", 1 },
	{ ORIGIN("null"), "t.yaml:5:9: ", "the null origin", 1 },
	{ ORIGIN("https://a.example.com?x=1"), "t.yaml:5:9: ",
	  "origin must not have a query or fragment", 1 },
	{ ORIGIN("https://a.example.com#f"), "t.yaml:5:9: ",
	  "origin must not have a query or fragment", 1 },
	{ ORIGIN("https://a.example.com:0"), "t.yaml:5:9: ",
	  "port must be a number 1..65535", 1 },
	{ ORIGIN("https://a.example.com:65536"), "t.yaml:5:9: ",
	  "port must be a number 1..65535", 1 },
	{ ORIGIN("https://a.example.com:08443"), "t.yaml:5:9: ",
	  "port must not have leading zeros", 1 },
	{ ORIGIN("https://a.example.com:8a"), "t.yaml:5:9: ",
	  "port must be a number", 1 },
	{ ORIGIN("https://a..example.com"), "t.yaml:5:9: ",
	  "host has an empty label", 1 },
	{ ORIGIN("https://" LONG63 "a.example.com"), "t.yaml:5:9: ",
	  "is longer than 63 bytes", 1 },
	{ ORIGIN("https://a~b.example.com"), "t.yaml:5:9: ",
	  "host may contain only a-z, 0-9, '-', '_' and '.'", 1 },
	{ ORIGIN("https://a.example.com."), "t.yaml:5:9: ",
	  "host must not end with a dot", 1 },
	{ ORIGIN("https://" LONG63 "." LONG63 ".com"), "t.yaml:5:9: ",
	  "origin is 139 bytes, over the limit of 111", 1 },
	{ ORIGIN("http://198.018.0.1"), "t.yaml:5:9: ",
	  "IPv4 address must be four decimal numbers", 1 },
	{ ORIGIN("\"https://[2001:db8:0:0:0:0:0:1]\""), "t.yaml:5:9: ",
	  "IPv6 address must be written as browsers serialize it: [2001:db8::1]", 1 },
	{ ORIGIN("\"https://[2001:db8::g]\""), "t.yaml:5:9: ",
	  "invalid IPv6 address", 1 },
	{ ORIGIN("https://*.com"), "t.yaml:5:9: ",
	  "wildcard must cover a domain with at least two labels", 1 },
	{ ORIGIN("https://*.a.b.c.d.e.f.g.example.com"), "t.yaml:5:9: ",
	  "wildcard domain has 9 labels; at most 8 are matched", 1 },
	{ ORIGIN("https://*.1.2.3.4"), "t.yaml:5:9: ",
	  "wildcard must cover a domain name, not an IP address", 1 },
	/* wildcards on public suffixes: the PSL's ICANN and private sections */
	{ ORIGIN("https://*.co.uk"), "t.yaml:5:9: ",
	  "'https://*.co.uk': 'co.uk' is a public suffix (ICANN section of the Public Suffix List)", 1 },
	{ ORIGIN("http://*.co.uk:8080"), "t.yaml:5:9: ",
	  "'co.uk' is a public suffix (ICANN section", 1 },
	{ ORIGIN("https://*.foo.ck"), "t.yaml:5:9: ",
	  "'foo.ck' is a public suffix (ICANN section", 1 },
	{ ORIGIN("https://*.github.io"), "t.yaml:5:9: ",
	  "'https://*.github.io': 'github.io' is a public suffix (private section of the Public Suffix List)", 1 },
	{ ORIGIN("https://*.s3.amazonaws.com"), "t.yaml:5:9: ",
	  "'s3.amazonaws.com' is a public suffix (private section", 1 },
	{ ORIGIN("https://a*.example.com"), "t.yaml:5:9: ",
	  "'*' is only allowed as the whole first label", 1 },
	{ ORIGIN("https://*example.com"), "t.yaml:5:9: ",
	  "'*' is only allowed as the whole first label", 1 },
	{ ORIGIN("https://*.*.example.com"), "t.yaml:5:9: ",
	  "'*' is only allowed as the whole first label", 1 },
	{ HEAD "  - origins: [\"*\"]\n    methods: [GET]\n    credentials: true\n",
	  "t.yaml:3:15: ",
	  "origins '*' with credentials: true would let any site read credentialed responses; list the origins", 1 },
	{ HEAD "  - origins: [https://a.example.com, \"*\"]\n    methods: [GET]\n",
	  "t.yaml:3:38: ", "'*' must be the only origin", 1 },
	{ HEAD "  - origins: [https://a.example.com, https://a.example.com]\n"
	  "    methods: [GET]\n", "t.yaml:3:38: ",
	  "duplicate origin 'https://a.example.com'", 1 },

	/* methods */
	{ METHODS("GET, \"GE T\""), "t.yaml:4:20: ",
	  "'GE T': not a valid method token", 1 },
	{ METHODS("connect"), "t.yaml:4:15: ", "forbidden method", 1 },
	{ METHODS("TRACK"), "t.yaml:4:15: ", "forbidden method", 1 },
	{ METHODS("get"), "t.yaml:4:15: ", "browsers upper-case this method", 1 },
	{ METHODS("GET, POST, GET"), "t.yaml:4:26: ", "duplicate method 'GET'", 1 },
	{ METHODS("\"*\", GET"), "t.yaml:4:15: ", "'*' must be the only method", 1 },
	{ METHODS(M10("METHOD_AAA") ", " M10("METHOD_BBB") ", " M10("METHOD_CCC")),
	  "t.yaml:4:15: ", "over the limit of 320", 1 },

	/* headers */
	{ HEADERS("content-type, \"content type\""), "t.yaml:5:29: ",
	  "not a valid header name", 1 },
	{ HEADERS("Content-Type, content-type"), "t.yaml:5:29: ",
	  "duplicate header 'content-type'", 1 },
	{ HEADERS("x-" LONG63), "t.yaml:5:15: ", "longer than 63 bytes", 1 },

	/* hosts */
	{ RULE("    hosts: [api.example.com:8080]\n"), "t.yaml:5:13: ",
	  "hosts match the Host header without its port; remove ':8080'", 1 },
	{ RULE("    hosts: [\"[::1]:8080\"]\n"), "t.yaml:5:13: ",
	  "remove ':8080'", 1 },
	{ RULE("    hosts: [\"2001:db8::1\"]\n"), "t.yaml:5:13: ",
	  "IPv6 hosts must be written in brackets", 1 },
	{ RULE("    hosts: [\"*.example.com\"]\n"), "t.yaml:5:13: ",
	  "host may contain only", 1 },
	{ RULE("    hosts: [a.example.com, A.Example.com]\n"), "t.yaml:5:28: ",
	  "duplicate host 'a.example.com'", 1 },

	/* paths */
	{ RULE("    paths: [v1/]\n"), "t.yaml:5:13: ", "path must start with '/'", 1 },
	{ RULE("    paths: [/a/../b]\n"), "t.yaml:5:13: ",
	  "path must not contain '.' or '..' segments", 1 },
	{ RULE("    paths: [/a/.]\n"), "t.yaml:5:13: ", "'.' or '..' segments", 1 },
	{ RULE("    paths: [/a//b]\n"), "t.yaml:5:13: ",
	  "path must not contain '//'", 1 },
	{ RULE("    paths: [/a%2f]\n"), "t.yaml:5:13: ",
	  "path must not contain '%'", 1 },
	{ RULE("    paths: [/a?b]\n"), "t.yaml:5:13: ",
	  "path must not contain '?' or '#'", 1 },
	{ RULE("    paths: [\"/a\\tb\"]\n"), "t.yaml:5:13: ",
	  "'/a\\x09b': path must not contain spaces, control", 1 },
	{ RULE("    paths: [/" LONG63 "]\n"), "t.yaml:5:13: ",
	  "path is 64 bytes, over the limit of 63", 1 },
	{ RULE("    paths: [/1, /2, /3, /4, /5, /6, /7, /8, /9]\n"),
	  "t.yaml:5:45: ", "paths: at most 8 paths per rule", 1 },
};

/* Every bad_cases entry fails with its exact position and message, and
 * leaves the policy empty. */
static void test_bad(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct pf_policy pol;
		char *errs = NULL, *p;
		unsigned lines = 0;
		int ret = load(b->yaml, &pol, &errs);

		for (p = errs; *p; p++)
			lines += *p == '\n';
		if (ret != -EINVAL || strncmp(errs, b->where, strlen(b->where)) ||
		    !strstr(errs, b->msg) || lines != b->lines)
			print_error("case %zu: want %s...%s (%u lines)\ngot %d:\n%s",
				    i, b->where, b->msg, b->lines, ret, errs);
		assert_int_equal(ret, -EINVAL);
		assert_memory_equal(errs, b->where, strlen(b->where));
		p = strchr(errs, '\n');
		assert_non_null(p);
		*p = '\0';
		assert_non_null(strstr(errs, b->msg));
		assert_int_equal(lines, b->lines);
		/* A failed load leaves nothing behind. */
		assert_null(pol.rules);
		assert_null(pol.file);
		assert_int_equal(pol.n_rules, 0);
		free(errs);
	}
}

/* All problems are reported, sorted by position. */
static void test_all_problems(void **state)
{
	static const char yaml[] =
		"ports: [0]\n"
		"rules:\n"
		"  - origins: [https://A.example.com, \"*\"]\n"
		"    methods: [TRACE]\n"
		"    credentials: maybe\n"
		"    colour: blue\n"
		"  - origins: [https://b.example.com/]\n"
		"    methods: [GET]\n"
		"    headers: [\"a b\"]\n";
	struct pf_policy pol;
	char *errs = NULL;

	(void)state;
	assert_int_equal(load(yaml, &pol, &errs), -EINVAL);
	assert_string_equal(errs,
		"t.yaml:1:9: ports: port 0 out of range 1..65535\n"
		"t.yaml:3:15: 'https://A.example.com': origin must be lower case: browsers serialize the scheme and host in lower case, so this would never match\n"
		"t.yaml:3:38: '*' must be the only origin\n"
		"t.yaml:4:15: 'TRACE': forbidden method: browsers never send it\n"
		"t.yaml:5:18: credentials: expected true or false\n"
		"t.yaml:6:5: unknown key 'colour' (expected one of: hosts, paths, origins, methods, headers, credentials, max_age, private_network, on_deny, responses, expose_headers, app_headers)\n"
		"t.yaml:7:15: 'https://b.example.com/': origin must not have a path or trailing slash\n"
		"t.yaml:9:15: 'a b': not a valid header name (RFC 9110 token)\n");
	free(errs);
}

/* A missing file is -ENOENT with "open FILE: strerror". */
static void test_missing_file(void **state)
{
	struct pf_policy pol;
	char *errs = NULL;
	size_t len;
	FILE *f = open_memstream(&errs, &len);

	(void)state;
	assert_int_equal(pf_policy_load("/nonexistent/p.yaml", &pol, f),
			 -ENOENT);
	fclose(f);
	assert_string_equal(errs,
		"open /nonexistent/p.yaml: No such file or directory\n");
	assert_null(pol.rules);
	free(errs);
}

/* ---- (c) 100,000 origins ---- */

#define N_BIG 100000

/* 100,000 origins compile, and every one is found with its rule bits. */
static void test_big(void **state)
{
	struct pf_policy pol;
	struct pf_compiled c;
	char *yaml = NULL, o[64];
	size_t len;
	FILE *f = open_memstream(&yaml, &len);
	unsigned i;

	(void)state;
	assert_non_null(f);
	fputs("ports: [443]\nrules:\n  - methods: [GET]\n    origins:\n", f);
	for (i = 0; i < N_BIG; i++)
		fprintf(f, "      - https://o%u.example.com\n", i);
	fputs("      - https://*.example.org\n", f);
	fputs("  - methods: [GET]\n    origins: [https://o7.example.com]\n", f);
	fclose(f);
	load_compile(yaml, 0, &pol, &c);
	assert_int_equal(c.n_toks, N_BIG + 1 + 1);
	for (i = 0; i < N_BIG; i++) {
		const struct pf_tok_val *v;

		snprintf(o, sizeof(o), "https://o%u.example.com", i);
		v = tok(&c, PF_TOK_ORIGIN, o);
		assert_non_null(v);
		assert_int_equal(v->rules, i == 7 ? 0x3 : 0x1);
	}
	assert_tok(&c, PF_TOK_WILD_HTTPS, "example.org", 1);
	assert_tok(&c, PF_TOK_METHOD, "GET", 0x3);
	assert_null(tok(&c, PF_TOK_ORIGIN, "https://o100000.example.com"));
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	free(yaml);
}

/* ---- the start-up's guess (user/load.h) ---- */

/* pf_policy_hint of yaml. */
static struct pf_policy_hint hint_of(const char *yaml)
{
	struct pf_policy_hint h;

	pf_policy_hint(yaml, strlen(yaml), &h);
	return h;
}

/* Its strings bound the compiled policy's in block and flow lists, one
 * or several to a line, and in flow mappings; an alias repeating a list
 * under another key (another kind of string) goes past it, which start-up
 * checks for; "responses" anywhere in the text, comments too, says the
 * offload may be on. The text comes from pf_policy_read_file, which
 * reads a file once, whatever it is (a pipe too), and says why not. */
static void test_hint(void **state)
{
	static const char *const fit[] = {
		"ports: [443]\nrules:\n  - origins:\n      - https://a.example\n"
		"      - https://b.example\n    methods:\n      - PUT\n",
		"ports: [443]\nrules: [{origins: [https://a.example, https://b.example], "
		"methods: [PUT, DELETE], headers: [x-a, x-b, x-c], hosts: [a.example]}]\n",
		"ports: [443, 8443]\nrules:\n  - {origins: [https://a.example], methods: [PUT]}\n"
		"  - origins: [https://b.example, 'https://*.c.example']\n    methods: [PUT]\n",
	};
	const char *alias = "ports: [443]\nrules:\n  - origins: [https://a.example]\n"
		"    methods: &m [X-A, X-B, X-C, X-D, X-E, X-F, X-G, X-H, X-I, X-J]\n"
		"    headers: *m\n";
	struct pf_policy_hint h;
	struct pf_policy pol;
	struct pf_compiled c;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(fit) / sizeof(fit[0]); i++) {
		h = hint_of(fit[i]);
		load_compile(fit[i], 0, &pol, &c);
		assert_true(c.n_toks <= h.strings);
		assert_false(h.responses);
		pf_compiled_free(&c);
		pf_policy_free(&pol);
	}
	h = hint_of(alias);
	load_compile(alias, 0, &pol, &c);
	assert_int_equal(c.n_toks, 21);
	assert_true(h.strings < c.n_toks);
	pf_compiled_free(&c);
	pf_policy_free(&pol);
	assert_true(hint_of("# responses: not asked for\nports: [443]\n").responses);
	assert_true(hint_of("rules:\n  - responses: true\n").responses);
	{
		char path[64], *buf, *errs = NULL;
		size_t len, elen;
		FILE *f = open_memstream(&errs, &elen);
		int fd[2];

		assert_int_equal(pipe(fd), 0);
		assert_int_equal(write(fd[1], "ports: [443]\n", 13), 13);
		close(fd[1]);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd[0]);
		assert_int_equal(pf_policy_read_file(path, &buf, &len, f), 0);
		assert_int_equal(len, 13);
		assert_memory_equal(buf, "ports: [443]\n", 13);
		free(buf);
		close(fd[0]);
		assert_int_equal(pf_policy_read_file("/nonexistent/p.yaml", &buf, &len, f),
				 -ENOENT);
		assert_null(buf);
		fclose(f);
		assert_string_equal(errs, "open /nonexistent/p.yaml: No such file or directory\n");
		free(errs);
	}
}

/* ---- sorting by hash ---- */

/* Order of a reference sort: hash, then input position. */
static int hent_cmp(const void *a, const void *b)
{
	const struct pf_hent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* pf_hsort puts hashes in order and keeps equal ones in input order
 * (no tie function), for random 64-bit hashes and for hashes alike in
 * most bits: few values, 32-bit ones, the top bit and a few low ones,
 * already sorted, all equal. */
static void test_hsort(void **state)
{
	static const size_t sizes[] = { 2, 3, 64, 65, 1000, 100000 };
	struct pf_hent *v, *r;
	unsigned mode, k;
	size_t i, n;
	__u64 h;

	(void)state;
	srandom(11);
	for (mode = 0; mode < 6; mode++) {
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			n = sizes[k];
			v = malloc(n * sizeof(*v));
			r = malloc(n * sizeof(*r));
			assert_non_null(v);
			assert_non_null(r);
			for (i = 0; i < n; i++) {
				h = (__u64)random() << 42 ^ (__u64)random() << 21 ^
				    (__u64)random();
				if (mode == 1)
					h &= 0xff;
				else if (mode == 2)
					h &= 0xffffffffull;
				else if (mode == 3)
					h = (h & 1) << 63 | (h >> 40 & 0x3ff);
				else if (mode == 4)
					h = i;
				else if (mode == 5)
					h = 42;
				v[i].hash = h;
				v[i].idx = (__u32)i;
			}
			memcpy(r, v, n * sizeof(*v));
			qsort(r, n, sizeof(*r), hent_cmp);
			assert_int_equal(pf_hsort(v, n, NULL, NULL), 0);
			for (i = 0; i < n; i++) {
				assert_int_equal(v[i].hash, r[i].hash);
				assert_int_equal(v[i].idx, r[i].idx);
			}
			free(v);
			free(r);
		}
	}
}

/* ---- preflightd check ---- */

/* Read all of f (rewound) into a new string. */
static char *slurp(FILE *f)
{
	char *buf;
	long n;

	fflush(f);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Run pf_cmd_check with args (NULL-terminated), capturing stdout/stderr. */
static int run_check(char **out, char **err, ...)
{
	char *argv[8] = { "check" };
	int argc = 1, so, se, rc;
	FILE *fo = tmpfile(), *fe = tmpfile();
	va_list ap;

	va_start(ap, err);
	while (argc < 7) {
		argv[argc] = va_arg(ap, char *);
		if (!argv[argc])
			break;
		argc++;
	}
	va_end(ap);
	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	rc = pf_cmd_check(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	*out = slurp(fo);
	*err = slurp(fe);
	return rc;
}

/* "preflightd check": summary line, --quiet, --help, usage errors (2),
 * problems (1) printed as FILE:LINE:COL. */
static void test_cmd_check(void **state)
{
	char path[512], line[1200], *out, *err;
	FILE *f;

	(void)state;
	example_path(path, sizeof(path));
	assert_int_equal(run_check(&out, &err, path, NULL), 0);
	snprintf(line, sizeof(line),
		 "%s: ok: 1 rule, 2 origins (1 wildcard), 5 methods, 3 headers, 1 port\n",
		 path);
	assert_string_equal(out, line);
	assert_string_equal(err, "");
	free(out);
	free(err);

	assert_int_equal(run_check(&out, &err, "--quiet", path, NULL), 0);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
	free(out);
	free(err);

	assert_int_equal(run_check(&out, &err, "--help", NULL), 0);
	assert_non_null(strstr(out, "usage: preflightd check [--quiet] FILE"));
	free(out);
	free(err);

	assert_int_equal(run_check(&out, &err, NULL), 2);
	assert_non_null(strstr(err, "usage:"));
	free(out);
	free(err);
	assert_int_equal(run_check(&out, &err, "--bogus", path, NULL), 2);
	free(out);
	free(err);
	assert_int_equal(run_check(&out, &err, path, path, NULL), 2);
	free(out);
	free(err);

	assert_int_equal(run_check(&out, &err, "/nonexistent/p.yaml", NULL), 1);
	assert_string_equal(err,
		"open /nonexistent/p.yaml: No such file or directory\n");
	free(out);
	free(err);

	/* a warning is printed as FILE:LINE:COL: warning: and changes
	 * neither the exit status nor the summary */
	snprintf(path, sizeof(path), "/tmp/pf_check_%d.yaml", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ports: [80]\nrules:\n  - origins: [http://a.example.com]\n"
	      "    methods: [GET]\n    credentials: true\n", f);
	fclose(f);
	assert_int_equal(run_check(&out, &err, path, NULL), 0);
	snprintf(line, sizeof(line),
		 "%s:3:15: warning: 'http://a.example.com' " HTTP_CRED "\n", path);
	assert_string_equal(err, line);
	snprintf(line, sizeof(line), "%s: ok: 1 rule, 1 origin (0 wildcard), "
		 "1 method, 0 headers, 1 port\n", path);
	assert_string_equal(out, line);
	free(out);
	free(err);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("ports: [80, 80]\nrules: []\n", f);
	fclose(f);
	assert_int_equal(run_check(&out, &err, path, NULL), 1);
	snprintf(line, sizeof(line),
		 "%s:1:13: ports: duplicate port 80\n"
		 "%s:2:8: rules: expected at least one rule\n", path, path);
	assert_string_equal(err, line);
	assert_string_equal(out, "");
	free(out);
	free(err);
	unlink(path);
}

/* Two policy strings of one kind with the same hash (crafted: the hash's
 * steps are invertible, so a second 16-byte method reaching the first's
 * state after its 8 first bytes was searched for) pass the validator but
 * not the compiler: refused as FILE:LINE:COL at the later one, naming
 * the other's position -- by check's compile and by run's. */
/* The hash is keyed (PF_HASH_SEED0): a pair that collides under the
 * default key -- found by inverting the word steps, which anyone can do
 * for an origin the policy allows by a regex -- does not under another.
 * `run` draws its key at random. */
static void test_hash_keyed(void **state)
{
	static const __u8 a[] = "PUTXPUTX!A!!$!!!", b[] = "KCVFPRBB-qMP%mrA";

	(void)state;
	assert_int_equal(pf_hash_seed, PF_HASH_SEED0);
	assert_int_equal(pf_hash_bytes(a, 16, 0), pf_hash_bytes(b, 16, 0));
	pf_hash_seed = 0x0123456789abcdefULL;
	assert_int_not_equal(pf_hash_bytes(a, 16, 0), pf_hash_bytes(b, 16, 0));
	pf_hash_seed = 0xfedcba9876543210ULL;
	assert_int_not_equal(pf_hash_bytes(a, 16, 0), pf_hash_bytes(b, 16, 0));
	pf_hash_seed = PF_HASH_SEED0;
}

static void test_hash_collision(void **state)
{
	static const char yaml[] =
		"ports: [8080]\n"
		"rules:\n"
		"  - origins: [https://a.example.com]\n"
		"    methods: ['PUTXPUTX!A!!$!!!']\n"
		"  - origins: [https://b.example.com]\n"
		"    methods: [GET, 'KCVFPRBB-qMP%mrA']\n";
	static const char want[] =
		"t.yaml:6:20: 'KCVFPRBB-qMP%mrA' has the hash of 'PUTXPUTX!A!!$!!!' "
		"(line 4, column 15): change one of them\n";
	struct pf_policy pol;
	struct pf_compiled c;
	char *errs = NULL;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(pf_hash_bytes((const __u8 *)"PUTXPUTX!A!!$!!!", 16, 0),
			 pf_hash_bytes((const __u8 *)"KCVFPRBB-qMP%mrA", 16, 0));
	assert_int_equal(load(yaml, &pol, &errs), 0);
	free(errs);
	f = open_memstream(&errs, &len);
	assert_non_null(f);
	assert_int_equal(pf_policy_compile(&pol, 1, &c, f), -EINVAL);
	assert_int_equal(pf_policy_check_compile(&pol, &c, f), -EINVAL);
	fclose(f);
	assert_non_null(errs);
	assert_true(strlen(errs) == 2 * strlen(want));
	assert_memory_equal(errs, want, strlen(want));
	assert_string_equal(errs + strlen(want), want);
	free(errs);
	pf_policy_free(&pol);
}

/* Run every test; the exit status is the number of failures. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_valid_forms),
		cmocka_unit_test(test_wildcard_registrable),
		cmocka_unit_test(test_no_tokens),
		cmocka_unit_test(test_rule_limits),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_all_problems),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_hsort),
		cmocka_unit_test(test_cmd_check),
		cmocka_unit_test(test_hash_collision),
		cmocka_unit_test(test_hash_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

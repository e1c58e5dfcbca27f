/*
 * test_match.c -- CORS conformance of the datapath decision, run in
 * userspace: YAML policy -> pf_policy_compile -> pf_user_decide (the very
 * pf_parse/pf_match/pf_build_response the kernel runs). Each case checks
 * the verdict, the reason, the deciding rule, the offending token and the
 * exact response bytes (no Date header). Cases follow the Fetch standard
 * and the pitfalls other implementations fell into (docs/cors.md): anchored origin
 * matching, wildcard subdomains (never the apex, scheme and port exact),
 * shared suffixes, "*" never with credentials, case-sensitive methods,
 * forbidden methods, authorization never covered by "*", private network
 * access, Vary on every answer, first-matching-rule semantics.
 *
 * Every policy is compiled into both slots, and every case run against
 * each, so the slot arithmetic of the look-ups is exercised too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../conformance_rules.h"

#include "policy.h"
#include "match.h"

/* ---- policies ---- */

static const char main_yaml[] =
	"ports: [443]\n"
	PF_CONF_RULES_0_10;

static const char paths_yaml[] =
	"ports: [80]\n"
	PF_CONF_RULES_PATHS;

/* The origin listed by a wildcard in rule 0 and exactly in rule 1: rule
 * 0 decides, though the exact token (rule 1 only) is found first. */
static const char order_yaml[] =
	"ports: [443]\n"
	"rules:\n"
	"  - origins: [\"https://*.example.com\"]\n"
	"    methods: [PUT]\n"
	"  - origins: [https://app.example.com]\n"
	"    methods: [DELETE]\n";

enum { P_MAIN, P_PATHS, P_ORDER, P__N };

static const char *const yamls[P__N] = { main_yaml, paths_yaml, order_yaml };

/* expected response pieces (S204, ACAO(), ..., T0-T10), APP and the
 * request-header values at the limits (CT16, H256, ...): ../conformance_rules.h */

/* paths_yaml's rules */
#define TP0 ACAM("PUT") VARY "\r\n"
#define TP1 ACAM("PUT") VARY "\r\n"

/* ---- cases ---- */

struct mcase {
	const char *name;
	int pol;                 /* P_* */
	const char *host;        /* NULL: api.example.com */
	const char *path;        /* NULL: /v1/x */
	const char *origin;
	const char *method;
	const char *acrh;        /* NULL: no ACRH header */
	const char *acrpn;       /* NULL: no ACRPN header */
	__u32 verdict, reason, rule;
	const char *bad;         /* expected m.bad contents; NULL: empty */
	const char *resp;        /* exact response; NULL: none */
};

#define ALLOW   .verdict = PF_V_ALLOW, .reason = PF_R_OK
#define REJECT(r) .verdict = PF_V_REJECT, .reason = (r)
#define FORWARD(r) .verdict = PF_V_FORWARD, .reason = (r)
#define NORULE  .verdict = PF_V_NO_RULE, .reason = PF_R_NO_RULE
#define PUNT(r) .verdict = PF_V_PUNT, .reason = (r)

static const struct mcase cases[] = {
	/* ---- origins (rule 0) ---- */
	{ "exact origin", .origin = APP, .method = "PUT", ALLOW,
	  .resp = S204 ACAO(APP) T0 },
	{ "wildcard: one label", .origin = "https://a.example.com",
	  .method = "PUT", ALLOW, .resp = S204 ACAO("https://a.example.com") T0 },
	{ "wildcard: two labels", .origin = "https://a.b.example.com",
	  .method = "PUT", ALLOW,
	  .resp = S204 ACAO("https://a.b.example.com") T0 },
	{ "wildcard: suffix repeated", .origin = "https://example.com.example.com",
	  .method = "PUT", ALLOW,
	  .resp = S204 ACAO("https://example.com.example.com") T0 },
	{ "wildcard never matches the apex", .origin = "https://example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard is anchored at the end",
	  .origin = "https://example.com.evil.test", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard needs the dot", .origin = "https://evilexample.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard: empty label", .origin = "https://.example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard: scheme is exact", .origin = "http://a.example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard: port is exact", .origin = "https://a.example.com:8443",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard with port", .origin = "https://a.ports.test:8443",
	  .method = "PUT", ALLOW, .resp = S204 ACAO("https://a.ports.test:8443") T0 },
	{ "wildcard with port: apex", .origin = "https://ports.test:8443",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard with port: port missing", .origin = "https://a.ports.test",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard with port: other port", .origin = "https://a.ports.test:8444",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard with port: longer port",
	  .origin = "https://a.ports.test:84430", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard: a colon before the suffix", .origin = "https://evil.test:.example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard with port: a port with dots",
	  .origin = "https://a.ports.test:1.ports.test:8443", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "wildcard: '_' in the subdomain", .origin = "https://my_app.example.com",
	  .method = "PUT", ALLOW, .resp = S204 ACAO("https://my_app.example.com") T0 },
	{ "exact origin with '_'", .origin = "https://my_app.foo.test",
	  .method = "PUT", ALLOW, .resp = S204 ACAO("https://my_app.foo.test") T0 },
	{ "literal wildcard origin", .origin = "https://*.example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "trailing slash", .origin = APP "/", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "origin with a path", .origin = "https://a.example.com/path",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "trailing dot", .origin = APP ".", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "upper-case host", .origin = "https://APP.EXAMPLE.COM",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "upper-case scheme", .origin = "HTTPS://app.example.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "null origin", .origin = "null", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "userinfo before a listed host",
	  .origin = "https://evil.com@a.example.com", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "userinfo after a listed host",
	  .origin = "https://a.example.com@evil.com", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "exact prefix of a listed origin", .origin = "https://app.example.co",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "listed origin plus a byte", .origin = "https://app.example.comm",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "shared suffix: foo.com", .origin = "https://foo.com", .method = "PUT",
	  ALLOW, .resp = S204 ACAO("https://foo.com") T0 },
	{ "shared suffix: bar.com", .origin = "https://bar.com", .method = "PUT",
	  ALLOW, .resp = S204 ACAO("https://bar.com") T0 },
	{ "shared suffix: barfoo.com", .origin = "https://barfoo.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "shared suffix: foobar.com", .origin = "https://foobar.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "shared suffix: xbar.com", .origin = "https://xbar.com",
	  .method = "PUT", REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "exact http origin with port", .origin = "http://localhost:3000",
	  .method = "PUT", ALLOW, .resp = S204 ACAO("http://localhost:3000") T0 },
	{ "other port", .origin = "http://localhost:3001", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "port missing", .origin = "http://localhost", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "other scheme", .origin = "https://localhost:3000", .method = "PUT",
	  REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },

	/* ---- methods ---- */
	{ "listed method", .origin = APP, .method = "DELETE", ALLOW,
	  .resp = S204 ACAO(APP) T0 },
	{ "methods are case-sensitive", .origin = APP, .method = "put",
	  REJECT(PF_R_METHOD), .bad = "put", .resp = REJ(VARY) },
	{ "unlisted method", .origin = APP, .method = "PATCH",
	  REJECT(PF_R_METHOD), .bad = "PATCH", .resp = REJ(VARY) },
	{ "safelisted GET", .origin = APP, .method = "GET", ALLOW,
	  .resp = S204 ACAO(APP) T0 },
	{ "safelisted HEAD", .origin = APP, .method = "HEAD", ALLOW,
	  .resp = S204 ACAO(APP) T0 },
	{ "safelisted POST", .origin = APP, .method = "POST", ALLOW,
	  .resp = S204 ACAO(APP) T0 },
	{ "lower-case get is not safelisted", .origin = APP, .method = "get",
	  REJECT(PF_R_METHOD), .bad = "get", .resp = REJ(VARY) },
	{ "CONNECT is forbidden", .origin = APP, .method = "CONNECT",
	  REJECT(PF_R_METHOD_FORBIDDEN), .bad = "CONNECT", .resp = REJ(VARY) },
	{ "trace is forbidden in any case", .origin = APP, .method = "trace",
	  REJECT(PF_R_METHOD_FORBIDDEN), .bad = "trace", .resp = REJ(VARY) },
	{ "TRACK is forbidden", .origin = APP, .method = "TRACK",
	  REJECT(PF_R_METHOD_FORBIDDEN), .bad = "TRACK", .resp = REJ(VARY) },
	{ "forbidden even with methods *", .host = "any.example.com",
	  .origin = APP, .method = "CONNECT", .rule = 1,
	  REJECT(PF_R_METHOD_FORBIDDEN), .bad = "CONNECT", .resp = REJ(VARY) },
	{ "method list with a comma", .origin = APP, .method = "GET, DELETE",
	  REJECT(PF_R_METHOD_BAD), .bad = "GET, DELETE", .resp = REJ(VARY) },
	{ "method with a non-token byte", .origin = APP, .method = "PU(T",
	  REJECT(PF_R_METHOD_BAD), .bad = "PU(T", .resp = REJ(VARY) },
	{ "methods * without credentials: *", .host = "any.example.com",
	  .origin = APP, .method = "PATCH", .rule = 1, ALLOW,
	  .resp = S204 ACAO("*") ACAM("*") T1 },
	{ "methods * with credentials: echo", .host = "cred.example.com",
	  .origin = APP, .method = "PATCH", .rule = 2, ALLOW,
	  .resp = S204 ACAO(APP) ACAM("PATCH") T2 },
	{ "methods * with credentials: echo GET", .host = "cred.example.com",
	  .origin = "https://x.example.com", .method = "GET", .rule = 2, ALLOW,
	  .resp = S204 ACAO("https://x.example.com") ACAM("GET") T2 },

	/* ---- request headers ---- */
	{ "header names are case-insensitive", .origin = APP, .method = "PUT",
	  .acrh = "Content-Type", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("Content-Type") T0 },
	{ "spaces around commas", .origin = APP, .method = "PUT",
	  .acrh = "content-type , x-request-id", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("content-type , x-request-id") T0 },
	{ "empty elements", .origin = APP, .method = "PUT",
	  .acrh = ",,content-type,", ALLOW,
	  .resp = S204 ACAO(APP) ACAH(",,content-type,") T0 },
	{ "duplicate names", .origin = APP, .method = "PUT",
	  .acrh = "content-type,content-type", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("content-type,content-type") T0 },
	{ "space inside an element", .origin = APP, .method = "PUT",
	  .acrh = "content-type x-request-id", REJECT(PF_R_HEADER_BAD),
	  .bad = "x", .resp = REJ(VARY) },
	{ "non-token byte", .origin = APP, .method = "PUT",
	  .acrh = "content-type,x(y", REJECT(PF_R_HEADER_BAD), .bad = "(",
	  .resp = REJ(VARY) },
	{ "non-token byte starting an element", .origin = APP, .method = "PUT",
	  .acrh = "content-type,(x", REJECT(PF_R_HEADER_BAD), .bad = "(",
	  .resp = REJ(VARY) },
	{ "non-token byte after a comma and blanks", .origin = APP, .method = "PUT",
	  .acrh = "content-type,  (x", REJECT(PF_R_HEADER_BAD), .bad = "(",
	  .resp = REJ(VARY) },
	{ "unknown header denied", .origin = APP, .method = "PUT",
	  .acrh = "content-type,x-evil,x-request-id", REJECT(PF_R_HEADER),
	  .bad = "x-evil", .resp = REJ(VARY) },
	{ "authorization must be listed", .origin = APP, .method = "PUT",
	  .acrh = "authorization", REJECT(PF_R_HEADER), .bad = "authorization",
	  .resp = REJ(VARY) },
	{ "empty ACRH: no ACAH", .origin = APP, .method = "PUT", .acrh = "",
	  ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "only commas: no ACAH", .origin = APP, .method = "PUT",
	  .acrh = ",, ,", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "a comma, then a run of blanks past 8 bytes", .origin = APP, .method = "PUT",
	  .acrh = "content-type ,          x-request-id", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("content-type ,          x-request-id") T0 },
	{ "blanks past 8 bytes, then the comma", .origin = APP, .method = "PUT",
	  .acrh = "content-type          , x-request-id", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("content-type          , x-request-id") T0 },
	{ "blanks past 8 bytes, no comma", .origin = APP, .method = "PUT",
	  .acrh = "content-type          x-request-id", REJECT(PF_R_HEADER_BAD),
	  .bad = "x", .resp = REJ(VARY) },
	{ "a name over 32 bytes, listed", .origin = APP, .method = "PUT",
	  .acrh = "content-type, " PF_CONF_LONG_HDR ",x-request-id", ALLOW,
	  .resp = S204 ACAO(APP) ACAH("content-type, " PF_CONF_LONG_HDR ",x-request-id") T0 },
	{ "a name over 32 bytes, not listed", .origin = APP, .method = "PUT",
	  .acrh = "content-type,x-a-very-long-header-name-over-32-bytes2",
	  REJECT(PF_R_HEADER), .bad = "x-a-very-long-header-name-over-32-bytes2",
	  .resp = REJ(VARY) },
	{ "16 names", .origin = APP, .method = "PUT", .acrh = CT16, ALLOW,
	  .resp = S204 ACAO(APP) ACAH(CT16) T0 },
	{ "17 names: over the kernel limit, the daemon's", .origin = APP, .method = "PUT",
	  .acrh = CT16 ",x-request-id", PUNT(PF_R_ACRH_SLOW) },
	{ "256-byte value", .origin = APP, .method = "PUT", .acrh = H256,
	  ALLOW, .resp = S204 ACAO(APP) ACAH(H256) T0 },
	{ "257-byte value: over the kernel limit, the daemon's", .origin = APP,
	  .method = "PUT", .acrh = H257, PUNT(PF_R_ACRH_SLOW) },
	{ "headers * without credentials: *", .host = "any.example.com",
	  .origin = "https://x.test", .method = "PUT", .acrh = "x-foo,x-bar",
	  .rule = 1, ALLOW, .resp = S204 ACAO("*") ACAM("*") ACAH("*") T1 },
	{ "headers *: a b is malformed", .host = "any.example.com",
	  .origin = "https://x.test", .method = "PUT", .acrh = "a b",
	  .rule = 1, REJECT(PF_R_HEADER_BAD), .bad = "b", .resp = REJ(VARY) },
	{ "headers * never covers authorization", .host = "any.example.com",
	  .origin = "https://x.test", .method = "PUT", .acrh = "authorization",
	  .rule = 1, REJECT(PF_R_AUTHZ_WILDCARD), .bad = "authorization",
	  .resp = REJ(VARY) },
	{ "headers * never covers Authorization", .host = "any.example.com",
	  .origin = "https://x.test", .method = "PUT",
	  .acrh = "x-foo, Authorization", .rule = 1,
	  REJECT(PF_R_AUTHZ_WILDCARD), .bad = "Authorization",
	  .resp = REJ(VARY) },
	{ "headers * with credentials: echo", .host = "cred.example.com",
	  .origin = APP, .method = "PUT", .acrh = "x-foo,content-type",
	  .rule = 2, ALLOW,
	  .resp = S204 ACAO(APP) ACAM("PUT") ACAH("x-foo,content-type") T2 },
	{ "headers * with credentials: authorization", .host = "cred.example.com",
	  .origin = APP, .method = "PUT", .acrh = "authorization", .rule = 2,
	  REJECT(PF_R_AUTHZ_WILDCARD), .bad = "authorization",
	  .resp = REJ(VARY) },
	{ "headers * plus authorization: echo", .host = "authz.example.com",
	  .origin = "https://x.test", .method = "GET",
	  .acrh = "authorization,x-foo", .rule = 3, ALLOW,
	  .resp = S204 ACAO("*") ACAH("authorization,x-foo") T3 },
	{ "headers * plus authorization: * otherwise", .host = "authz.example.com",
	  .origin = "https://x.test", .method = "GET", .acrh = "x-foo",
	  .rule = 3, ALLOW, .resp = S204 ACAO("*") ACAH("*") T3 },
	{ "listed authorization with credentials", .host = "fwd.example.com",
	  .origin = APP, .method = "PUT", .acrh = "Authorization", .rule = 5,
	  ALLOW, .resp = S204 ACAO(APP) ACAH("Authorization") T5 },
	{ "origins * answers * even for null", .host = "any.example.com",
	  .origin = "null", .method = "PUT", .rule = 1, ALLOW,
	  .resp = S204 ACAO("*") ACAM("*") T1 },

	/* ---- private network access ---- */
	{ "PNA allowed", .host = "pna.example.com", .origin = APP,
	  .method = "PUT", .acrpn = "true", .rule = 4, ALLOW,
	  .resp = S204 ACAO(APP) ACAPN T4 },
	{ "PNA rule, not asked", .host = "pna.example.com", .origin = APP,
	  .method = "PUT", .rule = 4, ALLOW, .resp = S204 ACAO(APP) T4 },
	{ "PNA rule, denied method", .host = "pna.example.com", .origin = APP,
	  .method = "DELETE", .acrpn = "true", .rule = 4, REJECT(PF_R_METHOD),
	  .bad = "DELETE", .resp = REJ(VARY) },
	{ "PNA not allowed", .origin = APP, .method = "PUT", .acrpn = "true",
	  REJECT(PF_R_PNA), .resp = REJ(VARY) },
	{ "ACRPN false is not a PNA request", .origin = APP, .method = "PUT",
	  .acrpn = "false", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "PNA not allowed, forward", .host = "fwd.example.com", .origin = APP,
	  .method = "PUT", .acrpn = "true", .rule = 5, FORWARD(PF_R_PNA) },

	/* ---- on_deny: forward ---- */
	{ "forward: method", .host = "fwd.example.com", .origin = APP,
	  .method = "DELETE", .rule = 5, FORWARD(PF_R_METHOD), .bad = "DELETE" },
	{ "forward: header", .host = "fwd.example.com", .origin = APP,
	  .method = "PUT", .acrh = "x-foo", .rule = 5, FORWARD(PF_R_HEADER),
	  .bad = "x-foo" },
	{ "forward: origin", .host = "fwd.example.com",
	  .origin = "https://a.example.com", .method = "PUT", .rule = 5,
	  FORWARD(PF_R_ORIGIN) },
	{ "forward: methods [GET] denies PUT", .host = "authz.example.com",
	  .origin = "https://x.test", .method = "PUT", .rule = 3,
	  FORWARD(PF_R_METHOD), .bad = "PUT" },

	/* ---- hosts ---- */
	{ "host is case-insensitive", .host = "API.Example.COM", .origin = APP,
	  .method = "PUT", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "host port is ignored", .host = "api.example.com:8443", .origin = APP,
	  .method = "PUT", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "IPv6 host with port", .host = "[::1]:8080",
	  .origin = "http://localhost:3000", .method = "PUT", .rule = 10, ALLOW,
	  .resp = S204 ACAO("http://localhost:3000") T10 },
	{ "IPv6 host", .host = "[::1]", .origin = "http://localhost:3000",
	  .method = "PUT", .rule = 10, ALLOW,
	  .resp = S204 ACAO("http://localhost:3000") T10 },
	{ "IPv4 host with port", .host = "127.0.0.1:80",
	  .origin = "http://localhost:3000", .method = "PUT", .rule = 10, ALLOW,
	  .resp = S204 ACAO("http://localhost:3000") T10 },
	{ "host with a trailing dot", .host = "api.example.com.", .origin = APP,
	  .method = "PUT", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "host with a trailing dot and port", .host = "api.example.com.:8443",
	  .origin = APP, .method = "PUT", ALLOW, .resp = S204 ACAO(APP) T0 },
	{ "host with two trailing dots", .host = "api.example.com..", .origin = APP,
	  .method = "PUT", NORULE },
	{ "unlisted host", .host = "other.example.com", .origin = APP,
	  .method = "PUT", NORULE },
	{ "listed host as a prefix", .host = "api.example.com.evil.test",
	  .origin = APP, .method = "PUT", NORULE },
	{ "unbracketed IPv6 host", .host = "::1", .origin = "http://localhost:3000",
	  .method = "PUT", NORULE },
	{ "no path rules: unnormalized path not punted", .path = "/a/../%2e/b",
	  .origin = APP, .method = "PUT", ALLOW, .resp = S204 ACAO(APP) T0 },

	/* ---- rule order ---- */
	{ "first rule listing the origin", .host = "multi.example.com",
	  .origin = "https://a.example.com", .method = "PUT", .rule = 6, ALLOW,
	  .resp = S204 ACAO("https://a.example.com") T6 },
	{ "deciding rule denies, next one is not tried",
	  .host = "multi.example.com", .origin = "https://a.example.com",
	  .method = "DELETE", .rule = 6, FORWARD(PF_R_METHOD), .bad = "DELETE" },
	{ "rules not listing the origin are skipped",
	  .host = "multi.example.com", .origin = "https://b.example.com",
	  .method = "DELETE", .rule = 7, ALLOW,
	  .resp = S204 ACAO("https://b.example.com") T7 },
	{ "unlisted origin: first applicable rule (forward)",
	  .host = "multi.example.com", .origin = "https://c.example.com",
	  .method = "PUT", .rule = 6, FORWARD(PF_R_ORIGIN) },
	{ "unlisted origin: first applicable rule (reject)",
	  .host = "multi2.example.com", .origin = "https://c.example.com",
	  .method = "PUT", .rule = 8, REJECT(PF_R_ORIGIN), .resp = REJ(VARY) },
	{ "second rule decides with its own on_deny",
	  .host = "multi2.example.com", .origin = "https://b.example.com",
	  .method = "DELETE", .rule = 9, FORWARD(PF_R_METHOD), .bad = "DELETE" },
	{ "second rule allows", .host = "multi2.example.com",
	  .origin = "https://b.example.com", .method = "PUT", .rule = 9, ALLOW,
	  .resp = S204 ACAO("https://b.example.com") T9 },

	/* ---- rule order (order_yaml) ---- */
	{ "a wildcard rule before the exact one decides", .pol = P_ORDER, .origin = APP,
	  .method = "DELETE", FORWARD(PF_R_METHOD), .rule = 0, .bad = "DELETE" },

	/* ---- paths (paths_yaml) ---- */
	{ "path prefix", .pol = P_PATHS, .origin = APP, .method = "PUT", ALLOW,
	  .resp = S204 ACAO(APP) TP0 },
	{ "second path prefix", .pol = P_PATHS, .path = "/v2/items/3",
	  .origin = APP, .method = "PUT", ALLOW, .resp = S204 ACAO(APP) TP0 },
	{ "prefix is not a segment match", .pol = P_PATHS, .path = "/v2/itemsX",
	  .origin = APP, .method = "PUT", ALLOW, .resp = S204 ACAO(APP) TP0 },
	{ "path with a query", .pol = P_PATHS, .path = "/v1/x?q=/../",
	  .origin = APP, .method = "PUT", ALLOW, .resp = S204 ACAO(APP) TP0 },
	{ "shorter than the prefix", .pol = P_PATHS, .path = "/v1",
	  .origin = APP, .method = "PUT", NORULE },
	{ "paths are case-sensitive", .pol = P_PATHS, .path = "/V1/x",
	  .origin = APP, .method = "PUT", NORULE },
	{ "unlisted path", .pol = P_PATHS, .path = "/v3/", .origin = APP,
	  .method = "PUT", NORULE },
	{ "path rules: %2e punted", .pol = P_PATHS, .path = "/v1/%2e%2e/admin",
	  .origin = APP, .method = "PUT", PUNT(PF_R_PATH_UNNORM) },
	{ "path rules: // punted", .pol = P_PATHS, .path = "/v1//x",
	  .origin = APP, .method = "PUT", PUNT(PF_R_PATH_UNNORM) },
	{ "path rules: /../ punted", .pol = P_PATHS, .path = "/public/../v1/x",
	  .origin = APP, .method = "PUT", PUNT(PF_R_PATH_UNNORM) },
	{ "path rule with hosts and origins *", .pol = P_PATHS,
	  .path = "/public/a", .origin = "https://x.test", .method = "PUT",
	  .rule = 1, ALLOW, .resp = S204 ACAO("*") TP1 },
	{ "path rule, other host", .pol = P_PATHS, .host = "other.test",
	  .path = "/public/a", .origin = "https://x.test", .method = "PUT",
	  NORULE },
	{ "path rule denies the origin", .pol = P_PATHS,
	  .origin = "https://x.test", .method = "PUT", REJECT(PF_R_ORIGIN),
	  .resp = REJ(VARY) },
};

/* ---- running a case ---- */

static struct pf_policy pols[P__N];
static struct pf_compiled comp[P__N][PF_SLOTS];

/* Load and compile every policy into every slot. */
static int setup(void **state)
{
	int p;
	__u32 s;

	(void)state;
	for (p = 0; p < P__N; p++) {
		if (pf_policy_load_string("t.yaml", yamls[p], &pols[p], stderr))
			return -1;
		for (s = 0; s < PF_SLOTS; s++)
			if (pf_policy_compile(&pols[p], s, &comp[p][s], stderr))
				return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	int p;
	__u32 s;

	(void)state;
	for (p = 0; p < P__N; p++) {
		for (s = 0; s < PF_SLOTS; s++)
			pf_compiled_free(&comp[p][s]);
		pf_policy_free(&pols[p]);
	}
	return 0;
}

/* Write the preflight of case c into buf; returns its length. */
static __u32 build_request(const struct mcase *c, __u8 *buf)
{
	int n;

	memset(buf, 0, PF_REQ_BUF);
	n = snprintf((char *)buf, PF_REQ_MAX + 1,
		     "OPTIONS %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Origin: %s\r\n"
		     "Access-Control-Request-Method: %s\r\n"
		     "%s%s%s"
		     "%s%s%s"
		     "\r\n",
		     c->path ? c->path : "/v1/x",
		     c->host ? c->host : "api.example.com",
		     c->origin, c->method,
		     c->acrh ? "Access-Control-Request-Headers: " : "",
		     c->acrh ? c->acrh : "", c->acrh ? "\r\n" : "",
		     c->acrpn ? "Access-Control-Request-Private-Network: " : "",
		     c->acrpn ? c->acrpn : "", c->acrpn ? "\r\n" : "");
	assert_true(n > 0 && n <= PF_REQ_MAX);
	return (__u32)n;
}

/* Properties every response must have, whatever the case. */
static void check_response_invariants(const char *name, const __u8 *resp,
				      int len)
{
	char *s = strndup((const char *)resp, (size_t)len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	/* Vary on every answer, 204 and 403 */
	if (!strstr(s, "\r\n" VARY))
		print_error("%s: no Vary in\n%s\n", name, s);
	assert_non_null(strstr(s, "\r\n" VARY));
	/* never "*" with credentials */
	assert_false(strstr(s, "\r\nAccess-Control-Allow-Origin: *\r\n") &&
		     strstr(s, "\r\nAccess-Control-Allow-Credentials:"));
	/* one header block, ended by the only blank line */
	assert_true(len >= 4 && !memcmp(s + len - 4, "\r\n\r\n", 4));
	assert_ptr_equal(strstr(s, "\r\n\r\n"), s + len - 4);
	free(s);
}

/* Run case c against policy comp[c->pol][slot]. */
static void run_case(const struct mcase *c, __u32 slot)
{
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	struct pf_req r;
	struct pf_match m;
	__u32 len = build_request(c, buf);
	int res, rlen;
	size_t want_len = c->bad ? strlen(c->bad) : 0;

	memset(resp, 0, sizeof(resp));
	res = pf_user_decide(&comp[c->pol][slot], buf, len, NULL, &r, &m, resp,
			     &rlen);
	if (res != PF_P_OK)
		print_error("%s: parse %s\n", c->name, pf_parse_res_name(res));
	assert_int_equal(res, PF_P_OK);
	if (m.verdict != c->verdict || m.reason != c->reason ||
	    (c->verdict != PF_V_NO_RULE && c->reason != PF_R_PATH_UNNORM &&
	     m.rule != c->rule))
		print_error("%s (slot %u): %s/%s rule %u, want %s/%s rule %u\n",
			    c->name, slot, pf_verdict_name(m.verdict),
			    pf_reason_name(m.reason), m.rule,
			    pf_verdict_name(c->verdict),
			    pf_reason_name(c->reason), c->rule);
	assert_int_equal(m.verdict, c->verdict);
	assert_int_equal(m.reason, c->reason);
	if (c->verdict != PF_V_NO_RULE && c->reason != PF_R_PATH_UNNORM)
		assert_int_equal(m.rule, c->rule);
	if (m.bad.len != want_len || (want_len &&
	    memcmp(buf + m.bad.off, c->bad, want_len)))
		print_error("%s: bad is '%.*s', want '%s'\n", c->name,
			    m.bad.len, (const char *)buf + m.bad.off,
			    c->bad ? c->bad : "");
	assert_int_equal(m.bad.len, want_len);
	if (want_len)
		assert_memory_equal(buf + m.bad.off, c->bad, want_len);
	if (!c->resp) {
		assert_int_equal(rlen, -1);
		return;
	}
	if (rlen != (int)strlen(c->resp) || memcmp(resp, c->resp, (size_t)rlen))
		print_error("%s: response (%d bytes)\n%.*s\nwant (%zu bytes)\n%s\n",
			    c->name, rlen, rlen > 0 ? rlen : 0,
			    (const char *)resp, strlen(c->resp), c->resp);
	assert_int_equal(rlen, strlen(c->resp));
	assert_memory_equal(resp, c->resp, (size_t)rlen);
	assert_true(rlen <= PF_RESP_MAX);
	check_response_invariants(c->name, resp, rlen);
}

/* ---- tests ---- */

/* Every case against both slots. */
static void test_conformance(void **state)
{
	size_t i;
	__u32 s;

	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 60);
	for (s = 0; s < PF_SLOTS; s++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_case(&cases[i], s);
}

/* With a date, "Date: ..." follows the status line of 204 and 403. */
static void test_date(void **state)
{
	static const char date[] = "Sun, 06 Nov 1994 08:49:37 GMT";
	static const char ok[] =
		"OPTIONS /v1/x HTTP/1.1\r\nHost: api.example.com\r\n"
		"Origin: " APP "\r\nAccess-Control-Request-Method: PUT\r\n\r\n";
	static const char deny[] =
		"OPTIONS /v1/x HTTP/1.1\r\nHost: api.example.com\r\n"
		"Origin: https://evil.test\r\n"
		"Access-Control-Request-Method: PUT\r\n\r\n";
	static const char want_ok[] =
		S204 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" ACAO(APP) T0;
	static const char want_deny[] =
		S403 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" VARY
		"Content-Length: 0\r\n\r\n";
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	struct pf_req r;
	struct pf_match m;
	int rlen;

	(void)state;
	assert_int_equal(sizeof(date) - 1, PF_DATE_LEN);
	memcpy(buf, ok, sizeof(ok) - 1);
	assert_int_equal(pf_user_decide(&comp[P_MAIN][0], buf, sizeof(ok) - 1,
					date, &r, &m, resp, &rlen), PF_P_OK);
	assert_int_equal(m.verdict, PF_V_ALLOW);
	assert_int_equal(rlen, sizeof(want_ok) - 1);
	assert_memory_equal(resp, want_ok, sizeof(want_ok) - 1);

	memcpy(buf, deny, sizeof(deny) - 1);
	assert_int_equal(pf_user_decide(&comp[P_MAIN][1], buf, sizeof(deny) - 1,
					date, &r, &m, resp, &rlen), PF_P_OK);
	assert_int_equal(m.verdict, PF_V_REJECT);
	assert_int_equal(rlen, sizeof(want_deny) - 1);
	assert_memory_equal(resp, want_deny, sizeof(want_deny) - 1);
}

/* A request that does not parse: its result, m zeroed, no response. */
static void test_parse_failure(void **state)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char plain[] = "OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n";
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	struct pf_req r;
	struct pf_match m;
	int rlen = 7;

	(void)state;
	memcpy(buf, get, sizeof(get) - 1);
	memset(&m, 0xa5, sizeof(m));
	assert_int_equal(pf_user_decide(&comp[P_MAIN][0], buf, sizeof(get) - 1,
					NULL, &r, &m, resp, &rlen),
			 PF_P_NOT_OPTIONS);
	assert_int_equal(rlen, -1);
	assert_int_equal(m.verdict, 0);
	assert_int_equal(m.bad.len, 0);
	memcpy(buf, plain, sizeof(plain) - 1);
	assert_int_equal(pf_user_decide(&comp[P_MAIN][0], buf, sizeof(plain) - 1,
					NULL, &r, &m, resp, &rlen),
			 PF_P_PLAIN_OPTIONS);
	assert_int_equal(rlen, -1);
}

/* The look-ups answer from the current policy's slot only. */
static void test_lookups(void **state)
{
	static __u8 buf[PF_REQ_BUF], resp[2 * PF_RESP_MAX];
	const struct pf_compiled *c = &comp[P_MAIN][1];
	struct pf_req r;
	struct pf_match m;
	int rlen;

	(void)state;
	/* make slot 1 of main_yaml current */
	(void)pf_user_decide(c, buf, 0, NULL, &r, &m, resp, &rlen);
	assert_null(pf_user_rule_lookup(0));
	assert_null(pf_user_rule_lookup(PF_MAX_RULES - 1));
	assert_ptr_equal(pf_user_rule_lookup(PF_MAX_RULES), &c->rules[0]);
	assert_ptr_equal(pf_user_rule_lookup(2 * PF_MAX_RULES - 1),
			 &c->rules[PF_MAX_RULES - 1]);
	assert_null(pf_user_rule_lookup(2 * PF_MAX_RULES));
	assert_null(pf_user_rule_lookup(0xffffffffu));
	assert_ptr_equal(pf_user_tok_lookup(&c->keys[0]), &c->vals[0]);
}

/* Names of verdicts, reasons and parse results; unknown values. */
static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pf_verdict_name(PF_V_ALLOW), "allow");
	assert_string_equal(pf_verdict_name(PF_V_REJECT), "reject");
	assert_string_equal(pf_verdict_name(PF_V_FORWARD), "forward");
	assert_string_equal(pf_verdict_name(PF_V_NO_RULE), "no_rule");
	assert_string_equal(pf_verdict_name(PF_V_PUNT), "punt");
	assert_string_equal(pf_verdict_name(PF_V_PUNT + 1), "unknown");
	assert_string_equal(pf_reason_name(PF_R_OK), "ok");
	assert_string_equal(pf_reason_name(PF_R_METHOD_FORBIDDEN),
			    "method_forbidden");
	assert_string_equal(pf_reason_name(PF_R_AUTHZ_WILDCARD),
			    "authz_wildcard");
	assert_string_equal(pf_reason_name(PF_R_PATH_UNNORM), "path_unnorm");
	assert_string_equal(pf_reason_name(PF_R_REGEX), "regex");
	assert_string_equal(pf_reason_name(PF_R_ACRH_SLOW), "acrh_slow");
	assert_string_equal(pf_reason_name(PF_R_ACRH_SLOW + 1), "unknown");
	assert_string_equal(pf_reason_name(0xffffffffu), "unknown");
	assert_string_equal(pf_parse_res_name(PF_P_OK), "ok");
	assert_string_equal(pf_parse_res_name(PF_P_OBS_FOLD), "obs_fold");
	assert_string_equal(pf_parse_res_name(PF_P_PIPELINED), "pipelined");
	assert_string_equal(pf_parse_res_name(PF_P_PIPELINED + 1), "unknown");
	assert_string_equal(pf_parse_res_name(-1), "unknown");
}

/* Run every test; the exit status is the number of failures. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_parse_failure),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

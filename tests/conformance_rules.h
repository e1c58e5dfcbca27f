/* Tests only (unit and BPF tiers): rules 0-10 of the CORS conformance policy,
 * the rules of its paths policy, request-header values at the kernel's
 * limits and the responses they give, shared so that both tiers decide
 * exactly the same policies and expect exactly the same bytes. */
#ifndef PF_TEST_CONFORMANCE_RULES_H
#define PF_TEST_CONFORMANCE_RULES_H

#include "expect_vary.h"

/* A header name over the name table's 32 bytes (rule 0 lists it): only
 * pf_tokens decides it, its scan goes past the inline part */
#define PF_CONF_LONG_HDR "x-a-very-long-header-name-over-32-bytes1"

#define PF_CONF_RULES_0_10 \
	"rules:\n" \
	/* 0: exact and wildcard origins, listed methods and headers */ \
	"  - hosts: [api.example.com]\n" \
	"    origins:\n" \
	"      - https://app.example.com\n" \
	"      - https://*.example.com\n" \
	"      - https://foo.com\n" \
	"      - https://bar.com\n" \
	"      - http://localhost:3000\n" \
	"      - https://my_app.foo.test\n" \
	"      - https://*.ports.test:8443\n" \
	"    methods: [PUT, DELETE]\n" \
	"    headers: [content-type, x-request-id, " PF_CONF_LONG_HDR "]\n" \
	"    max_age: 600\n" \
	"    on_deny: reject\n" \
	/* 1: anything, anonymous */ \
	"  - hosts: [any.example.com]\n" \
	"    origins: [\"*\"]\n" \
	"    methods: [\"*\"]\n" \
	"    headers: [\"*\"]\n" \
	"    on_deny: reject\n" \
	/* 2: credentials with "*" methods and headers */ \
	"  - hosts: [cred.example.com]\n" \
	"    origins: [https://app.example.com, https://*.example.com]\n" \
	"    methods: [\"*\"]\n" \
	"    headers: [\"*\"]\n" \
	"    credentials: true\n" \
	"    max_age: 7200\n" \
	"    on_deny: reject\n" \
	/* 3: "*" headers with authorization listed */ \
	"  - hosts: [authz.example.com]\n" \
	"    origins: [\"*\"]\n" \
	"    methods: [GET]\n" \
	"    headers: [\"*\", authorization]\n" \
	/* 4: private network */ \
	"  - hosts: [pna.example.com]\n" \
	"    origins: [https://app.example.com]\n" \
	"    methods: [PUT]\n" \
	"    private_network: true\n" \
	"    on_deny: reject\n" \
	/* 5: credentials, authorization listed, on_deny forward (default) */ \
	"  - hosts: [fwd.example.com]\n" \
	"    origins: [https://app.example.com]\n" \
	"    methods: [PUT]\n" \
	"    headers: [authorization]\n" \
	"    credentials: true\n" \
	/* 6, 7: the first rule listing the origin decides */ \
	"  - hosts: [multi.example.com]\n" \
	"    origins: [https://a.example.com]\n" \
	"    methods: [PUT]\n" \
	"    max_age: 10\n" \
	"  - hosts: [multi.example.com]\n" \
	"    origins: [https://a.example.com, https://b.example.com]\n" \
	"    methods: [PUT, DELETE]\n" \
	"    max_age: 20\n" \
	"    on_deny: reject\n" \
	/* 8, 9: an origin no rule lists follows the first applicable rule */ \
	"  - hosts: [multi2.example.com]\n" \
	"    origins: [https://a.example.com]\n" \
	"    methods: [PUT]\n" \
	"    on_deny: reject\n" \
	"  - hosts: [multi2.example.com]\n" \
	"    origins: [https://b.example.com]\n" \
	"    methods: [PUT]\n" \
	/* 10: IP literal hosts */ \
	"  - hosts: [\"[::1]\", 127.0.0.1]\n" \
	"    origins: [http://localhost:3000]\n" \
	"    methods: [PUT]\n"

/* ---- expected response pieces (no Date header) ---- */

/* The paths policy's rules: path prefixes and an exact path, and a
 * wildcard rule for one host's public prefix. */
#define PF_CONF_RULES_PATHS \
	"rules:\n" \
	"  - paths: [/v1/, /v2/items]\n" \
	"    origins: [https://app.example.com]\n" \
	"    methods: [PUT]\n" \
	"    on_deny: reject\n" \
	"  - hosts: [api.example.com]\n" \
	"    paths: [/public/]\n" \
	"    origins: [\"*\"]\n" \
	"    methods: [PUT]\n"

#define APP "https://app.example.com"

/* Access-Control-Request-Headers values at the kernel's limits */
#define CT4   "content-type,content-type,content-type,content-type"
#define CT16  CT4 "," CT4 "," CT4 "," CT4
#define SP8   "        "
#define SP32  SP8 SP8 SP8 SP8
#define SP224 SP32 SP32 SP32 SP32 SP32 SP32 SP32
#define H256  "content-type" SP224 "       ,x-request-id"   /* 256 bytes */
#define H257  "content-type" SP224 SP8 ",x-request-id"      /* 257 bytes */

#define S204     "HTTP/1.1 204 No Content\r\n"
#define S403     "HTTP/1.1 403 Forbidden\r\n"
#define ACAO(o)  "Access-Control-Allow-Origin: " o "\r\n"
#define ACAM(m)  "Access-Control-Allow-Methods: " m "\r\n"
#define ACAH(h)  "Access-Control-Allow-Headers: " h "\r\n"
#define ACAC     "Access-Control-Allow-Credentials: true\r\n"
#define ACAPN    "Access-Control-Allow-Private-Network: true\r\n"
#define MAXAGE(n) "Access-Control-Max-Age: " n "\r\n"
#define VARY     PF_EXPECT_VARY
#define REJ(v)   S403 v "Content-Length: 0\r\n\r\n"

/* The precomputed tails (rule->fixed) of rules 0-10 (rule 8's would be
 * T9's). */
#define T0  ACAM("PUT, DELETE") MAXAGE("600") VARY "\r\n"
#define T1  VARY "\r\n"
#define T2  ACAC MAXAGE("7200") VARY "\r\n"
#define T3  ACAM("GET") VARY "\r\n"
#define T4  ACAM("PUT") VARY "\r\n"
#define T5  ACAM("PUT") ACAC VARY "\r\n"
#define T6  ACAM("PUT") MAXAGE("10") VARY "\r\n"
#define T7  ACAM("PUT, DELETE") MAXAGE("20") VARY "\r\n"
#define T9  ACAM("PUT") VARY "\r\n"
#define T10 ACAM("PUT") VARY "\r\n"

#endif /* PF_TEST_CONFORMANCE_RULES_H */

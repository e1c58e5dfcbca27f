/* Tests only (unit and BPF tiers): rules 0-10 of the CORS conformance policy,
 * shared so that both tiers decide exactly the same policy. */
#ifndef PF_TEST_CONFORMANCE_RULES_H
#define PF_TEST_CONFORMANCE_RULES_H

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
	"      - https://*.ports.test:8443\n" \
	"    methods: [PUT, DELETE]\n" \
	"    headers: [content-type, x-request-id]\n" \
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

#endif /* PF_TEST_CONFORMANCE_RULES_H */

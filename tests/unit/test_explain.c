/*
 * test_explain.c -- `preflightd explain` and the Prometheus endpoint.
 *
 * explain: a policy file in /tmp, pf_explain() with its report captured
 * in a memstream; each case checks the decision line, the rule line, the
 * reason words (apex, look-alike suffix, port, case-sensitive method,
 * unknown header, authorization and '*', no rule for the host, punts,
 * parse failures) and the exact escaped response bytes; then the exit
 * statuses (policy problem 1, usage 2) and pf_cmd_explain's options.
 *
 * metrics: a real counters map (root) filled with known values and a GC
 * pass published, the endpoint started on 127.0.0.1 port 0, /metrics
 * fetched over a plain socket and parsed; values change between scrapes;
 * 404/405; address errors; EADDRINUSE; nothing listens after
 * pf_metrics_stop; one client's idle connections (127.0.0.2) do not keep
 * a scraper (127.0.0.1) out.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "explain.h"
#include "gc.h"
#include "metrics.h"
#include "../expect_vary.h"

/* ---- explain ---- */

static const char policy_yaml[] =
	"ports: [8080]\n"
	"rules:\n"
	"  - hosts: [api.example.com]\n"
	"    paths: [/v1/]\n"
	"    origins: [https://app.example.com, https://*.example.com]\n"
	"    methods: [PUT, DELETE]\n"
	"    headers: [content-type, authorization]\n"
	"    max_age: 600\n"
	"    on_deny: reject\n"
	"  - hosts: [any.example.com]\n"
	"    origins: [\"*\"]\n"
	"    methods: [\"*\"]\n"
	"    headers: [\"*\"]\n"
	"  - hosts: [pna.example.com]\n"
	"    origins: [https://app.example.com, https://pna.test]\n"
	"    methods: [PUT]\n"
	"    private_network: true\n"
	"    on_deny: reject\n";

static char policy_path[64] = "/tmp/pf_explain_XXXXXX.yaml";

#define VARY PF_EXPECT_VARY
#define R403 "HTTP/1.1 403 Forbidden\r\n" VARY "Content-Length: 0\r\n\r\n"
#define RULE1 "Rule: 1 (%s:3:5): hosts api.example.com; paths /v1/; " \
	"origins https://app.example.com, https://*.example.com; on_deny reject\n"
#define NONE "Response: (none: the request goes to the app)\n"

/* Write the policy file. */
static int setup(void **state)
{
	int fd = mkstemps(policy_path, 5);

	(void)state;
	if (fd < 0)
		return -1;
	if (write(fd, policy_yaml, sizeof(policy_yaml) - 1) != sizeof(policy_yaml) - 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Remove the policy file. */
static int teardown(void **state)
{
	(void)state;
	unlink(policy_path);
	return 0;
}

/* Run pf_explain on file; returns the report (malloc'd), *rc the status,
 * *errs (malloc'd) what went to the error stream. */
static char *run(const char *file, const struct pf_explain_req *q, int *rc, char **errs)
{
	char *out = NULL;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&out, &olen), *e = open_memstream(errs, &elen);

	assert_non_null(o);
	assert_non_null(e);
	*rc = pf_explain(file, q, o, e);
	fclose(o);
	fclose(e);
	return out;
}

/* The report's expected rendering of raw bytes: each CRLF-terminated
 * line indented by two spaces and ended by a literal \r\n. */
static char *escaped(const char *raw)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	const char *p = raw, *e;

	assert_non_null(f);
	while (*p) {
		e = strstr(p, "\r\n");
		assert_non_null(e);
		fprintf(f, "  %.*s\\r\\n\n", (int)(e - p), p);
		p = e + 2;
	}
	fclose(f);
	return s;
}

/* Assert that hay contains needle (printing both if not). */
static void contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("missing:\n%s\nin:\n%s\n", needle, hay);
	assert_non_null(strstr(hay, needle));
}

/* Assert that the report has the response raw (exact bytes), or none. */
static void has_response(const char *out, const char *raw)
{
	char head[64], *esc;

	if (!raw) {
		contains(out, NONE);
		assert_null(strstr(out, "Response ("));
		return;
	}
	snprintf(head, sizeof(head), "Response (%zu bytes):\n", strlen(raw));
	esc = escaped(raw);
	contains(out, head);
	/* the block ends the report */
	assert_string_equal(strstr(out, head) + strlen(head), esc);
	free(esc);
}

struct ecase {
	const char *name;
	struct pf_explain_req q;
	const char *decision;   /* whole line */
	const char *rule;       /* whole line; %s: policy path; NULL: "Rule: none" */
	const char *reason;     /* a whole line of the reason */
	const char *detail;     /* another expected fragment, or NULL */
	const char *resp;       /* raw response bytes, or NULL for none */
};

#define API(o, m, h) { .origin = (o), .method = (m), .headers = (h), \
		       .host = "api.example.com", .path = "/v1/items" }
#define ALLOW  "Decision: ALLOW 204 (answered in the kernel)\n"
#define REJECT "Decision: REJECT 403 (answered in the kernel)\n"
#define FWD    "Decision: FORWARD to the app (denied, on_deny: forward)\n"
#define PUNT   "Decision: PUNT: passed to the app (beyond the kernel's limits)\n"

static const struct ecase ecases[] = {
	{ "allowed by a wildcard",
	  API("https://a.example.com", "PUT", "content-type"), ALLOW, RULE1,
	  "Reason: rule 1 allows it\n",
	  "  origin https://a.example.com matches https://*.example.com\n"
	  "  method PUT is listed\n"
	  "  request headers 'content-type' are listed\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: https://a.example.com\r\n"
	  "Access-Control-Allow-Headers: content-type\r\n"
	  "Access-Control-Allow-Methods: PUT, DELETE\r\n"
	  "Access-Control-Max-Age: 600\r\n" VARY "\r\n" },
	/* '_' in a host (the datapath's pf_hostch64): a wildcard match, not
	 * "listed" (a review finding, stop 51: explain's byte class lacked it) */
	{ "allowed by a wildcard, '_' in the host",
	  API("https://my_app.example.com", "PUT", "content-type"), ALLOW, RULE1,
	  "Reason: rule 1 allows it\n",
	  "  origin https://my_app.example.com matches https://*.example.com\n"
	  "  method PUT is listed\n"
	  "  request headers 'content-type' are listed\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: https://my_app.example.com\r\n"
	  "Access-Control-Allow-Headers: content-type\r\n"
	  "Access-Control-Allow-Methods: PUT, DELETE\r\n"
	  "Access-Control-Max-Age: 600\r\n" VARY "\r\n" },
	{ "safelisted method",
	  API("https://app.example.com", "GET", NULL), ALLOW, RULE1,
	  "Reason: rule 1 allows it\n",
	  "  origin https://app.example.com is listed\n"
	  "  method GET is CORS-safelisted (allowed without being listed)\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: https://app.example.com\r\n"
	  "Access-Control-Allow-Methods: PUT, DELETE\r\n"
	  "Access-Control-Max-Age: 600\r\n" VARY "\r\n" },
	{ "apex", API("https://example.com", "PUT", NULL), REJECT, RULE1,
	  "Reason: https://example.com does not match https://*.example.com: "
	  "the apex is not a subdomain\n",
	  "  rule 1 decides: it is the first rule that applies to host "
	  "api.example.com path /v1/items, and no applicable rule lists the origin\n",
	  R403 },
	{ "look-alike suffix", API("https://app.example.com.evil.test", "PUT", NULL),
	  REJECT, RULE1,
	  "Reason: https://app.example.com.evil.test does not match "
	  "https://*.example.com: it is not a subdomain of example.com\n", NULL, R403 },
	{ "no dot before the domain", API("https://evilexample.com", "PUT", NULL),
	  REJECT, RULE1,
	  "Reason: https://evilexample.com does not match https://*.example.com: "
	  "it is not a subdomain of example.com\n", NULL, R403 },
	{ "port", API("https://a.example.com:8443", "PUT", NULL), REJECT, RULE1,
	  "Reason: origin https://a.example.com:8443 has a port that "
	  "https://*.example.com does not list\n", NULL, R403 },
	{ "not a host name", API("https://a~b.example.com", "PUT", NULL), REJECT,
	  RULE1, "Reason: https://a~b.example.com does not match https://*.example.com: "
	  "a wildcard only covers host names of a-z, 0-9, '-', '_' and '.'\n", NULL, R403 },
	{ "scheme", API("http://app.example.com", "PUT", NULL), REJECT, RULE1,
	  "Reason: http://app.example.com does not match https://app.example.com: "
	  "the scheme is http, not https (origins are compared byte for byte)\n",
	  NULL, R403 },
	{ "another host", API("https://example.org", "PUT", NULL), REJECT, RULE1,
	  "Reason: origin https://example.org is not listed by any applicable rule; "
	  "the closest, https://app.example.com, is another host (origins never "
	  "match by prefix or suffix)\n", NULL, R403 },
	{ "upper case", API("https://APP.example.com", "PUT", NULL), REJECT, RULE1,
	  "Reason: origin https://APP.example.com is not listed: origins are "
	  "compared byte for byte and browsers send them in lower case; this one "
	  "has upper-case letters\n", NULL, R403 },
	{ "listed by a rule that does not apply",
	  API("https://pna.test", "PUT", NULL), REJECT, RULE1,
	  "Reason: origin https://pna.test is not listed by any applicable rule; "
	  "the closest, https://app.example.com, is another host (origins never "
	  "match by prefix or suffix)\n",
	  "  note: rule 3 lists it, but does not apply to host api.example.com "
	  "path /v1/items\n", R403 },
	{ "method case", API("https://app.example.com", "put", NULL), REJECT, RULE1,
	  "Reason: method 'put' is not allowed: methods are case-sensitive "
	  "(rule lists PUT)\n", NULL, R403 },
	{ "method not listed", API("https://app.example.com", "PATCH", NULL),
	  REJECT, RULE1,
	  "Reason: method 'PATCH' is not allowed by rule 1 (allowed: PUT, DELETE; "
	  "GET, HEAD and POST always pass)\n", NULL, R403 },
	{ "forbidden method", API("https://app.example.com", "TRACE", NULL),
	  REJECT, RULE1,
	  "Reason: method 'TRACE' is forbidden: CONNECT, TRACE and TRACK are never "
	  "allowed (browsers refuse to send them)\n", NULL, R403 },
	{ "unknown header",
	  API("https://app.example.com", "PUT", "content-type,x-foo"), REJECT, RULE1,
	  "Reason: request header 'x-foo' is not allowed by rule 1 "
	  "(allowed: content-type, authorization)\n", NULL, R403 },
	{ "rule without headers",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .headers = "x-foo", .host = "pna.example.com" }, REJECT,
	  "Rule: 3 (%s:14:5): hosts pna.example.com; paths any; origins "
	  "https://app.example.com, https://pna.test; on_deny reject\n",
	  "Reason: request header 'x-foo' is not allowed by rule 3 "
	  "(it allows no request headers)\n", NULL,
	  R403 },
	{ "malformed header list",
	  API("https://app.example.com", "PUT", "content-type x-foo"), REJECT, RULE1,
	  "Reason: Access-Control-Request-Headers 'content-type x-foo' is not a "
	  "comma-separated list of header names (unexpected 'x' at byte 14; names "
	  "are separated by commas)\n", NULL, R403 },
	{ "authorization and '*'",
	  { .origin = "https://x.test", .method = "PUT", .headers = "authorization",
	    .host = "any.example.com" }, FWD,
	  "Rule: 2 (%s:10:5): hosts any.example.com; paths any; origins *; "
	  "on_deny forward\n",
	  "Reason: authorization is never covered by '*': list it explicitly\n",
	  NULL, NULL },
	{ "'*' rule", { .origin = "https://x.test", .method = "MOVE",
			.headers = "X-Foo", .host = "ANY.example.com:8080" }, ALLOW,
	  "Rule: 2 (%s:10:5): hosts any.example.com; paths any; origins *; "
	  "on_deny forward\n", "Reason: rule 2 allows it\n",
	  "  origin https://x.test: any origin is allowed ('*')\n"
	  "  method MOVE: any method is allowed ('*')\n"
	  "  request headers 'X-Foo' are covered by '*'\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: *\r\n"
	  "Access-Control-Allow-Methods: *\r\n"
	  "Access-Control-Allow-Headers: *\r\n" VARY "\r\n" },
	{ "private network allowed",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .host = "pna.example.com", .private_network = true }, ALLOW,
	  "Rule: 3 (%s:14:5): hosts pna.example.com; paths any; origins "
	  "https://app.example.com, https://pna.test; on_deny reject\n", "Reason: rule 3 allows it\n",
	  "  private network access: allowed (private_network: true)\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: https://app.example.com\r\n"
	  "Access-Control-Allow-Private-Network: true\r\n"
	  "Access-Control-Allow-Methods: PUT\r\n"
	  VARY "\r\n" },
	{ "private network not allowed",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .host = "api.example.com", .path = "/v1/", .private_network = true },
	  REJECT, RULE1,
	  "Reason: private network access was asked (Access-Control-Request-Private-"
	  "Network: true) but rule 1 does not allow it (private_network: false)\n",
	  NULL, R403 },
	{ "no rule for the host",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .host = "api.other.com:8080", .path = "/x" },
	  "Decision: NO RULE: forwarded to the app\n", NULL,
	  "Reason: no rule applies to host api.other.com path /x\n",
	  "  rule 1: host api.other.com is not one of its hosts (api.example.com)\n"
	  "  rule 2: host api.other.com is not one of its hosts (any.example.com)\n",
	  NULL },
	{ "no rule for the path",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .host = "api.example.com", .path = "/v2" },
	  "Decision: NO RULE: forwarded to the app\n", NULL,
	  "Reason: no rule applies to host api.example.com path /v2\n",
	  "  rule 1: path /v2 does not start with any of its paths (/v1/)\n", NULL },
	{ "default host", { .origin = "https://app.example.com", .method = "PUT" },
	  "Decision: NO RULE: forwarded to the app\n", NULL,
	  "Reason: no rule applies to host localhost path /\n", NULL, NULL },
	{ "path not normalized",
	  { .origin = "https://app.example.com", .method = "PUT",
	    .host = "api.example.com", .path = "/v1/../admin" }, PUNT, NULL,
	  "Reason: path /v1/../admin is not normalized (%, //, /./, /../ or a "
	  "backslash) and the policy matches paths: the app answers\n", NULL, NULL },
	{ "too many request headers: the daemon allows",
	  { .origin = "https://x.test", .method = "PUT",
	    .headers = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", .host = "any.example.com" },
	  ALLOW, "Rule: 2 (%s:10:5): hosts any.example.com; paths any; origins *; "
	  "on_deny forward\n",
	  "Reason: rule 2 allows it\n",
	  "Slow path: decided by the daemon: 33-byte request-headers list over the "
	  "kernel's limits (16 names, 256 bytes); the kernel punts the first request "
	  "and decides its retransmission\n",
	  "HTTP/1.1 204 No Content\r\n"
	  "Access-Control-Allow-Origin: *\r\n"
	  "Access-Control-Allow-Methods: *\r\n"
	  "Access-Control-Allow-Headers: *\r\n" VARY "\r\n" },
	{ "too many request headers: the daemon finds the one not allowed",
	  API("https://app.example.com", "PUT",
	      "content-type,authorization,content-type,authorization,content-type,"
	      "authorization,content-type,authorization,content-type,authorization,"
	      "content-type,authorization,content-type,authorization,content-type,"
	      "authorization,x-no"),
	  REJECT, RULE1,
	  "Reason: request header 'x-no' is not allowed by rule 1 (allowed: "
	  "content-type, authorization)\n",
	  "Slow path: decided by the daemon: 220-byte request-headers list", R403 },
	{ "not parsed: tab in a value",
	  { .origin = "https://a\tb", .method = "PUT", .host = "any.example.com" },
	  "Decision: PASS to the app: not a preflight the kernel answers\n", NULL,
	  "Reason: malformed request line or header (a tab in a value, a space in "
	  "the path, ...) (bad)\n", NULL, NULL },
};

/* Every case: decision, rule, reason, detail and response. */
static void test_explain_cases(void **state)
{
	char line[512], *out, *errs;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];
		print_message("case: %s\n", c->name);
		out = run(policy_path, &c->q, &rc, &errs);
		assert_int_equal(rc, 0);
		assert_string_equal(errs, "");
		contains(out, c->decision);
		if (c->rule) {
			snprintf(line, sizeof(line), c->rule, policy_path);
			contains(out, line);
		} else {
			contains(out, "\nRule: none\n");
		}
		contains(out, c->reason);
		if (c->detail)
			contains(out, c->detail);
		has_response(out, c->resp);
		free(out);
		free(errs);
	}
}

/* The request bytes a browser would send, shown escaped. */
static void test_explain_request(void **state)
{
	static const char raw[] =
		"OPTIONS /v1/items HTTP/1.1\r\nHost: api.example.com\r\n"
		"Accept: */*\r\nAccess-Control-Request-Method: PUT\r\n"
		"Access-Control-Request-Headers: content-type\r\n"
		"Access-Control-Request-Private-Network: true\r\n"
		"Origin: https://app.example.com\r\nSec-Fetch-Mode: cors\r\n"
		"Connection: keep-alive\r\n\r\n";
	struct pf_explain_req q = API("https://app.example.com", "PUT", "content-type");
	char head[256], *out, *errs, *esc = escaped(raw);
	int rc;

	(void)state;
	q.private_network = true;
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 0);
	snprintf(head, sizeof(head), "Policy: %s (3 rules; preflights to TCP port 8080)\n"
		 "Request (%zu bytes):\n", policy_path, sizeof(raw) - 1);
	assert_memory_equal(out, head, strlen(head));
	assert_memory_equal(out + strlen(head), esc, strlen(esc));
	assert_memory_equal(out + strlen(head) + strlen(esc), REJECT, strlen(REJECT));
	free(esc);
	free(out);
	free(errs);
}

/* Over PF_ANSWER_MAX bytes: passed, without running the matcher. */
static void test_explain_too_long(void **state)
{
	struct pf_explain_req q = { .origin = "https://x.test", .method = "PUT",
				    .host = "any.example.com" };
	char hdrs[2100], *out, *errs;
	int rc;

	(void)state;
	memset(hdrs, 'x', sizeof(hdrs) - 1);
	hdrs[sizeof(hdrs) - 1] = 0;
	q.headers = hdrs;
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 0);
	contains(out, "bytes, over the kernel's 2048\nRule: none\n");
	has_response(out, NULL);
	free(out);
	free(errs);
}

/* Exit statuses: policy problems 1 (FILE:LINE:COL), usage 2. */
static void test_explain_errors(void **state)
{
	static const char bad_yaml[] =
		"ports: [80]\nrules:\n  - origins: [https://EXAMPLE.com]\n"
		"    methods: [PUT]\n";
	struct pf_explain_req ok = { .origin = "https://a.test", .method = "PUT" };
	struct pf_explain_req q;
	char bad[] = "/tmp/pf_explain_bad_XXXXXX.yaml", want[128], *out, *errs;
	int fd, rc;

	(void)state;
	fd = mkstemps(bad, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad_yaml, sizeof(bad_yaml) - 1), sizeof(bad_yaml) - 1);
	close(fd);
	out = run(bad, &ok, &rc, &errs);
	unlink(bad);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want), "%s:3:15: ", bad);
	assert_memory_equal(errs, want, strlen(want));
	free(out);
	free(errs);

	out = run("/nonexistent/p.yaml", &ok, &rc, &errs);
	assert_int_equal(rc, 1);
	contains(errs, "open /nonexistent/p.yaml: ");
	free(out);
	free(errs);

	q = ok;
	q.method = NULL;
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 2);
	assert_string_equal(out, "");
	free(out);
	free(errs);

	q = ok;
	q.origin = "https://a.test\r\nX-Injected: 1";
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 2);
	contains(errs, "--origin has a control character at byte 15");
	free(out);
	free(errs);

	q = ok;
	q.path = "v1/x";
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 2);
	free(out);
	free(errs);

	q = ok;
	q.path = "/a b";
	out = run(policy_path, &q, &rc, &errs);
	assert_int_equal(rc, 2);
	free(out);
	free(errs);
}

/* Run pf_cmd_explain with stdout captured; returns what it printed. */
static char *cmd(int argc, char **argv, int *rc)
{
	char tmpl[] = "/tmp/pf_explain_out_XXXXXX", *buf;
	int fd = mkstemp(tmpl), saved;
	off_t n;

	assert_true(fd >= 0);
	unlink(tmpl);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	*rc = pf_cmd_explain(argc, argv);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	assert_true(n >= 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
	close(fd);
	return buf;
}

/* The command line maps onto the same request as pf_explain. */
static void test_cmd_explain(void **state)
{
	char *argv[] = { "explain", "--origin", "https://a.example.com:8443",
			 "--method", "PUT", "--host", "api.example.com", "-p", "/v1/x",
			 "--headers", "content-type", "--private-network",
			 policy_path, NULL };
	char *help[] = { "explain", "--help", NULL };
	char *noarg[] = { "explain", "--origin", "a", "--method", "b", NULL };
	char *two[] = { "explain", "a.yaml", "b.yaml", "-o", "a", "-m", "b", NULL };
	char *unk[] = { "explain", "--bogus", policy_path, NULL };
	struct pf_explain_req q = { .origin = "https://a.example.com:8443",
				    .method = "PUT", .host = "api.example.com",
				    .path = "/v1/x", .headers = "content-type",
				    .private_network = true };
	char *got, *want, *errs;
	int rc, wrc;

	(void)state;
	got = cmd(13, argv, &rc);
	want = run(policy_path, &q, &wrc, &errs);
	assert_int_equal(rc, 0);
	assert_int_equal(wrc, 0);
	assert_string_equal(got, want);
	contains(got, "has a port that https://*.example.com does not list\n");
	free(got);
	free(want);
	free(errs);

	got = cmd(2, help, &rc);
	assert_int_equal(rc, 0);
	contains(got, "usage: preflightd explain POLICY");
	free(got);
	got = cmd(5, noarg, &rc);
	assert_int_equal(rc, 2);
	assert_string_equal(got, "");
	free(got);
	got = cmd(7, two, &rc);
	assert_int_equal(rc, 2);
	free(got);
	got = cmd(3, unk, &rc);
	assert_int_equal(rc, 2);
	free(got);
}

/* ---- metrics ---- */

/* GET/POST path over a fresh connection to addr:port (AF_INET or
 * AF_INET6 loopback); returns the whole reply (malloc'd) or NULL if the
 * connection is refused. */
static char *http(int family, unsigned short port, const char *method, const char *path)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 5, 0 };
	char req[256], *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (family == AF_INET6)
		r = connect(fd, (struct sockaddr *)&s6, sizeof(s6));
	else
		r = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	if (r) {
		assert_int_equal(errno, ECONNREFUSED);
		close(fd);
		return NULL;
	}
	snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n",
		 method, path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = 2 * cap + 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		assert_true(n >= 0);
		if (!n)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

/* Value of the sample line "name value" in body; fails if absent. */
static unsigned long long sample(const char *body, const char *name)
{
	char key[160];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(body, key);
	if (!p)
		print_error("no sample %s in:\n%s\n", name, body);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Per-CPU values of stat k: (k + 1) * 1000 + cpu * mult. */
static void fill_stats(int fd, int ncpu, __u64 mult)
{
	__u64 *v = calloc((size_t)ncpu, sizeof(*v));
	__u32 k;
	int c;

	assert_non_null(v);
	for (k = 0; k < PF_STAT__MAX; k++) {
		for (c = 0; c < ncpu; c++)
			v[c] = (k + 1) * 1000ULL + (__u64)c * mult;
		assert_int_equal(bpf_map_update_elem(fd, &k, v, BPF_ANY), 0);
	}
	free(v);
}

/* The PF_STATS names, as written in pf_common.h. */
static const char *const stat_names[] = {
#define T_NAME(name, desc) #name,
	PF_STATS(T_NAME)
#undef T_NAME
};

/* Check every datapath sample of body against fill_stats(mult); the
 * event label is the PF_STATS name in lower case. */
static void check_stats(const char *body, int ncpu, __u64 mult)
{
	char name[64], full[128];
	unsigned i, j;
	__u64 want;

	contains(body, "\npreflightd_datapath_events_total{event=\"answered\"} ");
	contains(body, "\npreflightd_datapath_events_total{event=\"pass_gso\"} ");
	for (i = 0; i < PF_STAT__MAX; i++) {
		for (j = 0; stat_names[i][j] && j + 1 < sizeof(name); j++)
			name[j] = (char)pf_lower((__u8)stat_names[i][j]);
		name[j] = 0;
		want = (__u64)ncpu * (i + 1) * 1000ULL +
		       mult * (__u64)ncpu * (__u64)(ncpu - 1) / 2;
		snprintf(full, sizeof(full),
			 "preflightd_datapath_events_total{event=\"%s\"}", name);
		assert_int_equal(sample(body, full), want);
	}
}

/* The endpoint over a real counters map and the GC's published pass:
 * values, HELP/TYPE lines, no caching, 404/405/HEAD, EADDRINUSE, stop,
 * IPv6, malformed addresses, a wrong map. */
static void test_metrics(void **state)
{
	struct pf_gc gc = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct pf_config cfg;
	struct pf_metrics m, m2, m6;
	int ncpu = libbpf_num_possible_cpus(), sfd, err;
	char *r, *body, addr[64];
	unsigned short p;
	int ffd;

	(void)state;
	sfd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "t_stats", sizeof(__u32),
			     sizeof(__u64), PF_STAT__MAX, NULL);
	if (sfd < 0 && (sfd == -EPERM || errno == EPERM))
		skip(); /* needs CAP_BPF (run as root) */
	assert_true(sfd >= 0);
	assert_true(ncpu > 0);
	fill_stats(sfd, ncpu, 7);
	gc.pub.last.entries = 3;
	gc.pub.last.live = 2;
	gc.pub.passes = 9;
	gc.pub.pass_ns = 1500000;
	gc.pub.replaced = 4;
	memset(&cfg, 0, sizeof(cfg));
	cfg.flows_freed = 7;
	cfg.reloads = 3;
	cfg.reload_failures = 1;
	cfg.drain_resets = 5;
	cfg.replayed = 11;
	cfg.replay_failed = 2;
	cfg.active_slot = 1;
	cfg.draining = 0;

	err = pf_metrics_start(&m, "127.0.0.1:0", sfd, &gc, &cfg);
	assert_int_equal(err, 0);
	assert_true(m.port != 0);

	r = http(AF_INET, m.port, "GET", "/metrics");
	assert_non_null(r);
	assert_memory_equal(r, "HTTP/1.1 200", 12);
	contains(r, "\r\nContent-Type: text/plain; version=0.0.4");
	body = strstr(r, "\r\n\r\n");
	assert_non_null(body);
	body += 3; /* keep one '\n' so every sample follows a newline */
	contains(body, "\n# HELP preflightd_datapath_events_total ");
	contains(body, "\n# TYPE preflightd_datapath_events_total counter\n");
	check_stats(body, ncpu, 7);
	assert_int_equal(sample(body, "preflightd_active_flows"), 3);
	contains(body, "\n# TYPE preflightd_active_flows gauge\n");
	assert_int_equal(sample(body, "preflightd_spliced_flows"), 2);
	assert_int_equal(sample(body, "preflightd_gc_passes_total"), 9);
	assert_int_equal(sample(body, "preflightd_gc_replaced_total"), 4);
	contains(body, "\npreflightd_gc_pass_seconds 0.001500\n");
	assert_int_equal(sample(body, "preflightd_flows_freed_total"), 7);
	contains(body, "\n# TYPE preflightd_flows_freed_total counter\n");
	assert_int_equal(sample(body, "preflightd_reloads_total"), 3);
	assert_int_equal(sample(body, "preflightd_reload_failures_total"), 1);
	contains(body, "\n# TYPE preflightd_reload_failures_total counter\n");
	assert_int_equal(sample(body, "preflightd_drain_resets_total"), 5);
	contains(body, "\n# TYPE preflightd_drain_resets_total counter\n");
	assert_int_equal(sample(body, "preflightd_replayed_total"), 11);
	assert_int_equal(sample(body, "preflightd_replay_failures_total"), 2);
	contains(body, "\n# TYPE preflightd_replay_failures_total counter\n");
	assert_int_equal(sample(body, "preflightd_policy_slot"), 1);
	contains(body, "\n# TYPE preflightd_policy_slot gauge\n");
	assert_int_equal(sample(body, "preflightd_draining"), 0);
	contains(body, "\n# HELP preflightd_draining ");
	free(r);

	/* nothing is cached: every scrape reads the counters, the GC's last
	 * pass and the config */
	fill_stats(sfd, ncpu, 11);
	gc.pub.last.entries = 2;
	cfg.reloads = 4;
	cfg.active_slot = 0;
	cfg.draining = 1;
	r = http(AF_INET, m.port, "GET", "/metrics");
	assert_non_null(r);
	body = strstr(r, "\r\n\r\n") + 3;
	check_stats(body, ncpu, 11);
	assert_int_equal(sample(body, "preflightd_active_flows"), 2);
	assert_int_equal(sample(body, "preflightd_reloads_total"), 4);
	assert_int_equal(sample(body, "preflightd_policy_slot"), 0);
	assert_int_equal(sample(body, "preflightd_draining"), 1);
	free(r);

	r = http(AF_INET, m.port, "GET", "/other");
	assert_memory_equal(r, "HTTP/1.1 404", 12);
	free(r);
	r = http(AF_INET, m.port, "POST", "/metrics");
	assert_memory_equal(r, "HTTP/1.1 405", 12);
	contains(r, "\r\nAllow: GET, HEAD\r\n");
	free(r);
	r = http(AF_INET, m.port, "HEAD", "/metrics");
	assert_memory_equal(r, "HTTP/1.1 200", 12);
	assert_null(strstr(r, "preflightd_"));
	free(r);

	/* the port is taken */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", m.port);
	assert_int_equal(pf_metrics_start(&m2, addr, sfd, &gc, &cfg), -EADDRINUSE);
	pf_metrics_stop(&m2);

	/* stopped: nothing listens any more */
	p = m.port;
	pf_metrics_stop(&m);
	pf_metrics_stop(&m);
	assert_null(http(AF_INET, p, "GET", "/metrics"));

	/* IPv6 (if the loopback has it), daemon counters only */
	err = pf_metrics_start(&m6, "[::1]:0", -1, NULL, &cfg);
	if (err != -EADDRNOTAVAIL && err != -EAFNOSUPPORT) {
		assert_int_equal(err, 0);
		r = http(AF_INET6, m6.port, "GET", "/metrics");
		assert_non_null(r);
		body = strstr(r, "\r\n\r\n") + 3;
		assert_int_equal(sample(body, "preflightd_reloads_total"), 4);
		assert_null(strstr(body, "preflightd_datapath_events_total"));
		assert_null(strstr(body, "preflightd_active_flows"));
		free(r);
		pf_metrics_stop(&m6);
	}

	/* malformed addresses and wrong maps */
	assert_int_equal(pf_metrics_start(&m2, "127.0.0.1", sfd, &gc, &cfg), -EINVAL);
	assert_int_equal(pf_metrics_start(&m2, "127.0.0.1:65536", sfd, &gc, &cfg), -EINVAL);
	assert_int_equal(pf_metrics_start(&m2, "127.0.0.1:-1", sfd, &gc, &cfg), -EINVAL);
	assert_int_equal(pf_metrics_start(&m2, "localhost:9100", sfd, &gc, &cfg), -EINVAL);
	assert_int_equal(pf_metrics_start(&m2, "::1:9100", sfd, &gc, &cfg), -EINVAL);
	assert_int_equal(pf_metrics_start(&m2, "[::1]9100", sfd, &gc, &cfg), -EINVAL);
	ffd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_other", sizeof(__u32), sizeof(__u64), 4, NULL);
	assert_true(ffd >= 0);
	assert_int_equal(pf_metrics_start(&m2, "127.0.0.1:0", ffd, &gc, &cfg), -EINVAL);
	assert_null(m2.mhd);
	pf_metrics_stop(&m2);
	close(sfd);
	close(ffd);
}

/* One client holding idle connections (more than the old limit of 16 in
 * all) does not keep a scraper at another address out. */
static void test_metrics_one_client(void **state)
{
	struct pf_metrics m;
	struct pf_config cfg;
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fds[20], i;
	char *r;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(pf_metrics_start(&m, "127.0.0.1:0", -1, NULL, &cfg), 0);
	src.sin_addr.s_addr = htonl(0x7f000002);   /* 127.0.0.2: another client */
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons(m.port);
	for (i = 0; i < 20; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&src, sizeof(src)), 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&dst, sizeof(dst)), 0);
	}
	/* accepted in order: the idle ones first, then the scrape */
	r = http(AF_INET, m.port, "GET", "/metrics");
	assert_non_null(r);
	assert_memory_equal(r, "HTTP/1.1 200", 12);
	free(r);
	for (i = 0; i < 20; i++)
		close(fds[i]);
	pf_metrics_stop(&m);
}

/* Run every test; the exit status is the number of failures. */
/* /healthz: 503 until attached, 200 with a fresh heartbeat, 503 once the
 * heartbeat is older than 5 s or after detaching; HEAD, 405. */
static void test_healthz(void **state)
{
	struct pf_config cfg;
	struct pf_metrics m;
	struct timespec ts;
	__u64 now;
	char *r;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	cfg.heartbeat_ns = now;
	assert_int_equal(pf_metrics_start(&m, "127.0.0.1:0", -1, NULL, &cfg), 0);
	r = http(AF_INET, m.port, "GET", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 503", 12);
	contains(r, "unhealthy: not attached");
	free(r);
	pf_metrics_set_attached(&m, true);
	r = http(AF_INET, m.port, "GET", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 200", 12);
	contains(r, "\r\n\r\nok: attached, heartbeat ");
	free(r);
	cfg.draining = 1;
	r = http(AF_INET, m.port, "HEAD", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 200", 12);
	free(r);
	r = http(AF_INET, m.port, "GET", "/healthz");
	contains(r, ", draining\n");
	free(r);
	cfg.heartbeat_ns = now - 6000000000ull;   /* 6 s: the loop is stuck */
	r = http(AF_INET, m.port, "GET", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 503", 12);
	contains(r, "unhealthy: attached, heartbeat 6");
	free(r);
	cfg.heartbeat_ns = now;
	pf_metrics_set_attached(&m, false);
	r = http(AF_INET, m.port, "GET", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 503", 12);
	free(r);
	r = http(AF_INET, m.port, "POST", "/healthz");
	assert_memory_equal(r, "HTTP/1.1 405", 12);
	free(r);
	pf_metrics_stop(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explain_cases),
		cmocka_unit_test(test_explain_request),
		cmocka_unit_test(test_explain_too_long),
		cmocka_unit_test(test_explain_errors),
		cmocka_unit_test(test_cmd_explain),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_one_client),
		cmocka_unit_test(test_healthz),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

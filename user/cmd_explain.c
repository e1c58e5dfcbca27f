/*
 * cmd_explain.c -- "preflightd explain POLICY --origin O --method M ...":
 * build the preflight a browser would send, run the datapath decision on
 * it (pf_user_decide: the very parser, matcher and response builder of
 * the kernel) and report the decision, the deciding rule, the reason in
 * words (explain_why.c) and the exact response bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "explain.h"
#include "policy_regex.h"
#include "acrh.h"

#define EXPLAIN_USAGE \
	"usage: preflightd explain POLICY --origin ORIGIN --method METHOD [options]\n" \
	"  Show what the datapath does with one browser preflight, and why.\n" \
	"  -o, --origin ORIGIN      Origin header (e.g. https://app.example.com)\n" \
	"  -m, --method METHOD      Access-Control-Request-Method, sent as given\n" \
	"                           (browsers upper-case only DELETE GET HEAD\n" \
	"                           OPTIONS POST PUT)\n" \
	"  -H, --headers LIST       Access-Control-Request-Headers, sent as given\n" \
	"                           (browsers send lower-case names, sorted,\n" \
	"                           joined by ',')\n" \
	"      --host HOST          Host header (default localhost)\n" \
	"  -p, --path PATH          request-target (default /)\n" \
	"      --private-network    add Access-Control-Request-Private-Network: true\n" \
	"  exit status: 0 explained (whatever the verdict), 1 policy problems\n" \
	"  (FILE:LINE:COL: message), 2 usage error\n"

/* Words for a parse result other than PF_P_OK: why the kernel leaves the
 * request to the app. */
static const char *parse_words(int res)
{
	switch (res) {
	case PF_P_NOT_OPTIONS:   return "it is not an OPTIONS request";
	case PF_P_PLAIN_OPTIONS: return "OPTIONS without Origin or Access-Control-Request-Method is not a preflight";
	case PF_P_INCOMPLETE:    return "the header block does not end in this segment";
	case PF_P_TOO_LONG:      return "too many or too long header lines for the kernel";
	case PF_P_BAD:           return "malformed request line or header (a tab in a value, a space in the path, ...)";
	case PF_P_VERSION:       return "not HTTP/1.1, or an Upgrade";
	case PF_P_CONN_CLOSE:    return "Connection: close, or more than one Connection line";
	case PF_P_BODY:          return "the request has a body";
	case PF_P_DUP:           return "a repeated Host, Origin or Access-Control-Request-* header";
	case PF_P_OBS_FOLD:      return "obsolete line folding";
	case PF_P_PIPELINED:     return "data follows the request";
	}
	return pf_parse_res_name(res);
}

/* Is v usable as a header value or (path) request-target? Prints the
 * problem to errs and returns false if not. */
static bool value_ok(const char *what, const char *v, bool path, FILE *errs)
{
	size_t i;

	if (path && v[0] != '/') {
		fprintf(errs, "explain: --path must start with '/': '%s'\n", v);
		return false;
	}
	for (i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f || (path && (c == ' ' || c == '\t'))) {
			fprintf(errs, "explain: --%s has a %s at byte %zu\n", what,
				c == ' ' ? "space" : "control character", i + 1);
			return false;
		}
	}
	return true;
}

/* Print n bytes of p one line at a time, each indented, with CR, LF,
 * backslash and other unprintable bytes escaped ("\r\n" ends a line). */
static void put_escaped(FILE *out, const __u8 *p, size_t n)
{
	size_t i;
	bool bol = true;

	for (i = 0; i < n; i++) {
		if (bol)
			fputs("  ", out);
		bol = false;
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			fputs("\\r\\n\n", out);
			i++;
			bol = true;
		} else if (p[i] == '\\') {
			fputs("\\\\", out);
		} else if (p[i] < 0x20 || p[i] >= 0x7f) {
			fprintf(out, "\\x%02x", p[i]);
		} else {
			fputc(p[i], out);
		}
	}
	if (!bol)
		fputc('\n', out);
}

/* Build the request of q into a malloc'd buffer (*req, *len).
 * Returns 0 or -ENOMEM. */
static int build_request(const struct pf_explain_req *q, char **req, size_t *len)
{
	FILE *f = open_memstream(req, len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "OPTIONS %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n"
		"Access-Control-Request-Method: %s\r\n",
		q->path ? q->path : "/", q->host ? q->host : "localhost", q->method);
	if (q->headers)
		fprintf(f, "Access-Control-Request-Headers: %s\r\n", q->headers);
	if (q->private_network)
		fputs("Access-Control-Request-Private-Network: true\r\n", f);
	fprintf(f, "Origin: %s\r\nSec-Fetch-Mode: cors\r\n"
		"Connection: keep-alive\r\n\r\n", q->origin);
	if (fclose(f))
		return -ENOMEM;
	return 0;
}

/* Print the Decision line for a parsed request. */
static void put_decision(FILE *out, const struct pf_match *m, int resp_len)
{
	if ((m->verdict == PF_V_ALLOW || m->verdict == PF_V_REJECT) && resp_len < 0) {
		fprintf(out, "Decision: PASS to the app: the %s response would exceed the kernel's %d bytes\n",
			m->verdict == PF_V_ALLOW ? "204" : "403", PF_RESP_MAX);
		return;
	}
	switch (m->verdict) {
	case PF_V_ALLOW:
		fputs("Decision: ALLOW 204 (answered in the kernel)\n", out);
		break;
	case PF_V_REJECT:
		fputs("Decision: REJECT 403 (answered in the kernel)\n", out);
		break;
	case PF_V_FORWARD:
		fputs("Decision: FORWARD to the app (denied, on_deny: forward)\n", out);
		break;
	case PF_V_NO_RULE:
		fputs("Decision: NO RULE: forwarded to the app\n", out);
		break;
	default:
		fputs("Decision: PUNT: passed to the app (beyond the kernel's limits)\n", out);
		break;
	}
}

/* Decide the len request bytes in buf against c/pol and print the
 * decision, rule, reason and response. */
static void report(FILE *out, const struct pf_policy *pol,
		   struct pf_compiled *c, const __u8 *buf, __u32 len,
		   __u8 *resp)
{
	struct pf_req r;
	struct pf_match m;
	struct pf_explain_ctx x = { .pol = pol, .buf = buf, .r = &r, .m = &m };
	struct pf_regex_set rs = {};
	struct pf_acrh_val av;
	int res, resp_len;
	bool has_rule;
	__u64 mask;

	res = pf_user_decide(c, buf, len, NULL, &r, &m, resp, &resp_len);
	if (res == PF_P_OK && m.verdict == PF_V_PUNT && m.reason == PF_R_REGEX &&
	    !pf_regex_set_build(pol, &rs, NULL)) {
		/* what the daemon does: evaluate the regexes, teach the kernel
		 * the verdict (a token), and the retransmission is decided */
		mask = pf_regex_set_match(&rs, (const char *)buf + r.origin.off,
					  r.origin.len);
		pf_regex_set_free(&rs);
		if (!pf_compiled_learn(c, (const char *)buf + r.origin.off,
				       r.origin.len, mask)) {
			fprintf(out, "Slow path: decided by the daemon: regex (origin %s the regex origins; the kernel punts the first request and decides its retransmission)\n",
				mask ? "matches" : "matches none of");
			res = pf_user_decide(c, buf, len, NULL, &r, &m, resp, &resp_len);
		}
	}
	if (res == PF_P_OK && m.verdict == PF_V_PUNT && m.reason == PF_R_ACRH_SLOW &&
	    !pf_acrh_decide(&(struct pf_acrh_src){ .comp = c }, c->slot, m.rule,
			    (const char *)buf + r.acrh.off, r.acrh.len, &av)) {
		/* what the daemon does: check the list without the kernel's
		 * limits, teach the kernel (pf_acrh), and the retransmission
		 * is decided */
		fprintf(out, "Slow path: decided by the daemon: %u-byte request-headers list over the kernel's limits (%d names, %d bytes); the kernel punts the first request and decides its retransmission\n",
			(unsigned)r.acrh.len, PF_ACRH_MAX_TOKENS, PF_ACRH_MAX_LEN);
		pf_user_acrh_learn(&m.ak, &av);
		res = pf_user_decide(c, buf, len, NULL, &r, &m, resp, &resp_len);
		pf_user_acrh_forget();
	}
	if (res != PF_P_OK) {
		fprintf(out, "Decision: PASS to the app: not a preflight the kernel answers\n"
			"Rule: none\nReason: %s (%s)\n", parse_words(res),
			pf_parse_res_name(res));
		resp_len = -1;
		goto response;
	}
	put_decision(out, &m, resp_len);
	has_rule = m.verdict == PF_V_ALLOW || m.verdict == PF_V_REJECT ||
		   m.verdict == PF_V_FORWARD ||
		   (m.verdict == PF_V_PUNT && (m.reason == PF_R_ACRH_LIMIT ||
					       m.reason == PF_R_ACRH_SLOW));
	if (has_rule && m.rule < pol->n_rules)
		pf_explain_rule_line(out, pol, m.rule);
	else
		fputs("Rule: none\n", out);
	pf_explain_reason(out, &x);
response:
	if (resp_len > 0) {
		fprintf(out, "Response (%d bytes):\n", resp_len);
		put_escaped(out, resp, (size_t)resp_len);
	} else {
		fputs("Response: (none: the request goes to the app)\n", out);
	}
}

/* See explain.h. */
int pf_explain(const char *policy_file, const struct pf_explain_req *req,
	       FILE *out, FILE *errs)
{
	struct pf_policy pol = {};
	struct pf_compiled comp = {};
	char *text = NULL;
	size_t len = 0;
	__u8 *buf = NULL, *resp = NULL;
	unsigned i;
	int ret = 2;

	if (!req->origin || !req->method) {
		fprintf(errs, "explain: --origin and --method are required\n");
		return 2;
	}
	if (!value_ok("origin", req->origin, false, errs) ||
	    !value_ok("method", req->method, false, errs) ||
	    (req->headers && !value_ok("headers", req->headers, false, errs)) ||
	    (req->host && !value_ok("host", req->host, false, errs)) ||
	    (req->path && !value_ok("path", req->path, true, errs)))
		return 2;
	ret = 1;
	if (pf_policy_load(policy_file, &pol, errs))
		goto out;
	if (pf_policy_compile(&pol, 0, &comp, errs))
		goto out;
	buf = calloc(1, PF_REQ_BUF);
	resp = calloc(1, 2 * PF_RESP_MAX);
	if (!buf || !resp || build_request(req, &text, &len)) {
		fprintf(errs, "explain: out of memory\n");
		goto out;
	}
	fprintf(out, "Policy: %s (%u rule%s; preflights to TCP port%s", pol.file,
		pol.n_rules, pol.n_rules == 1 ? "" : "s", pol.n_ports == 1 ? "" : "s");
	for (i = 0; i < pol.n_ports; i++)
		fprintf(out, " %u", pol.ports[i]);
	fprintf(out, ")\nRequest (%zu bytes):\n", len);
	put_escaped(out, (const __u8 *)text, len);
	if (len > PF_ANSWER_MAX) {
		fprintf(out, "Decision: PASS to the app: the request is %zu bytes, over the kernel's %d\n"
			"Rule: none\nReason: too long for the kernel (too_long)\n"
			"Response: (none: the request goes to the app)\n",
			len, PF_ANSWER_MAX);
	} else {
		memcpy(buf, text, len);
		report(out, &pol, &comp, buf, (__u32)len, resp);
	}
	ret = 0;
out:
	free(text);
	free(buf);
	free(resp);
	pf_compiled_free(&comp);
	pf_policy_free(&pol);
	return ret;
}

/* Entry point of "preflightd explain"; argv[0] is the subcommand name.
 * Returns the exit status (see pf_explain; 0 for --help). */
int pf_cmd_explain(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "method", required_argument, NULL, 'm' },
		{ "headers", required_argument, NULL, 'H' },
		{ "host", required_argument, NULL, 'h' + 256 },
		{ "path", required_argument, NULL, 'p' },
		{ "private-network", no_argument, NULL, 'n' + 256 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct pf_explain_req q = {};
	int c;

	optind = 0; /* glibc: full re-initialisation (the tests call us twice) */
	while ((c = getopt_long(argc, argv, "o:m:H:p:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': q.origin = optarg; break;
		case 'm': q.method = optarg; break;
		case 'H': q.headers = optarg; break;
		case 'p': q.path = optarg; break;
		case 'h' + 256: q.host = optarg; break;
		case 'n' + 256: q.private_network = true; break;
		case 'h':
			fputs(EXPLAIN_USAGE, stdout);
			return 0;
		default:
			fputs(EXPLAIN_USAGE, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "explain: %s\n", optind < argc ? "one POLICY file expected" :
			"missing POLICY file");
		fputs(EXPLAIN_USAGE, stderr);
		return 2;
	}
	return pf_explain(argv[optind], &q, stdout, stderr);
}

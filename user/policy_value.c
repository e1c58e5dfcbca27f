/*
 * policy_value.c -- checks of one policy value on its own (see
 * policy_value.h).
 *
 * Origins must be written exactly as browsers serialize them (the datapath
 * compares bytes), methods and header names must be RFC 9110 tokens, hosts
 * and paths must be forms the datapath can match.
 */
#include <arpa/inet.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../include/pf_structs.h"
#include "policy_value.h"

#define HEADER_NAME_MAX 63

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* True if s is a non-empty RFC 9110 token. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* True if s holds a space, control or non-ASCII byte. */
static bool has_odd_byte(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return true;
	return false;
}

/* Byte classes for the loops over every origin (100,000-origin
 * policies): one table look-up per byte. */
#define C_ODD   1  /* space, control or non-ASCII */
#define C_UPPER 2  /* A-Z */
#define C_HOST  4  /* a host label byte: a-z, 0-9, '-', '_' */

static const unsigned char byte_class[256] = {
	[0 ... 0x20] = C_ODD, [0x7f ... 0xff] = C_ODD,
	['A' ... 'Z'] = C_UPPER,
	['a' ... 'z'] = C_HOST, ['0' ... '9'] = C_HOST, ['-'] = C_HOST, ['_'] = C_HOST,
};

/* Lower-case s in place (ASCII only). */
static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)pf_lower((__u8)*s);
}

/* Format a problem into msg (PF_MSG_MAX bytes) and return false. */
static bool fail(char *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool fail(char *msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, PF_MSG_MAX, fmt, ap);
	va_end(ap);
	return false;
}

/* Check the IPv6 literal "[...]" of len bytes: valid, and written the way
 * the WHATWG URL serializer writes it (lower-case, first longest run of
 * two or more zero pieces compressed, no dotted quad). */
static bool ipv6_ok(const char *h, size_t len, char *msg)
{
	char in[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];
	unsigned p[8];
	int i, j, best = -1, best_len = 1;
	size_t o = 0;

	if (len < 2 || h[len - 1] != ']')
		return fail(msg, "unterminated IPv6 address: expected ']'");
	if (len - 2 >= sizeof(in))
		return fail(msg, "invalid IPv6 address");
	memcpy(in, h + 1, len - 2);
	in[len - 2] = '\0';
	if (inet_pton(AF_INET6, in, a) != 1)
		return fail(msg, "invalid IPv6 address");
	for (i = 0; i < 8; i++)
		p[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 8; i = j + 1) {
		for (j = i; j < 8 && !p[j]; j++)
			;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			o += snprintf(out + o, sizeof(out) - o, i ? ":" : "::");
			i += best_len - 1;
			continue;
		}
		o += snprintf(out + o, sizeof(out) - o, "%x%s", p[i],
			      i < 7 ? ":" : "");
	}
	if (strcmp(in, out))
		return fail(msg, "IPv6 address must be written as browsers serialize it: [%s]",
			    out);
	return true;
}

/* True if label (len bytes) is one the URL parser reads as a number, so
 * that the host is an IPv4 address (decimal, or 0x hex). */
static bool numeric_label(const char *l, size_t len)
{
	size_t i = 0;

	if (len >= 2 && l[0] == '0' && l[1] == 'x') {
		for (i = 2; i < len; i++)
			if (!strchr("0123456789abcdef", l[i]))
				return false;
		return true;
	}
	for (; i < len; i++)
		if (l[i] < '0' || l[i] > '9')
			return false;
	return len > 0;
}

/* Check a dotted-quad IPv4 address of len bytes as browsers serialize it. */
static bool ipv4_ok(const char *h, size_t len, char *msg)
{
	unsigned parts = 0, v = 0, digits = 0;
	size_t i;

	for (i = 0; i <= len; i++) {
		if (i == len || h[i] == '.') {
			if (!digits || v > 255 || parts == 4)
				break;
			parts++;
			v = 0;
			digits = 0;
			continue;
		}
		if (h[i] < '0' || h[i] > '9' || (digits && !v))
			break;
		v = v * 10 + (unsigned)(h[i] - '0');
		digits++;
	}
	if (i <= len || parts != 4)
		return fail(msg, "IPv4 address must be four decimal numbers 0..255 without leading zeros, as browsers serialize it");
	return true;
}

static psl_ctx_t *psl;

/* Load the Public Suffix List once: the newer of the publicsuffix
 * package's file and libpsl's built-in copy. */
static void psl_open(void)
{
	psl = psl_latest(NULL);
}

/* Check that the domain a wildcard covers (len bytes of h) is not a
 * public suffix in either section of the Public Suffix List: under one,
 * anyone can register a site (co.uk, ICANN section) or own a subdomain
 * (github.io, private section), so "*." of it grants strangers. */
static bool not_public_suffix(const char *h, size_t len, char *msg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const psl_ctx_t *list;
	char dom[PF_TOKEN_MAX];

	pthread_once(&once, psl_open);
	list = psl ? psl : psl_builtin();
	if (!list)
		return fail(msg, "wildcard cannot be checked: no Public Suffix List (install the publicsuffix package)");
	if (len >= sizeof(dom))
		return fail(msg, "wildcard domain is longer than %zu bytes",
			    sizeof(dom) - 1);
	memcpy(dom, h, len);
	dom[len] = '\0';
	/* PSL_TYPE_NO_STAR_RULE: only listed suffixes; an unlisted top-level
	 * domain has one label and was refused above */
	if (psl_is_public_suffix2(list, dom, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE))
		return fail(msg, "'%s' is a public suffix (ICANN section of the Public Suffix List): anyone can register a site under it, so a wildcard on it allows strangers; list your sites, or a wildcard under your own domain",
			    dom);
	if (psl_is_public_suffix2(list, dom, PSL_TYPE_PRIVATE | PSL_TYPE_NO_STAR_RULE))
		return fail(msg, "'%s' is a public suffix (private section of the Public Suffix List): its subdomains belong to different owners, so a wildcard on it allows strangers; list your sites, or a wildcard under your own domain",
			    dom);
	return true;
}

/* Check a lower-case host of len bytes without port. wild: it follows
 * "*." in a wildcard origin. */
static bool host_ok(const char *h, size_t len, bool wild, char *msg)
{
	size_t i, start, labels = 0;

	if (!len)
		return fail(msg, "host is empty");
	if (h[0] == '[') {
		if (wild)
			return fail(msg, "wildcard must cover a domain name, not an IP address");
		return ipv6_ok(h, len, msg);
	}
	if (h[len - 1] == '.')
		return fail(msg, "host must not end with a dot");
	for (start = 0;; start = i + 1) {
		/* the label h[start..i) */
		for (i = start; i < len && h[i] != '.'; i++)
			if (!(byte_class[(unsigned char)h[i]] & C_HOST))
				return fail(msg, "host may contain only a-z, 0-9, '-', '_' and '.' (write international names in their xn-- form)");
		if (i == start)
			return fail(msg, "host has an empty label");
		if (i - start > 63)
			return fail(msg, "host label '%.*s' is longer than 63 bytes",
				    (int)(i - start), h + start);
		labels++;
		if (i == len)
			break;
	}
	if (numeric_label(h + start, len - start)) {
		if (wild)
			return fail(msg, "wildcard must cover a domain name, not an IP address");
		return ipv4_ok(h, len, msg);
	}
	if (wild && labels < 2)
		return fail(msg, "wildcard must cover a domain with at least two labels (https://*.example.com), never a top-level domain");
	/* The datapath tries the suffixes after the last PF_MAX_LABELS dots. */
	if (wild && labels > PF_MAX_LABELS)
		return fail(msg, "wildcard domain has %zu labels; at most %d are matched",
			    labels, PF_MAX_LABELS);
	if (wild)
		return not_public_suffix(h, len, msg);
	return true;
}

/* Check the port text p (after ':') of an origin whose scheme's default
 * port is dflt. */
static bool port_ok(const char *p, unsigned dflt, char *msg)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; p[i]; i++)
		if (p[i] < '0' || p[i] > '9' || i == 5)
			return fail(msg, "port must be a number 1..65535");
	if (!i)
		return fail(msg, "port must be a number 1..65535 (or omit the ':')");
	if (p[0] == '0' && i > 1)
		return fail(msg, "port must not have leading zeros");
	v = strtoul(p, NULL, 10);
	if (v < 1 || v > 65535)
		return fail(msg, "port must be a number 1..65535");
	if (v == dflt)
		return fail(msg, "default port must be omitted: browsers serialize the origin without ':%u'",
			    dflt);
	return true;
}

/* The host of origin s if s starts with "https://" or "http://", else
 * NULL. */
static const char *http_host(const char *s)
{
	if (!strncmp(s, "https://", 8))
		return s + 8;
	if (!strncmp(s, "http://", 7))
		return s + 7;
	return NULL;
}

/* See policy_value.h. */
bool pf_origin_ok(const char *s, char *msg)
{
	const char *sep, *auth, *host, *end, *colon;
	size_t len = strlen(s), hlen, i;
	unsigned char classes = 0;
	bool https, wild;

	if (len > PF_TOKEN_MAX - 1)  /* ("null" is not) */
		return fail(msg, "origin is %zu bytes, over the limit of %d",
			    len, PF_TOKEN_MAX - 1);
	/* 100,000-origin policies are "http(s)://" and a host name: what
	 * host_ok accepts (not "[") is only a-z, 0-9, '-', '_' and '.', on which
	 * every other check below passes too (no "null", odd or upper-case
	 * byte, userinfo, path, query, fragment, '*' or port). Anything
	 * else takes the checks in order, for the right message. */
	host = http_host(s);
	if (host && *host != '[' &&
	    host_ok(host, len - (size_t)(host - s), false, msg))
		return true;
	if (!strcasecmp(s, "null"))
		return fail(msg, "the null origin can be sent by any sandboxed page; refusing");
	for (i = 0; i < len; i++)
		classes |= byte_class[(unsigned char)s[i]];
	if (classes & C_ODD)
		return fail(msg, "origin must not contain spaces, control or non-ASCII characters (write international names in their xn-- form)");
	if (classes & C_UPPER)
		return fail(msg, "origin must be lower case: browsers serialize the scheme and host in lower case, so this would never match");
	sep = strstr(s, "://");
	if (!sep || sep == s)
		return fail(msg, "origin is missing its scheme: write https://%s (or http://)",
			    sep ? sep + 3 : s);
	https = sep - s == 5 && !strncmp(s, "https", 5);
	if (!https && !(sep - s == 4 && !strncmp(s, "http", 4)))
		return fail(msg, "scheme '%.*s' is not allowed: origins are http:// or https://",
			    (int)(sep - s), s);
	auth = sep + 3;
	if (strchr(auth, '@'))
		return fail(msg, "origin must not contain userinfo ('@')");
	end = strpbrk(auth, "/?#");
	if (end && *end == '/')
		return fail(msg, "origin must not have a path or trailing slash");
	if (end)
		return fail(msg, "origin must not have a query or fragment");
	wild = !strncmp(auth, "*.", 2);
	host = wild ? auth + 2 : auth;
	if (strchr(host, '*') || (*auth == '*' && !wild))
		return fail(msg, "'*' is only allowed as the whole first label, as in https://*.example.com");
	if (*host == '[') {
		end = strchr(host, ']');
		colon = end ? end + 1 : host + strlen(host);
		if (*colon && *colon != ':')
			return fail(msg, "unexpected characters after the IPv6 address");
	} else {
		colon = strchr(host, ':');
	}
	hlen = colon && *colon ? (size_t)(colon - host) : strlen(host);
	if (!host_ok(host, hlen, wild, msg))
		return false;
	if (colon && *colon)
		return port_ok(colon + 1, https ? 443 : 80, msg);
	return true;
}

/* See policy_value.h. */
bool pf_hostname_ok(char *s, char *msg)
{
	const char *colon;
	size_t len = strlen(s);

	lower(s);
	if (len > PF_TOKEN_MAX - 1)
		return fail(msg, "host is %zu bytes, over the limit of %d",
			    len, PF_TOKEN_MAX - 1);
	if (s[0] != '[' && strchr(s, ':') != strrchr(s, ':'))
		return fail(msg, "IPv6 hosts must be written in brackets, as in [2001:db8::1]");
	colon = s[0] == '[' ? strstr(s, "]:") : strchr(s, ':');
	if (colon && s[0] == '[')
		colon++;
	if (colon)
		return fail(msg, "hosts match the Host header without its port; remove '%s'",
			    colon);
	return host_ok(s, len, false, msg);
}

/* See policy_value.h. */
bool pf_path_ok(const char *p, char *msg)
{
	size_t len = strlen(p);
	const char *seg;

	if (p[0] != '/')
		return fail(msg, "path must start with '/'");
	if (len > PF_PATH_MAX - 1)
		return fail(msg, "path is %zu bytes, over the limit of %d",
			    len, PF_PATH_MAX - 1);
	if (has_odd_byte(p))
		return fail(msg, "path must not contain spaces, control or non-ASCII characters");
	if (strchr(p, '%'))
		return fail(msg, "path must not contain '%%': the datapath matches paths without decoding them");
	if (strpbrk(p, "?#"))
		return fail(msg, "path must not contain '?' or '#': prefixes match the path only");
	if (strstr(p, "//"))
		return fail(msg, "path must not contain '//'");
	/* requests under such prefixes are never matched in the kernel
	 * (pf_path_flags passes them to the app): refuse the prefix */
	if (strpbrk(p, "\\;"))
		return fail(msg, "path must not contain '\\' or ';' (servers route them "
			    "differently, so such requests always go to the app)");
	for (seg = p + 1; seg; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		if ((seg[0] == '.' && (!seg[1] || seg[1] == '/')) ||
		    (seg[0] == '.' && seg[1] == '.' && (!seg[2] || seg[2] == '/')))
			return fail(msg, "path must not contain '.' or '..' segments");
		{
			const char *end = strchr(seg, '/');
			size_t sl = end ? (size_t)(end - seg) : strlen(seg);

			if (sl >= 2 && seg[sl - 1] == '.' && seg[sl - 2] == '.')
				return fail(msg, "path segments must not end in '..' (some "
					    "servers strip trailing dots)");
		}
	}
	return true;
}

/* See policy_value.h. */
bool pf_method_ok(const char *m, char *msg)
{
	static const char *const norm[] = {
		"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT",
	};
	unsigned i;

	if (!is_token(m))
		return fail(msg, "not a valid method token (RFC 9110)");
	if (strlen(m) > PF_TOKEN_MAX - 1)
		return fail(msg, "method is %zu bytes, over the limit of %d",
			    strlen(m), PF_TOKEN_MAX - 1);
	if (!strcasecmp(m, "CONNECT") || !strcasecmp(m, "TRACE") ||
	    !strcasecmp(m, "TRACK"))
		return fail(msg, "forbidden method: browsers never send it");
	for (i = 0; i < sizeof(norm) / sizeof(norm[0]); i++)
		if (!strcasecmp(m, norm[i]) && strcmp(m, norm[i]))
			return fail(msg, "browsers upper-case this method, so it would never match; write '%s'",
				    norm[i]);
	return true;
}

/* See policy_value.h. */
bool pf_header_ok(char *h, char *msg)
{
	if (!is_token(h))
		return fail(msg, "not a valid header name (RFC 9110 token)");
	if (strlen(h) > HEADER_NAME_MAX)
		return fail(msg, "header name longer than %d bytes",
			    HEADER_NAME_MAX);
	lower(h);
	return true;
}

/* User: the policy model, its YAML loader/validator and its compiler into BPF map contents. */
/*
 * policy.h -- a preflightd policy goes through three stages:
 *   pf_policy_load()    YAML file -> struct pf_policy (validated, with the
 *                       file:line:col of every value for error messages)
 *   pf_policy_compile() struct pf_policy -> struct pf_compiled: the exact
 *                       key/value pairs of the pf_tokens and pf_rules maps
 *                       and the per-slot summary (struct pf_slot_info)
 *   the loader writes struct pf_compiled into the maps (user/maps.c).
 *
 * The library's files, each using only those above it (the Makefile's
 * POLICY_SRCS lists them in this order):
 *   escape.c           bytes made printable (pf_escape(), shared with trace)
 *   policy_diag.c      "FILE:LINE:COL: message" collector, pf_show()
 *   policy_hsort.c     sorting strings by a 64-bit hash (duplicates, keys)
 *   policy_rule.c      what validation and compilation share about a
 *                      rule ("*" entries, the response tails)
 *   policy_regex.c     regex origins (PCRE2)
 *   policy_value.c     checks of one value (origin, host, path, ...)
 *   policy_validate.c  semantic checks of a loaded policy
 *   policy_schema.c    the keys a policy file may hold (adding a key:
 *                      see there), read from libyaml's node tree
 *   policy_load.c      YAML file -> struct pf_policy: parse, read,
 *                      validate
 *   policy_compile.c   struct pf_policy -> struct pf_compiled
 */
#ifndef PF_POLICY_H
#define PF_POLICY_H

#include <stdio.h>
#include <stdbool.h>
#include "../include/pf_structs.h"
#include "../include/pf_ofl_types.h"

#define PF_MAX_PORTS 16

/* Where a value came from, for "file:line:col: message" (1-based). */
struct pf_mark {
	unsigned line;
	unsigned col;
};

struct pf_str {
	char *s;             /* NUL-terminated, in the policy's strbuf */
	struct pf_mark at;
};

struct pf_strbuf;           /* storage of a policy's strings (policy_schema.c) */

struct pf_str_list {
	struct pf_str *v;
	unsigned n;
};

struct pf_policy_rule {
	struct pf_mark at;          /* the rule's mapping */
	struct pf_str_list hosts;   /* lower-cased, without port */
	struct pf_str_list paths;   /* path prefixes, each starts with '/' */
	struct pf_str_list origins; /* serialized origins, a https:// + "*." + domain wildcard or "*" */
	struct pf_str_list regexes; /* {regex: PATTERN} origins: PCRE2 patterns,
				     * always full-match (user/regex.h); `at`
				     * is the first byte of the pattern */
	struct pf_str_list methods; /* tokens or "*" */
	struct pf_str_list headers; /* lower-cased names or "*" */
	bool credentials;
	int max_age;                /* -1: not set (header omitted) */
	bool private_network;
	bool on_deny_reject;        /* on_deny: reject */
	/* response offload (issue 13, user/offload_policy.c) */
	bool responses;             /* responses: true -- actual responses
				     * get their CORS headers in the kernel */
	bool app_headers_keep;      /* app_headers: keep (default replace) */
	struct pf_str_list expose;  /* expose_headers: lower-cased names or "*" */
	struct pf_mark expose_at;   /* the expose_headers list */
};

struct pf_policy {
	char *file;                 /* path given to pf_policy_load */
	__u16 ports[PF_MAX_PORTS];  /* host order */
	unsigned n_ports;
	struct pf_policy_rule *rules;
	unsigned n_rules;
	struct pf_strbuf *strbuf;   /* holds every pf_str.s of the rules */
};

/* Load and validate FILE. Every problem is printed to errs as
 * "FILE:LINE:COL: message\n". Returns 0 on success, -EINVAL if the file
 * has problems (pol is then empty), or another negative errno (e.g.
 * -ENOENT) with "open FILE: strerror" printed. */
int pf_policy_load(const char *file, struct pf_policy *pol, FILE *errs);

/* pf_policy_load in two steps, for a caller that looks at the text
 * before it is loaded (user/load.h): read FILE whole into *buf (malloc'd,
 * *len bytes; "open FILE: ..." or "read FILE: ..." printed to errs on
 * failure, *buf NULL), then load and validate those bytes as FILE's.
 * The file is read once, whatever it is (a pipe too). */
int pf_policy_read_file(const char *file, char **buf, size_t *len, FILE *errs);
int pf_policy_load_mem(const char *file, const char *buf, size_t len, struct pf_policy *pol,
		       FILE *errs);

/* What start-up must guess of a policy's text buf before it is loaded
 * (user/load.h): strings, an upper bound of the list entries it holds
 * (its lines plus its commas, plus one: each entry ends a line or
 * precedes a comma), unless an alias repeats a list under another key
 * or lines end in CR alone (the compiled policy's n_toks then may exceed
 * it: start-up checks); responses, whether it names the response
 * offload's key anywhere (comments too). */
struct pf_policy_hint {
	size_t strings;
	bool responses;
};
void pf_policy_hint(const char *buf, size_t len, struct pf_policy_hint *h);

/* Same from a string (tests); name is used in messages. */
int pf_policy_load_string(const char *name, const char *yaml,
			  struct pf_policy *pol, FILE *errs);

void pf_policy_free(struct pf_policy *pol);

/* The exact contents of the maps for one policy slot. */
struct pf_compiled {
	__u32 slot;
	struct pf_tok_key *keys;    /* n_toks entries, unique keys */
	struct pf_tok_val *vals;
	unsigned n_toks;
	struct pf_rule rules[PF_MAX_RULES];
	struct pf_slot_info info;
	struct pf_hdr_tab hdrs;      /* the pf_hdrs value of the slot */
	__u16 ports[PF_MAX_PORTS];
	unsigned n_ports;
	struct pf_ofl_rule ofl[PF_MAX_RULES]; /* response offload settings */
	bool ofl_any;                /* some rule has responses: true */
};

/* Compile a validated policy for slot (0..PF_SLOTS-1). Returns 0 or a
 * negative errno with "compile: ..." printed to errs. */
int pf_policy_compile(const struct pf_policy *pol, __u32 slot,
		      struct pf_compiled *out, FILE *errs);

/* pf_policy_compile() for slot 0 as "check" needs it: the same checks
 * and messages, and the same keys, rules, info and ports in out, but no
 * token values (out->vals is NULL), no hdrs and no ofl -- what only the
 * maps need (for a 100,000-origin policy, 13 MB of values). */
int pf_policy_check_compile(const struct pf_policy *pol,
			    struct pf_compiled *out, FILE *errs);

/* The home entry (pf_hdr_home, pf_structs.h) of the header name s of len
 * bytes (lower case; only the first PF_HDR_NAME count, a longer name has
 * no entry): where its probe starts in the slot's name table. */
__u64 pf_hdr_home_of(const void *s, size_t len);

/* Userspace twin of the pf_tokens map lookup (for tests and explain). */
const struct pf_tok_val *pf_compiled_lookup(const struct pf_compiled *c,
					    const struct pf_tok_key *key);

/* Add the token the daemon inserts for a regex-decided origin (len
 * bytes): PF_TOK_ORIGIN with rules (0: none of the regexes match), kept
 * sorted for pf_compiled_lookup. Returns 0, -EEXIST (a token with that
 * key exists), -EINVAL (len 0 or over PF_TOKEN_MAX) or -ENOMEM. */
int pf_compiled_learn(struct pf_compiled *c, const char *origin, size_t len,
		      __u64 rules);

void pf_compiled_free(struct pf_compiled *c);

#endif /* PF_POLICY_H */

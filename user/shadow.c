/*
 * shadow.c -- `run --shadow` (issue 13): preflightd answers nothing and
 * inserts nothing; the datapath hands over each request head of a covered
 * connection and the head of the app's final response to it (pf_shd ring
 * buffer, bpf/pf_ofl_shadow.h). Here they are paired, decided with the
 * datapath's own code (user/match.c, user/ofl_match.c) against the
 * running policy, and compared field by field:
 *
 *   preflight (OPTIONS + Origin + ACRM) the policy allows or rejects:
 *     ours = the 204/403 the kernel would have sent; fields: status
 *     class, ACAO, ACAC, ACAM, ACAH, Max-Age, Vary
 *   preflight the policy forwards: the app answers in enforce mode too
 *   actual request a rule with responses: true covers:
 *     ours = the app's response as the SK_MSG program would edit it;
 *     fields: ACAO, ACAC, Vary, Expose-Headers
 *
 * ACAO, ACAC and Max-Age compare as strings; the list fields as sets of
 * their elements (methods case-sensitively, header names not), Vary's
 * without Access-Control-Request-Private-Network: preflightd names it on
 * every answer (docs/cors.md), few apps do, and no cache stores an
 * OPTIONS response -- a difference in it alone is none a client sees. Counters
 * go to the pinned pf_shd_stats map (stats, /metrics), each disagreement
 * to the pf_shd_diffs queue (trace) with both answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "shadow.h"
#include "ofl_match.h"
#include "escape.h"
#include "log.h"

static const char *const field_names[] = {
#define PF_SHD_NAME(name, desc) #name,
	PF_SHD_FIELDS(PF_SHD_NAME)
#undef PF_SHD_NAME
};

/* Requests waiting for their answer, direct-mapped by (key, idx): a
 * slot taken by a newer request loses the older (counted unpaired). */
#define PEND_SLOTS 1024

struct pf_shd_pending {
	bool used;
	struct pf_flow_key key;
	__u32 idx;
	__u32 len;
	__u8 head[PF_SHD_HEAD_MAX];
};

static int shd_stats_fd = -1;  /* for pf_shadow_metrics (one shadow per process) */

static unsigned slot_of(const struct pf_flow_key *k, __u32 idx)
{
	__u64 h = pf_hash_bytes((const __u8 *)k, sizeof(*k), 0) ^ (idx * PF_HASH_PRIME);

	return (unsigned)(h % PEND_SLOTS);
}

/* ---- field values ---- */

/* The value of one field of head h (in buf) into out (NUL-terminated,
 * normalized for comparison): "" if absent. A Vary set leaves out
 * Access-Control-Request-Private-Network (see the top of this file). */
static void field_value(const __u8 *buf, const struct pf_rhead *h, unsigned f,
			char *out, size_t cap)
{
	static const int ac[] = {
		[PF_SHD_F_ACAO] = PF_RH_ACAO, [PF_SHD_F_ACAC] = PF_RH_ACAC,
		[PF_SHD_F_ACAM] = PF_RH_ACAM, [PF_SHD_F_ACAH] = PF_RH_ACAH,
		[PF_SHD_F_MAXAGE] = PF_RH_ACMA, [PF_SHD_F_EXPOSE] = PF_RH_ACEH,
	};
	char raw[1024] = "", *tok[64], *save = NULL, *t;
	size_t o = 0, n;
	unsigned i, j, nt = 0;
	bool list = f == PF_SHD_F_ACAM || f == PF_SHD_F_ACAH || f == PF_SHD_F_VARY ||
		    f == PF_SHD_F_EXPOSE;

	out[0] = 0;
	if (f == PF_SHD_F_STATUS) {
		snprintf(out, cap, "%uxx", h->status / 100);
		return;
	}
	if (f == PF_SHD_F_VARY) {
		for (i = 0; i < h->n_vary && i < PF_RH_VARY_MAX; i++) {
			n = h->vary_val[i].len;
			if (o + n + 2 >= sizeof(raw))
				break;
			memcpy(raw + o, buf + h->vary_val[i].off, n);
			o += n;
			raw[o++] = ',';
		}
		raw[o] = 0;
	} else if (h->ac_seen & (1u << ac[f])) {
		n = h->val[ac[f]].len < sizeof(raw) - 1 ? h->val[ac[f]].len : sizeof(raw) - 1;
		memcpy(raw, buf + h->val[ac[f]].off, n);
		raw[n] = 0;
	}
	if (!list) {
		snprintf(out, cap, "%s", raw);
		return;
	}
	/* a set: elements trimmed, header names lower-cased, sorted */
	for (t = strtok_r(raw, ",", &save); t && nt < 64; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = 0;
		if (!n)
			continue;
		if (f != PF_SHD_F_ACAM)
			for (j = 0; j < n; j++)
				t[j] = (char)pf_lower((__u8)t[j]);
		if (f == PF_SHD_F_VARY && !strcmp(t, "access-control-request-private-network"))
			continue;
		for (j = 0; j < nt && strcmp(tok[j], t); j++)
			;
		if (j == nt)
			tok[nt++] = t;
	}
	for (i = 1; i < nt; i++)
		for (j = i; j > 0 && strcmp(tok[j - 1], tok[j]) > 0; j--) {
			t = tok[j];
			tok[j] = tok[j - 1];
			tok[j - 1] = t;
		}
	o = 0;
	for (i = 0; i < nt && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", tok[i]);
}

/* ---- one comparison ---- */

/* Copy a slice of buf (len n) as a C string. */
static void cstr(char *out, size_t cap, const __u8 *buf, size_t n)
{
	n = n < cap - 1 ? n : cap - 1;
	memcpy(out, buf, n);
	out[n] = 0;
}

/* Compare the fields in mask between ours and the app's, count and
 * record the disagreements. */
static void compare_fields(struct pf_shadow *s, const struct pf_flow_key *key, bool preflight,
			   unsigned mask, const __u8 *obuf, const struct pf_rhead *oh,
			   const __u8 *abuf, const struct pf_rhead *ah,
			   const __u8 *req, const struct pf_req *r)
{
	char ov[1024], av[1024];
	struct pf_shd_diff d;
	struct timespec ts;
	bool differ = false;
	unsigned f;

	for (f = 0; f < PF_SHD_F__MAX; f++) {
		if (!(mask & (1u << f)))
			continue;
		field_value(obuf, oh, f, ov, sizeof(ov));
		field_value(abuf, ah, f, av, sizeof(av));
		if (!strcmp(ov, av)) {
			s->st.agree[f]++;
			continue;
		}
		s->st.disagree[f]++;
		differ = true;
		memset(&d, 0, sizeof(d));
		clock_gettime(CLOCK_MONOTONIC, &ts);
		d.ts_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		d.key = *key;
		d.field = f;
		d.preflight = preflight;
		cstr(d.ours, sizeof(d.ours), (const __u8 *)ov, strlen(ov));
		cstr(d.app, sizeof(d.app), (const __u8 *)av, strlen(av));
		cstr(d.origin, sizeof(d.origin), req + r->origin.off, r->origin.len);
		snprintf(d.target, sizeof(d.target), "%.*s %.*s",
			 (int)(r->path.off > 0 ? r->path.off - 1 : 0), (const char *)req,
			 (int)r->path.len, (const char *)req + r->path.off);
		if (s->diffs_fd >= 0)
			bpf_map_update_elem(s->diffs_fd, NULL, &d, BPF_ANY);
		pr_debug("shadow: %s %s: %s ours '%s' app '%s'", d.target,
			 field_names[f], preflight ? "preflight" : "response", d.ours, d.app);
	}
	if (differ)
		s->st.differ++;
}

#define PREFLIGHT_FIELDS ((1u << PF_SHD_F_STATUS) | (1u << PF_SHD_F_ACAO) | \
			  (1u << PF_SHD_F_ACAC) | (1u << PF_SHD_F_ACAM) | \
			  (1u << PF_SHD_F_ACAH) | (1u << PF_SHD_F_MAXAGE) | \
			  (1u << PF_SHD_F_VARY))
#define ACTUAL_FIELDS ((1u << PF_SHD_F_ACAO) | (1u << PF_SHD_F_ACAC) | \
		       (1u << PF_SHD_F_VARY) | (1u << PF_SHD_F_EXPOSE))

/* See shadow.h. */
void pf_shadow_compare(struct pf_shadow *s, const struct pf_flow_key *key,
		       const __u8 *req, __u32 req_len, const __u8 *resp, __u32 resp_len)
{
	static __u8 rbuf[PF_REQ_BUF + 8], abuf[PF_REQ_BUF + 8];
	static __u8 obuf[4 * PF_RESP_MAX + PF_REQ_BUF];
	static struct pf_rhead ah, oh;
	static struct pf_match m;
	static struct pf_ofl_plan pl;
	struct pf_ofl_ent e;
	struct pf_req r;
	int olen = -1;

	if (!s->have_policy || req_len > PF_REQ_MAX || resp_len > PF_RHEAD_MAX)
		return;
	memset(rbuf, 0, sizeof(rbuf));
	memset(abuf, 0, sizeof(abuf));
	memcpy(rbuf, req, req_len);
	memcpy(abuf, resp, resp_len);
	if (pf_rhead_scan(abuf, resp_len, &ah) != PF_RH_OK)
		return;
	if (pf_user_decide(&s->comp, rbuf, req_len, NULL, &r, &m, obuf, &olen) == PF_P_OK) {
		s->st.preflights++;
		if (req_len > PF_ANSWER_MAX)
			return; /* the kernel passes it (too_long): the app's */
		if (olen < 0) {
			s->st.forwarded++;
			return;
		}
		s->st.would_answer++;
		if (pf_rhead_scan(obuf, (__u32)olen, &oh) != PF_RH_OK)
			return;
		compare_fields(s, key, true, PREFLIGHT_FIELDS, obuf, &oh, abuf, &ah, rbuf, &r);
		return;
	}
	if (pf_user_ofl_entry(&s->comp, rbuf, req_len, &r, &m, &e) != PF_P_OK)
		return;
	if (e.kind == PF_OFL_NONE) {
		s->st.uncovered++;
		return;
	}
	s->st.actual++;
	if (pf_ofl_plan(abuf, &ah, &e, &s->comp.ofl[e.rule & (PF_MAX_RULES - 1)], &pl))
		return;
	olen = pf_user_ofl_apply(abuf, ah.len, &pl, obuf, sizeof(obuf) - 8);
	if (olen < 0 || pf_rhead_scan(obuf, (__u32)olen, &oh) != PF_RH_OK)
		return;
	compare_fields(s, key, false, ACTUAL_FIELDS, obuf, &oh, abuf, &ah, rbuf, &r);
}

/* ring_buffer callback: one struct pf_shd_rec. */
static int on_rec(void *ctx, void *data, size_t size)
{
	struct pf_shadow *s = ctx;
	const struct pf_shd_rec *rec = data;
	struct pf_shd_pending *p;
	__u32 zero = 0;

	if (size < sizeof(*rec) || rec->len > PF_SHD_HEAD_MAX)
		return 0;
	p = &s->tab[slot_of(&rec->key, rec->idx)];
	if (rec->kind == PF_SHD_REQ) {
		p->used = true;
		p->key = rec->key;
		p->idx = rec->idx;
		p->len = rec->len;
		memcpy(p->head, rec->head, rec->len);
		return 0;
	}
	if (!p->used || p->idx != rec->idx || memcmp(&p->key, &rec->key, sizeof(p->key))) {
		s->st.unpaired++;
	} else {
		pf_shadow_compare(s, &rec->key, p->head, p->len, rec->head, rec->len);
		p->used = false;
	}
	if (s->stats_fd >= 0)
		bpf_map_update_elem(s->stats_fd, &zero, &s->st, BPF_ANY);
	return 0;
}

/* See shadow.h. */
void pf_shadow_policy(struct pf_shadow *s, const struct pf_policy *pol)
{
	struct pf_compiled comp;

	if (pf_policy_compile(pol, 0, &comp, stderr))
		return;
	pf_compiled_free(&s->comp);
	s->comp = comp;
	s->have_policy = true;
}

/* See shadow.h. */
int pf_shadow_start(struct pf_shadow *s, struct preflightd_bpf *skel,
		    const struct pf_policy *pol, struct ring_buffer *rb)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->stats_fd = bpf_map__fd(skel->maps.pf_shd_stats);
	s->diffs_fd = bpf_map__fd(skel->maps.pf_shd_diffs);
	s->tab = calloc(PEND_SLOTS, sizeof(*s->tab));
	if (!s->tab)
		return -ENOMEM;
	pf_shadow_policy(s, pol);
	err = ring_buffer__add(rb, bpf_map__fd(skel->maps.pf_shd), on_rec, s);
	if (err) {
		pr_warn("shadow: ring buffer: %s", strerror(-err));
		return err;
	}
	shd_stats_fd = s->stats_fd;
	return 0;
}

/* See shadow.h. */
void pf_shadow_free(struct pf_shadow *s)
{
	shd_stats_fd = -1;
	free(s->tab);
	pf_compiled_free(&s->comp);
	memset(s, 0, sizeof(*s));
}

/* ---- stats, metrics, trace ---- */

static int read_stats(int fd, struct pf_shd_stats *st)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, st) ? -errno : 0;
}

/* Percentage a of b (0 when b is 0). */
static double pct(__u64 a, __u64 b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

/* See shadow.h. */
void pf_shadow_print_stats(const char *path, bool json)
{
	static const char *const descs[] = {
#define PF_SHD_DESC(name, desc) desc,
		PF_SHD_FIELDS(PF_SHD_DESC)
#undef PF_SHD_DESC
	};
	struct pf_shd_stats st;
	char name[32];
	unsigned f, j;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	if (read_stats(fd, &st) || (!st.preflights && !st.actual && !st.uncovered &&
				    !st.unpaired)) {
		close(fd);
		return;
	}
	close(fd);
	if (json) {
		printf(",\"shadow\":{\"preflights\":%llu,\"would_answer\":%llu,"
		       "\"would_answer_pct\":%.1f,\"forwarded\":%llu,\"actual\":%llu,"
		       "\"uncovered\":%llu,\"differ\":%llu,\"unpaired\":%llu",
		       (unsigned long long)st.preflights, (unsigned long long)st.would_answer,
		       pct(st.would_answer, st.preflights), (unsigned long long)st.forwarded,
		       (unsigned long long)st.actual, (unsigned long long)st.uncovered,
		       (unsigned long long)st.differ, (unsigned long long)st.unpaired);
		for (f = 0; f < PF_SHD_F__MAX; f++) {
			for (j = 0; field_names[f][j] && j < sizeof(name) - 1; j++)
				name[j] = (char)pf_lower((__u8)field_names[f][j]);
			name[j] = 0;
			printf(",\"%s_agree\":%llu,\"%s_disagree\":%llu", name,
			       (unsigned long long)st.agree[f], name,
			       (unsigned long long)st.disagree[f]);
		}
		printf("}");
		return;
	}
	printf("shadow: would have answered %.1f %% in the kernel (%llu of %llu preflights; "
	       "%llu forwarded to the app by the policy)\n", pct(st.would_answer, st.preflights),
	       (unsigned long long)st.would_answer, (unsigned long long)st.preflights,
	       (unsigned long long)st.forwarded);
	printf("shadow: %llu actual responses compared, %llu not covered, %llu responses "
	       "differ, %llu unpaired\n", (unsigned long long)st.actual,
	       (unsigned long long)st.uncovered, (unsigned long long)st.differ,
	       (unsigned long long)st.unpaired);
	for (f = 0; f < PF_SHD_F__MAX; f++) {
		for (j = 0; field_names[f][j] && j < sizeof(name) - 1; j++)
			name[j] = (char)pf_lower((__u8)field_names[f][j]);
		name[j] = 0;
		printf("shadow_%-8s agree %8llu  disagree %8llu  %s\n", name,
		       (unsigned long long)st.agree[f], (unsigned long long)st.disagree[f],
		       descs[f]);
	}
}

/* See shadow.h. */
void pf_shadow_metrics(FILE *f)
{
	struct pf_shd_stats st;
	char name[32];
	unsigned i, j;

	if (shd_stats_fd < 0 || read_stats(shd_stats_fd, &st))
		return;
	fputs("# HELP preflightd_shadow_fields_total Shadow mode: the app's answers compared "
	      "with the policy's, per field.\n"
	      "# TYPE preflightd_shadow_fields_total counter\n", f);
	for (i = 0; i < PF_SHD_F__MAX; i++) {
		for (j = 0; field_names[i][j] && j < sizeof(name) - 1; j++)
			name[j] = (char)pf_lower((__u8)field_names[i][j]);
		name[j] = 0;
		fprintf(f, "preflightd_shadow_fields_total{field=\"%s\",result=\"agree\"} %llu\n",
			name, (unsigned long long)st.agree[i]);
		fprintf(f, "preflightd_shadow_fields_total{field=\"%s\",result=\"disagree\"} %llu\n",
			name, (unsigned long long)st.disagree[i]);
	}
	fprintf(f, "# HELP preflightd_shadow_responses_total Shadow mode: responses compared.\n"
		"# TYPE preflightd_shadow_responses_total counter\n"
		"preflightd_shadow_responses_total{kind=\"preflight\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"preflight_would_answer\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"preflight_forwarded\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"actual\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"uncovered\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"differ\"} %llu\n"
		"preflightd_shadow_responses_total{kind=\"unpaired\"} %llu\n",
		(unsigned long long)st.preflights, (unsigned long long)st.would_answer,
		(unsigned long long)st.forwarded, (unsigned long long)st.actual,
		(unsigned long long)st.uncovered, (unsigned long long)st.differ,
		(unsigned long long)st.unpaired);
}

/* A NUL-terminated field of d (at most cap bytes, maybe unterminated). */
static size_t fld_len(const char *f, size_t cap)
{
	const char *z = memchr(f, 0, cap);

	return z ? (size_t)(z - f) : cap;
}

/* See shadow.h. */
int pf_shadow_diff_line(char *buf, size_t cap, const struct pf_shd_diff *d,
			__s64 mono_to_real_ns)
{
	char c[INET6_ADDRSTRLEN], sv[INET6_ADDRSTRLEN], hms[16];
	char origin[PF_ESCAPED_MAX(PF_SHD_VAL)], target[PF_ESCAPED_MAX(PF_SHD_VAL)];
	char ours[PF_ESCAPED_MAX(PF_SHD_VAL)], app[PF_ESCAPED_MAX(PF_SHD_VAL)];
	int af = d->key.family == 6 ? AF_INET6 : AF_INET;
	__u64 ns = d->ts_ns + mono_to_real_ns;
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	inet_ntop(af, d->key.caddr, c, sizeof(c));
	inet_ntop(af, d->key.saddr, sv, sizeof(sv));
	localtime_r(&sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	/* the client's bytes (origin, method and path) and the app's values
	 * (which may echo the client's): one line of plain ASCII; a space
	 * cannot add a field, a quote cannot end a value, '\' cannot fake
	 * an escape */
	pf_escape(origin, sizeof(origin), d->origin, fld_len(d->origin, PF_SHD_VAL), " \\");
	pf_escape(target, sizeof(target), d->target, fld_len(d->target, PF_SHD_VAL), "\\");
	pf_escape(ours, sizeof(ours), d->ours, fld_len(d->ours, PF_SHD_VAL), "'\\");
	pf_escape(app, sizeof(app), d->app, fld_len(d->app, PF_SHD_VAL), "'\\");
	return snprintf(buf, cap, "%s.%06llu %s%s%s:%u -> %s%s%s:%u shadow %s %s origin=%s %s: "
			"ours='%s' app='%s'\n", hms,
			(unsigned long long)(ns % 1000000000ull / 1000),
			af == AF_INET6 ? "[" : "", c, af == AF_INET6 ? "]" : "",
			ntohs(d->key.cport), af == AF_INET6 ? "[" : "", sv,
			af == AF_INET6 ? "]" : "", ntohs(d->key.sport),
			d->preflight ? "preflight" : "response", target,
			origin[0] ? origin : "-",
			d->field < PF_SHD_F__MAX ? field_names[d->field] : "?", ours, app);
}

/* See shadow.h. */
int pf_shadow_trace(const char *path, __s64 mono_to_real_ns, unsigned max)
{
	char line[2048];
	struct pf_shd_diff d;
	int fd = bpf_obj_get(path), n = 0, err = 0;

	if (fd < 0)
		return -errno;
	while (n < 1024 && (!max || (unsigned)n < max) &&
	       !bpf_map_lookup_and_delete_elem(fd, NULL, &d)) {
		pf_shadow_diff_line(line, sizeof(line), &d, mono_to_real_ns);
		if (fputs(line, stdout) == EOF) {
			err = -errno;
			break;
		}
		n++;
	}
	if (!err && fflush(stdout))
		err = -errno;
	close(fd);
	return err ? err : n;
}

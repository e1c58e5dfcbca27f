#!/usr/bin/env bash
# tests/e2e/offload.sh -- the response offload (issue 13): an app with no
# CORS code at all behind preflightd, whose responses get their CORS header
# lines in the server socket (SK_MSG), checked with curl and headless
# Chromium.
#
#   bash tests/e2e/offload.sh [--mode tc|xdp]
#   PF_CASES='\] t\.' bash tests/e2e/offload.sh --mode xdp    (one case; see phase_wanted)
#
# The app (appserver --no-cors) runs in a cgroup of its own, given to
# preflightd as --cgroup: the sockops program never sees other sockets on
# the machine. Needs root, `make all e2e-tools`, chromium + node for the
# browser cases (skipped with the reason otherwise). Ends with
# "N passed, M failed[, K skipped]".
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/e2e/ofl_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ofl_lib.sh"

PORT=8080                     # the app's API (a policy port)
PAGE_OK=8081                  # page origin the policy allows
PAGE_BAD=8082                 # page origin listed nowhere
NGINX_PORT=8083               # nginx (a policy port)
RAW_PORT=8084                 # oflraw: canned adversarial responses (a policy port)
RAW_EARLY_PORT=8085           # oflraw with TCP_DEFER_ACCEPT (the recorder's early path)
REF_PORT=8090                 # the app again, on no policy port: untouched
NGINX_REF_PORT=8093           # nginx again, on no policy port
ORIGIN=https://app.example.com
API=http://$PF_V4_HOST:$PORT
API6="http://[$PF_V6_HOST]:$PORT"
CHROMIUM_DIR=$PF_ROOT/tests/e2e/chromium
CHROMIUM_BIN=${PF_CHROMIUM:-/usr/bin/chromium}
EXPOSE=x-request-echo
METRICS_SHD=$PF_V4_HOST:9471  # shadow mode's /metrics (the topology's own address)
RX_ORIGIN='^https://pr-[0-9]+\.preview\.example\.com$'   # a regex origin
CG=
RESTART_LEFT=0

# write_policy FILE RESPONSES -- the offload policy for this topology;
# RESPONSES true|false (false: the control run, no headers inserted).
write_policy() {
	cat >"$1.tmp" <<YAML
ports: [$PORT, $NGINX_PORT, $RAW_PORT, $RAW_EARLY_PORT]
rules:
  - paths: [/v1/]
    origins: [$ORIGIN, "http://$PF_V4_HOST:$PAGE_OK", "http://[$PF_V6_HOST]:$PAGE_OK"]
    methods: [GET, PUT, DELETE]
    headers: [content-type, x-request-id]
    credentials: true
    max_age: 600
    responses: $2
    expose_headers: [$EXPOSE]
  - paths: [/keep/]
    origins: [$ORIGIN]
    methods: [GET]
    credentials: true
    responses: $2
    app_headers: keep
  - paths: [/rx/]
    origins: [{regex: '$RX_ORIGIN'}]
    methods: [GET]
    responses: $2
  - paths: [/rej/]
    origins: [$ORIGIN]
    methods: [PUT]
    headers: [content-type, x-request-id]
    on_deny: reject
    responses: $2
  - paths: [/star/]
    origins: [$ORIGIN]
    methods: [PUT]
    headers: ["*"]
    responses: $2
  - paths: [/ova/]
    origins: [$ORIGIN]
    methods: [GET]
    credentials: true
    responses: $2
  - paths: [/ova/]
    origins: ["*"]
    methods: [GET]
    responses: $2
  - paths: [/ovb/]
    origins: [https://a.test]
    methods: [GET]
  - paths: [/ovb/]
    origins: [https://b.test]
    methods: [GET]
    responses: $2
  - origins: [$ORIGIN]
    methods: [GET, HEAD]
    credentials: true
    responses: $2
    expose_headers: [$EXPOSE]
YAML
	mv "$1.tmp" "$1"
}

# ------------------------------------------------------------ helpers ----
newcase() { CASE_DIR=$(mktemp -d "$PF_WORK/case.XXXX"); }

# count_hdr FILE NAME -- how many NAME lines.
count_hdr() { tr -d '\r' <"$1" | grep -ci "^$2:" || true; }

# app_count METHOD [ORIGIN] -- app log lines (see run.sh).
app_count() {
	awk -v m="$1" -v o="${2:-}" '$2 == m && (o == "" || $4 == "origin=" o) { c++ }
		END { print c + 0 }' "$PF_APP_LOG"
}

# get URL [ORIGIN] -- curl GET from the netns, headers to $CASE_DIR/h.
get() {
	local args=(-sS -D "$CASE_DIR/h" -o "$CASE_DIR/b")
	[[ -z ${2:-} ]] || args+=(-H "Origin: $2")
	: >"$CASE_DIR/h"
	pf_curl "${args[@]}" "$1"
}

# ------------------------------------------------------------- cases ----

# a. An allowed origin's GET: ACAO (the origin, once), ACAC, ACEH, Vary.
case_allowed() {
	newcase
	get "$API/v1/items" "$ORIGIN"
	local h=$CASE_DIR/h
	pf_expect_eq "status" "$(tr -d '\r' <"$h" | awk 'NR == 1 { print $2 }')" 200
	pf_expect_eq "Access-Control-Allow-Origin" "$(hdr "$h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "exactly one ACAO line" "$(count_hdr "$h" access-control-allow-origin)" 1
	pf_expect_eq "Access-Control-Allow-Credentials" "$(hdr "$h" access-control-allow-credentials)" true
	pf_expect_eq "Access-Control-Expose-Headers" "$(hdr "$h" access-control-expose-headers)" "$EXPOSE"
	pf_expect_eq "Vary" "$(hdr "$h" vary)" Origin
	pf_expect_eq "body" "$(cat "$CASE_DIR/b")" '{"items":[]}'
	pf_case_result
}

# a2. A request head of about 3 KiB -- its Origin line after a
# 2,800-byte Cookie line, as a browser with many cookies sends it --
# recorded, the response given its headers (heads up to PF_REQ_MAX,
# 4 KiB; 2 KiB before): in one skb (the client's TSO segment at TC; a
# NIC's GRO does the same) as it is; split over MSS-sized segments that
# reach TC unmerged -- tx off (no TSO), and in XDP mode on this veth --
# its start held on the socket until the rest comes (ofl_in_split). Before,
# a split head stopped the recording (ofl_in_unparsed) and its response
# passed without ACAO (ofl_no_request). The counts go to $PF_WORK/ofl_expect
# for case i.
case_large_head() {
	newcase
	local cookie rc=0 before after nr_before nr_after sp_before split=0
	[[ $MODE == tc && ${PF_TX_OFF:-0} != 1 ]] || split=1
	cookie=$(pf_cookie_line 2798)
	before=$(pf_stat ofl_in_unparsed)
	nr_before=$(pf_stat ofl_no_request)
	sp_before=$(pf_stat ofl_in_split)
	: >"$CASE_DIR/h"
	pf_curl -sS -D "$CASE_DIR/h" -o "$CASE_DIR/b" -H "$cookie" -H "Origin: $ORIGIN" \
		"$API/v1/items" || rc=$?
	after=$(pf_stat ofl_in_unparsed)
	nr_after=$(pf_stat ofl_no_request)
	printf 'ofl_in_unparsed %d\nofl_no_request %d\n' "$((after - before))" \
		"$((nr_after - nr_before))" >>"$PF_WORK/ofl_expect"
	pf_expect_eq "curl exit" "$rc" 0
	pf_expect_eq "status" "$(tr -d '\r' <"$CASE_DIR/h" | awk 'NR == 1 { print $2 }')" 200
	pf_expect_eq "Access-Control-Allow-Origin" \
		"$(hdr "$CASE_DIR/h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	pf_expect_eq "ofl_in_split (the head split: held)" "$(($(pf_stat ofl_in_split) - sp_before))" \
		"$split"
	pf_expect_eq "ofl_in_unparsed" "$((after - before))" 0
	pf_expect_eq "ofl_no_request" "$((nr_after - nr_before))" 0
	pf_case_result
}

# b. A foreign origin and no Origin: no ACAO, but Vary: Origin (a cache
# must not serve one origin's answer to another).
case_denied() {
	newcase
	local o
	for o in https://evil.test https://app.example.com.evil.test ""; do
		pf_detail "origin '${o:-none}'"
		get "$API/v1/items" "$o"
		pf_expect_eq "  no ACAO" "$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
		pf_expect_eq "  no Access-Control-* at all" "$(count_hdr "$CASE_DIR/h" access-control-)" 0
		pf_expect_eq "  Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	done
	pf_case_result
}

# c. Several requests on one keep-alive connection, each answer paired
# with its own request (FIFO): allowed, foreign, allowed, no Origin.
case_keepalive() {
	newcase
	local err=$CASE_DIR/err rc=0 i
	pf_curl -sS -v -D "$CASE_DIR/h1" -o /dev/null -H "Origin: $ORIGIN" "$API/v1/a" \
		--next -sS -D "$CASE_DIR/h2" -o /dev/null -H "Origin: https://evil.test" "$API/v1/b" \
		--next -sS -D "$CASE_DIR/h3" -o /dev/null -H "Origin: $ORIGIN" -X DELETE "$API/v1/c" \
		--next -sS -D "$CASE_DIR/h4" -o /dev/null "$API/v1/d" 2>"$err" || rc=$?
	pf_expect_eq "curl exit" "$rc" 0
	pf_expect_eq "one TCP connection" "$(grep -c 'Connected to' "$err" || true)" 1
	pf_expect_eq "1: ACAO" "$(hdr "$CASE_DIR/h1" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "2: no ACAO" "$(count_hdr "$CASE_DIR/h2" access-control-allow-origin)" 0
	pf_expect_eq "3: ACAO" "$(hdr "$CASE_DIR/h3" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "4: no ACAO" "$(count_hdr "$CASE_DIR/h4" access-control-allow-origin)" 0
	for i in 1 2 3 4; do
		pf_expect_eq "$i: Vary" "$(hdr "$CASE_DIR/h$i" vary)" Origin
	done
	pf_case_result
}

# Install playwright-core if needed (see run.sh).
chromium_deps() {
	[[ -d $CHROMIUM_DIR/node_modules/playwright-core ]] && return 0
	(cd "$CHROMIUM_DIR" && timeout --foreground 300 npm ci --no-audit --no-fund --loglevel=error) \
		>"$CASE_DIR/npm.log" 2>&1 || { pf_detail_file "$CASE_DIR/npm.log"; return 1; }
}

# chromium_run EXPECT_OK EXPECT_BAD -- the offload page from the allowed
# page origin (v4 and v6) and from the foreign one; sets CH_RC.
chromium_run() {
	local a=http://$PF_V4_HOST:$PAGE_OK b=http://$PF_V4_HOST:$PAGE_BAD
	local a6="http://[$PF_V6_HOST]:$PAGE_OK"
	CH_RC=0
	pf_ns env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		HOME="$CASE_DIR" timeout --foreground -k 10 180 \
		node "$CHROMIUM_DIR/test.js" --chromium "$CHROMIUM_BIN" --timeout-ms 20000 \
		--page "$a/offload.html?api=$API/v1/items" --expect "$1" \
		--page "$a6/offload.html?api=$API6/v1/items" --expect "$1" \
		--page "$b/offload.html?api=$API/v1/items" --expect "$2" \
		>"$CASE_DIR/chromium.out" 2>&1 || CH_RC=$?
	pf_detail_file "$CASE_DIR/chromium.out" 20
}

# d. A credentialed SPA (PUT, GET reading an exposed header, DELETE) from
# the allowed origin works against the CORS-less app; from a foreign
# origin it is blocked. Its preflights never reach the app.
case_chromium() {
	newcase
	command -v node >/dev/null || pf_case_skip "node not installed"
	[[ -x $CHROMIUM_BIN ]] || pf_case_skip "$CHROMIUM_BIN not installed"
	chromium_deps
	local a=http://$PF_V4_HOST:$PAGE_OK opt put get del
	opt=$(app_count OPTIONS "$a"); put=$(app_count PUT "$a")
	get=$(app_count GET "$a"); del=$(app_count DELETE "$a")
	chromium_run ok cors
	pf_expect_eq "every page as expected" "$CH_RC" 0
	pf_expect_eq "app got the PUT" "$(($(app_count PUT "$a") - put))" 1
	pf_expect_eq "app got the GET" "$(($(app_count GET "$a") - get))" 1
	pf_expect_eq "app got the DELETE" "$(($(app_count DELETE "$a") - del))" 1
	pf_expect_eq "app saw no OPTIONS from the allowed origin" "$(($(app_count OPTIONS "$a") - opt))" 0
	pf_case_result
}

# e. Control: the same browser run with responses: false (a policy reload)
# fails -- the headers the app's answers need come from preflightd alone.
case_control() {
	newcase
	command -v node >/dev/null || pf_case_skip "node not installed"
	[[ -x $CHROMIUM_BIN ]] || pf_case_skip "$CHROMIUM_BIN not installed"
	local before
	before=$(pf_stat reloads)
	write_policy "$POLICY" false
	pf_wait_reload "$before"
	chromium_run cors cors
	pf_expect_eq "every page blocked without the inserted headers" "$CH_RC" 0
	before=$(pf_stat reloads)
	write_policy "$POLICY" true
	pf_wait_reload "$before"
	pf_case_result
}

# pf_wait_reload BEFORE -- wait (<= 5 s) for the reload counter to pass BEFORE.
pf_wait_reload() {
	pf_wait_stat_ge reloads $(($1 + 1)) 5 && return 0
	pf_detail "no reload within 5 s"
	return 1
}

# f. An app that still sends CORS headers of its own (X-App-Cors makes
# appserver add "Access-Control-Allow-Origin: V" and "Vary: Accept"):
# app_headers: replace (the default) leaves exactly one ACAO, the policy's;
# keep leaves the app's and adds only what it lacks; Vary is merged into
# one line either way.
case_app_headers() {
	newcase
	pf_curl -sS -D "$CASE_DIR/h" -o /dev/null -H "Origin: $ORIGIN" \
		-H "X-App-Cors: https://stale.example" "$API/v1/items"
	local h=$CASE_DIR/h
	pf_detail "replace"
	pf_expect_eq "  exactly one ACAO" "$(count_hdr "$h" access-control-allow-origin)" 1
	pf_expect_eq "  the policy's" "$(hdr "$h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "  one Vary line" "$(count_hdr "$h" vary)" 1
	pf_expect_eq "  Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	pf_curl -sS -D "$h" -o /dev/null -H "Origin: $ORIGIN" \
		-H "X-App-Cors: $ORIGIN" "$API/keep/x"
	pf_detail "keep"
	pf_expect_eq "  exactly one ACAO" "$(count_hdr "$h" access-control-allow-origin)" 1
	pf_expect_eq "  the app's" "$(hdr "$h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "  ACAC added" "$(hdr "$h" access-control-allow-credentials)" true
	pf_expect_eq "  Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	pf_curl -sS -D "$h" -o /dev/null -H "Origin: https://evil.test" \
		-H "X-App-Cors: https://evil.test" "$API/v1/items"
	pf_detail "replace, a denied origin the app would allow"
	pf_expect_eq "  no ACAO" "$(count_hdr "$h" access-control-allow-origin)" 0
	pf_expect_eq "  Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	pf_case_result
}

# v. A preflight the answer path passes to the app (here Connection:
# close, which the kernel never answers; a drain, a full table or the
# daemon down do the same) is answered by an app with CORS code of its
# own (X-App-Cors): under replace its Access-Control-* lines stay as it
# wrote them (the preflight needs Allow-Methods/-Headers/Max-Age; it
# alone grants no read access), Vary merged; counted ofl_preflight_app.
# w. A path the datapath cannot match without normalizing ("//"; the app
# serves /v1//items as /v1/items): under replace the app's own ACAO goes
# (an app echoing any origin must not grant evil.test), Vary: Origin
# merged; counted ofl_path_unnorm.
case_preflight_app() {
	newcase
	local h=$CASE_DIR/h pre0 un0
	pre0=$(pf_stat ofl_preflight_app)
	pf_curl -sS -D "$h" -o /dev/null -X OPTIONS -H "Origin: $ORIGIN" \
		-H "Access-Control-Request-Method: PUT" \
		-H "Access-Control-Request-Headers: content-type" \
		-H "Connection: close" -H "X-App-Cors: $ORIGIN" "$API/v1/items"
	pf_detail "preflight passed to the app"
	pf_expect_eq "  the app answered" "$(hdr "$h" x-answered-by)" app
	pf_expect_eq "  exactly one ACAO, the app's" "$(hdr "$h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "  its Allow-Methods" "$(hdr "$h" access-control-allow-methods)" PUT
	pf_expect_eq "  its Allow-Headers" "$(hdr "$h" access-control-allow-headers)" content-type
	pf_expect_eq "  its Max-Age" "$(hdr "$h" access-control-max-age)" 600
	pf_expect_eq "  no ACAC or ACEH of ours" \
		"$(count_hdr "$h" access-control-allow-credentials)$(count_hdr "$h" access-control-expose-headers)" 00
	pf_expect_eq "  Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	pf_expect_eq "  ofl_preflight_app" "$(pf_stat ofl_preflight_app)" $((pre0 + 1))
	un0=$(pf_stat ofl_path_unnorm)
	pf_curl -sS -D "$h" -o /dev/null -H "Origin: https://evil.test" \
		-H "X-App-Cors: https://evil.test" "$API/v1//items"
	pf_detail "replace, //: the app's own CORS lines removed"
	pf_expect_eq "  the app answered" "$(hdr "$h" x-answered-by)" app
	pf_expect_eq "  no ACAO" "$(count_hdr "$h" access-control-allow-origin)" 0
	pf_expect_eq "  Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	pf_expect_eq "  ofl_path_unnorm" "$(pf_stat ofl_path_unnorm)" $((un0 + 1))
	pf_curl -sS -D "$h" -o /dev/null -H "Origin: $ORIGIN" \
		-H "X-App-Cors: $ORIGIN" "$API/keep//x"
	pf_detail "keep (but a replace rule covers every path of this host): removed too"
	pf_expect_eq "  no ACAO" "$(count_hdr "$h" access-control-allow-origin)" 0
	pf_case_result
}

# u. Overlapping rules (review finding MED-1): where the answer for a URL
# depends on the origin, every response to it carries Vary: Origin, or a
# shared cache serves one origin's copy to another. /ova/: $ORIGIN's
# credentials rule, then "*" (the "*" answer gets Vary too); /ovb/:
# a.test with responses: false, then b.test (a.test's, no Origin's and a
# denied origin's responses get Vary only, the app's own ACAO kept).
case_overlap() {
	newcase
	local h=$CASE_DIR/h o
	pf_detail "/ova/: $ORIGIN's rule, then \"*\""
	get "$API/ova/x" "$ORIGIN"
	pf_expect_eq "  $ORIGIN: its ACAO" "$(hdr "$h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "  $ORIGIN: ACAC" "$(hdr "$h" access-control-allow-credentials)" true
	pf_expect_eq "  $ORIGIN: Vary" "$(hdr "$h" vary)" Origin
	for o in "" https://evil.test; do
		get "$API/ova/x" "$o"
		pf_expect_eq "  ${o:-no Origin}: ACAO *" "$(hdr "$h" access-control-allow-origin)" '*'
		pf_expect_eq "  ${o:-no Origin}: no ACAC" \
			"$(count_hdr "$h" access-control-allow-credentials)" 0
		pf_expect_eq "  ${o:-no Origin}: Vary" "$(hdr "$h" vary)" Origin
	done
	pf_detail "/ovb/: a.test (responses: false), then b.test"
	get "$API/ovb/x" https://b.test
	pf_expect_eq "  b.test: its ACAO" "$(hdr "$h" access-control-allow-origin)" https://b.test
	pf_expect_eq "  b.test: Vary" "$(hdr "$h" vary)" Origin
	pf_curl -sS -D "$h" -o /dev/null -H "Origin: https://a.test" \
		-H "X-App-Cors: https://a.test" "$API/ovb/x"
	pf_expect_eq "  a.test: the app's ACAO, once" \
		"$(count_hdr "$h" access-control-allow-origin) $(hdr "$h" access-control-allow-origin)" \
		"1 https://a.test"
	pf_expect_eq "  a.test: Vary merged" "$(hdr "$h" vary)" "Accept, Origin"
	for o in "" https://evil.test; do
		get "$API/ovb/x" "$o"
		pf_expect_eq "  ${o:-no Origin}: no Access-Control-*" \
			"$(count_hdr "$h" access-control-)" 0
		pf_expect_eq "  ${o:-no Origin}: Vary" "$(hdr "$h" vary)" Origin
	done
	pf_case_result
}

# oflcheck SUITE PORT REF_PORT [ADDR] -- the byte-exact check (see
# tools/oflcheck.py) from the netns; sets OC_LINE (its summary) and OC_RC.
oflcheck() {
	local out=$CASE_DIR/oflcheck-$1.out
	OC_RC=0
	pf_ns timeout --foreground -k 5 120 python3 "$PF_ROOT/tests/e2e/tools/oflcheck.py" \
		--host "${4:-$PF_V4_HOST}" --port "$2" --ref-port "$3" --suite "$1" \
		--origin "$ORIGIN" --cred --expose "$EXPOSE" ${OC_ARGS:+"$OC_ARGS"} >"$out" 2>&1 || OC_RC=$?
	OC_LINE=$(grep -m1 '^oflcheck: suite=' "$out" || true)
	OC_UNCHANGED=$(sed -n 's/.* unchanged=\([0-9]*\).*/\1/p' <<<"$OC_LINE")
	pf_detail "${OC_LINE:-(no summary; rc=$OC_RC)}"
	((OC_RC == 0)) || pf_detail_file "$out" 60
}

# g. One keep-alive connection to the CORS-less app: 1 MB and chunked
# downloads, HEAD, 304, an Expect: 100-continue upload, heads written in
# 5- and 7-byte pieces, pipelined requests, Connection: close -- every
# byte as the app sent it (compared with the same requests on a port no
# policy covers) apart from the inserted lines.
case_exact_app() {
	newcase
	local corked
	corked=$(pf_stat ofl_head_corked)
	oflcheck appserver "$PORT" "$REF_PORT"
	pf_expect_eq "oflcheck exit" "$OC_RC" 0
	pf_expect_ge "heads held across writes (ofl_head_corked)" \
		"$(($(pf_stat ofl_head_corked) - corked))" 10
	pf_expect_ge "100 Continue passed (ofl_resp_interim)" "$(pf_stat ofl_resp_interim)" 1
	pf_case_result
}

# g2. The same under injected loss and duplication both ways (faultinj on
# the client's veth: 10 % and 5 % of the segments each way), with 3 KiB
# request heads among the requests (split over segments; see
# tools/oflcheck.py, suite_loss, for what it leaves out): retransmitted
# and duplicated requests are recorded once, and every response is still
# paired with its own request, byte-exact.
case_exact_loss() {
	newcase
	pf_ns "$PF_FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 10% --dup 5% >/dev/null
	oflcheck loss "$PORT" "$REF_PORT"
	pf_detail "$(pf_ns "$PF_FAULTINJ" stats --iface "$PF_IF_CLIENT" | head -1)"
	pf_ns "$PF_FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	# the nonzero counters, so that a failure here carries its evidence
	pf_detail "$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | awk '$2 > 0 { printf "%s=%s ", $1, $2 }')"
	pf_expect_eq "oflcheck exit" "$OC_RC" 0
	pf_case_result
}

# h. The same with nginx and no CORS configuration: 1 MB sendfile
# downloads, gzip (chunked, with the app's Vary merged), HEAD, 304,
# pipelining; small sendfile bodies pass under their head's window.
case_exact_nginx() {
	newcase
	[[ -n $PF_NGINX_PID ]] || pf_case_skip "nginx not running ($PF_NGINX_WHY)"
	local det win room
	det=$(pf_stat ofl_detached)
	win=$(pf_stat ofl_window)
	room=$(pf_stat ofl_no_room)
	# nginx's send buffer is the kernel's (autotuned): a head written while
	# a 1 MiB body still fills it may pass as the app wrote it (by design,
	# counted; case t forces it), and only then
	OC_ARGS=--no-room-ok oflcheck nginx "$NGINX_PORT" "$NGINX_REF_PORT"
	pf_expect_eq "oflcheck exit" "$OC_RC" 0
	pf_expect_eq "heads passed as written = ofl_no_room's increase" \
		"${OC_UNCHANGED:-?}" "$(($(pf_stat ofl_no_room) - room))"
	pf_expect_ge "1 MiB sendfile bodies out of the SK_MSG path (ofl_detached)" \
		"$(($(pf_stat ofl_detached) - det))" 3
	pf_expect_ge "small JSON bodies under their head's window (ofl_window)" \
		"$(($(pf_stat ofl_window) - win))" 3
	pf_case_result
}

# i. The counters: responses edited, none without a request or not
# understood, framing never lost, no response bytes unseen (ofl_missed),
# no socket map update or delete for a body failed (ofl_detach_failed;
# cases g and h take sockets out for 1 MB bodies and back).
case_stats() {
	pf_stats_dump | grep -E 'ofl_|answered' || true
	pf_expect_ge "ofl_resp_edited" "$(pf_stat ofl_resp_edited)" 10
	local c
	for c in ofl_no_request ofl_resp_bad ofl_in_gap ofl_in_unparsed ofl_edit_failed ofl_busy \
		 ofl_missed ofl_detach_failed; do
		# (case a2's split head: counted and checked there)
		pf_expect_eq "$c" "$(pf_stat "$c")" \
			"$(awk -v c="$c" '$1 == c { s += $2 } END { print s + 0 }' \
				"$PF_WORK/ofl_expect" 2>/dev/null || echo 0)"
	done
	pf_case_result
}

# oflraw PORT OUT [ARGS...] -- the scripted app's check (tools/oflraw.py)
# from the netns against PORT (on RAW_HOST, default the v4 address); sets
# OR_RC. On a failure it shows what the server logged meanwhile (a
# connection it ended, and why: see serve_conn).
oflraw() {
	local port=$1 out=$2 slog=$PF_WORK/oflraw.out lines
	shift 2
	OR_RC=0
	lines=$(wc -l <"$slog" 2>/dev/null || echo 0)
	pf_ns timeout --foreground -k 5 180 python3 "$PF_ROOT/tests/e2e/tools/oflraw.py" check \
		--host "${RAW_HOST:-$PF_V4_HOST}" --port "$port" --origin "$ORIGIN" --cred --expose "$EXPOSE" \
		"$@" >"$out" 2>&1 || OR_RC=$?
	pf_detail "$(grep -m1 '^oflraw: cases=' "$out" || echo "(no summary; rc=$OR_RC)")"
	if ((OR_RC != 0)); then
		pf_detail_file "$out" 80
		tail -n +"$((lines + 1))" "$slog" | sed 's/^/server: /' >"$out.server"
		pf_detail_file "$out.server" 20
	fi
}

# stats_snap FILE -- every counter of `preflightd stats` into FILE.
stats_snap() { "$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" >"$1" 2>&1 || true; }

# stats_moved BEFORE AFTER -- the counters that changed between two
# stats_snap files, "name +delta" each (a failed case's evidence).
stats_moved() {
	awk 'NR == FNR { if ($2 ~ /^[0-9]+$/) b[$1] = $2; next }
	     $2 ~ /^[0-9]+$/ && ($1 in b) && $2 != b[$1] { printf "%s +%d\n", $1, $2 - b[$1] }' \
		"$1" "$2" | sed 's/^/counter: /'
}

# pf_start_oflraw -- the scripted app in the test cgroup on RAW_PORT and
# RAW_EARLY_PORT (TCP_DEFER_ACCEPT); stopped with the other background jobs.
pf_start_oflraw() {
	local out=$PF_WORK/oflraw.out pid
	pf_in_cgroup "$CG" python3 "$PF_ROOT/tests/e2e/tools/oflraw.py" serve \
		--listen "$PF_V4_HOST:$RAW_PORT" --listen "$PF_V4_HOST:$RAW_EARLY_PORT" \
		--listen "[$PF_V6_HOST]:$RAW_EARLY_PORT" \
		--defer-accept "$RAW_EARLY_PORT" --go "$PF_WORK/raw.go" >"$out" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_wait_for_line "$out" '^oflraw: listening' 10 "$pid" || pf_detail_file "$out"
}

# m. A scripted app's canned responses (tools/oflraw.py): Vary merged
# (*, several lines, case, last line, empty), the app's own CORS lines
# replaced, 1xx and the final head in one write, chunk lines and heads
# split over writes, bodies written byte by byte, 204/304/HEAD, pipelined
# requests with mixed origins answered in one write, preflights answered
# in the kernel between actual requests on one connection -- every byte
# as expected; heads preflightd cannot follow (over 2 KiB, written byte
# by byte, obs-fold, tab, bare LF, conflicting Content-Length, 101, closed
# mid-head) pass unchanged and counted.
case_raw() {
	newcase
	local bad
	bad=$(pf_stat ofl_resp_bad)
	oflraw "$RAW_PORT" "$CASE_DIR/raw.out"
	pf_expect_eq "oflraw exit: every byte as expected" "$OR_RC" 0
	pf_expect_ge "unfollowable heads counted (ofl_resp_bad)" \
		"$(($(pf_stat ofl_resp_bad) - bad))" 6
	pf_case_result
}

# r. Large bodies (PF_OFL_DETACH_MIN and more): the socket leaves the SK_MSG
# path after the head (TC egress), so the body goes out without being
# copied into a message, and is back at the next request (TC ingress)
# before the app can read it -- every later head still edited, every byte
# exact (tools/oflraw.py big_*); pipelined requests waiting behind a large
# body keep the socket in (their responses would go out unseen); a head
# held back right after a large body is never dropped.
case_detach() {
	newcase
	local det rea fail busy
	det=$(pf_stat ofl_detached)
	rea=$(pf_stat ofl_readded)
	fail=$(pf_stat ofl_detach_failed)
	busy=$(pf_stat ofl_readd_busy)
	oflraw "$RAW_PORT" "$CASE_DIR/raw.out" --case big_alternating --case big_pipelined \
		--case big_batch --case big_head_split
	# the race a drop rides out (docs/offload.md): when it happened
	pf_detail "request segments dropped while the old psock was there (ofl_readd_busy):" \
		"$(($(pf_stat ofl_readd_busy) - busy))"
	pf_expect_eq "oflraw exit: every byte as expected" "$OR_RC" 0
	pf_expect_ge "sockets out of the SK_MSG path for a body (ofl_detached)" \
		"$(($(pf_stat ofl_detached) - det))" 4
	pf_expect_ge "back at the next request (ofl_readded)" "$(($(pf_stat ofl_readded) - rea))" 4
	pf_expect_eq "no socket map update or delete failed (ofl_detach_failed)" \
		"$(($(pf_stat ofl_detach_failed) - fail))" 0
	pf_case_result
}

# t. No room (ofl_no_room): an edited head is pushed only when the send
# buffer surely takes it. Under an 8 KiB send buffer (oflraw no_room) every
# head passes as the app wrote it -- byte for byte, never a second head --
# each counted, its request's verdict used up, the framing followed over a
# body larger than the buffer; once the buffer is large again the same
# connection's heads are edited, each paired with its own request. The
# control (no_room_control): the same responses under the default buffer,
# every head edited, nothing counted.
case_no_room() {
	newcase
	local nr ed b=$CASE_DIR/stats.before a=$CASE_DIR/stats.after
	stats_snap "$b"
	nr=$(_pf_field ofl_no_room <"$b")
	ed=$(_pf_field ofl_resp_edited <"$b")
	oflraw "$RAW_PORT" "$CASE_DIR/room.out" --case no_room
	stats_snap "$a"
	pf_expect_eq "oflraw exit: heads unchanged, then edited again" "$OR_RC" 0
	pf_expect_eq "three heads without room (ofl_no_room)" \
		"$(($(_pf_field ofl_no_room <"$a") - nr))" 3
	pf_expect_eq "the two after them edited (ofl_resp_edited)" \
		"$(($(_pf_field ofl_resp_edited <"$a") - ed))" 2
	if ((PF_CASE_BAD)); then
		stats_moved "$b" "$a" >"$CASE_DIR/stats.moved"
		pf_detail_file "$CASE_DIR/stats.moved" 40
	fi
	pf_detail "control: the default send buffer"
	nr=$(pf_stat ofl_no_room)
	ed=$(pf_stat ofl_resp_edited)
	oflraw "$RAW_PORT" "$CASE_DIR/control.out" --case no_room_control
	pf_expect_eq "  oflraw exit: every head edited" "$OR_RC" 0
	pf_expect_eq "  none without room" "$(($(pf_stat ofl_no_room) - nr))" 0
	pf_expect_eq "  five edited" "$(($(pf_stat ofl_resp_edited) - ed))" 5
	pf_case_result
}

# n. TCP_DEFER_ACCEPT: the first request arrives with the handshake's last
# ACK, while the server socket is still a request socket -- the recorder's
# early path (pf_ofl_early), handed over by the sockops program; IPv4 and
# IPv6 (the two programs' flow keys must agree).
case_early() {
	newcase
	local early h
	for h in "$PF_V4_HOST" "$PF_V6_HOST"; do
		pf_detail "$h"
		early=$(pf_stat ofl_req_early)
		RAW_HOST=$h oflraw "$RAW_EARLY_PORT" "$CASE_DIR/early.out" --case vary_multi \
			--case pipe_mixed --case head_split_slow --case preflight_mix
		pf_expect_eq "  oflraw exit: every byte as expected" "$OR_RC" 0
		pf_expect_ge "  first requests recorded before the socket existed (ofl_req_early)" \
			"$(($(pf_stat ofl_req_early) - early))" 3
	done
	pf_case_result
}

# o. A regex origin: the kernel has no verdict until the daemon learns
# one. Without Origin and for a regex origin not yet learned: Vary only
# (never untouched); the request itself teaches the daemon (no preflight
# needed), and the origin's next response gets its ACAO.
case_regex() {
	newcase
	local o=https://pr-42.preview.example.com learned
	get "$API/rx/a"
	pf_detail "no Origin"
	pf_expect_eq "  no ACAO" "$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
	pf_expect_eq "  Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	learned=$(pf_stat learned_origins)
	get "$API/rx/a" "$o"
	pf_detail "a regex origin the daemon has not learned yet"
	pf_expect_eq "  no ACAO" "$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
	pf_expect_eq "  Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	pf_expect "  learned from the request (learned_origins)" \
		pf_wait_stat_ge learned_origins $((learned + 1)) 5
	get "$API/rx/a" "$o"
	pf_detail "the same origin again"
	pf_expect_eq "  ACAO" "$(hdr "$CASE_DIR/h" access-control-allow-origin)" "$o"
	pf_expect_eq "  Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	get "$API/rx/a" https://evil.test
	sleep 0.5
	get "$API/rx/a" https://evil.test
	pf_detail "an origin the regex refuses, twice"
	pf_expect_eq "  no ACAO" "$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
	pf_expect_eq "  Vary" "$(hdr "$CASE_DIR/h" vary)" Origin
	pf_case_result
}

# p. A second `run` on the interface is refused -- and the e2e library
# never takes its "already running" message for "ready".
case_second_start() {
	newcase
	local pid=$PF_PFD_PID
	pf_expect_not "a refused second start is not ready" pf_start_preflightd "$MODE" --cgroup "$CG"
	pf_expect "the first instance still runs" _pf_alive "$pid"
	pf_case_result
}

# j. SIGTERM: exit 0, the sockops program gone from the cgroup, no pins.
case_shutdown() {
	local rc=$1
	pf_expect_eq "exit status after SIGTERM" "$rc" 0
	pf_expect_eq "nothing attached to the cgroup" \
		"$(bpftool cgroup show "$CG" 2>/dev/null | grep -c sock_ops || true)" 0
	pf_expect_not "no pins left" test -e "/sys/fs/bpf/preflightd/$PF_IF_HOST"
	newcase
	get "$API/v1/items" "$ORIGIN"
	# the CORS-less app answers without ACAO again, shadow mode's app with its own
	pf_expect_eq "responses untouched again" \
		"$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" "${2:-0}"
	pf_case_result
}

# sockops_on_cg -- how many sockops programs are on the test cgroup.
sockops_on_cg() { bpftool cgroup show "$CG" 2>/dev/null | grep -c sock_ops || true; }

# Restart adoption and detach. The daemon is killed, restarted and
# detached in the script's own shell (a case runs in a subshell: a daemon
# started there would be lost to it); the cases check what followed.

# pf_kill9 -- kill -9 the running preflightd, as a crash would.
pf_kill9() {
	kill -9 "$PF_PFD_PID" 2>/dev/null || true
	pf_wait_gone "$PF_PFD_PID" 5 || true
	_pf_forget "$PF_PFD_PID"
	wait "$PF_PFD_PID" 2>/dev/null || true
	PF_PFD_PID=
}

# k1. No daemon: the programs stay attached, responses keep their headers.
case_no_daemon() {
	newcase
	get "$API/v1/items" "$ORIGIN"
	pf_expect_eq "a new connection still gets its ACAO" \
		"$(hdr "$CASE_DIR/h" access-control-allow-origin)" "$ORIGIN"
	pf_expect_eq "one sockops program on the cgroup" "$(sockops_on_cg)" 1
	pf_case_result
}

# k2. The restart adopted the socket map and the request queues and
# replaced both programs; the connection held open across the crash and
# the restart (HOLD: its oflhold output) kept its headers, and so did one
# whose socket was out of the socket map for a large body at the crash
# (HOLD2; RESTART_LEFT: ofl_detached for its first response).
case_restarted() {
	newcase
	pf_expect_match "the restart adopted the offload's state" "$(cat "$PF_PFD_LOG")" \
		'adopting the response offload'
	pf_expect_eq "still one sockops program (replaced)" "$(sockops_on_cg)" 1
	pf_detail_file "$1"
	pf_expect "held connection: ACAO before the crash" grep -q "before acao=$ORIGIN" "$1"
	pf_expect "held connection: ACAO after the restart" grep -q "after acao=$ORIGIN" "$1"
	pf_detail_file "$2"
	pf_expect_ge "large body: its socket out of the socket map at the crash" "$RESTART_LEFT" 1
	pf_expect "large body: ACAO before the crash" grep -q "before acao=$ORIGIN" "$2"
	pf_expect "large body: back in the adopted map, ACAO after the restart" \
		grep -q "after acao=$ORIGIN" "$2"
	get "$API/v1/items" "$ORIGIN"
	pf_expect_eq "a new connection after the restart" \
		"$(hdr "$CASE_DIR/h" access-control-allow-origin)" "$ORIGIN"
	pf_case_result
}

# k3. After kill -9 of an enforcing instance, `run --shadow` (HOLD: the
# oflhold output of a connection held across; EDITED: ofl_resp_edited
# before the shadow run's requests) does not adopt the offload that edits
# responses: detached (said so), the held connection's next response and a
# new connection's as the CORS-less app wrote them, nothing edited.
case_shadow_after_enforcing() {
	newcase
	pf_expect_match "the shadow run detached the enforcing offload" "$(cat "$PF_PFD_LOG")" \
		'edits responses: a shadow run never does -- detaching it'
	pf_expect_eq "one sockops program on the cgroup (the shadow run's)" "$(sockops_on_cg)" 1
	pf_detail_file "$1"
	pf_expect "held connection: ACAO before the crash" grep -q "before acao=$ORIGIN" "$1"
	pf_expect "held connection: no ACAO after the shadow start" grep -q "after acao=-" "$1"
	get "$API/v1/items" "$ORIGIN"
	pf_expect_eq "a new connection: no ACAO (the app has none)" \
		"$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
	pf_expect_eq "nothing edited under the shadow run" "$(($(pf_stat ofl_resp_edited) - $2))" 0
	pf_expect_ge "the shadow run read the heads" "$(pf_stat shd_read)" 1
	pf_case_result
}

# k4. After kill -9 of that shadow instance, an enforcing `run` does not
# adopt the shadow run's offload either (its covered sockets are in no
# socket map: no SK_MSG program would ever edit their responses):
# detached (said so), new connections covered afresh.
case_enforcing_after_shadow() {
	newcase
	pf_expect_match "the enforcing run detached the shadow offload" "$(cat "$PF_PFD_LOG")" \
		"is a shadow run's .*: detaching it"
	pf_expect_eq "one sockops program on the cgroup" "$(sockops_on_cg)" 1
	get "$API/v1/items" "$ORIGIN"
	pf_expect_eq "a new connection gets its ACAO" \
		"$(hdr "$CASE_DIR/h" access-control-allow-origin)" "$ORIGIN"
	pf_case_result
}

# l. After kill -9, `preflightd detach` (RC, OUT: its status and output)
# removed the offload too: no sockops program, no pins, the app's own
# responses again.
case_detached() {
	newcase
	pf_detail_file "$2"
	pf_expect_eq "detach exit status" "$1" 0
	pf_expect_match "it removed the offload's two programs too" "$(cat "$2")" \
		"removed $([[ $MODE == xdp ]] && echo 5 || echo 4) program\\(s\\)"
	pf_expect_eq "no sockops program on the cgroup" "$(sockops_on_cg)" 0
	pf_expect_not "no pins left" test -e "/sys/fs/bpf/preflightd/$PF_IF_HOST"
	pf_expect_not "no marker left" test -e "/run/preflightd/$PF_IF_HOST.ofl"
	get "$API/v1/items" "$ORIGIN"
	pf_expect_eq "responses untouched again" "$(count_hdr "$CASE_DIR/h" access-control-allow-origin)" 0
	pf_case_result
}

# The crash, restart and detach sequence.
run_restart() {
	local hold=$PF_WORK/hold.out hold2=$PF_WORK/hold2.out hold3=$PF_WORK/hold3.out
	local go=$PF_WORK/hold.go hpid h2pid rc=0 det edited
	pf_start_preflightd "$MODE" --cgroup "$CG" || true
	pf_ns timeout --foreground -k 2 90 python3 "$PF_ROOT/tests/e2e/tools/oflhold.py" \
		--host "$PF_V4_HOST" --port "$PORT" --origin "$ORIGIN" --path /v1/items \
		--go "$go" >"$hold" 2>&1 &
	hpid=$!
	pf_wait_for_line "$hold" 'before' 10 "$hpid" || true
	# a second one whose first response has a large body: its socket is
	# out of the socket map at the crash (RESTART_LEFT), and the new
	# instance's recorder puts it back into the adopted map
	det=$(pf_stat ofl_detached)
	pf_ns timeout --foreground -k 2 90 python3 "$PF_ROOT/tests/e2e/tools/oflhold.py" \
		--host "$PF_V4_HOST" --port "$PORT" --origin "$ORIGIN" --path "/blob?n=200000" \
		--go "$go" >"$hold2" 2>&1 &
	h2pid=$!
	pf_wait_for_line "$hold2" 'before' 10 "$h2pid" || true
	RESTART_LEFT=$(($(pf_stat ofl_detached) - det))
	pf_kill9
	pf_case "[$MODE] k1. kill -9: no daemon, headers still inserted" case_no_daemon
	pf_start_preflightd "$MODE" --cgroup "$CG" || true
	touch "$go"
	pf_wait_gone "$hpid" 20 || true
	pf_wait_gone "$h2pid" 20 || true
	wait "$hpid" "$h2pid" 2>/dev/null || true
	pf_case "[$MODE] k2. restart: adopted, a held connection keeps its headers" case_restarted \
		"$hold" "$hold2"
	# a shadow run after a crashed enforcing one, then the reverse
	rm -f "$go"
	pf_ns timeout --foreground -k 2 90 python3 "$PF_ROOT/tests/e2e/tools/oflhold.py" \
		--host "$PF_V4_HOST" --port "$PORT" --origin "$ORIGIN" --path /v1/items \
		--go "$go" >"$hold3" 2>&1 &
	hpid=$!
	pf_wait_for_line "$hold3" 'before' 10 "$hpid" || true
	pf_kill9
	pf_start_preflightd "$MODE" --cgroup "$CG" --shadow || true
	edited=$(pf_stat ofl_resp_edited)
	touch "$go"
	pf_wait_gone "$hpid" 20 || true
	wait "$hpid" 2>/dev/null || true
	pf_case "[$MODE] k3. kill -9, run --shadow: the enforcing offload not adopted, nothing edited" \
		case_shadow_after_enforcing "$hold3" "${edited:-0}"
	pf_kill9
	pf_start_preflightd "$MODE" --cgroup "$CG" || true
	pf_case "[$MODE] k4. kill -9 of the shadow run, run: its offload not adopted, headers again" \
		case_enforcing_after_shadow
	pf_kill9
	timeout -k 2 40 "$PF_PREFLIGHTD" detach --iface "$PF_IF_HOST" --drain-timeout 5 \
		>"$PF_WORK/detach.out" 2>&1 || rc=$?
	pf_case "[$MODE] l. kill -9 + detach: the offload removed too" case_detached "$rc" \
		"$PF_WORK/detach.out"
}

# ------------------------------------------------------- held heads ----
# Detach while an SK_MSG program holds a head back (the app wrote part of
# it; oflraw's held_* cases write the rest when the test touches the go
# file). The kernel frees held bytes with the socket's psock: releasing
# such a socket would send the rest of the head without its start.

# held_client CASE OUT -- oflraw's check of CASE in the background; HC_PID.
held_client() {
	pf_ns timeout --foreground -k 2 60 python3 "$PF_ROOT/tests/e2e/tools/oflraw.py" check \
		--host "$PF_V4_HOST" --port "$RAW_PORT" --origin "$ORIGIN" --cred --expose "$EXPOSE" \
		--timeout 30 --case "$1" >"$2" 2>&1 &
	HC_PID=$!
}

# held_start CASE OUT -- preflightd, then CASE's client (held_client),
# until its head is held (ofl_head_corked went up).
held_start() {
	local c
	pf_start_preflightd "$MODE" --cgroup "$CG" || true
	c=$(pf_stat ofl_head_corked)
	held_client "$1" "$2"
	pf_wait_stat_ge ofl_head_corked $((c + 1)) 10 || pf_detail "no head held"
}

# held_run -- SIGTERM, and once preflightd waits for the held head, go;
# then wait for preflightd (HELD_RC: its exit status) and the client.
held_run() {
	kill -TERM "$PF_PFD_PID"
	pf_wait_for_line "$PF_PFD_LOG" 'waiting for [0-9]+ held response head' 15 "$PF_PFD_PID" ||
		pf_detail "preflightd did not wait for the held head"
	touch "$PF_WORK/raw.go"
	HELD_RC=0
	pf_stop_preflightd || HELD_RC=$?
	wait "$HC_PID" || true
}

# case_held OUT RC -- the client's check passed, preflightd exited 0.
case_held() {
	newcase
	pf_detail_file "$1"
	pf_expect "the held head went out whole, unchanged" grep -q '^oflraw: cases=1 ok=1' "$1"
	pf_expect_eq "preflightd exit status" "$2" 0
	pf_case_result
}

# case_held_reset OUT RC LOG -- never completed: reset, never sent partly.
case_held_reset() {
	newcase
	pf_detail_file "$1"
	pf_expect "the client saw the end, no bytes without their start" \
		grep -q '^oflraw: cases=1 ok=1' "$1"
	pf_expect "preflightd reset the connection" grep -q 'still held a response head' "$3"
	pf_expect_eq "preflightd exit status" "$2" 0
	pf_case_result
}

run_held() {
	local out dpid log
	rm -f "$PF_WORK/raw.go"
	out=$PF_WORK/held-term.out
	held_start held_go "$out"
	held_run
	pf_case "[$MODE] q1. SIGTERM while a head is held: it goes out whole" case_held "$out" "$HELD_RC"

	out=$PF_WORK/held-reset.out
	held_start held_reset "$out"
	HELD_RC=0
	pf_stop_preflightd || HELD_RC=$?
	log=$PF_PFD_LOG
	touch "$PF_WORK/raw.go"   # the app's rest now meets a reset connection
	wait "$HC_PID" || true
	pf_case "[$MODE] q2. a head never completed: the connection reset, not cut" \
		case_held_reset "$out" "$HELD_RC" "$log"

	out=$PF_WORK/held-adopt.out
	held_start held_adopt "$out"
	pf_kill9
	pf_start_preflightd "$MODE" --cgroup "$CG" || true
	held_run
	pf_case "[$MODE] q3. kill -9, restart, SIGTERM: the crashed instance's program stops too" \
		case_held "$out" "$HELD_RC"

	out=$PF_WORK/held-detach.out
	log=$PF_WORK/held-detach.log
	held_start held_go "$out"
	pf_kill9
	timeout -k 2 40 "$PF_PREFLIGHTD" detach --iface "$PF_IF_HOST" --drain-timeout 5 \
		>"$log" 2>&1 &
	dpid=$!
	pf_wait_for_line "$log" 'waiting for [0-9]+ held response head' 15 "$dpid" ||
		pf_detail "detach did not wait for the held head"
	touch "$PF_WORK/raw.go"
	HELD_RC=0
	wait "$dpid" || HELD_RC=$?
	wait "$HC_PID" || true
	pf_case "[$MODE] q4. kill -9 + detach while a head is held: it goes out whole" \
		case_held "$out" "$HELD_RC"
	rm -f "$PF_WORK/raw.go"
}

# ------------------------------------------------------------ shadow ----
# run --shadow with the app's own CORS code (appserver's CORS mode, which
# differs from the policy in known ways: it echoes the method, sends no
# Access-Control-Allow-Credentials or Max-Age, only "Vary: Origin" on
# preflights, and an ACAO for any origin on actual responses).

# shd SPEC -- one request from the netns on its own connection:
#   pre ORIGIN [PATH] | get PATH [ORIGIN]
shd() {
	case $1 in
	pre) pf_curl -sS -o /dev/null -X OPTIONS -H "Origin: $2" \
		-H "Access-Control-Request-Method: PUT" \
		-H "Access-Control-Request-Headers: content-type,x-request-id" "$API${3:-/v1/items}" ;;
	get) pf_curl -sS -o /dev/null ${3:+-H "Origin: $3"} "$API$2" ;;
	esac
}

# shd_snap -- read the shadow counters once (stats --json) for shd_stat.
shd_snap() {
	SHD_JSON=$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" --json 2>/dev/null || true)
}
# shd_stat KEY -- one shadow counter of the last shd_snap.
shd_stat() {
	python3 -c "import json,sys; print(json.loads(sys.argv[1] or '{}').get('shadow', {}).get(sys.argv[2], ''))" \
		"$SHD_JSON" "$1"
}

# s1. Known differences in every field, exactly counted, shown by trace
# with both answers (the client's bytes escaped), by stats ("would have
# answered N % in the kernel") and by /metrics.
case_shadow_diffs() {
	newcase
	local tr=$CASE_DIR/trace.out tpid k want hostile="https://evil.test ACAO: ours='x'"
	timeout --foreground -k 2 30 "$PF_PREFLIGHTD" trace --iface "$PF_IF_HOST" --count 13 \
		>"$tr" 2>&1 &
	tpid=$!
	sleep 1
	shd pre "$ORIGIN"                         # allowed preflight: compared
	shd pre https://evil.test                 # denied, forwarded: not compared
	shd pre https://evil.test /rej/items      # denied, on_deny: reject: ours 403, app 204
	shd pre "$ORIGIN" /star/items             # headers ["*"]: ours ACAH *, the app echoes
	shd get /v1/items "$ORIGIN"               # actual, allowed
	shd get /v1/items https://evil.test       # actual, denied: the app allows it
	shd get /health                           # actual, no Origin: no Vary from the app
	shd get /v1/items "$hostile"              # the app echoes a hostile origin
	pf_wait_gone "$tpid" 10 || true
	kill "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	pf_detail_file "$tr" 16
	shd_snap
	pf_expect_eq "preflights compared" "$(shd_stat preflights)" 4
	pf_expect_eq "would have answered in the kernel" "$(shd_stat would_answer)" 3
	pf_expect_eq "would_answer_pct" "$(shd_stat would_answer_pct)" 75.0
	pf_expect_eq "forwarded" "$(shd_stat forwarded)" 1
	pf_expect_eq "actual responses compared" "$(shd_stat actual)" 4
	pf_expect_eq "responses that differ" "$(shd_stat differ)" 7
	pf_expect_eq "unpaired" "$(shd_stat unpaired)" 0
	for k in status_agree:2 status_disagree:1 acao_agree:5 acao_disagree:2 \
		 acac_agree:5 acac_disagree:2 acam_agree:2 acam_disagree:1 \
		 acah_agree:2 acah_disagree:1 maxage_agree:2 maxage_disagree:1 \
		 vary_agree:3 vary_disagree:4 expose_agree:3 expose_disagree:1; do
		pf_expect_eq "  ${k%%:*}" "$(shd_stat "${k%%:*}")" "${k#*:}"
	done
	want=("preflight OPTIONS /v1/items origin=$ORIGIN ACAC: ours='true' app=''"
	      "preflight OPTIONS /v1/items origin=$ORIGIN ACAM: ours='DELETE, GET, PUT' app='PUT'"
	      "preflight OPTIONS /v1/items origin=$ORIGIN MAXAGE: ours='600' app=''"
	      "preflight OPTIONS /rej/items origin=https://evil.test STATUS: ours='4xx' app='2xx'"
	      "preflight OPTIONS /star/items origin=$ORIGIN ACAH: ours='*' app='content-type, x-request-id'"
	      "preflight OPTIONS /star/items origin=$ORIGIN VARY: ours='access-control-request-headers, access-control-request-method, origin' app='origin'"
	      "response GET /v1/items origin=https://evil.test ACAO: ours='' app='https://evil.test'"
	      "response GET /v1/items origin=$ORIGIN EXPOSE: ours='$EXPOSE' app=''"
	      "response GET /health origin=- VARY: ours='origin' app=''"
	      "response GET /v1/items origin=https://evil.test\\x20ACAO:\\x20ours='x' ACAO: ours='' app='https://evil.test ACAO: ours=\\x27x\\x27'")
	for k in "${want[@]}"; do
		pf_expect "trace: $k" grep -qF -- "$k" "$tr"
	done
	pf_expect_eq "trace: one line per disagreement" "$(grep -c ' shadow ' "$tr" || true)" 13
	pf_expect "stats: would have answered 75.0 % in the kernel" \
		grep -q 'would have answered 75.0 % in the kernel' \
		<("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" 2>&1)
	curl -sS --noproxy '*' --max-time 5 "http://$METRICS_SHD/metrics" >"$CASE_DIR/metrics" || true
	for k in 'field="status",result="disagree"} 1' 'field="acah",result="disagree"} 1' \
		 'field="vary",result="disagree"} 4' 'kind="preflight_would_answer"} 3'; do
		pf_expect "/metrics: $k" grep -qF "$k" "$CASE_DIR/metrics"
	done
	pf_case_result
}

# s2. Nothing changed on the wire: the same conversation (1 MB download,
# preflight, 100-continue upload, pipelined requests) byte-exact against
# the port no policy covers, and preflights all answered by the app.
case_shadow_exact() {
	newcase
	local before
	before=$(app_count OPTIONS)
	oflcheck cors "$PORT" "$REF_PORT"
	pf_expect_eq "oflcheck exit: not a byte changed" "$OC_RC" 0
	pf_expect_eq "the app answered the preflights itself" "$(($(app_count OPTIONS) - before))" 2
	pf_expect_eq "nothing answered in the kernel" "$(pf_stat answered)" 0
	pf_expect_eq "nothing edited" "$(pf_stat ofl_resp_edited)" 0
	pf_expect_ge "response heads read" "$(pf_stat shd_read)" 12
	shd_snap
	pf_expect_eq "unpaired" "$(shd_stat unpaired)" 0
	pf_expect_eq "missed" "$(pf_stat ofl_missed)" 0
	pf_case_result
}

# s0. Shadow mode decides with the policy run loaded, never the file read
# again (changed in between, it would compare against another policy):
# the policy file opened once at the start and once per reload (strace,
# seccomp-filtered to the open calls), where it was read twice.
case_shadow_reads_once() {
	newcase
	pf_case_cleanup
	local log=$CASE_DIR/pfd.log tr=$CASE_DIR/open.strace spid pid
	strace --seccomp-bpf -f -qq -e trace=open,openat,openat2 -o "$tr" \
		"$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$MODE" \
		"${PF_TC_ARGS[@]}" --cgroup "$CG" --shadow >"$log" 2>&1 &
	spid=$!
	PF_BG_PIDS+=("$spid")
	if ! pf_wait_for_line "$log" '^preflightd: ready on ' "$PF_READY_SECS" "$spid"; then
		pf_detail_file "$log"
		exit 1
	fi
	pid=$(pgrep -P "$spid" -x preflightd)
	PF_BG_PIDS+=("$pid")
	pf_expect "shadow mode on" grep -q 'shadow mode' "$log"
	kill -HUP "$pid"
	pf_expect "reloaded" pf_wait_stat reloads 1 10
	kill -TERM "$pid"
	pf_expect "stopped on SIGTERM" pf_wait_gone "$spid" 30
	grep -F "\"$PF_POLICY\"" "$tr" >"$CASE_DIR/opens" || true
	pf_detail_file "$CASE_DIR/opens"
	pf_expect_eq "the policy file opened twice: at the start, at the reload" \
		"$(wc -l <"$CASE_DIR/opens")" 2
	pf_case_result
}

# The shadow phase: the app with CORS code of its own, run --shadow.
run_shadow() {
	pf_stop_all
	PF_APP_CGROUP=$CG pf_start_app --cors-origin "$ORIGIN" \
		--listen "$PF_V4_HOST:$PORT" --listen "$PF_V4_HOST:$REF_PORT"
	pf_case "[$MODE] s0. shadow: the policy loaded is the one compared (read once)" \
		case_shadow_reads_once
	if pf_start_preflightd "$MODE" --cgroup "$CG" --shadow --metrics "$METRICS_SHD"; then
		pf_pass "[$MODE] preflightd run --shadow: ready"
	else
		pf_fail "[$MODE] preflightd run --shadow: ready"
	fi
	pf_case "[$MODE] s1. shadow: known differences counted per field, traced" case_shadow_diffs
	pf_case "[$MODE] s2. shadow: no byte on the wire changed" case_shadow_exact
	local stop_rc=0
	pf_stop_preflightd || stop_rc=$?
	pf_case "[$MODE] s3. shadow: SIGTERM, detached" case_shutdown "$stop_rc" 1
}

# phase_wanted ID... -- is a phase with these case ids ("k1": "[tc] k1.")
# selected? Always without PF_CASES; with it (lib.sh: an ERE on the case
# names), only if it matches one of them: PF_CASES='\] t\.' runs case t
# without the restart, held and shadow phases.
phase_wanted() {
	local id
	[[ -n ${PF_CASES:-} ]] || return 0
	for id in "$@"; do
		[[ "[$MODE] $id." =~ $PF_CASES ]] && return 0
	done
	return 1
}

# --------------------------------------------------------------- main ----
main() {
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	# the cgroup goes first (what is left in it moves to the root)
	pf_on_cleanup 'pf_cgroup_down "$CG"'
	pf_ensure_bpffs
	pf_info "offload e2e mode=$MODE work=$PF_WORK"
	: >"$PF_WORK/ofl_expect" # case a2's counts for case i: this run's only
	CG=$(pf_cgroup_up "pf-ofl-$PF_NS-$$")
	POLICY=$PF_WORK/offload.yaml
	write_policy "$POLICY" true
	PF_POLICY=$POLICY

	local topo=()
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	# PF_TX_OFF=1: the client's stack sums every segment (ethtool tx off),
	# so the recorder checks each request's checksum (pf_ofl_csum_bad)
	# where with offload it trusts CHECKSUM_PARTIAL
	[[ ${PF_TX_OFF:-0} == 1 ]] && topo+=(--tx-off)
	pf_topo_up "${topo[@]}" >/dev/null || { pf_fail "topology up"; pf_summary; }
	PF_APP_CGROUP=$CG pf_start_app --no-cors \
		--listen "$PF_V4_HOST:$PORT" --listen "[$PF_V6_HOST]:$PORT" \
		--listen "$PF_V4_HOST:$REF_PORT" \
		--listen "$PF_V4_HOST:$PAGE_OK" --listen "[$PF_V6_HOST]:$PAGE_OK" \
		--listen "$PF_V4_HOST:$PAGE_BAD" --page-dir "$CHROMIUM_DIR/page"
	pf_nginx_start "$CG" "$NGINX_PORT" "$NGINX_REF_PORT"
	pf_start_oflraw
	if pf_start_preflightd "$MODE" --cgroup "$CG"; then
		pf_pass "[$MODE] preflightd run --cgroup: ready"
	else
		pf_fail "[$MODE] preflightd run --cgroup: ready"
	fi
	pf_case "[$MODE] a. allowed origin: ACAO, ACAC, ACEH, Vary inserted" case_allowed
	pf_case "[$MODE] a2. a 3 KiB request head (Cookie): headers, in one skb or split" case_large_head
	pf_case "[$MODE] b. foreign or no origin: Vary only" case_denied
	pf_case "[$MODE] c. keep-alive: each answer paired with its request" case_keepalive
	pf_case "[$MODE] d. chromium: credentialed SPA against a CORS-less app" case_chromium
	pf_case "[$MODE] e. chromium control: responses: false -> blocked" case_control
	pf_case "[$MODE] f. the app's own CORS headers: replace and keep, Vary merged" case_app_headers
	pf_case "[$MODE] g. byte-exact: appserver (1 MB, chunked, HEAD, 304, 100-continue, split heads)" case_exact_app
	pf_case "[$MODE] g2. byte-exact under loss and duplication, 3 KiB heads among them" \
		case_exact_loss
	pf_case "[$MODE] h. byte-exact: nginx (1 MB sendfile, gzip + Vary, HEAD, 304, pipelined)" case_exact_nginx
	pf_case "[$MODE] i. offload counters" case_stats
	pf_case "[$MODE] m. scripted app: adversarial heads byte-exact or unchanged" case_raw
	pf_case "[$MODE] r. large bodies: out of the SK_MSG path and back, every head edited" case_detach
	pf_case "[$MODE] t. no room in the send buffer: heads unchanged, counted, then edited" case_no_room
	pf_case "[$MODE] n. TCP_DEFER_ACCEPT: requests recorded before the socket exists" case_early
	pf_case "[$MODE] o. regex origins: Vary until learned, the request teaches the daemon" case_regex
	pf_case "[$MODE] p. a refused second start is not taken for ready" case_second_start
	pf_case "[$MODE] u. overlapping rules: Vary: Origin wherever the answer depends on it" \
		case_overlap
	pf_case "[$MODE] v. a preflight passed to the app keeps its answer; w. an odd path loses the app's CORS (replace)" \
		case_preflight_app
	local stop_rc=0
	pf_stop_preflightd || stop_rc=$?
	pf_case "[$MODE] j. SIGTERM: detached from the cgroup" case_shutdown "$stop_rc"
	phase_wanted k1 k2 k3 k4 l && run_restart
	phase_wanted q1 q2 q3 q4 && run_held
	phase_wanted s0 s1 s2 s3 && run_shadow
	pf_stop_all
	pf_summary
}

main "$@"

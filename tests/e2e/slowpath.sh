#!/usr/bin/env bash
# tests/e2e/slowpath.sh -- the daemon slow path for regex origins:
#
# The e2e policy plus a rule with a regex origin. preflightd starts with
# every XDP/TC attach 1.5 s slower (tests/e2e/preload/slowattach.c: a
# machine where libxdp's dispatcher attempt takes that long), and "ready"
# must still mean every path works: (a) the first preflight right after
# "ready" from a matching origin is answered by preflightd, never counted
# pass_daemon_down; the app never sees it; the datapath drops its segment
# and punts the origin to the daemon, which hands the segment back once
# decided (replayed): answered with no client retransmission (where the
# kernel refuses the replay's live-frame test runs, by a TC test run; in
# native XDP mode with metadata there, after the client's retransmission:
# expect_replayed); (b) keep-alive clients from a new
# matching origin: every preflight answered in the kernel, byte-exact;
# (c) a non-matching origin under the regex rule goes to the app, and the
# daemon's negative verdict is cached (not punted again); (i) one replayed
# on a keep-alive connection after a splice: byte-exact; (d) after
# kill -9 of the daemon a new matching origin goes to the app within ~1 s
# (the BPF programs stay attached); a restart adopts, then a clean stop;
# (e, run before d) a reload drops the learned verdicts: decided again;
# (f) request-header lists over the kernel's limits (20 names): decided by
# the daemon, replayed and answered in the kernel (list echoed, no client
# retransmission where there is a replay), the same keep-alive
# connection carries a PUT afterwards; a list with one name not allowed
# goes to the app; (g) 1,048,000 entries of ended connections in the flow
# table: the GC frees them all, and new regex origins are decided by the
# daemon all the while; (h) a flood of spoofed one-segment preflights (raw
# socket, no handshake) is neither punted nor tracked, and a legitimate
# regex origin is still answered.
#
#   bash tests/e2e/slowpath.sh [--mode tc|xdp]
#
# xdp puts the native XDP pass program on the client end (topo.sh up
# --xdp-peer); PF_XDP_GENERIC=1 runs XDP mode in skb (generic) mode. Ends
# with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGEX_ORIGIN_RE='^https://pr-[0-9]+\.preview\.example\.org$'
SPOOFER=$PF_E2E_BIN/spoofer

pf_parse_mode "$@"
LABEL=$MODE
[[ $MODE != xdp || -z ${PF_XDP_GENERIC:-} ]] || LABEL=xdp-generic

# hdr FILE NAME -- value of header NAME in a curl -D dump, CR stripped.
hdr() { tr -d '\r' <"$1" | awk -v n="${2,,}" 'BEGIN { FS = ":" }
	tolower($1) == n { v = substr($0, length($1) + 2); sub(/^[ \t]+/, "", v); print v; exit }'; }
has_hdr() { tr -d '\r' <"$1" | grep -qi "^$2:"; }
status() { tr -d '\r' <"$1" | awk '/^HTTP\//{ s = $2 } END { print s }'; }

# app_count ORIGIN -- OPTIONS lines the app logged for ORIGIN.
app_count() {
	awk -v o="$1" '$2 == "OPTIONS" && $4 == "origin=" o { c++ } END { print c + 0 }' "$PF_APP_LOG"
}

# preflight ORIGIN -- curl a preflight for PUT /v1/items from the netns;
# headers to $PF_WORK/h; prints the time it took (seconds).
preflight() {
	local t0 t1
	: >"$PF_WORK/h"
	t0=$(date +%s.%N)
	pf_curl -sS -X OPTIONS -D "$PF_WORK/h" -o /dev/null -H "Origin: $1" \
		-H 'Access-Control-Request-Method: PUT' \
		-H 'Access-Control-Request-Headers: content-type' \
		"http://$PF_V4_HOST:8080/v1/items"
	t1=$(date +%s.%N)
	pf_detail "$1: $(tr -d '\r' <"$PF_WORK/h" | head -n1) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", b - a }')"
}

# expect_replayed WHAT REPLAYED0 RETRANS -- the punted segment of WHAT was
# handed back once decided: replayed (the counter past REPLAYED0) and the
# client retransmitted nothing (RETRANS segments since the request) --
# by a live-frame test run, or where the kernel refuses those by a TC
# test run (user/replay.h: "replays by TC test run" at start). Only in
# native XDP mode with metadata (no "refuses bpf_xdp_adjust_meta" at
# start) on a kernel that refuses live frames does the daemon say "replay
# off: this kernel refuses ..." and the client's retransmission decide
# instead: nothing replayed, at least one retransmission. Replay off in any
# other mode, or for any other reason (a probe that failed: "replay off:
# <errno>"), is a failure.
expect_replayed() {
	local off_ok=0
	[[ $MODE == xdp && -z ${PF_XDP_GENERIC:-} ]] &&
		! grep -q "refuses bpf_xdp_adjust_meta" "$PF_PFD_LOG" && off_ok=1
	if ! grep -q "slow path: replay off: this kernel refuses" "$PF_PFD_LOG"; then
		grep -q "replays by TC test run" "$PF_PFD_LOG" &&
			pf_detail "$1: replayed by TC test run (this kernel refuses live-frame test runs)"
		pf_expect_ge "$1: replayed counted" "$(($(pf_stat replayed) - $2))" 1
		pf_expect_eq "$1: the client retransmitted nothing" "$3" 0
		return
	fi
	pf_detail "$1: $(grep -m1 -o 'replay off: .*' "$PF_PFD_LOG")"
	pf_expect_eq "$1: replay off only in native XDP mode with metadata" "$off_ok" 1
	pf_expect_eq "$1: nothing replayed" "$(($(pf_stat replayed) - $2))" 0
	pf_expect_ge "$1: the client's retransmission decided it" "$3" 1
}

# client_retrans -- TCP segments the client's namespace retransmitted so
# far (RetransSegs of its /proc/net/snmp).
client_retrans() {
	pf_ns awk '$1 == "Tcp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") c = i }
		else print $c }' /proc/net/snmp
}

ka() {
	pf_ns timeout --foreground -k 2 120 "$PF_KACLIENT" --addr "$PF_V4_HOST" --port 8080 "$@"
}

# start_slow_attach -- pf_start_preflightd with every attach 1.5 s slower
# (slowattach.so), noticing "ready" the moment it is written (tail -f:
# inotify), and sending case a's preflight right then. Its counters start
# at zero (nothing is adopted).
start_slow_attach() {
	PF_SEQ=$((PF_SEQ + 1))
	PF_PFD_LOG=$PF_WORK/preflightd-$PF_SEQ.log
	: >"$PF_PFD_LOG"
	pf_run_args "$MODE"
	LD_PRELOAD=$PF_E2E_BIN/slowattach.so "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" \
		--policy "$PF_POLICY" --mode "$MODE" "${PF_RUN_ARGS[@]}" >"$PF_PFD_LOG" 2>&1 &
	PF_PFD_PID=$!
	PF_BG_PIDS+=("$PF_PFD_PID")
	local fd tail_pid rc=0
	exec {fd}< <(exec timeout 30 tail -n +1 -f "$PF_PFD_LOG")
	tail_pid=$!
	grep -q -m1 ready <&"$fd" || rc=1
	kill "$tail_pid" 2>/dev/null || true
	exec {fd}<&-
	if ((rc)); then
		pf_detail_file "$PF_PFD_LOG" >&2
		return 1
	fi
	local r0
	r0=$(client_retrans)
	preflight https://pr-12.preview.example.org >"$PF_WORK/first"
	echo $(($(client_retrans) - r0)) >"$PF_WORK/first_retrans"
	pf_info "preflightd pid $PF_PFD_PID ($MODE, slow attach): $(grep -m1 ready "$PF_PFD_LOG")"
}

# a. A matching origin, the first preflight right after "ready" (sent by
# start_slow_attach): answered by preflightd, the app never sees it.
case_regex_allowed() {
	local o=https://pr-12.preview.example.org punts
	cat "$PF_WORK/first"
	pf_expect_eq "not passed as 'daemon down'" "$(pf_stat pass_daemon_down)" 0
	pf_expect_eq "status" "$(status "$PF_WORK/h")" 204
	pf_expect_eq "Access-Control-Allow-Origin" "$(hdr "$PF_WORK/h" access-control-allow-origin)" "$o"
	pf_expect_not "no X-Answered-By" has_hdr "$PF_WORK/h" x-answered-by
	pf_expect_eq "app saw no OPTIONS" "$(app_count "$o")" 0
	pf_expect_ge "punt_daemon counted" "$(pf_stat punt_daemon)" 1
	pf_expect_ge "learned_origins counted" "$(pf_stat learned_origins)" 1
	# the punted segment handed back once decided: no retransmission
	expect_replayed "first preflight" 0 "$(cat "$PF_WORK/first_retrans")"
	pf_expect_eq "replay_failed" "$(pf_stat replay_failed)" 0
	pf_expect_eq "punted once" "$(pf_stat punt_daemon)" 1
	pf_expect_eq "no retransmission dropped (retx_dropped)" "$(pf_stat retx_dropped)" 0
	# learned: the next one is answered at once, not punted again
	punts=$(pf_stat punt_daemon)
	preflight "$o"
	pf_expect_eq "again: status" "$(status "$PF_WORK/h")" 204
	pf_expect_eq "again: not punted" "$(($(pf_stat punt_daemon) - punts))" 0
	pf_case_result
}

# b. Keep-alive clients from a new matching origin: all in the kernel.
case_regex_kaclient() {
	local out
	out=$(ka --origin https://pr-77.preview.example.org --conns 4 --rounds 20 \
		--put-size 1000 --get-size 10000 --expect kernel --timeout-ms 10000 2>&1 | tail -1) || true
	pf_detail "$out"
	pf_expect_match "byte-exact, every preflight answered in the kernel" "$out" 'errors=0$'
	pf_case_result
}

# c. A non-matching origin under the regex rule: forwarded; the daemon's
# negative verdict is cached.
case_regex_denied() {
	local o=https://pr-12.preview.example.org.evil.test before punts fwd
	before=$(app_count "$o")
	punts=$(pf_stat punt_daemon)
	fwd=$(pf_stat fwd_denied)
	preflight "$o"
	pf_expect_eq "answered by the app" "$(hdr "$PF_WORK/h" x-answered-by)" app
	pf_expect_eq "app logged the OPTIONS" "$(($(app_count "$o") - before))" 1
	pf_expect_ge "punted once" "$(($(pf_stat punt_daemon) - punts))" 1
	punts=$(pf_stat punt_daemon)
	preflight "$o"
	pf_expect_eq "again: answered by the app" "$(hdr "$PF_WORK/h" x-answered-by)" app
	pf_expect_eq "again: not punted (learned negative)" "$(($(pf_stat punt_daemon) - punts))" 0
	pf_expect_ge "forwarded as denied" "$(($(pf_stat fwd_denied) - fwd))" 2
	pf_case_result
}

# i. On one keep-alive connection: a preflight answered in the kernel (a
# splice), then one from a new origin the regex rule does not match --
# punted, replayed once decided, forwarded to the app -- then a PUT: each
# answered by the right side, the connection byte-exact, no client
# retransmission (expect_replayed). In generic XDP mode the replay meets pf_xdp_ingress,
# which translates it before TC: a hand-off mark left on the frame had TC
# take it, translated, for a retransmission of the request answered
# before it (dropped, retx_dropped), and the client had to resend it.
case_replay_spliced() {
	local ok=https://pr-12.preview.example.org no=https://pr-31.preview.example.org.evil.test
	local before replayed dropped r0 out want
	before=$(app_count "$no")
	replayed=$(pf_stat replayed)
	dropped=$(pf_stat retx_dropped)
	r0=$(client_retrans)
	out=$(pf_curl -sS -w '|%{http_code}|%{num_connects}\n' -o /dev/null -X OPTIONS -H "Origin: $ok" \
		-H 'Access-Control-Request-Method: PUT' "http://$PF_V4_HOST:8080/v1/items" \
		--next -sS -w '|%{http_code}|%{num_connects}\n' -D "$PF_WORK/h" -o /dev/null -X OPTIONS \
		-H "Origin: $no" -H 'Access-Control-Request-Method: PUT' "http://$PF_V4_HOST:8080/v1/items" \
		--next -sS -w '|%{http_code}|%{num_connects}\n' -o "$PF_WORK/put" -X PUT \
		-H "Origin: $ok" -H 'Content-Type: text/plain' --data-binary 'replayed then put' \
		"http://$PF_V4_HOST:8080/v1/items")
	pf_detail "$(echo "$out" | tr '\n' ' ')"
	pf_expect_eq "three requests on one connection" "$(echo "$out" | tr '\n' ' ')" \
		"|204|1 |204|0 |200|0 "
	pf_expect_eq "the denied origin's preflight answered by the app" \
		"$(hdr "$PF_WORK/h" x-answered-by)" app
	pf_expect_eq "app logged it once" "$(($(app_count "$no") - before))" 1
	expect_replayed "denied origin" "$replayed" "$(($(client_retrans) - r0))"
	pf_expect_eq "no retransmission dropped (retx_dropped)" \
		"$(($(pf_stat retx_dropped) - dropped))" 0
	want=$(python3 -c 'import sys; b = sys.argv[1].encode(); h = 0xcbf29ce484222325
for c in b: h = ((h ^ c) * 0x100000001b3) % 2**64
print("{\"len\":%d,\"sum\":\"%016x\"}" % (len(b), h))' 'replayed then put')
	pf_expect_eq "the PUT's body reached the app intact" "$(cat "$PF_WORK/put")" "$want"
	pf_case_result
}

# f. 20 request headers: over the kernel's limits, the daemon decides.
HDR20=$(for i in $(seq -w 0 19); do printf 'x-h%s, ' "$i"; done)
HDR20=${HDR20%, }
case_acrh_slow() {
	local o=https://wide.example.org before punts learned list out replayed r0 dropped
	before=$(app_count "$o")
	punts=$(pf_stat punt_daemon)
	learned=$(pf_stat learned_acrh)
	replayed=$(pf_stat replayed)
	dropped=$(pf_stat retx_dropped)
	r0=$(client_retrans)
	: >"$PF_WORK/h"
	pf_curl -sS -X OPTIONS -D "$PF_WORK/h" -o /dev/null -H "Origin: $o" \
		-H 'Access-Control-Request-Method: PUT' \
		-H "Access-Control-Request-Headers: $HDR20" "http://$PF_V4_HOST:8080/v1/items"
	expect_replayed "20 request headers" "$replayed" "$(($(client_retrans) - r0))"
	pf_expect_eq "no retransmission dropped (retx_dropped)" \
		"$(($(pf_stat retx_dropped) - dropped))" 0
	pf_expect_eq "status" "$(status "$PF_WORK/h")" 204
	pf_expect_eq "Access-Control-Allow-Headers echoes the list" \
		"$(hdr "$PF_WORK/h" access-control-allow-headers)" "$HDR20"
	pf_expect_not "no X-Answered-By" has_hdr "$PF_WORK/h" x-answered-by
	pf_expect_eq "app saw no OPTIONS" "$(($(app_count "$o") - before))" 0
	pf_expect_ge "punt_daemon counted" "$(($(pf_stat punt_daemon) - punts))" 1
	pf_expect_ge "learned_acrh counted" "$(($(pf_stat learned_acrh) - learned))" 1
	# a new list (not learned yet) on a keep-alive connection, then a PUT
	# on the same connection: the splice after a punt is byte-exact
	list="$HDR20, x-h00"
	out=$(pf_curl -sS -w '|%{http_code}|%{num_connects}\n' -o /dev/null -X OPTIONS -H "Origin: $o" \
		-H 'Access-Control-Request-Method: PUT' \
		-H "Access-Control-Request-Headers: $list" "http://$PF_V4_HOST:8080/v1/items" \
		--next -sS -w '|%{http_code}|%{num_connects}\n' -o "$PF_WORK/put" -X PUT \
		-H "Origin: $o" -H 'Content-Type: text/plain' --data-binary 'slow path then put' \
		"http://$PF_V4_HOST:8080/v1/items")
	pf_detail "$(echo "$out" | tr '\n' ' ')"
	pf_expect_eq "preflight then PUT on one connection" "$(echo "$out" | tr '\n' ' ')" "|204|1 |200|0 "
	pf_expect_eq "app saw no OPTIONS" "$(($(app_count "$o") - before))" 0
	# one name not allowed: the daemon denies, the app answers
	list="${HDR20/x-h07/x-evil}"
	: >"$PF_WORK/h"
	pf_curl -sS -X OPTIONS -D "$PF_WORK/h" -o /dev/null -H "Origin: $o" \
		-H 'Access-Control-Request-Method: PUT' \
		-H "Access-Control-Request-Headers: $list" "http://$PF_V4_HOST:8080/v1/items"
	pf_expect_eq "denied list: answered by the app" "$(hdr "$PF_WORK/h" x-answered-by)" app
	pf_expect_eq "app logged that OPTIONS" "$(($(app_count "$o") - before))" 1
	pf_case_result
}

# e. A reload (new slot) forgets the learned verdicts: decided again.
case_regex_reload() {
	local o=https://pr-12.preview.example.org punts reloads
	punts=$(pf_stat punt_daemon)
	reloads=$(pf_stat reloads)
	kill -HUP "$PF_PFD_PID"
	for _ in $(seq 50); do
		(($(pf_stat reloads) > reloads)) && break
		sleep 0.1
	done
	pf_expect_ge "reloaded" "$(($(pf_stat reloads) - reloads))" 1
	preflight "$o"
	pf_expect_eq "status" "$(status "$PF_WORK/h")" 204
	pf_expect_not "no X-Answered-By" has_hdr "$PF_WORK/h" x-answered-by
	pf_expect_ge "punted again after the reload" "$(($(pf_stat punt_daemon) - punts))" 1
	pf_case_result
}

# h. Abuse (issue 10 items 1 and 3): spoofed one-segment preflights (no
# handshake) from a raw socket -- 70,000 distinct regex origins, more than
# the daemon's learned verdicts, then 20,000 from 20,000 ports with an
# exactly allowed origin. Nothing of it may reach the daemon or the flow
# table (no socket: passed, counted), and a legitimate client with a new
# regex origin is still answered, never black-holed.
case_spoof_flood() {
	# (not among the spoofed ones)
	local punts learned nosock flows out o=https://pr-999999.preview.example.org
	punts=$(pf_stat punt_daemon)
	learned=$(pf_stat learned_origins)
	nosock=$(pf_stat pass_no_socket)
	flows=$(pf_stat flow_created)
	out=$(pf_ns timeout --foreground -k 2 120 "$SPOOFER" --src "$PF_V4_CLIENT" \
		--dst "$PF_V4_HOST" --port 8080 --count 70000 --rate 10000 \
		--origin 'https://pr-%u.preview.example.org' 2>&1 || true)
	pf_expect_match "70,000 regex-origin preflights spoofed" "$out" 'sent=70000 errors=0'
	out=$(pf_ns timeout --foreground -k 2 120 "$SPOOFER" --src "$PF_V4_CLIENT" \
		--dst "$PF_V4_HOST" --port 8080 --count 20000 --rate 10000 \
		--origin 'https://app.example.com' 2>&1 || true)
	pf_expect_match "20,000 allowed-origin preflights spoofed" "$out" 'sent=20000 errors=0'
	pf_detail "$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | awk '$2 > 0 { printf "%s=%s ", $1, $2 }')"
	pf_expect_eq "none punted to the daemon" "$(($(pf_stat punt_daemon) - punts))" 0
	pf_expect_eq "none learned" "$(($(pf_stat learned_origins) - learned))" 0
	pf_expect_eq "no flow entry created for them" "$(($(pf_stat flow_created) - flows))" 0
	pf_expect_ge "passed as pass_no_socket" "$(($(pf_stat pass_no_socket) - nosock))" 90000
	preflight "$o" || pf_detail "no answer: curl failed (black-holed?)"
	pf_expect_match "a new legitimate regex origin is still answered" \
		"$(status "$PF_WORK/h"):$(hdr "$PF_WORK/h" access-control-allow-origin)" "^204:$o\$"
	pf_case_result
}

# d. kill -9: the datapath stops punting within ~1 s; restart adopts.
case_daemon_down() {
	local o=https://pr-4242.preview.example.org down before
	kill -9 "$PF_PFD_PID"
	wait "$PF_PFD_PID" 2>/dev/null || true
	PF_PFD_PID=
	sleep 1.2
	pf_expect_match "TC programs stay attached" "$(pf_tc_chain in)" 'pf_tc_ingress'
	down=$(pf_stat pass_daemon_down)
	before=$(app_count "$o")
	preflight "$o"
	pf_expect_eq "answered by the app" "$(hdr "$PF_WORK/h" x-answered-by)" app
	pf_expect_eq "app logged the OPTIONS" "$(($(app_count "$o") - before))" 1
	pf_expect_ge "pass_daemon_down counted" "$(($(pf_stat pass_daemon_down) - down))" 1
	pf_expect "restart (adopts)" pf_start_preflightd "$MODE"
	echo "$PF_PFD_PID" >"$PF_WORK/restart.pid"
	pf_expect_match "it adopted the pinned state" "$(cat "$PF_PFD_LOG")" 'adopting'
	o=https://pr-4243.preview.example.org
	preflight "$o"
	pf_expect_eq "restarted: a new matching origin is answered in the kernel" \
		"$(status "$PF_WORK/h"):$(has_hdr "$PF_WORK/h" x-answered-by && echo app || echo kernel)" "204:kernel"
	pf_expect "clean stop" pf_stop_preflightd
	pf_expect_not "no pins left" test -e /sys/fs/bpf/preflightd/"$PF_IF_HOST"
	pf_case_result
}

# g. A flow table of 1,048,000 entries of ended connections (flowfill):
# the GC frees them in its own thread, and meanwhile the heartbeat stays
# fresh, so a new regex origin every 0.4 s is still decided by the daemon
# (the GC used to run on the heartbeat's thread, one netlink request per
# entry: seconds per pass at this size, every punt passed to the app).
case_big_table() {
	local down freed out i o ok=0
	down=$(pf_stat pass_daemon_down)
	freed=$(pf_stat flows_freed)
	out=$(timeout --foreground 60 "$PF_E2E_BIN/flowfill" --iface "$PF_IF_HOST" --count 1048000)
	pf_detail "$out"
	for i in $(seq 10 19); do
		o=https://pr-$i$i.preview.example.org
		preflight "$o"
		[[ $(status "$PF_WORK/h") == 204 ]] && ! has_hdr "$PF_WORK/h" x-answered-by && ok=$((ok + 1))
		sleep 0.4
	done
	pf_expect_eq "new regex origins answered in the kernel meanwhile" "$ok" 10
	pf_expect_eq "none passed as 'daemon down'" "$(($(pf_stat pass_daemon_down) - down))" 0
	pf_expect "the GC freed the ended connections' entries" \
		pf_wait_stat_ge flows_freed $((freed + 1048000)) 60
	pf_case_result
}

main() {
	pf_require_root
	pf_ensure_bpffs
	pf_make_workdir
	pf_install_trap
	PF_POLICY=$PF_WORK/policy.yaml
	cp "$PF_ROOT/tests/e2e/policy.yaml" "$PF_POLICY"
	cat >>"$PF_POLICY" <<YAML
  # slowpath.sh: regex origins, decided by the daemon
  - origins:
      - regex: '$REGEX_ORIGIN_RE'
    methods: [PUT]
    headers: [content-type, x-request-id]
    max_age: 60
  # slowpath.sh: 20 allowed request headers, over the kernel's limits
  - origins: [https://wide.example.org]
    methods: [PUT]
    headers: [$HDR20]
YAML
	local topo=()
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_info "slow path e2e mode=$LABEL work=$PF_WORK"
	pf_topo_up "${topo[@]}"
	# the client's loss probe for a lone request waits its minimum RTO
	# (200 ms): at 1 s, "no client retransmission" (cases a, f, i) says the
	# replay came first with room to spare on a loaded machine. The
	# namespace goes with the topology
	pf_ns sysctl -qw net.ipv4.tcp_rto_min_us=1000000 2>/dev/null ||
		pf_info "no net.ipv4.tcp_rto_min_us here: the client's 200 ms loss probe stays"
	pf_start_app --listen "$PF_V4_HOST:8080"
	start_slow_attach
	pf_case "[$LABEL] ready after a slow attach: regex origin answered by preflightd, app never sees it" \
		case_regex_allowed
	pf_case "[$LABEL] regex origin: keep-alive clients byte-exact, all in the kernel" case_regex_kaclient
	pf_case "[$LABEL] non-matching origin under a regex rule: forwarded, verdict cached" case_regex_denied
	pf_case "[$LABEL] a denied origin replayed on a spliced keep-alive connection: byte-exact" \
		case_replay_spliced
	pf_case "[$LABEL] 20 request headers: decided by the daemon, answered in the kernel" case_acrh_slow
	pf_case "[$LABEL] reload: learned verdicts dropped, decided again" case_regex_reload
	pf_case "[$LABEL] spoofed preflight flood: nothing punted or tracked, regex origins still answered" \
		case_spoof_flood
	pf_case "[$LABEL] daemon killed: regex origins passed within 1 s; restart adopts" case_daemon_down
	# the case killed our instance and stopped the one it started (which
	# our cleanup does not know about): make sure
	PF_PFD_PID=
	if [[ -s $PF_WORK/restart.pid ]] && kill -0 "$(cat "$PF_WORK/restart.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$PF_WORK/restart.pid")"
		pf_wait_gone "$(cat "$PF_WORK/restart.pid")" 15 || true
	fi
	if pf_start_preflightd "$MODE" --max-flows 1048576; then
		pf_case "[$LABEL] 1M ended connections in the flow table: freed by the GC, punts still decided" \
			case_big_table
	else
		pf_fail "[$LABEL] preflightd run --max-flows 1048576: ready within 10 s"
	fi
	pf_stop_all
	pf_summary
}
main

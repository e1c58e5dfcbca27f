#!/usr/bin/env bash
# tests/e2e/reload.sh -- policy reloads under continuous wrk load (issue
# "The daemon": SIGHUP or a change of the policy file -> validate -> swap
# atomically; an invalid policy keeps the old one and logs FILE:LINE:COL;
# under wrk load a reload loses or mis-answers no preflight):
#
#   bash tests/e2e/reload.sh [--mode tc|xdp]
#
# The app and preflightd (--mode MODE; xdp puts the native XDP pass program
# on the client end, topo.sh up --xdp-peer) run on a copy of
# tests/e2e/policy.yaml. wrk (8 connections, 2 threads) sends one allowed
# preflight over and over from the client netns;
# tests/e2e/tools/reload.lua checks every response against a reference
# answer taken with curl before the load (status 204, the exact
# Access-Control-Allow-Origin and Vary, the same Access-Control-* set, not
# the app's). While wrk runs, the policy is reloaded one reload at a time
# (each one waited for on the counters): SIGHUP, a new variant renamed over
# the file (what editors do), a new variant written in place, and so on; a
# variant adds an unrelated first rule, so the answer to wrk's preflight
# never changes, and its own origin must be answered by preflightd right
# after its reload. Once, a broken policy is renamed in: refused
# (reload_failures + 1, FILE:LINE:COL in the log, the previous variant
# still answering), then a valid one restores it. A fixed list of 12
# actions, then more until wrk has run PF_RELOAD_SECONDS (default 10); wrk
# is stopped 1 s after the last one, so every reload happens under load.
# Afterwards: wrk completed >= PF_RELOAD_MIN_REQUESTS (default 10000)
# requests, no non-2xx, no socket error, no mismatch; `reloads` grew by
# exactly the number of valid reloads made and `reload_failures` by exactly
# 1; the app logged no OPTIONS from wrk's origin; the kernel's `answered`
# counter grew by at least the completed requests (+ our curl checks).
# Then, with every attach slowed (slowattach.so), a change of the file
# while preflightd starts is reloaded once it serves, and an edit with a
# SIGHUP at once is one reload (case_change_during_start).
# Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=tc
PORT=8080                             # in tests/e2e/policy.yaml
ORIGIN=https://app.example.com        # allowed by tests/e2e/policy.yaml
TARGET=/api/v1/items/42
ACRH=content-type,x-request-id
LUA=$PF_ROOT/tests/e2e/tools/reload.lua
DURATION=${PF_RELOAD_SECONDS:-10}
WRK_MAX_S=$((DURATION + 60))            # wrk's own bound (-d)
MIN_REQUESTS=${PF_RELOAD_MIN_REQUESTS:-10000}
CONNS=8
THREADS=2
RELOAD_WAIT_S=15                      # bound on one reload being counted
# One reload at a time, in this order; after the list, hup/rename/inplace
# repeat until wrk has run DURATION seconds (at most MAX_ACTIONS in all).
PLAN=(hup rename inplace hup rename bad rename inplace hup rename inplace hup)
CYCLE=(hup rename inplace)
MAX_ACTIONS=40

pf_parse_mode "$@"

# ------------------------------------------------------------ helpers ----

# hdr FILE NAME -- value of header NAME in a curl -D dump, CR stripped.
hdr() {
	tr -d '\r' <"$1" | awk -v n="${2,,}" 'BEGIN { FS = ":" }
		tolower($1) == n { v = substr($0, length($1) + 2); sub(/^[ \t]+/, "", v); print v; exit }'
}
has_hdr() { tr -d '\r' <"$1" | grep -qi "^$2:"; }
status() { tr -d '\r' <"$1" | awk '/^HTTP\//{ s = $2 } END { print s }'; }

# cors_set FILE -- the answer's Access-Control-*, Vary and X-Answered-By
# headers as reload.lua compares them: "name: value" (name lower-case,
# value trimmed), sorted, joined by "|".
cors_set() {
	tr -d '\r' <"$1" | awk 'BEGIN { FS = ":" }
		{ n = tolower($1) }
		n ~ /^access-control-/ || n == "vary" || n == "x-answered-by" {
			v = substr($0, length($1) + 2); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
			print n ": " v }' | LC_ALL=C sort | paste -sd'|'
}

# preflight ORIGIN TARGET OUT -- curl wrk's preflight (with ORIGIN, to
# TARGET) from the client netns; response headers to OUT.
preflight() {
	: >"$3"
	pf_curl -sS -X OPTIONS -D "$3" -o /dev/null -H "Origin: $1" \
		-H 'Access-Control-Request-Method: PUT' -H "Access-Control-Request-Headers: $ACRH" \
		"http://$PF_V4_HOST:$PORT$2" || true
}

# answered_by_pfd ORIGIN TARGET -- a preflight from ORIGIN is answered by
# preflightd: 204, ACAO = ORIGIN, not from the app.
answered_by_pfd() {
	local h=$PF_WORK/check.h
	preflight "$1" "$2" "$h"
	[[ $(status "$h") == 204 && $(hdr "$h" access-control-allow-origin) == "$1" ]] &&
		! has_hdr "$h" x-answered-by
}

# app_options ORIGIN -- OPTIONS lines the app logged for ORIGIN.
app_options() {
	awk -v o="$1" '$2 == "OPTIONS" && $4 == "origin=" o { c++ } END { print c + 0 }' "$PF_APP_LOG"
}

# variant K OUT -- the e2e policy plus, as its first rule, a rule of its
# own (path /reload-K/, origin https://reload-K.example.org): wrk's
# preflight still matches the same rule, so its answer does not change.
variant_origin() { echo "https://reload-$1.example.org"; }
variant() {
	awk -v k="$1" -v o="$(variant_origin "$1")" '
		{ print }
		/^rules:/ && !done {
			print "  # reload.sh variant " k
			print "  - paths: [/reload-" k "/]"
			print "    origins: [" o "]"
			print "    methods: [PUT]"
			print "    headers: [content-type, x-request-id]"
			done = 1
		}' "$BASE" >"$2"
	grep -q "reload-$1.example.org" "$2"
}

# broken OUT -- the e2e policy plus a last rule whose origin has no scheme:
# refused at validation; prints the line of that origin.
broken() {
	{
		cat "$BASE"
		printf '  # reload.sh: a broken rule (origin without a scheme)\n'
		printf '  - origins: [reload-broken.example.org]\n'
		printf '    methods: [GET]\n'
	} >"$1"
	grep -n 'reload-broken.example.org' "$1" | cut -d: -f1
}

# kv LINE KEY -- value of KEY=VALUE in a RELOADCHECK line.
kv() { grep -oE "(^| )$2=[^ ]*" <<<"$1" | head -n1 | cut -d= -f2; }

# ------------------------------------------------------------- case ----

# A change of the policy file while preflightd starts -- after it read the
# file, before "ready" (every attach 2 s slower: slowattach.so; TC mode
# attaches through clsact, which it slows) -- is reloaded once it serves:
# the change's origin answered by preflightd, `reloads` 1. The file was
# watched only from "ready" on, so such a change (a ConfigMap update
# during a hand-over's drain, say) waited for the next one. Then an edit
# and a SIGHUP at once: one reload.
case_change_during_start() {
	local v=91 pid
	pf_stop_preflightd || true   # wrk's (the case before: not this subshell's child)
	pf_case_cleanup
	variant 90 "$POLICY"
	variant "$v" "$PF_WORK/next.yaml"
	[[ $MODE == tc ]] && PF_TC_ARGS=(--tc-attach clsact)
	pf_run_args "$MODE"
	PF_SEQ=$((PF_SEQ + 1))
	PF_PFD_LOG=$PF_WORK/preflightd-$PF_SEQ.log
	LD_PRELOAD=$PF_E2E_BIN/slowattach.so PF_SLOW_ATTACH_MS=2000 "$PF_PREFLIGHTD" run \
		--iface "$PF_IF_HOST" --policy "$POLICY" --mode "$MODE" --drain-timeout 5 \
		"${PF_RUN_ARGS[@]}" >"$PF_PFD_LOG" 2>&1 &
	pid=$!
	PF_PFD_PID=$pid
	PF_BG_PIDS+=("$pid")
	sleep 0.7
	pf_expect_not "preflightd still starting when the file changes" \
		grep -q '^preflightd: ready on ' "$PF_PFD_LOG"
	cat "$PF_WORK/next.yaml" >"$POLICY"   # written in place
	if ! pf_wait_for_line "$PF_PFD_LOG" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"; then
		pf_detail_file "$PF_PFD_LOG"
		pf_expect "preflightd ready" false
		pf_stop_preflightd || true
		return
	fi
	pf_expect "the change reloaded (reloads 1)" pf_wait_stat_ge reloads 1 5
	pf_expect "the changed policy's origin answered by preflightd" \
		answered_by_pfd "$(variant_origin "$v")" "/reload-$v/x"
	pf_expect_eq "reloads" "$(pf_stat reloads)" 1
	# an edit and a SIGHUP at once (an editor's save, then `systemctl
	# reload`): one reload -- two before, the SIGHUP's leaving the edit's
	# events for the next turn
	variant 92 "$PF_WORK/next.yaml"
	cat "$PF_WORK/next.yaml" >"$POLICY"
	kill -HUP "$pid"
	pf_expect "the edit reloaded" pf_wait_stat_ge reloads 2 5
	sleep 1
	pf_expect_eq "an edit and a SIGHUP together: reloads" "$(pf_stat reloads)" 2
	pf_expect "preflightd stopped cleanly" pf_stop_preflightd
	pf_case_result
}

case_reload_under_wrk() {
	local ref=$PF_WORK/ref.h wout=$PF_WORK/wrk.out tmp=$POLICY_DIR/policy.yaml.tmp
	local expect vary r0 f0 a0 app0 log0 wrk_pid wrk_rc=0
	local n action k=0 cur_k=0 want_r want_f valid=0 under_load=0 bad_done=0 t0
	local bad_line="" bad_under_load=0 new_ok=0 new_total=0 kept_ok=0 curls=0
	local line req nonxx sock

	# reference answer: the exact one every wrk response must equal
	preflight "$ORIGIN" "$TARGET" "$ref"
	pf_detail "reference: $(tr -d '\r' <"$ref" | head -n1)"
	pf_expect_eq "reference: status" "$(status "$ref")" 204
	pf_expect_eq "reference: Access-Control-Allow-Origin" "$(hdr "$ref" access-control-allow-origin)" "$ORIGIN"
	vary=$(hdr "$ref" vary)
	pf_expect_match "reference: Vary has Origin" "$vary" '(^|[ ,])Origin($|[ ,])'
	pf_expect_not "reference: answered by preflightd (no X-Answered-By)" has_hdr "$ref" x-answered-by
	expect=$(cors_set "$ref")
	pf_detail "reference set: $expect"
	[[ -n $expect && -n $vary ]] || { pf_detail "no reference answer: giving up"; return 1; }

	# the variants are valid, the broken one is not (preflightd check)
	variant 0 "$PF_WORK/v0.yaml"
	pf_expect "a variant passes preflightd check" "$PF_PREFLIGHTD" check --quiet "$PF_WORK/v0.yaml"
	bad_line=$(broken "$PF_WORK/broken.yaml")
	pf_expect_not "the broken policy fails preflightd check" \
		"$PF_PREFLIGHTD" check --quiet "$PF_WORK/broken.yaml" 2>"$PF_WORK/check.err"
	pf_detail_file "$PF_WORK/check.err" 3

	r0=$(pf_stat reloads)
	f0=$(pf_stat reload_failures)
	a0=$(pf_stat answered)
	app0=$(app_options "$ORIGIN")
	log0=$(wc -l <"$PF_PFD_LOG")
	want_r=$r0
	want_f=$f0

	# wrk runs until we stop it (SIGINT to timeout, which hands it on to
	# wrk: wrk stops, prints its report and runs done()), at most
	# WRK_MAX_S. `ip netns exec` and env exec: $! is timeout's pid.
	pf_info "wrk -t$THREADS -c$CONNS from $PF_NS, about ${DURATION} s"
	ip netns exec "$PF_NS" env RELOAD_ORIGIN="$ORIGIN" RELOAD_PATH="$TARGET" \
		RELOAD_EXPECT="$expect" RELOAD_VARY="$vary" \
		timeout --foreground -s INT -k 5 $((WRK_MAX_S + 10)) \
		wrk -t"$THREADS" -c"$CONNS" -d"${WRK_MAX_S}s" --timeout 5s -s "$LUA" \
		"http://$PF_V4_HOST:$PORT/" >"$wout" 2>&1 &
	wrk_pid=$!
	t0=$SECONDS
	# load is flowing before the first reload
	pf_expect "load flowing (answered +1000)" pf_wait_stat_ge answered $((a0 + 1000)) 15

	for ((n = 0; n < MAX_ACTIONS; n++)); do
		if ((n < ${#PLAN[@]})); then
			action=${PLAN[n]}
		else
			((SECONDS - t0 < DURATION)) || break
			action=${CYCLE[n % 3]}
		fi
		case $action in
		hup)
			kill -HUP "$PF_PFD_PID"
			want_r=$((want_r + 1))
			;;
		rename | inplace)
			k=$((k + 1))
			variant "$k" "$tmp"
			if [[ $action == rename ]]; then
				mv -f "$tmp" "$POLICY"
			else
				cp "$tmp" "$POLICY"     # truncate + write the same inode
				rm -f "$tmp"
			fi
			want_r=$((want_r + 1))
			;;
		bad)
			bad_line=$(broken "$tmp")
			mv -f "$tmp" "$POLICY"
			want_f=$((want_f + 1))
			;;
		esac
		if [[ $action == bad ]]; then
			if ! pf_wait_stat_ge reload_failures "$want_f" "$RELOAD_WAIT_S"; then
				pf_expect "action $n ($action): reload_failures did not reach $want_f in ${RELOAD_WAIT_S} s" false
				break
			fi
			_pf_alive "$wrk_pid" && bad_under_load=1
			bad_done=1
			# the previous policy keeps answering
			curls=$((curls + 1))
			if answered_by_pfd "$(variant_origin "$cur_k")" "/reload-$cur_k/x"; then
				kept_ok=1
			fi
		else
			if ! pf_wait_stat_ge reloads "$want_r" "$RELOAD_WAIT_S"; then
				pf_expect "action $n ($action): reloads did not reach $want_r in ${RELOAD_WAIT_S} s" false
				break
			fi
			valid=$((valid + 1))
			_pf_alive "$wrk_pid" && under_load=$((under_load + 1))
			if [[ $action != hup ]]; then
				# the new policy is the one answering
				cur_k=$k
				new_total=$((new_total + 1))
				curls=$((curls + 1))
				if answered_by_pfd "$(variant_origin "$k")" "/reload-$k/x"; then
					new_ok=$((new_ok + 1))
				else
					pf_detail "after action $n ($action): reload-$k not answered: $(tr -d '\r' <"$PF_WORK/check.h" | head -n1)"
				fi
			fi
		fi
		sleep 0.2
	done
	pf_detail "$n reload actions: $valid valid reloads ($under_load while wrk ran), broken policy: $bad_done"
	sleep 1                                 # load goes on after the last one
	pf_expect "wrk still running when the reloads were over" _pf_alive "$wrk_pid"
	kill -INT "$wrk_pid" 2>/dev/null || true
	wait "$wrk_pid" || wrk_rc=$?
	pf_detail_file "$wout" 20
	line=$(grep -m1 '^RELOADCHECK requests=' "$wout" || true)

	pf_expect_eq "wrk exit status" "$wrk_rc" 0
	pf_expect "wrk printed its RELOADCHECK line" test -n "$line"
	req=$(kv "$line" requests)
	pf_expect_ge "wrk completed requests" "$req" "$MIN_REQUESTS"
	pf_expect_eq "every response checked" "$(kv "$line" checked)" "$req"
	pf_expect_eq "mis-answered preflights (status, ACAO, Vary, header set, app)" "$(kv "$line" mismatches)" 0
	pf_expect_eq "non-2xx (wrk summary)" "$(kv "$line" non2xx)" 0
	pf_expect_eq "socket errors connect/read/write/timeout (wrk summary)" \
		"$(kv "$line" connect)/$(kv "$line" read)/$(kv "$line" write)/$(kv "$line" timeout)" 0/0/0/0
	# wrk's own report prints these lines only when they are not zero
	nonxx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$wout")
	pf_expect_eq "wrk: 'Non-2xx or 3xx responses'" "${nonxx:-0}" 0
	sock=$(grep -m1 'Socket errors:' "$wout" || true)
	pf_expect_eq "wrk: 'Socket errors'" "${sock:-none}" none
	pf_expect "wrk's report has the same request count" grep -qE "^ *$req requests in " "$wout"

	pf_expect_ge "valid reloads made" "$valid" "$((${#PLAN[@]} - 1))"
	pf_expect_eq "every reload made while wrk ran" "$under_load" "$valid"
	pf_expect_eq "the broken policy was written while wrk ran" "$bad_under_load" 1
	pf_expect_eq "reloads counter grew by the valid reloads made" "$(($(pf_stat reloads) - r0))" "$valid"
	pf_expect_eq "reload_failures grew by the one broken policy" "$(($(pf_stat reload_failures) - f0))" 1
	pf_expect_eq "each rewritten policy answered its new origin" "$new_ok/$new_total" "$new_total/$new_total"
	pf_expect_eq "the broken policy kept the previous one answering" "$kept_ok" 1
	# preflightd's log since the load started
	tail -n +"$((log0 + 1))" "$PF_PFD_LOG" >"$PF_WORK/pfd-during.log"
	pf_detail "$(grep -m1 -E "^$POLICY:[0-9]+:[0-9]+: " "$PF_WORK/pfd-during.log" || echo '(no FILE:LINE:COL line)')"
	pf_expect "FILE:LINE:COL of the broken rule (line $bad_line) logged" \
		grep -qE "^$POLICY:$bad_line:[0-9]+: " "$PF_WORK/pfd-during.log"
	pf_expect_eq "exactly one refused reload logged" \
		"$(grep -c 'failed: keeping the running policy' "$PF_WORK/pfd-during.log" || true)" 1
	pf_expect_eq "successful reloads logged" \
		"$(grep -c "reloaded $POLICY" "$PF_WORK/pfd-during.log" || true)" "$valid"
	pf_expect_eq "the app saw no OPTIONS from $ORIGIN" "$(($(app_options "$ORIGIN") - app0))" 0
	pf_expect_ge "kernel answered >= wrk's requests + our curl checks" \
		"$(($(pf_stat answered) - a0))" "$((req + curls))"
	pf_expect "the final policy answers (reload-$cur_k)" answered_by_pfd "$(variant_origin "$cur_k")" "/reload-$cur_k/x"
	pf_expect "preflightd still running" _pf_alive "$PF_PFD_PID"
	pf_case_result
}

main() {
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_ensure_bpffs
	pf_info "reload e2e mode=$MODE work=$PF_WORK"
	if ! command -v wrk >/dev/null; then
		pf_fail "[$MODE] wrk installed (bash scripts/deps.sh)"
		pf_summary || exit 1
	fi
	BASE=$PF_ROOT/tests/e2e/policy.yaml
	POLICY_DIR=$PF_WORK/policy
	POLICY=$POLICY_DIR/policy.yaml
	mkdir -p "$POLICY_DIR"
	variant 0 "$POLICY"      # as the base, and reload-0 answers from the start
	PF_POLICY=$POLICY

	local topo=()
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_topo_up "${topo[@]+"${topo[@]}"}"
	pf_start_app --listen "$PF_V4_HOST:$PORT"
	if pf_start_preflightd "$MODE"; then
		pf_pass "[$MODE] preflightd run: ready within 10 s"
		pf_case "[$MODE] reloads under wrk load: none lost or mis-answered, a broken policy refused" \
			case_reload_under_wrk
		pf_case "[$MODE] a change of the file while starting: reloaded once serving" \
			case_change_during_start
	else
		pf_fail "[$MODE] preflightd run: ready within 10 s"
	fi
	pf_stop_all
	pf_topo_down
	pf_summary
}
main

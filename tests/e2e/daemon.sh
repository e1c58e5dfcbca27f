#!/usr/bin/env bash
# tests/e2e/daemon.sh -- the daemon's operational guarantees (issue "The daemon"):
#
#   bash tests/e2e/daemon.sh
#
# kill -9 + restart with four spliced keep-alive connections open: they stay
# byte-exact (the restart adopts the pinned flow table); SIGTERM with a
# spliced connection open: it stays byte-exact until it closes, then
# preflightd exits leaving nothing behind; policy reloads (inotify and
# SIGHUP) under continuous load: no preflight lost or mis-answered, a broken
# policy keeps the old one; /metrics scraped and parsed. TC mode (XDP-mode
# adoption is not implemented). Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
METRICS=127.0.0.1:9464

ka() {
	pf_ns timeout --foreground -k 2 120 "$KACLIENT" --addr "$PF_V4_HOST" --port 8080 "$@"
}

# kernel_share_ok KACLIENT_LINE -- at least 99 % answered in the kernel (the
# rest are counted, correct fallbacks to the app, e.g. pass_server_busy)
kernel_share_ok() {
	local total kernel
	total=$(sed -n 's/.*preflights=\([0-9]*\).*/\1/p' <<<"$1")
	kernel=$(sed -n 's/.* kernel=\([0-9]*\).*/\1/p' <<<"$1")
	pf_expect_ge "kernel answered >= 99 %" "$((${kernel:-0} * 100))" "$((${total:-1} * 99))"
}

# start_pfd ARGS... -- preflightd in the background (not via pf_case)
start_pfd() {
	pf_start_preflightd tc --policy "$POLICY" "$@"
}

case_kill9_restart() {
	local out
	ka --conns 4 --rounds 100000 --duration-s 12 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/k9.out" 2>&1 &
	local clients=$!
	sleep 2
	pf_expect_eq "four spliced connections" "$(pf_stat active_flows)" 4
	kill -9 "$PF_PFD_PID"
	sleep 1
	pf_expect_match "filters stay attached while no daemon runs" \
		"$(tc filter show dev "$PF_IF_HOST" ingress)" 'pf_tc_ingress'
	"$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" >"$PF_WORK/restart.log" 2>&1 &
	echo $! >"$PF_WORK/restart.pid"
	pf_expect "restarted instance ready" pf_wait_for_line "$PF_WORK/restart.log" ready 15 "$(cat "$PF_WORK/restart.pid")"
	pf_expect_match "it adopted the pinned state" "$(cat "$PF_WORK/restart.log")" 'adopting the flow table'
	wait "$clients" || true
	out=$(tail -1 "$PF_WORK/k9.out")
	pf_detail "$out"
	pf_expect_match "all four byte-exact, no preflight lost" "$out" 'errors=0$'
	kernel_share_ok "$out"
	kill -TERM "$(cat "$PF_WORK/restart.pid")"
	pf_expect "restarted instance exits on SIGTERM" pf_wait_gone "$(cat "$PF_WORK/restart.pid")" 20
	pf_case_result
}

case_sigterm_drain() {
	local out
	ka --conns 1 --rounds 100000 --duration-s 6 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/drain.out" 2>&1 &
	local client=$!
	sleep 2
	kill -TERM "$PF_PFD_PID"
	sleep 1
	pf_expect "still running while the spliced connection is open" kill -0 "$PF_PFD_PID"
	pf_expect_match "still translating: filters attached" \
		"$(tc filter show dev "$PF_IF_HOST" ingress)" 'pf_tc_ingress'
	wait "$client" || true
	out=$(tail -1 "$PF_WORK/drain.out")
	pf_detail "$out"
	pf_expect_match "the connection stayed byte-exact" "$out" 'errors=0$'
	pf_expect "preflightd exits once it closed" pf_wait_gone "$PF_PFD_PID" 10
	pf_expect_eq "no filter left" "$(tc filter show dev "$PF_IF_HOST" ingress; tc filter show dev "$PF_IF_HOST" egress)" ""
	pf_expect_not "no pins left" test -e /sys/fs/bpf/preflightd/"$PF_IF_HOST"
	pf_case_result
}

case_reload_under_load() {
	local out i before_r before_f
	before_r=$(pf_stat reloads)
	before_f=$(pf_stat reload_failures)
	ka --conns 4 --rounds 100000 --duration-s 8 --put-size 1000 --get-size 10000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/reload.out" 2>&1 &
	local clients=$!
	for i in 1 2 3 4 5 6; do
		sleep 1
		if ((i == 3)); then
			printf 'ports: [8080]\nrules: [ {origins: [nope]} ]\n' >"$POLICY.tmp"
		else
			# same allow set, a different max_age each time
			sed "s/max_age: [0-9]*/max_age: $((600 + i))/" "$PF_POLICY" >"$POLICY.tmp"
		fi
		mv "$POLICY.tmp" "$POLICY"      # rename: what editors do
		((i == 5)) && kill -HUP "$PF_PFD_PID"
	done
	wait "$clients" || true
	out=$(tail -1 "$PF_WORK/reload.out")
	pf_detail "$out"
	# errors: a lost, non-2xx or mis-answered preflight, or a wrong byte
	pf_expect_match "no preflight lost, non-2xx or mis-answered" "$out" 'errors=0$'
	kernel_share_ok "$out"
	pf_expect_ge "reloads happened" "$(($(pf_stat reloads) - before_r))" 4
	pf_expect_ge "the broken policy was refused" "$(($(pf_stat reload_failures) - before_f))" 1
	pf_expect_match "its error was logged with file:line:col" "$(cat "$PF_PFD_LOG")" "$(basename "$POLICY"):2:[0-9]+:"
	out=$(pf_curl -s -i -X OPTIONS "http://$PF_V4_HOST:8080/v1/items" -H 'Origin: https://app.example.com' \
		-H 'Access-Control-Request-Method: PUT' || true)
	pf_expect_match "the last policy answers" "$out" 'Access-Control-Max-Age: 606'
	pf_case_result
}

case_metrics() {
	local body answered
	ka --conns 1 --rounds 3 --put-size 1000 --get-size 1000 --expect kernel >/dev/null 2>&1 || true
	body=$(curl -s --max-time 5 "http://$METRICS/metrics" || true)
	answered=$(awk '/^preflightd_datapath_events_total\{event="answered"\}/ { print $2 }' <<<"$body")
	pf_expect_ge "answered counter exposed" "${answered:-0}" 3
	pf_expect_match "gauges exposed" "$body" 'preflightd_active_flows [0-9]+'
	pf_expect_eq "same value as preflightd stats" "$answered" "$(pf_stat answered)"
	pf_case_result
}

main() {
	pf_require_root
	pf_install_trap
	POLICY=$PF_WORK/policy.yaml
	cp "$PF_POLICY" "$POLICY"
	pf_topo_up
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	start_pfd --metrics "$METRICS"
	pf_case "metrics scraped and parsed" case_metrics
	pf_case "reload under load (inotify, SIGHUP, a broken file)" case_reload_under_load
	pf_case "kill -9 + restart: four spliced connections stay byte-exact" case_kill9_restart
	# the restarted instance ran outside our process list: make sure it is gone
	pkill -TERM -f "preflightd run --iface $PF_IF_HOST " 2>/dev/null || true
	sleep 1
	start_pfd
	pf_case "SIGTERM drains: byte-exact until close, then nothing left" case_sigterm_drain
	pf_summary
}
main

#!/usr/bin/env bash
# tests/e2e/systemd.sh -- the systemd unit (dist/preflightd@.service.in) and
# the daemon's side of Type=notify (issue "Ship it": systemd):
#
#   bash tests/e2e/systemd.sh [--mode tc|xdp]
#
# Here systemd is not PID 1, so the unit is checked offline and its parts
# are exercised one by one:
#   - the unit, its @BINDIR@ replaced as `make install` does: `systemd-analyze
#     verify` says nothing (man pages not looked up: --man=no), and
#     `systemd-analyze security --offline=true` rates it (printed; at most
#     PF_SECURITY_MAX, default 3.0);
#   - sd_notify: preflightd runs with $NOTIFY_SOCKET on a socket this test
#     reads (tools/notifysock) and $WATCHDOG_USEC/$WATCHDOG_PID: READY=1 after
#     its "ready" line, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a
#     SIGHUP and an inotify reload, WATCHDOG=1 pings while it serves, STOPPING=1
#     on SIGTERM, then STATUS with EXTEND_TIMEOUT_USEC once a second while a
#     spliced connection holds the drain, and on SIGUSR2 (a restart) before it
#     exits leaving its state;
#   - the unit's sandbox as far as it can be rebuilt without systemd
#     (lib.sh's pf_unit_sandbox: capabilities, read-only system, /dev,
#     /proc; daemon.sh, upgrade.sh and ops.sh run preflightd there too):
#     preflightd starts with exactly the unit's
#     capabilities, answers in the kernel byte-exact, reloads, restarts
#     with kill -9 and adopts, and stops leaving nothing -- in both modes
#     with the same unit (no drop-in). Not rebuilt: see pf_unit_sandbox;
#     and RestartKillSignal, WatchdogSec's restart.
# Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NOTIFYSOCK=$PF_E2E_BIN/notifysock
KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
SECURITY_MAX=${PF_SECURITY_MAX:-3.0}

ka() {
	pf_ns timeout --foreground -k 2 120 "$KACLIENT" --addr "$PF_V4_HOST" --port 8080 "$@"
}

# ------------------------------------------------------------ the unit ----
# the unit as `make install` writes it (dist/dist.mk; BINDIR: this build),
# named for the test interface
install_unit() {
	mkdir -p "$PF_WORK/unit"
	UNIT=$PF_WORK/unit/preflightd@$PF_IF_HOST.service
	sed -e "s|@BINDIR@|$(dirname "$PF_PREFLIGHTD")|g" -e 's|@SYSCONFDIR@|/etc|g' "$PF_UNIT_IN" >"$UNIT"
}

case_verify() {
	local out rc=0
	install_unit
	pf_expect_not "no @...@ placeholder left" grep -q '@[A-Z]*@' "$UNIT"
	pf_expect_not "no binary path hard-coded in the template" grep -q '/usr/local/bin' "$PF_UNIT_IN"
	pf_expect_match "... ExecStart from @BINDIR@" "$(pf_unit_key ExecStart)" '^@BINDIR@/preflightd run '
	out=$(cd "$PF_WORK/unit" && timeout 60 systemd-analyze verify --man=no "./${UNIT##*/}" 2>&1) || rc=$?
	pf_detail "${out:-(no output)}"
	pf_expect_eq "systemd-analyze verify: exit status" "$rc" 0
	pf_expect_eq "systemd-analyze verify: no message" "$out" ""
	pf_case_result
}

case_security() {
	local out score
	install_unit
	out=$(timeout 60 systemd-analyze security --offline=true "$UNIT" 2>&1 || true)
	score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
	pf_detail "$(grep 'Overall exposure' <<<"$out")"
	pf_detail "still exposed: $(grep -o '^✗ [^ ]*' <<<"$out" | cut -c5- | tr '\n' ' ')"
	pf_expect "exposure ${score:-?} <= $SECURITY_MAX" awk -v s="${score:-99}" -v m="$SECURITY_MAX" \
		'BEGIN { exit !(s <= m) }'
	pf_expect_match "Type=notify" "$(pf_unit_key Type)" '^notify $'
	pf_expect_match "ProtectSystem=strict" "$(pf_unit_key ProtectSystem)" '^strict $'
	pf_expect_match "capabilities: exactly CAP_BPF CAP_NET_ADMIN CAP_PERFMON" \
		"$(pf_unit_key CapabilityBoundingSet)" '^CAP_BPF CAP_NET_ADMIN CAP_PERFMON $'
	pf_expect_match "writable: its pins" "$(pf_unit_key ReadWritePaths)" '^/sys/fs/bpf/preflightd $'
	pf_expect_match "... and /run/preflightd, kept for the other instances" \
		"$(pf_unit_key RuntimeDirectory)$(pf_unit_key RuntimeDirectoryPreserve)" '^preflightd yes $'
	pf_expect_match "restarts hand over (SIGUSR2)" "$(pf_unit_key RestartKillSignal)" '^SIGUSR2 $'
	pf_case_result
}

# ----------------------------------------------------------- sd_notify ----
NOTIFY_PID=
start_notifysock() {
	NOTIFY=$PF_WORK/notify.sock
	"$NOTIFYSOCK" "$NOTIFY" >>"$PF_WORK/notify.log" 2>&1 &
	NOTIFY_PID=$!
	PF_BG_PIDS+=("$NOTIFY_PID")
	pf_wait_for_line "$PF_WORK/notify.log" listening 5 "$NOTIFY_PID"
}

# wait_msgs ERE N -- until N notifications match ERE (at most 10 s)
wait_msgs() { pf_wait_count "$PF_WORK/notify.log" "$1" "$2"; }

case_notify() {
	local pid
	pf_case_cleanup
	# WATCHDOG_PID must be preflightd's own: set it in the shell it execs from
	NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=2000000 bash -c 'WATCHDOG_PID=$$ exec "$@"' _ \
		"$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" --mode "$MODE" \
		"${PF_TC_ARGS[@]}" >"$PF_WORK/notify-pfd.log" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "ready" pf_wait_for_line "$PF_WORK/notify-pfd.log" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	pf_expect "READY=1 with a status" wait_msgs '^READY=1 STATUS=serving '"$PF_IF_HOST"' \(' 1
	pf_expect_eq "... once, and no other state before it (watchdog pings aside)" \
		"$(grep -v -e '^listening$' -e '^WATCHDOG=1$' "$PF_WORK/notify.log" | head -1 |
			cut -d' ' -f1)" READY=1
	pf_expect "WATCHDOG=1 pings while serving" wait_msgs '^WATCHDOG=1$' 3
	kill -HUP "$pid"
	pf_expect "SIGHUP: RELOADING=1 with MONOTONIC_USEC" wait_msgs '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' 1
	pf_expect "... then READY=1 again" wait_msgs '^READY=1 STATUS=reloaded ' 1
	cp "$POLICY" "$POLICY.tmp" && mv "$POLICY.tmp" "$POLICY"   # what an editor does
	pf_expect "policy file replaced: RELOADING=1 again" wait_msgs '^RELOADING=1 ' 2
	pf_expect "... then READY=1" wait_msgs '^READY=1 STATUS=reloaded ' 2
	printf 'ports: [8080]\nrules: [ {origins: [nope]} ]\n' >"$POLICY.tmp"
	mv "$POLICY.tmp" "$POLICY"
	pf_expect "a broken policy: READY=1 saying it kept the running one" \
		wait_msgs '^READY=1 STATUS=reload of .* failed: running policy kept$' 1
	cp "$PF_POLICY" "$POLICY"
	kill -TERM "$pid"
	pf_expect "SIGTERM: STOPPING=1 (draining)" wait_msgs '^STOPPING=1 STATUS=draining' 1
	pf_expect "it exits" pf_wait_gone "$pid" 20
	pf_detail_file "$PF_WORK/notify.log" 30
	pf_case_result
}

# A SIGTERM drain with a spliced connection open: STATUS with
# EXTEND_TIMEOUT_USEC once a second while it lasts, so that the unit's
# TimeoutStopSec does not cut a longer --drain-timeout short (before: no
# extension, SIGKILL mid-drain; a review finding, stop 51).
case_notify_drain() {
	local pid client
	pf_case_cleanup
	NOTIFY_SOCKET=$NOTIFY "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" \
		--mode "$MODE" "${PF_TC_ARGS[@]}" >"$PF_WORK/drain-pfd.log" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "ready" pf_wait_for_line "$PF_WORK/drain-pfd.log" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	ka --conns 1 --rounds 100000 --duration-s 5 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/drain.out" 2>&1 &
	client=$!
	sleep 2
	kill -TERM "$pid"
	pf_expect "draining: the timeout extended, saying how many are left" \
		wait_msgs '^STATUS=draining: 1 spliced connections left EXTEND_TIMEOUT_USEC=10000000$' 2
	wait "$client" || true
	pf_expect_match "the connection stayed byte-exact" "$(tail -1 "$PF_WORK/drain.out")" 'errors=0$'
	pf_expect "it exits once it closed" pf_wait_gone "$pid" 10
	pf_case_result
}

case_notify_restart() {
	local pid
	pf_case_cleanup
	: >"$PF_WORK/notify.log"   # (notifysock appends: O_APPEND)
	NOTIFY_SOCKET=$NOTIFY "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" \
		--mode "$MODE" "${PF_TC_ARGS[@]}" >"$PF_WORK/notify-pfd2.log" 2>&1 &
	pid=$!
	pf_expect "ready" pf_wait_for_line "$PF_WORK/notify-pfd2.log" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	kill -USR2 "$pid"
	pf_expect "SIGUSR2: STOPPING=1 (restart)" wait_msgs '^STOPPING=1 STATUS=restart' 1
	pf_expect "it exits at once" pf_wait_gone "$pid" 5
	pf_expect "... leaving its pins for the next instance" test -e "/sys/fs/bpf/preflightd/$PF_IF_HOST/flows"
	timeout -k 2 40 "$PF_PREFLIGHTD" detach --iface "$PF_IF_HOST" >/dev/null 2>&1
	pf_case_result
}

# ------------------------------------------------------------- sandbox ----
case_sandbox() {
	local pid out caps
	pf_case_cleanup
	SANDBOX_LOG=$PF_WORK/sandbox.log
	pf_unit_sandbox "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" --mode "$MODE" \
		"${PF_TC_ARGS[@]}" >"$SANDBOX_LOG" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "ready in the sandbox" pf_wait_for_line "$SANDBOX_LOG" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	# NET_ADMIN 12, PERFMON 38, BPF 39
	caps=$(((1 << 12) | (1 << 38) | (1 << 39)))
	pf_expect_eq "its capabilities: exactly the unit's" \
		"$(grep -o 'CapEff:.*' "/proc/$pid/status" | awk '{ print $2 }')" "$(printf '%016x' "$caps")"
	ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true
	out=$(ka --conns 4 --rounds 20 --put-size 1000 --get-size 100000 --expect kernel 2>&1 | tail -1)
	pf_detail "$out"
	pf_expect_match "answered in the kernel, byte-exact" "$out" ' app=0 .*errors=0$'
	kill -HUP "$pid"
	pf_expect "reloads" pf_wait_for_line "$SANDBOX_LOG" 'reloaded' 10 "$pid"
	ka --conns 2 --rounds 100000 --duration-s 6 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/sandbox-ka.out" 2>&1 &
	local clients=$!
	sleep 2
	kill -9 "$pid"
	pf_killed_gone "$pid" 5 || true
	pf_unit_sandbox "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" --mode "$MODE" \
		"${PF_TC_ARGS[@]}" >"$SANDBOX_LOG.2" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "restarted in the sandbox, ready" pf_wait_for_line "$SANDBOX_LOG.2" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	pf_expect_match "... adopting the pinned state" "$(cat "$SANDBOX_LOG.2")" 'adopting the flow table'
	if [[ $MODE == xdp ]]; then
		pf_expect_match "... and the XDP program, replaced atomically" "$(cat "$SANDBOX_LOG.2")" \
			'replaced the previous instance.s XDP program atomically'
	fi
	wait "$clients" || true
	out=$(tail -1 "$PF_WORK/sandbox-ka.out")
	pf_detail "$out"
	pf_expect_match "spliced connections byte-exact across the restart" "$out" 'errors=0$'
	kill -TERM "$pid"
	pf_expect "stops on SIGTERM" pf_wait_gone "$pid" 20
	pf_expect_eq "no TC program left" "$(pf_tc_chain in; pf_tc_chain out)" ""
	pf_expect_eq "no XDP program left" "$(pf_xdp_prog)" ""
	pf_expect_not "no pins left" test -e "/sys/fs/bpf/preflightd/$PF_IF_HOST"
	[[ $PF_CASE_BAD == 0 ]] || pf_detail_file "$SANDBOX_LOG.2" 20
	pf_case_result
}

main() {
	local topo_args=()
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_ensure_bpffs
	pf_info "systemd mode=$MODE work=$PF_WORK"
	POLICY=$PF_WORK/policy.yaml
	cp "$PF_POLICY" "$POLICY"
	pf_case "[$MODE] unit: systemd-analyze verify is clean, the binary path from @BINDIR@" \
		case_verify
	pf_case "[$MODE] unit: systemd-analyze security exposure" case_security
	[[ $MODE == xdp ]] && topo_args+=(--xdp-peer)
	pf_topo_up "${topo_args[@]}"
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	start_notifysock
	pf_case "[$MODE] sd_notify: READY, RELOADING/READY, WATCHDOG, STOPPING" case_notify
	pf_case "[$MODE] sd_notify: a drain extends the stop timeout while it lasts" \
		case_notify_drain
	pf_case "[$MODE] sd_notify: a restart (SIGUSR2) says STOPPING and leaves its state" \
		case_notify_restart
	pf_case "[$MODE] the unit's sandbox (capabilities, read-only system, /dev, /proc)" case_sandbox
	pf_summary
}
main "$@"

#!/usr/bin/env bash
# tests/e2e/coexist.sh -- preflightd next to other BPF users of the same
# TC hooks (issue "Ship it": tcx coexistence):
#
#   bash tests/e2e/coexist.sh [--mode tc|xdp]
#
# Foreign programs (tests/e2e/tcx_other.bpf.c through tcxtool): tcx
# programs attached before preflightd starts and after it, at the head and
# the tail of both hooks, returning TCX_NEXT; a legacy cls_bpf filter at
# priority 1 handle 1 on both hooks that ends the chain (TC_ACT_OK), as
# Cilium's legacy mode attaches. Through preflightd's start (tcx: ingress
# first, egress last), a policy reload, kill -9 + restart (adoption
# replaces its programs in place) and stop, every foreign program stays
# where it was and keeps seeing traffic, and spliced connections stay
# byte-exact. A program ahead of preflightd's that ends the chain is
# reported as an error -- also one that starts to with the chain
# unchanged: at egress preflightd then answers nothing (it could not
# translate), and nothing is corrupted. With --tc-attach clsact,
# a Cilium-like filter at priority 1 ends the egress chain before
# preflightd's (priority 0xfff0): preflightd says so and answers nothing.
# Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
PIN=/sys/fs/bpf/pfe2e_${PF_IF_HOST}_   # foreign pins: PIN<name>, PIN<name>_bss
FOREIGN=()                            # names of the foreign programs attached
declare -A ID                         # name -> program id

ka() {
	pf_ns timeout --foreground -k 2 120 "$KACLIENT" --addr "$PF_V4_HOST" --port 8080 "$@"
}

# healthy DESC KACLIENT_LINE -- every byte right, >= 90 % answered in the kernel
healthy() {
	local total kernel
	pf_expect_match "$1: every byte right" "$2" 'errors=0$'
	total=$(sed -n 's/.*preflights=\([0-9]*\).*/\1/p' <<<"$2")
	kernel=$(sed -n 's/.* kernel=\([0-9]*\).*/\1/p' <<<"$2")
	pf_expect_ge "$1: kernel answered >= 90 %" "$((${kernel:-0} * 10))" "$((${total:-1} * 9))"
}

# foreign_tcx NAME in|out first|last next|ok -- a tcx program
foreign_tcx() {
	ID[$1]=$("$PF_TCXTOOL" attach --iface "$PF_IF_HOST" --dir "$2" --where "$3" \
		--verdict "$4" "$PIN$1")
	FOREIGN+=("$1")
}
# foreign_legacy NAME in|out -- Cilium's legacy mode: cls_bpf prio 1 handle 1, TC_ACT_OK
foreign_legacy() {
	ID[$1]=$("$PF_TCXTOOL" legacy --iface "$PF_IF_HOST" --dir "$2" --prio 1 --handle 1 \
		--verdict ok "$PIN$1" 2>/dev/null)
	FOREIGN+=("$1")
}
foreign_count() { "$PF_TCXTOOL" count "$PIN$1"; }
# foreign_remove NAME -- detach a tcx program (legacy filters go with the
# qdisc: foreign_cleanup)
foreign_remove() {
	local n keep=()
	"$PF_TCXTOOL" detach "$PIN$1"
	for n in "${FOREIGN[@]}"; do [[ $n == "$1" ]] || keep+=("$n"); done
	FOREIGN=("${keep[@]+"${keep[@]}"}")
}
foreign_cleanup() {
	local n
	for n in "${FOREIGN[@]+"${FOREIGN[@]}"}"; do "$PF_TCXTOOL" detach "$PIN$n"; done
	FOREIGN=()
	tc qdisc del dev "$PF_IF_HOST" clsact 2>/dev/null || true
}

# snapshot -- "NAME=COUNT ..." of every foreign program
snapshot() {
	local n
	for n in "${FOREIGN[@]}"; do printf '%s=%s ' "$n" "$(foreign_count "$n")"; done
}
# all_moved BEFORE -- every foreign program saw packets since BEFORE
all_moved() {
	local n before now ok=0
	for n in "${FOREIGN[@]}"; do
		before=$(sed -n "s/.*\\b$n=\\([0-9]*\\).*/\\1/p" <<<"$1")
		now=$(foreign_count "$n")
		if ((now > ${before:-0})); then pf_detail "ok    $n saw traffic ($before -> $now)"
		else pf_detail "FAIL  $n saw no traffic ($before -> $now)"; ok=1; fi
	done
	return "$ok"
}

# chain -- both hooks as "in: a b c | out: d e f", in order: the foreign
# programs by their names here, preflightd's by their program names
chain() {
	local n map=
	for n in "${!ID[@]}"; do map+="${ID[$n]}=$n "; done
	printf 'in: %s| out: %s' "$(pf_tc_chain in | names "$map")" "$(pf_tc_chain out | names "$map")"
}
names() {
	awk -v map="$1" 'BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) {
			split(m[i], kv, "="); name[kv[1]] = kv[2] } }
		{ id = $1 == "tcx" ? $2 : $4; printf "%s ", (id in name) ? name[id] : $NF }'
}

# traffic DESC -- warm up (the first server packets prove preflightd's
# egress program gets traffic), then 4 connections with spliced
# preflights; every foreign program must see traffic
traffic() {
	local before out
	ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true
	sleep 0.5
	before=$(snapshot)
	out=$(ka --conns 4 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	healthy "$1" "$out"
	pf_expect "every foreign program keeps seeing traffic" all_moved "$before"
}

# the order from preflightd's start on (the cases run in subshells: the
# foreign programs are attached by main)
WANT_CHAIN="in: pf_tc_ingress head_in tail_in cilium_in | out: head_out pf_tc_egress tail_out cilium_out "
case_start() {
	pf_detail "$(chain)"
	pf_expect_eq "ingress first, egress last of the tcx chain; legacy filters after tcx" \
		"$(chain)" "$WANT_CHAIN"
	pf_expect_match "preflightd names the program ahead of it at egress" "$(cat "$PF_PFD_LOG")" \
		'tc egress: 1 program\(s\) run before preflightd.s on .*tcx program '"${ID[head_out]} "
	traffic "started next to 4 tcx programs and 2 legacy filters"
	pf_expect_eq "... and answered again once egress traffic came through" \
		"$(grep -c 'answering preflights again' "$PF_PFD_LOG")" 1
	pf_case_result
}

case_reload() {
	local before
	before=$(chain)
	kill -HUP "$PF_PFD_PID"
	pf_expect "reloaded" pf_wait_for_line "$PF_PFD_LOG" 'reloaded' 10 "$PF_PFD_PID"
	pf_expect_eq "the chain is unchanged" "$(chain)" "$before"
	traffic "after a reload"
	pf_case_result
}

case_restart() {
	local out rpid in_id
	ka --conns 4 --rounds 100000 --duration-s 8 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/restart-ka.out" 2>&1 &
	local clients=$!
	sleep 2
	in_id=$(pf_tc_prog in)
	kill -9 "$PF_PFD_PID"
	pf_expect "the killed instance is gone" pf_killed_gone "$PF_PFD_PID" 5
	pf_expect_eq "its programs stay where they were" "$(chain)" "$WANT_CHAIN"
	"$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$MODE" \
		"${PF_TC_ARGS[@]}" >"$PF_WORK/restart.log" 2>&1 &
	rpid=$!
	echo "$rpid" >"$PF_WORK/restart.pid"
	pf_expect "restarted instance ready" pf_wait_for_line "$PF_WORK/restart.log" '^preflightd: ready on ' "$PF_READY_SECS" "$rpid"
	pf_expect_match "it replaced its programs in place" "$(cat "$PF_WORK/restart.log")" \
		'TC programs replaced in place through'
	pf_expect_eq "same positions in the chain" "$(chain)" "$WANT_CHAIN"
	pf_expect_not "a new ingress program ($in_id -> $(pf_tc_prog in))" test "$(pf_tc_prog in)" = "$in_id"
	wait "$clients" || true
	out=$(tail -1 "$PF_WORK/restart-ka.out")
	pf_detail "$out"
	pf_expect_match "4 spliced connections byte-exact across the restart" "$out" 'errors=0$'
	PF_PFD_LOG=$PF_WORK/restart.log
	traffic "after the restart"
	pf_case_result
}

case_stop() {
	local pid before out
	pid=$(cat "$PF_WORK/restart.pid")
	kill -TERM "$pid"
	pf_expect "preflightd exits on SIGTERM" pf_wait_gone "$pid" 20
	pf_expect_eq "only preflightd's programs are gone" "$(chain)" \
		"in: head_in tail_in cilium_in | out: head_out tail_out cilium_out "
	before=$(snapshot)
	out=$(ka --conns 2 --rounds 5 --put-size 1000 --get-size 1000 --expect app 2>&1 | tail -1)
	pf_expect_match "the app answers, every byte right" "$out" 'errors=0$'
	pf_expect "every foreign program keeps seeing traffic" all_moved "$before"
	pf_case_result
}

# A tcx program ahead of preflightd's that ends the chain, at ingress,
# then at egress (preflightd restarted: its egress program now comes after
# tail_out too).
# until_logged HOW FILE ERE N -- HOW (a little traffic), again until FILE
# has N lines matching ERE (<= 5 tries): preflightd may take the packets
# of one try as those of the chain it had before
until_logged() {
	local how=$1 i
	shift
	for ((i = 0; i < 5; i++)); do
		"$how"
		pf_wait_count "$@" 5 && return 0
	done
	return 1
}
# a little keep-alive traffic, preflights too (the server's packets)
ka_little() { ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true; }
# plain GETs (no preflight: nothing is answered, so nothing spliced while
# preflightd may not see it yet), 20 connections
plain_gets() {
	local j
	for ((j = 0; j < 20; j++)); do
		pf_curl -s -o /dev/null "http://$PF_V4_HOST:8080/blob?n=100&seed=$j" || true
	done
}
traffic_until() { until_logged ka_little "$@"; }
gets_until() { until_logged plain_gets "$@"; }

# egress_blind LOG AHEAD -- preflightd says its egress program sees nothing
# because of AHEAD (ERE): TC mode counts the packets it missed; XDP mode
# cannot (XDP_TX'd frames are counted by the interface, never seen by TC)
# and only holds answers back, as both do
egress_blind() {
	if [[ $MODE == tc ]]; then
		pf_expect "the blocked egress is an error" pf_wait_for_line "$1" \
			"tc egress: ERROR: preflightd.s program saw none of the last [0-9]+ packets sent from .*$2.*cannot translate" 5 "$PF_PFD_PID"
	else
		pf_detail "XDP mode: egress not counted (XDP_TX'd frames are counted by the interface, never seen by TC)"
	fi
	pf_expect_match "it holds answers back" "$(tail -n 20 "$1")" \
		'not answering preflights on .* until preflightd.s egress program is seen'
}

# ingress_blind LOG AHEAD -- preflightd says its ingress program sees
# nothing because of AHEAD (ERE): TC mode counts the packets the interface
# received, XDP mode the frames XDP left to TC ingress (xdp_to_tc) --
# every one it passes where the kernel refuses XDP metadata; with
# metadata only its rare hand-offs, too few in a short run to count (it
# then never held answers back: the case's later steps see that too)
ingress_blind() {
	if [[ $MODE == tc ]]; then
		pf_expect "the blocked ingress is an error" gets_until "$1" \
			"tc ingress: ERROR: preflightd.s program saw none of the last [0-9]+ packets received on .*$2.*it can see no preflight" 1
	elif ! "$PF_BUILD/tests/e2e/kfeat" xdp-meta; then
		pf_expect "the blocked ingress is an error" gets_until "$1" \
			"tc ingress: ERROR: preflightd.s program saw none of the last [0-9]+ frames XDP left to it on .*$2.*XDP answers none" 1
	else
		pf_detail "XDP metadata: the count is XDP's hand-offs to TC, too few here to call it blind"
	fi
}

case_ends_chain() {
	local out log=$PF_PFD_LOG resumed
	foreign_tcx block_in in first ok
	pf_expect "preflightd names it (ingress)" pf_wait_for_line "$log" \
		"tc ingress: [0-9]+ program\\(s\\) run before preflightd.s .*tcx program ${ID[block_in]} " 5 "$PF_PFD_PID"
	out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	pf_expect_match "every byte right" "$out" 'errors=0$'
	pf_expect_match "nothing answered in the kernel" "$out" ' kernel=0 '
	ingress_blind "$log" "tcx program ${ID[block_in]} "
	foreign_remove block_in
	resumed=$(grep -c 'answering preflights again' "$log" || true)
	foreign_tcx block_out out first ok
	pf_expect "preflightd names it (egress)" pf_wait_for_line "$log" \
		"tc egress: [0-9]+ program\\(s\\) run before preflightd.s .*tcx program ${ID[block_out]} " 5 "$PF_PFD_PID"
	out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	pf_expect_match "every byte right" "$out" 'errors=0$'
	pf_expect_match "nothing answered in the kernel (it could not be translated)" "$out" ' kernel=0 '
	egress_blind "$log" "tcx program ${ID[block_out]} "
	foreign_remove block_out
	pf_expect "it answers again once it sees the server's packets" \
		traffic_until "$log" 'answering preflights again' $((resumed + 1))
	pf_case_result
}

# A program ahead at ingress that passes traffic on (TCX_NEXT): in XDP
# mode, where XDP leaves frames untranslated for TC ingress (all of them
# on a kernel without XDP metadata), answers are held back until ours is
# seen to get the client's frames, then given again; TC mode answers on.
case_ahead_passes() {
	local log=$PF_PFD_LOG out before
	before=$(grep -c 'answering preflights again' "$log" || true)
	foreign_tcx pass_in in first next
	pf_expect "preflightd names it (ingress)" pf_wait_for_line "$log" \
		"tc ingress: [0-9]+ program\\(s\\) run before preflightd.s .*tcx program ${ID[pass_in]} " 5 "$PF_PFD_PID"
	[[ $MODE == tc ]] || pf_expect "answering again once its TC ingress program sees the client's frames" \
		traffic_until "$log" 'answering preflights again' $((before + 1))
	out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	healthy "behind a program that passes" "$out"
	foreign_remove pass_in
	pf_case_result
}

# A program ahead at ingress that passes traffic, then ends the chain
# with the chain unchanged (its stop word): nothing tells but the count.
# preflightd calls it an error, answers nothing in the kernel meanwhile
# (XDP mode: XDP holds its answers back, TC could not follow their
# connections), and answers again once the program passes traffic again.
case_ahead_turns() {
	local log=$PF_PFD_LOG out before again
	before=$(grep -c 'answering preflights again' "$log" || true)
	foreign_tcx turn_in in first next
	pf_expect "preflightd names it (ingress)" pf_wait_for_line "$log" \
		"tc ingress: [0-9]+ program\\(s\\) run before preflightd.s .*tcx program ${ID[turn_in]} " 5 "$PF_PFD_PID"
	if [[ $MODE == tc ]]; then
		ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true
	else
		pf_expect "answering once its TC ingress program sees the client's frames" \
			traffic_until "$log" 'answering preflights again' $((before + 1))
	fi
	before=$(grep -c 'answering preflights again' "$log" || true)
	"$PF_TCXTOOL" stop "$PIN"turn_in 1
	ingress_blind "$log" "tcx program ${ID[turn_in]} "
	if [[ $MODE == tc ]] || ! "$PF_BUILD/tests/e2e/kfeat" xdp-meta; then
		[[ $MODE == tc ]] || pf_expect_match "XDP holds its answers back" "$(tail -n 20 "$log")" \
			'not answering preflights on .* until preflightd.s ingress program is seen'
		out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
		pf_detail "$out"
		pf_expect_match "every byte right" "$out" 'errors=0$'
		pf_expect_match "nothing answered in the kernel" "$out" ' kernel=0 '
	fi
	again=$(($(grep -c 'tc ingress: preflightd.s program sees traffic on .* again' "$log" || true) + 1))
	"$PF_TCXTOOL" stop "$PIN"turn_in 0
	if [[ $MODE == tc ]] || ! "$PF_BUILD/tests/e2e/kfeat" xdp-meta; then
		pf_expect "it sees traffic again" gets_until "$log" \
			'tc ingress: preflightd.s program sees traffic on .* again' "$again"
	fi
	if [[ $MODE == xdp ]] && ! "$PF_BUILD/tests/e2e/kfeat" xdp-meta; then
		pf_expect "it answers again" \
			traffic_until "$log" 'answering preflights again' $((before + 1))
	fi
	out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	healthy "behind it again" "$out"
	foreign_remove turn_in
	pf_case_result
}

# clsact: Cilium's legacy filter at egress priority 1 runs before
# preflightd's (0xfff0) and ends the chain.
case_clsact_cilium() {
	local out
	pf_detail "$(chain)"
	pf_expect_eq "clsact: ours newest at ingress priority 1 (first), last at egress" "$(chain)" \
		"in: pf_tc_ingress cilium_in | out: cilium_out pf_tc_egress "
	ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true
	out=$(ka --conns 2 --rounds 20 --put-size 1000 --get-size 100000 --expect any 2>&1 | tail -1)
	pf_detail "$out"
	pf_expect_match "every byte right" "$out" 'errors=0$'
	pf_expect_match "nothing answered in the kernel" "$out" ' kernel=0 '
	egress_blind "$PF_PFD_LOG" 'clsact filter prio 1 handle 0x1 \(other_ok'
	pf_case_result
}

# stop_restarted -- the instance the kill -9 + restart case started runs
# outside our process list: stop it if the case left it running
stop_restarted() { pf_stop_pidfile "$PF_WORK/restart.pid"; }

cleanup_all() {
	stop_restarted
	foreign_cleanup
}

main() {
	local topo_args=()
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_on_cleanup cleanup_all
	pf_ensure_bpffs
	pf_info "coexist mode=$MODE work=$PF_WORK"
	[[ $MODE == xdp ]] && topo_args+=(--xdp-peer)
	pf_topo_up "${topo_args[@]}"
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	foreign_tcx head_in in first next
	foreign_tcx head_out out last next
	foreign_legacy cilium_in in
	foreign_legacy cilium_out out
	PF_TC_ARGS=(--tc-attach tcx)
	pf_start_preflightd "$MODE"
	foreign_tcx tail_in in last next
	foreign_tcx tail_out out last next
	pf_case "[$MODE] tcx: start next to foreign tcx programs and Cilium-like legacy filters" case_start
	pf_case "[$MODE] tcx: reload keeps the chain" case_reload
	pf_case "[$MODE] tcx: kill -9 + restart replaces ours in place" case_restart
	pf_bg_kill "$PF_PFD_PID" 1
	pf_case "[$MODE] tcx: stop leaves every foreign program" case_stop
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] tcx: a program ahead that ends the chain is an error" case_ends_chain
	pf_case "[$MODE] tcx: a program ahead at ingress that passes: answers go on" case_ahead_passes
	pf_case "[$MODE] tcx: a program ahead that turns to end the chain, unchanged, is an error" case_ahead_turns
	pf_stop_preflightd || true
	foreign_cleanup
	foreign_legacy cilium_in in
	foreign_legacy cilium_out out
	PF_TC_ARGS=(--tc-attach clsact)
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] clsact: a Cilium-like legacy filter ends egress before ours" case_clsact_cilium
	pf_stop_preflightd || true
	pf_summary
}
main "$@"

#!/usr/bin/env bash
# tests/e2e/daemon.sh -- the daemon's operational guarantees (issue "The daemon"):
#
#   bash tests/e2e/daemon.sh [--mode tc|xdp]
#
# kill -9 + restart with four spliced keep-alive connections open: they stay
# byte-exact (the restart adopts the pinned flow table; in XDP mode it also
# replaces the dead instance's XDP program atomically, and a TC-mode restart
# refuses to run under it); kill -9 + `preflightd detach`: the spliced
# connection stays byte-exact until it closes, then nothing is left;
# SIGTERM with a spliced connection open: it stays byte-exact until it
# closes, then preflightd exits leaving nothing behind; SIGHUP while
# starting: ready all the same, then reloaded; a fresh start verifies
# the programs while the policy is read, and a policy unlike the guess
# made from its text is loaded again, ready all the same; a verifier that
# refuses the open-coded loops gets the bpf_loop variant; a second SIGTERM
# during a long drain resets the spliced connection (the client sees an
# RST) and exits leaving nothing behind; policy reloads
# (inotify and SIGHUP) under continuous load: no preflight lost or
# mis-answered, a broken policy keeps the old one; /metrics scraped and
# parsed; `stats` at a million flow-table entries reads the GC's count
# (never walks the table) while the daemon runs, and counts them itself
# when none does; XDP mode: a foreign XDP program is never replaced.
# --mode xdp runs preflightd with --mode xdp and puts the native XDP pass
# program on the client end (topo.sh up --xdp-peer). Ends with "N passed,
# M failed".
#
# Every preflightd run here runs in the systemd unit's sandbox (lib.sh's
# pf_unit_sandbox: exactly its capabilities, no CAP_SYS_ADMIN, a read-only
# system): the restart adopts, and a stop removes, the XDP program
# through its pin, never by id.
#
# Environment: the topology variables of lib.sh; PF_METRICS (ADDR:PORT of
# /metrics, default the host end's address, port 9464); PF_UNIT_SANDBOX=0
# runs preflightd outside the sandbox (with root's capabilities).
set -euo pipefail
PF_UNIT_SANDBOX=${PF_UNIT_SANDBOX:-1}
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=tc
CG=
KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
METRICS=${PF_METRICS:-$PF_V4_HOST:9464}

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
	pf_start_preflightd "$MODE" --policy "$POLICY" "$@"
}

has_xdp() { [[ -n $(pf_xdp_prog) ]]; }
tc_filters() { pf_tc_chain in; pf_tc_chain out; }

# nothing_left -- what a stopped (or detached) preflightd must not leave
nothing_left() {
	pf_expect_eq "no TC program left (tcx or clsact)" "$(tc_filters)" ""
	pf_expect_eq "no clsact qdisc left (preflightd created it)" \
		"$(tc qdisc show dev "$PF_IF_HOST" clsact)" ""
	pf_expect_not "no XDP program left ($(pf_xdp_prog))" has_xdp
	pf_expect_not "no pins left" test -e "/sys/fs/bpf/preflightd/$PF_IF_HOST"
	pf_expect_not "no lock or clsact marker left" \
		compgen -G "/run/preflightd/$PF_IF_HOST.*"
	[[ $MODE == xdp ]] || return 0
	# libxdp's lock directory is shared by every libxdp user of the host:
	# only meaningful while no other XDP-mode preflightd runs
	if pgrep -f -- 'preflightd run .*--mode xdp' >/dev/null; then
		pf_detail "/sys/fs/bpf/xdp not checked: another XDP-mode preflightd runs"
	else
		pf_expect_not "no libxdp directory left (/sys/fs/bpf/xdp)" \
			test -d /sys/fs/bpf/xdp -a ! -L /sys/fs/bpf/xdp
	fi
}

# tc_in_prog -- id of the pf_tc_ingress program, empty if none
tc_in_prog() { pf_tc_prog in; }
# pinned_flows -- id of the flow table pinned for the host end
pinned_flows() {
	pinned_map flows
}
# pinned_map NAME -- id of our instance's pinned map NAME (flows, config...)
pinned_map() {
	bpftool map show pinned "/sys/fs/bpf/preflightd/$PF_IF_HOST/$1" | awk -F: 'NR == 1 { print $1 }'
}
# uses_map PROG_ID MAP_ID -- does the program use the map?
uses_map() {
	local ids
	ids=$(bpftool prog show id "$1" | sed -n 's/.*map_ids \([0-9,]*\).*/\1/p')
	[[ -n $2 && ,$ids, == *,"$2",* ]]
}

# held_progs PID -- "ID NAME" of each BPF program the process holds
held_progs() {
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		id=$(awk '$1 == "prog_id:" { print $2 }' "$f" 2>/dev/null)
		[[ -z $id ]] || echo "$id $(bpftool prog show id "$id" |
			awk 'NR == 1 { for (i = 1; i < NF; i++) if ($i == "name") print $(i + 1) }')"
	done | sort -u
}

# sample_hooks FILE -- one line per look at the hooks ("xdp=ID NAME MODE
# tc=ID", "none" for an empty hook) until FILE.stop exists (at most 60 s)
sample_hooks() {
	local end=$((SECONDS + 60)) x t
	while [[ ! -e $1.stop ]] && ((SECONDS < end)); do
		x=$(pf_xdp_prog)
		t=$(tc_in_prog)
		echo "xdp=${x:-none} tc=${t:-none}"
	done >"$1"
}

case_kill9_restart() {
	local out rc=0 old new rpid flows sampler looks s="$PF_WORK/hooks"
	ka --conns 4 --rounds 100000 --duration-s 12 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/k9.out" 2>&1 &
	local clients=$!
	sleep 2
	pf_expect "four spliced connections (the GC's count)" pf_wait_flows 4 5
	old=$(pf_xdp_prog)
	flows=$(pinned_flows)
	kill -9 "$PF_PFD_PID"
	pf_expect "the killed instance is gone" pf_killed_gone "$PF_PFD_PID" 5
	sleep 1
	pf_expect_match "filters stay attached while no daemon runs" \
		"$(pf_tc_chain in)" 'pf_tc_ingress'
	if [[ $MODE == xdp ]]; then
		pf_expect_match "the XDP program stays attached while no daemon runs" \
			"$(pf_xdp_prog)" '^[0-9]+ pf_xdp_ingress xdp$'
		pf_expect_eq "... the same one" "$(pf_xdp_prog)" "$old"
		pf_expect "... using the pinned flow table (map $flows)" uses_map "${old%% *}" "$flows"
		out=$(pf_exec_run timeout -k 2 15 "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" "${PF_TC_ARGS[@]}" \
			--mode tc 2>&1) || rc=$?
		pf_expect_eq "a TC-mode restart refuses to run under it (exit 1)" "$rc" 1
		pf_expect_match "... saying how to adopt it" "$out" 'restart with --mode xdp to adopt it'
		pf_expect_eq "... and leaves it attached" "$(pf_xdp_prog)" "$old"
	else
		# the other way: XDP mode's TC ingress translates only what XDP
		# flagged, so in place of this one it would leave the spliced
		# connections untranslated until (unless) XDP is attached
		old=$(tc_in_prog)
		out=$(pf_exec_run timeout -k 2 15 "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" "${PF_TC_ARGS[@]}" \
			--mode xdp 2>&1) || rc=$?
		pf_expect_eq "an XDP-mode restart refuses to run over a TC-mode instance (exit 1)" "$rc" 1
		pf_expect_match "... saying how to adopt it" "$out" 'restart with --mode tc to adopt them'
		pf_expect_eq "... and leaves its TC program attached" "$(tc_in_prog)" "$old"
		pf_expect_eq "... and no XDP program" "$(pf_xdp_prog)" ""
	fi
	# look at the hooks all through the restart: never empty
	sample_hooks "$s" &
	sampler=$!
	pf_exec_run "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" "${PF_TC_ARGS[@]}" --mode "$MODE" \
		>"$PF_WORK/restart.log" 2>&1 &
	rpid=$!
	echo "$rpid" >"$PF_WORK/restart.pid"
	pf_expect "restarted instance ready" pf_wait_for_line "$PF_WORK/restart.log" '^preflightd: ready on ' "$PF_READY_SECS" "$rpid"
	sleep 0.3
	touch "$s.stop"
	wait "$sampler" || true
	looks=$(wc -l <"$s")
	# how many looks fit in the restart depends on the machine's load; the
	# checks below need looks before and after the replacement (two states)
	pf_expect_ge "hooks looked at during the restart" "$looks" 2
	pf_expect_eq "the TC ingress hook was never empty" "$(grep -c 'tc=none' "$s" || true)" 0
	pf_expect_eq "... its program replaced once" "$(sed 's/.* tc=//' "$s" | uniq | wc -l)" 2
	pf_expect_match "it adopted the pinned state" "$(cat "$PF_WORK/restart.log")" 'adopting the flow table'
	pf_expect_eq "the pinned flow table is the same map" "$(pinned_flows)" "$flows"
	if [[ $MODE == xdp ]]; then
		new=$(pf_xdp_prog)
		pf_expect_match "it adopted the XDP program" "$(cat "$PF_WORK/restart.log")" \
			"adopting the XDP program \\(id ${old%% *}\\)"
		pf_expect_match "... and replaced it atomically" "$(cat "$PF_WORK/restart.log")" \
			'replaced the previous instance.s XDP program atomically'
		pf_expect_match "a new pf_xdp_ingress is attached, native" "$new" '^[0-9]+ pf_xdp_ingress xdp$'
		pf_expect_not "... not the dead instance's ($old -> $new)" test "${new%% *}" = "${old%% *}"
		pf_expect "... using the adopted flow table (map $flows)" uses_map "${new%% *}" "$flows"
		pf_expect_eq "the XDP hook was never empty ($looks looks)" \
			"$(grep -c 'xdp=none' "$s" || true)" 0
		pf_expect_eq "... it went straight from the old program to the new one" \
			"$(sed 's/^xdp=\([0-9]*\) .*/\1/' "$s" | uniq | tr '\n' ' ')" "${old%% *} ${new%% *} "
	fi
	wait "$clients" || true
	out=$(tail -1 "$PF_WORK/k9.out")
	pf_detail "$out"
	pf_expect_match "all four byte-exact, no preflight lost" "$out" 'errors=0$'
	kernel_share_ok "$out"
	kill -TERM "$rpid"
	pf_expect "restarted instance exits on SIGTERM" pf_wait_gone "$rpid" 20
	nothing_left
	pf_case_result
}

case_kill9_detach() {
	local out rc=0
	ka --conns 1 --rounds 100000 --duration-s 5 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/detach.out" 2>&1 &
	local client=$!
	sleep 2
	pf_expect "one spliced connection (the GC's count)" pf_wait_flows 1 5
	kill -9 "$PF_PFD_PID"
	pf_expect "the killed instance is gone" pf_killed_gone "$PF_PFD_PID" 5
	out=$(timeout -k 2 40 "$PF_PREFLIGHTD" detach --iface "$PF_IF_HOST" --drain-timeout 30 2>&1) ||
		rc=$?
	pf_detail "$out"
	pf_expect_eq "detach exit status" "$rc" 0
	pf_expect_match "detach drained and removed every program" "$out" \
		"removed $([[ $MODE == xdp ]] && echo 3 || echo 2) program\\(s\\)"
	wait "$client" || true
	out=$(tail -1 "$PF_WORK/detach.out")
	pf_detail "$out"
	pf_expect_match "the connection stayed byte-exact until it closed" "$out" 'errors=0$'
	nothing_left
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
		"$(pf_tc_chain in)" 'pf_tc_ingress'
	if [[ $MODE == xdp ]]; then
		pf_expect_match "still translating: XDP program attached" "$(pf_xdp_prog)" 'pf_xdp_ingress'
	fi
	wait "$client" || true
	out=$(tail -1 "$PF_WORK/drain.out")
	pf_detail "$out"
	pf_expect_match "the connection stayed byte-exact" "$out" 'errors=0$'
	pf_expect "preflightd exits once it closed" pf_wait_gone "$PF_PFD_PID" 10
	nothing_left
	pf_case_result
}

# SIGTERM with a connection the datapath only tracks (no splice: its
# client's MSS of 240 is too small for a preflight response, pass_mss) and
# a drain timeout shorter than the connection: nothing to drain, so
# preflightd exits at once and never resets it (issue 9 item 6).
case_drain_unspliced() {
	local out
	ka --conns 1 --mss 240 --rounds 100000 --duration-s 6 --put-size 1000 --get-size 10000 \
		--expect app --timeout-ms 10000 >"$PF_WORK/unspliced.out" 2>&1 &
	local client=$!
	sleep 2
	pf_expect "one tracked connection (the GC's count)" pf_wait_flows 1 5
	pf_expect_eq "... never spliced" "$(pf_stat answered)" 0
	kill -TERM "$PF_PFD_PID"
	pf_expect "preflightd exits with nothing spliced to drain" pf_wait_gone "$PF_PFD_PID" 10
	pf_expect_match "... saying so" "$(grep -m1 -E 'drained|drain timeout' "$PF_PFD_LOG")" \
		'drained: no spliced connection left'
	pf_expect_eq "... resetting nothing" "$(grep -c 'drain timeout' "$PF_PFD_LOG" || true)" 0
	wait "$client" || true
	out=$(tail -1 "$PF_WORK/unspliced.out")
	pf_detail "$out"
	pf_expect_match "the connection went on unharmed until it closed" "$out" 'errors=0$'
	nothing_left
	pf_case_result
}

# A second SIGTERM during the drain ends it as the timeout does: the
# connection still spliced is reset (the client sees a reset, never a
# stream left untranslated), then preflightd detaches and exits.
case_second_sigterm() {
	local out
	ka --conns 1 --rounds 100000 --duration-s 60 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/second.out" 2>&1 &
	local client=$!
	sleep 2
	pf_expect "one spliced connection (the GC's count)" pf_wait_flows 1 5
	kill -TERM "$PF_PFD_PID"
	pf_expect "draining" pf_wait_for_line "$PF_PFD_LOG" 'draining: answering no new' 5 "$PF_PFD_PID"
	sleep 1
	pf_expect "still running: the drain timeout is 600 s" kill -0 "$PF_PFD_PID"
	kill -TERM "$PF_PFD_PID"
	pf_expect "the second SIGTERM ends the drain: preflightd exits" pf_wait_gone "$PF_PFD_PID" 10
	pf_expect_match "... resetting the spliced connection" "$(cat "$PF_PFD_LOG")" \
		'drain timeout: reset 198\.18\.'
	pf_expect "the client ends" pf_wait_gone "$client" 15
	wait "$client" || true
	out=$(cat "$PF_WORK/second.out")
	pf_detail_file "$PF_WORK/second.out" 3
	pf_expect_match "... with one error" "$(tail -1 <<<"$out")" 'errors=1$'
	pf_expect_match "... a reset, not a stream gone wrong" "$out" 'reset by peer'
	nothing_left
	pf_case_result
}

# SIGHUP while starting (a reload asked for before ready, e.g. by
# systemctl reload): the start goes on, and the reload happens once
# serving.
case_sighup_starting() {
	local log=$PF_WORK/sighup-start.log pid
	pf_exec_run "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" "${PF_TC_ARGS[@]}" \
		--mode "$MODE" >"$log" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	# its policy's warnings: printed after the options are parsed, before
	# the programs load
	pf_expect "the policy read" pf_wait_for_line "$log" 'warning:' 10 "$pid"
	kill -HUP "$pid"
	pf_expect "SIGHUP while starting: ready all the same" \
		pf_wait_for_line "$log" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	pf_expect "... then reloads" pf_wait_for_line "$log" 'reloaded ' 10 "$pid"
	pf_bg_kill "$pid" 15
	nothing_left
	pf_case_result
}

# start_verbose POLICY LOG -- preflightd run -v in the background until
# ready; its pid in VPID
start_verbose() {
	# emptied here, not only by the background job's redirect: the wait
	# below could read the previous start's "ready" from the same file
	# before the job truncated it (seen once: a log read empty after it)
	: >"$2"
	pf_exec_run "$PF_PREFLIGHTD" run -v --iface "$PF_IF_HOST" --policy "$1" "${PF_TC_ARGS[@]}" \
		--mode "$MODE" "${@:3}" >"$2" 2>&1 &
	VPID=$!
	PF_BG_PIDS+=("$VPID")
	pf_wait_for_line "$2" '^preflightd: ready on ' "$PF_READY_SECS" "$VPID"
}

# A fresh start verifies the programs while the policy is read
# (user/load.h), pf_tokens sized and the response offload's programs
# chosen by a guess from the file's text. A policy the guess does not fit
# (it names "responses", enabling the offload nowhere) is loaded again in
# line: ready all the same, the mode's programs only, answering.
case_start_guess() {
	local log=$PF_WORK/start-guess.log pol=$PF_WORK/guess.yaml names want
	pf_expect "a fresh start: ready" start_verbose "$POLICY" "$log"
	pf_expect_match "... its programs verified while the policy was read" "$(cat "$log")" \
		'TC programs verified \(while the policy was read\)'
	pf_expect_eq "... answering" "$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	pf_bg_kill "$VPID" 15
	{
		echo "# responses: none inserted by this policy"
		cat "$POLICY"
	} >"$pol"
	pf_expect "a policy unlike its guess: ready" start_verbose "$pol" "$log"
	pf_expect_match "... loaded again in line" "$(cat "$log")" 'is not what was guessed'
	pf_expect_not "... not said to be verified while the policy was read" \
		grep -q 'while the policy was read' "$log"
	names=$(held_progs "$VPID" | awk '$2 ~ /^pf_/ && $2 != "pf_gc_delete" { print $2 }' |
		sort | tr '\n' ' ')
	want="pf_replay_tc pf_replay_xdp pf_tc_egress pf_tc_ingress "
	[[ $MODE == tc ]] || want+="pf_xdp_ingress "
	pf_expect_eq "... the mode's programs only (none of the offload's)" "$names" "$want"
	pf_expect_eq "... answering" "$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	pf_bg_kill "$VPID" 15
	nothing_left
	pf_case_result
}

# A kernel from 6.9 on whose verifier refuses the open-coded loops
# (include/pf_common.h; verified here on 6.18 only): refusegoto.so
# (tests/e2e/preload) refuses every program with a may_goto in it but the
# probe's. The start loads the bpf_loop variant instead, says so, and
# answers in the kernel.
case_may_goto_refused() {
	local log=$PF_WORK/refusegoto.log rc=0
	LD_PRELOAD=$PF_ROOT/build/tests/e2e/refusegoto.so start_verbose "$POLICY" "$log" || rc=$?
	pf_expect_eq "ready with the open-coded loops refused" "$rc" 0
	pf_expect "... the bpf_loop variant loaded instead" \
		grep -q "open-coded loops' variant was refused" "$log"
	pf_expect_eq "... answering" "$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	pf_bg_kill "$VPID" 15
	nothing_left
	pf_case_result
}

# prog_began PID NAME -- when the held program NAME began to load (ns,
# tools/progtimes.py)
prog_began() {
	python3 "$PF_ROOT/tests/e2e/tools/progtimes.py" "$1" | awk -v n="$2" '$1 == n { print $2 }'
}

# The programs that take the verifier longest are verified side by side,
# in objects of their own sharing the skeleton's maps (user/progs.h). The
# yardstick, from the same machine and run: a plain TC-mode start, whose
# one object loads pf_tc_ingress, then pf_tc_egress (its verification
# apart). XDP mode in the unit's sandbox (no CAP_SYS_ADMIN: xdp.c loads
# its program itself) verifies pf_xdp_ingress beside pf_tc_ingress;
# --shadow adds pf_shd_tc_out and pf_ofl_tc (first of the rest). Those
# began to load within a few ms of one another; one after the other,
# whole verifications apart.
case_start_side_by_side() {
	local log=$PF_WORK/start-side.log serial mode=$MODE progs want t1 t2 xdp_alone=0
	[[ $MODE != xdp || $PF_UNIT_SANDBOX != 1 ]] || xdp_alone=1
	MODE=tc
	pf_expect "a plain TC-mode start: ready" start_verbose "$POLICY" "$log"
	MODE=$mode
	pf_expect_not "... its programs in one object" grep -q 'side by side' "$log"
	t1=$(prog_began "$VPID" pf_tc_ingress)
	t2=$(prog_began "$VPID" pf_tc_egress)
	pf_expect_match "... both held" "$t1 $t2" '^[0-9]+ [0-9]+$'
	serial=$((${t2:-0} - ${t1:-0}))
	pf_detail "one object: pf_tc_egress began $((serial / 1000000)) ms after pf_tc_ingress"
	pf_bg_kill "$VPID" 15
	if ((xdp_alone)); then
		pf_expect "XDP mode: ready" start_verbose "$POLICY" "$log"
		pf_expect_match "... said" "$(cat "$log")" 'verifying 5 programs side by side in 3 objects'
		began_together "$VPID" "$serial" pf_tc_ingress pf_xdp_ingress
		pf_bg_kill "$VPID" 15
	fi
	progs=(pf_tc_ingress pf_shd_tc_out pf_ofl_tc)
	want='7 programs side by side in 3 objects'
	if ((xdp_alone)); then
		progs+=(pf_xdp_ingress)
		want='8 programs side by side in 4 objects'
	fi
	pf_expect "--shadow: ready" start_verbose "$POLICY" "$log" --shadow --cgroup "$CG"
	pf_expect_match "... said" "$(cat "$log")" "verifying $want"
	began_together "$VPID" "$serial" "${progs[@]}"
	pf_bg_kill "$VPID" 15
	nothing_left
	pf_case_result
}

# began_together PID SERIAL PROG... -- the programs began to load within
# SERIAL/2 ns of one another
began_together() {
	local pid=$1 serial=$2 p times spread
	shift 2
	times=$(for p in "$@"; do prog_began "$pid" "$p"; done | sort -n)
	pf_expect_eq "... all $# held" "$(grep -c '^[0-9][0-9]*$' <<<"$times")" "$#"
	spread=$(awk 'NR == 1 { a = $1 } END { print $1 - a }' <<<"$times")
	pf_detail "$* began within $((spread / 1000000)) ms"
	pf_expect "... began within half that of one another" test $((2 * spread)) -lt "$serial"
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

# preflight_by ORIGIN METHOD -- who answers a preflight: "kernel:STATUS:ACAC"
# or "app:STATUS" (X-Answered-By: app).
preflight_by() {
	local h
	h=$(pf_curl -s -D - -o /dev/null -X OPTIONS "http://$PF_V4_HOST:8080/v1/items" \
		-H "Origin: $1" -H "Access-Control-Request-Method: $2" | tr -d '\r' || true)
	if grep -qi '^x-answered-by: app' <<<"$h"; then
		echo "app:$(awk 'NR == 1 { print $2 }' <<<"$h")"
	else
		echo "kernel:$(awk 'NR == 1 { print $2 }' <<<"$h"):$(sed -n \
			's/^access-control-allow-credentials: *//Ip' <<<"$h")"
	fi
}

# A reload larger than the token map: refused with a clear message, the
# running policy stays in force and nothing of the refused one is ever
# granted, also after the next reloads into the same slot (issue 10.2).
case_reload_too_big() {
	local r0 f0 big=$PF_WORK/big.yaml only=https://only-failed.example.org
	r0=$(pf_stat reloads)
	f0=$(pf_stat reload_failures)
	{
		cat "$POLICY"
		printf '  - origins: [%s]\n    methods: [DELETE]\n    credentials: true\n' "$only"
		printf '  - origins:\n'
		seq 0 119999 | sed 's|.*|      - https://o&.example.net|'
		printf '    methods: [GET]\n'
	} >"$big"
	pf_expect "the big policy is valid (preflightd check)" "$PF_PREFLIGHTD" check --quiet "$big"
	mv "$big" "$POLICY"
	pf_expect "the reload was refused" pf_wait_stat_ge reload_failures $((f0 + 1)) 30
	pf_expect_match "... saying why" "$(grep -m1 'install policy strings' "$PF_PFD_LOG")" \
		'the policy has 12[0-9]{4}, the token map has room for [0-9]+ .*restart preflightd to load this policy'
	pf_expect_eq "the running policy still answers" \
		"$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	pf_expect_match "the refused policy's origin is not granted" "$(preflight_by "$only" DELETE)" '^app:'
	sed "s/max_age: [0-9]*/max_age: 700/" "$PF_POLICY" >"$POLICY.tmp"
	mv "$POLICY.tmp" "$POLICY"
	pf_expect "the next reload (into the same slot) works" pf_wait_stat_ge reloads $((r0 + 1)) 30
	pf_expect_eq "... and answers" "$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	pf_expect_match "... granting nothing of the refused policy" \
		"$(preflight_by "$only" DELETE)" '^app:'
	kill -HUP "$PF_PFD_PID"
	pf_expect "a later reload works" pf_wait_stat_ge reloads $((r0 + 2)) 30
	pf_expect_match "... granting nothing of the refused policy" \
		"$(preflight_by "$only" DELETE)" '^app:'
	pf_case_result
}

# A reload that adds responses: true to a run started without the
# response offload: refused, saying why, the running policy kept (before:
# "reloaded", its settings written to a map nothing read, no header
# inserted); a later reload without it works.
case_reload_needs_offload() {
	local r0 f0 ofl=$PF_WORK/ofl.yaml
	r0=$(pf_stat reloads)
	f0=$(pf_stat reload_failures)
	sed 's/^\(    methods: .*\)$/\1\n    responses: true/' "$PF_POLICY" >"$ofl"
	pf_expect "the policy with responses: true is valid" "$PF_PREFLIGHTD" check --quiet "$ofl"
	pf_expect "... and has it" grep -q 'responses: true' "$ofl"
	mv "$ofl" "$POLICY"
	pf_expect "the reload was refused" pf_wait_stat_ge reload_failures $((f0 + 1)) 30
	pf_expect_match "... saying why" "$(grep -m1 'need the response offload' "$PF_PFD_LOG")" \
		'restart preflightd to load this policy'
	pf_expect_eq "the running policy still answers" \
		"$(preflight_by https://app.example.com PUT)" "kernel:204:true"
	cp "$PF_POLICY" "$POLICY"
	pf_expect "a reload without it works" pf_wait_stat_ge reloads $((r0 + 1)) 30
	pf_case_result
}

# scrape_syscalls N OUT -- N scrapes of /metrics with preflightd's system
# calls traced (strace -f, every thread attached first); the bpf ones to OUT.
scrape_syscalls() {
	local n i st
	n=$(ls "/proc/$PF_PFD_PID/task" | wc -l)
	strace -f -e trace=bpf -o "$2" -p "$PF_PFD_PID" 2>"$2.err" &
	st=$!
	pf_wait_count "$2.err" attached "$n" 10 || true
	for ((i = 0; i < $1; i++)); do
		curl -s --max-time 5 -o /dev/null "http://$METRICS/metrics" || true
	done
	kill -INT "$st"
	wait "$st" || true
}

case_metrics() {
	local body answered
	ka --conns 1 --rounds 3 --put-size 1000 --get-size 1000 --expect kernel >/dev/null 2>&1 || true
	body=$(curl -s --max-time 5 "http://$METRICS/metrics" || true)
	answered=$(awk '/^preflightd_datapath_events_total\{event="answered"\}/ { print $2 }' <<<"$body")
	pf_expect_ge "answered counter exposed" "${answered:-0}" 3
	pf_expect_match "gauges exposed" "$body" 'preflightd_active_flows [0-9]+'
	pf_expect_eq "same value as preflightd stats" "$answered" "$(pf_stat answered)"
	# the flow count is the GC's: a scrape never walks the flow table
	scrape_syscalls 5 "$PF_WORK/scrape.strace"
	pf_expect_ge "scrapes traced (bpf calls seen)" "$(wc -l <"$PF_WORK/scrape.strace")" 5
	pf_expect_eq "no flow-table walk (BPF_MAP_GET_NEXT_KEY) while scraping" \
		"$(grep -c BPF_MAP_GET_NEXT_KEY "$PF_WORK/scrape.strace" || true)" 0
	pf_case_result
}

# /metrics slots (user/admit.h): clients that keep their request heads
# coming a byte a second (never idle) from 20 other addresses, 4 each,
# hold all slots but the local reserve: 56 of 64 (before: all 64, 4 per
# address, and the node's own probe of /healthz found none -- a review
# finding, stop 51). The host's own address still gets /healthz; once
# they close, 70 scrapes in a row from one of them are all answered (the
# slots come back).
case_metrics_slots() {
	local base=${PF_V4_CLIENT%.*} i addrs=() out ok=0
	pf_case_cleanup
	[[ ${METRICS%:*} == "$PF_V4_HOST" ]] ||
		pf_case_skip "/metrics on $METRICS (PF_METRICS): not reachable from the client namespace"
	for i in $(seq 100 119); do
		addrs+=("$base.$i")
		pf_ns ip addr add "$base.$i/32" dev "$PF_IF_CLIENT"
	done
	pf_ns python3 "$PF_ROOT/tests/e2e/tools/slowloris.py" "${METRICS%:*}" "${METRICS##*:}" \
		4 6 "${addrs[@]}" >"$PF_WORK/slowloris.out" 2>&1 &
	PF_BG_PIDS+=("$!")
	pf_expect "the holders counted theirs" pf_wait_count "$PF_WORK/slowloris.out" '^open ' 1 5
	pf_expect_eq "slots held by other hosts" "$(sed -n 's/^open //p' "$PF_WORK/slowloris.out")" 56
	pf_expect_eq "the host's own /healthz meanwhile" \
		"$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://$METRICS/healthz")" 200
	wait "${PF_BG_PIDS[-1]}" || true
	for i in $(seq 70); do
		out=$(pf_ns curl -s --max-time 3 --interface "$base.100" -o /dev/null \
			-w '%{http_code}' "http://$METRICS/healthz" || true)
		[[ $out != 200 ]] || ok=$((ok + 1))
	done
	pf_expect_eq "then 70 scrapes in a row from one of them answered" "$ok" 70
	for i in "${addrs[@]}"; do pf_ns ip addr del "$i/32" dev "$PF_IF_CLIENT"; done
	pf_case_result
}

# The programs `run` loads: the mode's (the TC pair; in xdp mode also
# pf_xdp_ingress, from a second object of the same ELF), the slow path's
# two replay programs, and none of the response offload's (no rule has
# responses: true), every one of them on the daemon's maps (the pinned
# flow table; pf_replay_xdp, the pinned config; pf_replay_tc neither).
# The GC's conditional delete
# (pf_gc_delete, bpf/pf_gc.bpf.c) is loaded at its first delete, so it
# may be held or not yet: at most once, on the same flow table.
case_programs_loaded() {
	local progs names want flows cfg id name
	progs=$(held_progs "$PF_PFD_PID")
	names=$(awk '$2 ~ /^pf_/ && $2 != "pf_gc_delete" { print $2 }' <<<"$progs" | sort | tr '\n' ' ')
	pf_expect "the GC's conditional delete held at most once" \
		test "$(awk '$2 == "pf_gc_delete"' <<<"$progs" | wc -l)" -le 1
	want="pf_replay_tc pf_replay_xdp pf_tc_egress pf_tc_ingress "
	[[ $MODE == tc ]] || want+="pf_xdp_ingress "
	pf_expect_eq "the mode's programs only" "$names" "$want"
	flows=$(pinned_flows)
	cfg=$(pinned_map config)
	while read -r id name; do
		[[ $name == pf_* ]] || continue
		# the slow path's replay programs: the live-frame one reads only
		# the config, the TC one (a clone to the receive path) neither
		if [[ $name == pf_replay_xdp ]]; then
			pf_expect "$name (id $id) uses the pinned config (id $cfg)" uses_map "$id" "$cfg"
			continue
		fi
		[[ $name == pf_replay_tc ]] && continue
		pf_expect "$name (id $id) uses the pinned flow table (id $flows)" uses_map "$id" "$flows"
	done <<<"$progs"
	pf_case_result
}

# --iface is an interface name, never a path: with pins in place (our
# instance runs) a name like ../DECOY would make /sys/fs/bpf/preflightd/../
# DECOY and /run/preflightd/../DECOY.lock; every subcommand refuses it as a
# usage error, and a decoy pinned there is left alone (issue 10).
case_iface_names() {
	local decoy=pfdx-$PF_IF_HOST cmd out rc
	mkdir -p "/sys/fs/bpf/$decoy"
	bpftool map create "/sys/fs/bpf/$decoy/stats" type array key 4 value 8 entries 1 name pf_decoy
	for cmd in "detach --iface ../$decoy" "stats --iface ../$decoy" "trace --iface ../$decoy" \
		"run --iface ../$decoy --policy $POLICY" "stats --iface ." \
		"stats --iface an-interface-name-too-long"; do
		rc=0
		# shellcheck disable=SC2086
		out=$(timeout -k 2 10 "$PF_PREFLIGHTD" $cmd 2>&1 </dev/null) || rc=$?
		pf_expect_eq "'preflightd $cmd' refused as a usage error" "$rc" 2
		pf_expect_match "... saying why" "$out" '^preflightd: invalid interface name'
	done
	pf_expect "the decoy pin is untouched" test -e "/sys/fs/bpf/$decoy/stats"
	pf_expect_not "no lock file made outside /run/preflightd" test -e "/run/$decoy.lock"
	rm -rf "/sys/fs/bpf/$decoy" "/run/$decoy.lock"
	pf_case_result
}

# XDP mode: a program preflightd did not load is never replaced.
case_foreign_xdp() {
	local pin=/sys/fs/bpf/pf_e2e_foreign_$PF_IF_HOST foreign out rc=0
	bpftool prog load "$PF_E2E_BIN/xdp_pass.bpf.o" "$pin" type xdp
	bpftool net attach xdpdrv pinned "$pin" dev "$PF_IF_HOST" || { rm -f "$pin"; return 1; }
	rm -f "$pin"
	foreign=$(pf_xdp_prog)
	pf_expect_match "a foreign XDP program is attached" "$foreign" '^[0-9]+ xdp_pass xdp$'
	out=$(pf_exec_run timeout -k 2 15 "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$POLICY" "${PF_TC_ARGS[@]}" \
		--mode xdp 2>&1) || rc=$?
	pf_expect_eq "preflightd run --mode xdp refuses (exit 1)" "$rc" 1
	pf_expect_match "... with a clear message" "$out" \
		"another XDP program \\($([[ $PF_UNIT_SANDBOX == 1 ]] || echo 'xdp_pass, ')id [0-9]+\\) is attached to .*does not replace it"
	pf_expect_eq "the foreign program is untouched" "$(pf_xdp_prog)" "$foreign"
	bpftool net detach xdpdrv dev "$PF_IF_HOST"
	nothing_left
	pf_case_result
}

# stats_json FILE KEY -- the value of KEY in `stats --json` output FILE
stats_json() { grep -oE "\"$2\":(\"[a-z]*\"|[0-9-]+)" "$1" | head -1 | cut -d: -f2 | tr -d '"'; }

# `stats` at a million flow-table entries (tools/flowfill --active:
# connections the GC keeps, never spliced). While the daemon runs,
# active_flows is its GC's count: a stats call makes a few map look-ups and
# never walks the table (BPF_MAP_GET_NEXT_KEY counted with strace, as
# case_metrics does). Once no daemon runs (SIGUSR2: it exits leaving
# everything pinned), stats counts the entries itself.
case_stats_big_table() {
	local n=1048000 out t=$PF_WORK/stats rc=0
	out=$(timeout --foreground 120 "$PF_E2E_BIN/flowfill" --iface "$PF_IF_HOST" --count "$n" --active)
	pf_detail "$out"
	pf_expect "the GC counted them (/metrics)" wait_gauge preflightd_active_flows "$n" 60
	strace -f -e trace=bpf -o "$t.strace" "$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" --json \
		>"$t.json" 2>"$t.err" || rc=$?
	pf_expect_eq "stats exit status" "$rc" 0
	pf_expect_eq "active_flows" "$(stats_json "$t.json" active_flows)" "$n"
	pf_expect_eq "... the GC's count" "$(stats_json "$t.json" active_flows_by)" gc
	pf_expect_eq "no flow-table walk (BPF_MAP_GET_NEXT_KEY)" \
		"$(grep -c BPF_MAP_GET_NEXT_KEY "$t.strace" || true)" 0
	out=$(grep -c '^[0-9]* *bpf(' "$t.strace" || true)
	pf_expect "... $out bpf calls in all, not one per entry (<= 1000)" test "$out" -le 1000
	kill -USR2 "$PF_PFD_PID"
	pf_expect "SIGUSR2: the daemon exits, leaving its state" pf_wait_gone "$PF_PFD_PID" 20
	rc=0
	"$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" --json >"$t.json" 2>"$t.err" || rc=$?
	pf_expect_eq "no daemon: stats exit status" "$rc" 0
	pf_expect_eq "... active_flows" "$(stats_json "$t.json" active_flows)" "$n"
	pf_expect_eq "... counted by stats (the daemon's count went with it)" \
		"$(stats_json "$t.json" active_flows_by)" walk
	out=$(timeout -k 2 120 "$PF_PREFLIGHTD" detach --iface "$PF_IF_HOST" 2>&1) || true
	pf_detail "$out"
	nothing_left
	pf_case_result
}

# wait_gauge NAME WANT SECONDS -- poll /metrics until gauge NAME is WANT
wait_gauge() { pf_until "$3" gauge_is "$1" "$2"; }
gauge_is() { curl -s --max-time 2 "http://$METRICS/metrics" | grep -qx "$1 $2"; }

# stop_restarted -- the instance the kill -9 + restart case started runs
# outside our process list: stop it if the case left it running
stop_restarted() { pf_stop_pidfile "$PF_WORK/restart.pid"; }

main() {
	local topo_args=()
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	# --shadow's cgroup (case_start_side_by_side): never the root's
	pf_on_cleanup 'pf_cgroup_down "$CG"'
	pf_ensure_bpffs
	pf_info "daemon mode=$MODE work=$PF_WORK"
	CG=$(pf_cgroup_up "pf-dmn-$PF_NS-$$")
	POLICY=$PF_WORK/policy.yaml
	cp "$PF_POLICY" "$POLICY"
	[[ $MODE == xdp ]] && topo_args+=(--xdp-peer)
	pf_topo_up "${topo_args[@]}"
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	start_pfd --metrics "$METRICS"
	pf_case "[$MODE] metrics scraped and parsed" case_metrics
	pf_case "[$MODE] /metrics slots: other hosts' slow clients leave the local reserve" \
		case_metrics_slots
	pf_case "[$MODE] the mode's programs loaded, and only those, on one set of maps" \
		case_programs_loaded
	pf_case "[$MODE] --iface that is not an interface name: refused, nothing touched" \
		case_iface_names
	pf_case "[$MODE] reload under load (inotify, SIGHUP, a broken file)" case_reload_under_load
	pf_case "[$MODE] a reload larger than the token map: refused, nothing of it granted" \
		case_reload_too_big
	pf_case "[$MODE] a reload that needs the response offload: refused, policy kept" \
		case_reload_needs_offload
	pf_case "[$MODE] kill -9 + restart: four spliced connections stay byte-exact" case_kill9_restart
	stop_restarted
	pf_bg_kill "$PF_PFD_PID" 1   # killed by the case: reap it
	start_pfd
	pf_case "[$MODE] kill -9 + detach: byte-exact until close, then nothing left" case_kill9_detach
	pf_bg_kill "$PF_PFD_PID" 1
	start_pfd
	pf_case "[$MODE] SIGTERM drains: byte-exact until close, then nothing left" case_sigterm_drain
	pf_bg_kill "$PF_PFD_PID" 1
	start_pfd --drain-timeout 2
	pf_case "[$MODE] SIGTERM with only unspliced connections: nothing drained or reset" \
		case_drain_unspliced
	pf_bg_kill "$PF_PFD_PID" 1
	pf_case "[$MODE] SIGHUP while starting: ready all the same, then reloaded" \
		case_sighup_starting
	pf_case "[$MODE] a fresh start verifies while the policy is read; a wrong guess loads again" \
		case_start_guess
	pf_case "[$MODE] a verifier that refuses the open-coded loops: the bpf_loop variant" \
		case_may_goto_refused
	pf_case "[$MODE] start-up verifies the longest programs side by side" \
		case_start_side_by_side
	start_pfd --drain-timeout 600
	pf_case "[$MODE] a second SIGTERM ends the drain: the spliced connection reset" \
		case_second_sigterm
	if [[ $MODE == xdp ]]; then
		pf_case "[$MODE] a foreign XDP program is never replaced" case_foreign_xdp
	fi
	pf_bg_kill "$PF_PFD_PID" 1
	start_pfd --max-flows 1048576 --metrics "$METRICS"
	pf_case "[$MODE] stats at a million flow-table entries: the GC's count, no walk" \
		case_stats_big_table
	pf_bg_kill "$PF_PFD_PID" 1
	pf_summary
}
main "$@"

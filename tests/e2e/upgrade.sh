#!/usr/bin/env bash
# tests/e2e/upgrade.sh -- restarts into another build never break a live
# connection (issue "Ship it": upgrades; issue 9 item 7: a recreated
# interface):
#
#   bash tests/e2e/upgrade.sh [--mode tc|xdp]
#
# Builds from git history (cached in build/upgrade/): PREV, the last
# revision before the pinned state carried a layout record (the parent of
# the commit that added user/layout.c; PF_UPGRADE_FROM=REF overrides), the
# same with a field added at the front of struct pf_flow (every later field
# moves), and this working tree with that change. Each case runs keep-alive
# connections that carry spliced preflights across the switch and checks
# every byte:
#   - PREV, kill -9, this build: the same flow layout, adopted (a struct
#     pf_flow changed since PREV: handed over, as below);
#   - this build, SIGUSR2 (a restart), this build: adopted by its record;
#   - PREV with the changed layout, kill -9, this build: never adopted --
#     the old programs keep translating their connections (answering
#     nothing new) until those close, then this build takes over;
#   - this build, SIGUSR2, this tree with the changed layout: the same,
#     decided by the record;
#   - this build (and PREV), kill -9, the interface deleted and created
#     again under its name: the next start is clean at once, and says so;
#   - this build, SIGUSR2, then runs of it that fail (a malformed
#     --metrics, a --cgroup that is no cgroup, a --metrics port in use;
#     a tcx attach failing halfway; in XDP mode, the XDP pin failing
#     after the replace): the dead instance's state left for
#     the next run, which adopts it, byte-exact; the pins always the maps
#     of the program that answers;
#   - this build (on tcx, then on clsact), SIGUSR2, then a run refused at
#     the TC attach (the other --tc-attach): every pin as it was, so `detach` drains the dead
#     instance's programs. (No such case in XDP mode for an XDP attach
#     refused after the TC programs were replaced: nothing real makes it
#     fail there but another program replacing the dead one meanwhile, a
#     race.)
#   - this build, SIGUSR2, then a run killed while it commits its pins
#     (its programs in place, SIGKILL at its first or third rename), and
#     in XDP mode killed before or after its XDP replace: `detach`
#     settles its staged pins first (committed, or removed), so it drains
#     the programs that answer;
#   - this build, SIGUSR2, this build with a policy without a port that
#     carries spliced connections: they stay translated, byte-exact.
# The cases that start from this build (and the recreated interface ones)
# run every preflightd in the systemd unit's sandbox (lib.sh's
# pf_unit_sandbox: its capabilities, no CAP_SYS_ADMIN): this build finds
# its predecessor's XDP program through its pin. PREV pinned neither a
# layout record nor its XDP program: reading its flow layout from the
# pinned map's BTF and finding its XDP program by id take CAP_SYS_ADMIN,
# so the cases upgrading from PREV run with root's capabilities.
# PF_PREFLIGHTD (lib.sh) is "this build": pointing it at an older binary
# shows what these guard against. Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
UPG=$PF_BUILD/upgrade
CUR=$PF_PREFLIGHTD

ka() {
	pf_ns timeout --foreground -k 2 120 "$KACLIENT" --addr "$PF_V4_HOST" --port 8080 "$@"
}

# ------------------------------------------------------------ builds ----
# The revision to upgrade from: before the pinned layout record.
prev_ref() {
	local added
	if [[ -n ${PF_UPGRADE_FROM:-} ]]; then
		echo "$PF_UPGRADE_FROM"
		return
	fi
	added=$(git -C "$PF_ROOT" log --diff-filter=A --format=%H -- user/layout.c | tail -1)
	if [[ -n $added ]]; then echo "$added^"; else echo HEAD; fi
}

# change_layout DIR -- a field at the front of struct pf_flow: every field
# after the lock (bpf_spin_lock before this build, bpf_res_spin_lock since)
# moves by 4 bytes (the userspace of DIR sees the same); the struct grows,
# so its size assertion goes too
change_layout() {
	sed -i -e 's/^\tstruct bpf_\(res_\)\{0,1\}spin_lock lock;$/&\n\t__u32 upgrade_test_pad;/' \
		-e '/^_Static_assert(sizeof(struct pf_flow) ==/d' "$1/include/pf_structs.h"
	grep -q upgrade_test_pad "$1/include/pf_structs.h" &&
		! grep -q 'sizeof(struct pf_flow) ==' "$1/include/pf_structs.h"
}

# build NAME REF|WORKTREE [changed] -- build preflightd of REF (WORKTREE:
# the working tree's files, as git would commit them) into $UPG/NAME; prints the binary
build() {
	local name=$1 ref=$2 dir=$UPG/$1 id
	if [[ $ref == WORKTREE ]]; then
		id=worktree-$(cd "$PF_ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cat | sha1sum | cut -c1-12)
	else
		id=$(git -C "$PF_ROOT" rev-parse "$ref")
	fi
	id+=${3:+-$3}
	if [[ $(cat "$dir/.id" 2>/dev/null) != "$id" || ! -x $dir/build/preflightd ]]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		if [[ $ref == WORKTREE ]]; then
			(cd "$PF_ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -x -C "$dir"
		else
			git -C "$PF_ROOT" archive "$ref" | tar -x -C "$dir"
		fi
		[[ -z ${3:-} ]] || change_layout "$dir"
		make -C "$dir" -j2 all >"$dir.log" 2>&1 || { cat "$dir.log" >&2; return 1; }
		echo "$id" >"$dir/.id"
	fi
	echo "$dir/build/preflightd"
}

# ------------------------------------------------------------ helpers ----

# start BIN [ARGS] -- a preflightd build in the background, PF_PFD_PID /
# PF_PFD_LOG set; waits for "ready" (an older build gets no --tc-attach)
start() {
	local bin=$1 PF_TC_ARGS=()   # (dynamic scope: pf_start_preflightd sees these)
	local PF_PREFLIGHTD=$bin
	shift
	pf_start_preflightd "$MODE" "$@"
}

# kill9 -- kill -9 the running instance and reap it
kill9() {
	kill -9 "$PF_PFD_PID"
	pf_killed_gone "$PF_PFD_PID" 5 || true
	pf_bg_kill "$PF_PFD_PID" 1
	PF_PFD_PID=
}

# spliced_traffic OUT SECONDS [STOP_FILE] -- 4 keep-alive connections with
# spliced preflights in the background (pid in KA), for SECONDS or until
# STOP_FILE exists; waits until they are spliced
spliced_traffic() {
	ka --conns 4 --rounds 100000 --duration-s "$2" ${3:+--stop-file "$3"} \
		--put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$1" 2>&1 &
	KA=$!
	sleep 2
}

# byte_exact DESC OUT -- the background connections ended, every byte right
byte_exact() {
	local out
	wait "$KA" || true
	out=$(tail -1 "$2")
	pf_detail "$out"
	pf_expect_match "$1" "$out" 'errors=0$'
}

# answered_by kernel|app DESC -- a new connection's preflights are all
# answered there, byte-exact
answered_by() {
	local out want=' kernel=5 app=0 .*errors=0$'
	[[ $1 == kernel ]] || want=' kernel=0 app=5 .*errors=0$'
	ka --conns 1 --rounds 2 --put-size 100 --get-size 100 --expect any >/dev/null 2>&1 || true
	sleep 0.3
	out=$(ka --conns 1 --rounds 5 --put-size 100 --get-size 100 --expect any 2>&1 | tail -1)
	pf_expect_match "$2" "$out" "$want"
}

# answers_in_kernel -- a new connection's preflights are answered in the kernel
answers_in_kernel() { answered_by kernel "new connections answered in the kernel, byte-exact"; }

PINS=/sys/fs/bpf/preflightd/$PF_IF_HOST
pins() { { ls "$PINS" 2>/dev/null || true; } | tr "\n" " "; }
# pins_exact -- every pin with its inode: a pin written again (even of the
# same object) gets a new one
pins_exact() { { ls -i "$PINS" 2>/dev/null || true; } | sort -k2 | tr "\n" " "; }

# answering_prog -- id of the program that decides what is answered: XDP's
# in XDP mode (TC ingress answers only what it hands over), else TC ingress's
answering_prog() {
	if [[ $MODE == xdp ]]; then pf_xdp_prog | cut -d' ' -f1; else pf_tc_prog in; fi
}

# pins_of_answering DESC -- the pinned maps `detach` (config: its draining
# flag), `trace` (trace_ctl, trace) and `stats` (stats, config) act on are
# the ones the attached answering program uses
pins_of_answering() {
	local prog used name id
	prog=$(answering_prog)
	used=$(bpftool -j prog show id "$prog" | jq -r '.map_ids[]' | tr '\n' ' ')
	for name in config trace_ctl trace stats flows; do
		id=$(bpftool -j map show pinned "$PINS/$name" | jq -r .id)
		pf_expect_match "$1: pinned $name (map $id) is a map of the answering program $prog" \
			" $used" " $id "
	done
	pf_expect_not "$1: no staged pin left (${PINS##*/}/*_next)" grep -q '_next ' <<<"$(pins)"
}

# ------------------------------------------------------------- cases ----
# same_layout -- PREV's struct pf_flow is this build's, field for field
same_layout() {
	diff <(sed -n '/^struct pf_flow {/,/^};/p' "$UPG/prev/include/pf_structs.h") \
		<(sed -n '/^struct pf_flow {/,/^};/p' "$PF_ROOT/include/pf_structs.h") >/dev/null
}

# prev_runs -- PREV's XDP program calls bpf_xdp_adjust_meta whatever the
# kernel: where the kernel refuses it (tests/e2e/tools/kfeat, the probe of
# user/kfeat.h) no PREV runs in XDP mode, and the case is skipped
prev_runs() {
	[[ $MODE == tc ]] || "$PF_BUILD/tests/e2e/kfeat" xdp-meta ||
		pf_case_skip "PREV's XDP program calls bpf_xdp_adjust_meta, which this kernel refuses"
}

case_adopt_prev() {
	prev_runs
	pf_case_cleanup
	if ! same_layout; then
		# struct pf_flow changed since PREV (the splice's generation and
		# request framing): adopting PREV's table would misread it
		pf_detail "PREV's struct pf_flow is not this build's: handed over, not adopted"
		handover "$PREV" kill9 "$PF_WORK/adopt-prev.out"
		pf_stop_preflightd || true
		pf_case_result
		return
	fi
	start "$PREV"
	spliced_traffic "$PF_WORK/adopt-prev.out" 8
	pf_expect_eq "PREV pins no layout record" "$(pins | grep -c meta || true)" 0
	kill9
	start "$CUR"
	# (its counters too only while no datapath outcome was added since:
	# their layout includes the names)
	pf_expect_match "this build adopts PREV's flow table (same layout, read from its BTF)" \
		"$(cat "$PF_PFD_LOG")" 'adopting the flow table'
	pf_expect_match "... and records its layout" "$(pins)" 'meta'
	pins_of_answering "after adopting PREV's state"
	byte_exact "4 spliced connections byte-exact across the upgrade" "$PF_WORK/adopt-prev.out"
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

case_restart_adopt() {
	local old
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	start "$CUR"
	old=$PF_PFD_PID
	spliced_traffic "$PF_WORK/restart.out" 6
	kill -USR2 "$old"
	pf_expect "SIGUSR2: exits at once" pf_wait_gone "$old" 5
	pf_bg_kill "$old" 1
	pf_expect_match "... leaving its programs and pins" "$(cat "$PF_PFD_LOG")" \
		'restart: leaving the programs attached and the state pinned'
	pf_expect_match "... which keep translating" "$(pf_tc_chain in)" 'pf_tc_ingress'
	start "$CUR"
	pf_expect_match "the next instance adopts them by their record" "$(cat "$PF_PFD_LOG")" \
		'adopting the flow table and counters'
	if [[ $MODE == xdp ]]; then
		pf_expect_match "... and the XDP program (found through its pin), replaced atomically" \
			"$(cat "$PF_PFD_LOG")" 'replaced the previous instance.s XDP program atomically'
	fi
	# (the adopting run's staged pins committed: `detach` drains it)
	pins_of_answering "after the adopting restart"
	byte_exact "4 spliced connections byte-exact across the restart" "$PF_WORK/restart.out"
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

# chains -- every program on the host end's TC hooks (and its XDP hook)
chains() { pf_tc_chain in; pf_tc_chain out; pf_xdp_prog; }

# usr2 -- SIGUSR2 the running instance (a restart) and reap it
usr2() {
	kill -USR2 "$PF_PFD_PID"
	pf_expect "SIGUSR2: exits at once" pf_wait_gone "$PF_PFD_PID" 5
	pf_bg_kill "$PF_PFD_PID" 1
	PF_PFD_PID=
}

# failed_run DESC ARGS... -- `run` of this build after a restart, with ARGS
# that make it fail: it must exit non-zero and leave the dead instance's
# programs and pins exactly as they were
failed_run() {
	local desc=$1 rc=0 before_p before_c out
	shift
	before_p=$(pins_exact)
	before_c=$(chains | tr '\n' ' ')
	out=$(pf_exec_run timeout -k 2 "$PF_READY_SECS" "$CUR" run --iface "$PF_IF_HOST" \
		--policy "$PF_POLICY" --mode "$MODE" "$@" 2>&1) || rc=$?
	pf_detail "$(grep -m1 -iE 'metrics:|cgroup|attach|fail' <<<"$out" || true)"
	pf_expect_not "$desc: run exits non-zero ($rc)" test "$rc" = 0
	pf_expect_not "... never ready" grep -q '^preflightd: ready on ' <<<"$out"
	pf_expect_eq "... the pins left as they were (not even written again)" "$(pins_exact)" \
		"$before_p"
	pf_expect_eq "... the programs left as they were" "$(chains | tr '\n' ' ')" "$before_c"
}

# A `run` that fails after a restart must not touch the state it adopted
# (or was about to): a bad --metrics or --cgroup is refused before
# anything is touched, a --metrics port in use fails before the pins; the
# dead instance's spliced connections go on byte-exact, its programs
# answering, and the next good run adopts them.
case_failed_run_after_restart() {
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	start "$CUR"
	spliced_traffic "$PF_WORK/failed-run.out" 30
	usr2
	failed_run "--metrics with a port out of range" --metrics 127.0.0.1:99999
	failed_run "--cgroup that is no cgroup" --cgroup "$PF_WORK"
	failed_run "--metrics on the app's port (bind fails: EADDRINUSE)" \
		--metrics "$PF_V4_HOST:8080"
	answers_in_kernel
	start "$CUR"
	pf_expect_match "the next good run adopts the state" "$(cat "$PF_PFD_LOG")" \
		'adopting the flow table and counters'
	byte_exact "4 spliced connections byte-exact across the failed runs and the restart" \
		"$PF_WORK/failed-run.out"
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

# A TC attach that fails halfway through adopting (tcx: the ingress link
# given the new program, then the egress pin cannot be written) keeps the
# link it replaced in place, pin and all; the next run adopts both.
case_failed_tcx_adopt() {
	local d=/sys/fs/bpf/preflightd/$PF_IF_HOST rc=0 out
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	start "$CUR"
	if [[ ! -e $d/tcx_egress ]]; then
		pf_stop_preflightd || true
		pf_case_skip "TC attached through clsact (no tcx links to adopt)"
	fi
	usr2
	# the egress link kept under another name; a directory where its pin goes
	mv "$d/tcx_egress" "$d/tcx_egress_kept"
	mkdir "$d/tcx_egress"
	out=$(pf_exec_run timeout -k 2 "$PF_READY_SECS" "$CUR" run --iface "$PF_IF_HOST" \
		--policy "$PF_POLICY" --mode "$MODE" 2>&1) || rc=$?
	rmdir "$d/tcx_egress" || true
	mv "$d/tcx_egress_kept" "$d/tcx_egress" || true   # (gone if unpinned: the bug)
	pf_detail "$(grep -m1 'pin .*tcx_egress' <<<"$out" || true)"
	pf_expect_not "run fails at the egress pin ($rc)" test "$rc" = 0
	pf_expect_match "... after replacing the ingress program" "$out" 'leaving the programs attached'
	pf_expect "... whose link stays pinned" test -e "$d/tcx_ingress"
	pf_expect_match "... and attached" "$(pf_tc_chain in)" 'pf_tc_ingress'
	# TC mode: the new ingress program answers; XDP mode: the dead
	# instance's XDP program still does (the XDP attach never came)
	pins_of_answering "after the halfway attach"
	start "$CUR"
	pf_expect_match "the next run adopts it" "$(cat "$PF_PFD_LOG")" \
		'TC programs replaced in place through tcx'
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

# A run refused at the TC attach after adopting (--tc-attach naming the
# other mechanism than the dead instance's: an operator's mistake, refused
# before any program is replaced) leaves every pin as it was -- not the
# maps of this run's programs, which never got attached: the pins are the
# maps the dead instance's attached programs use. So `detach` afterwards
# sets the draining flag they read: they stop answering, keep translating
# the spliced connections until those close, and go. $1: the dead
# instance's mechanism (tcx or clsact).
case_refused_attach_pins() {
	local other=clsact stop=$PF_WORK/refused.stop
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	[[ $1 == tcx ]] || other=tcx
	start "$CUR" --tc-attach "$1" || pf_case_skip "no start with --tc-attach $1 (a kernel without tcx?)"
	rm -f "$stop"
	spliced_traffic "$PF_WORK/refused.out" 90 "$stop"
	usr2
	failed_run "--tc-attach $other, not the dead instance's mechanism (refused at the attach)" \
		--tc-attach "$other"
	pins_of_answering "after the refused run"
	detach_drains "the refused run" "$stop" "$PF_WORK/refused.out"
	pf_case_result
}

# detach_drains WHAT STOP OUT [CHECK...] -- `detach` (in the unit's
# sandbox) of the dead instance whose spliced connections (spliced_traffic
# OUT STOP) go on: it drains them -- the answering programs read the
# draining flag it sets, so they answer no new preflight --, then CHECK
# runs (if given), the connections end byte-exact (STOP), and `detach`
# ends, nothing left pinned or attached.
detach_drains() {
	local what=$1 stop=$2 out=$3 log=$PF_WORK/detach.log pid rc=0
	shift 3
	# emptied here, not only by the background job's redirection: that
	# runs when the forked job is scheduled, and until then the wait below
	# read the previous case's detach.log, its 'draining' line among it --
	# so the checks ran before this detach had set its draining flag
	# (kernel=5, at load ~7) or settled the pins (config not the answering
	# program's)
	: >"$log"
	pf_exec_run "$CUR" detach --iface "$PF_IF_HOST" --drain-timeout 30 >"$log" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "detach drains the dead instance" pf_wait_for_line "$log" \
		'draining the connections spliced by a dead instance' 10 "$pid"
	answered_by app "... whose programs answer no new preflight meanwhile (its draining flag set)"
	(($# == 0)) || "$@"
	touch "$stop"
	byte_exact "4 spliced connections byte-exact across $what and the drain" "$out"
	pf_expect "detach ends once they have closed" pf_wait_gone "$pid" 45
	wait "$pid" || rc=$?
	pf_detail "$(tail -1 "$log")"
	pf_expect_eq "... exit status" "$rc" 0
	pf_expect_eq "... nothing left pinned" "$(pins)" ""
	pf_expect_eq "... nor attached" "$(chains | grep -c 'pf_' || true)" 0
}

# killed_run DESC STRACE_ARGS... -- an adopting `run` of this build (as
# root) under strace, which kills it (SIGKILL) at the system call that
# STRACE_ARGS pick; its log in $PF_WORK/killed.log
killed_run() {
	local desc=$1 rc=0
	shift
	timeout -k 2 "$PF_READY_SECS" strace -f -o "$PF_WORK/killed.strace" "$@" \
		"$CUR" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$MODE" \
		>"$PF_WORK/killed.log" 2>&1 || rc=$?
	pf_detail "$(tail -2 "$PF_WORK/killed.strace" | tr '\n' ' ')"
	pf_expect_match "run killed $desc" "$(tail -1 "$PF_WORK/killed.strace")" \
		'killed by SIGKILL'
	pf_expect_match "... its staged pins left" "$(pins)" '_next '
	pf_expect_match "... and \`stats\` warns that what it reads may mix instances" \
		"$(stats_warning)" 'pins staged by a run taking over'
	pf_expect_match "... so does \`trace\`" \
		"$(timeout -s INT 1 "$CUR" trace --iface "$PF_IF_HOST" 2>&1 >/dev/null || true)" \
		'pins staged by a run taking over'
}

# stats_warning -- what `stats` says on stderr (its figures discarded)
stats_warning() {
	"$CUR" stats --iface "$PF_IF_HOST" 2>&1 >/dev/null
}

# An adopting run killed while it commits its staged pins -- its programs
# in place of the dead instance's, some of its pins renamed over the dead
# one's, the rest still staged (SIGKILL at its rename $1, injected by
# strace; 1: none renamed, 3: the record and config renamed; $2: the TC
# mechanism, auto or clsact: filters found by their ids) -- leaves
# pins of both instances' maps. `detach` (without CAP_SYS_ADMIN) first
# completes that commit, so its draining flag reaches the programs that
# answer, and `trace` and `stats` read their maps.
case_killed_mid_commit() {
	local k=$1 stop=$PF_WORK/killed.stop before
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	start "$CUR" --tc-attach "${2:-auto}"
	pf_expect_eq "\`stats\` of a settled instance warns of nothing" "$(stats_warning)" ""
	rm -f "$stop"
	spliced_traffic "$PF_WORK/killed.out" 90 "$stop"
	usr2
	before=$(answering_prog)
	killed_run "at its rename $k" -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=SIGKILL:when="$k"
	pf_expect_not "... after its program replaced the dead one's (was $before)" \
		test "$(answering_prog)" = "$before"
	detach_drains "the killed run" "$stop" "$PF_WORK/killed.out" killed_settled \
		'its programs answer, its pins put in place'
	pf_case_result
}

# killed_settled WHAT -- (detach_drains' check) detach settled the killed
# run's staged pins as WHAT says: the pins are the answering program's maps
killed_settled() {
	pf_expect_match "detach settled the killed run's pins: $1" \
		"$(cat "$PF_WORK/detach.log")" "$1"
	pins_of_answering "after detach settled the killed run's pins"
}

# XDP mode: an adopting run killed after its TC programs replaced the dead
# instance's, $1 = before (the dead instance's XDP program still answers)
# or after (ours does, its pin not yet in place) the XDP replace: SIGKILL
# at the look at the clsact marker in between, or at the rename of its
# staged XDP pin, the commit's last. The dead instance's XDP pin is moved
# aside first in the first case (a pin that failed to be written leaves
# that; root's capabilities find its program by id): the settle must go
# by the staged XDP program on the hook, not by the pinned one. `detach`
# then drains whichever programs answer and removes them all -- in the
# second case without CAP_SYS_ADMIN (the unit's sandbox), so only through
# the pin the settle put in place.
case_killed_xdp_replace() {
	local d=/sys/fs/bpf/preflightd/$PF_IF_HOST stop=$PF_WORK/killed.stop tc xdp what
	pf_case_cleanup
	[[ $MODE == xdp ]] || pf_case_skip "XDP mode only"
	[[ $1 == before ]] || PF_UNIT_SANDBOX=1
	start "$CUR"
	rm -f "$stop"
	spliced_traffic "$PF_WORK/killed.out" 90 "$stop"
	usr2
	[[ $1 == after ]] || mv "$d/xdp" "$d/xdp_kept"
	tc=$(pf_tc_prog in) xdp=$(answering_prog)
	if [[ $1 == before ]]; then
		killed_run "between the TC and the XDP replace" -P "/run/preflightd/$PF_IF_HOST.clsact" \
			-e trace=access,faccessat,faccessat2 \
			-e inject=access,faccessat,faccessat2:signal=SIGKILL:when=1
		rm -f "$d/xdp_kept"
		pf_expect_eq "... the dead instance's XDP program still answering" "$(answering_prog)" "$xdp"
		what='its programs had not replaced the dead instance.s, its staged pins removed'
	else
		killed_run "as it renamed its XDP pin into place" -P "$d/xdp_next" \
			-e trace=rename,renameat,renameat2 \
			-e inject=rename,renameat,renameat2:signal=SIGKILL:when=1
		pf_expect_not "... its XDP program answering (was $xdp)" test "$(answering_prog)" = "$xdp"
		what='its programs answer, its pins put in place'
	fi
	pf_expect_not "... its TC ingress program in place (was $tc)" test "$(pf_tc_prog in)" = "$tc"
	detach_drains "the killed run" "$stop" "$PF_WORK/killed.out" killed_settled "$what"
	pf_case_result
}

# A detach that settles a killed run's staged pins (SIGKILL at the run's
# first rename: none renamed, its programs in place) and cannot rename one
# of them (EBUSY injected by strace at its second rename: config) fails,
# draining nothing: `config` still named the dead instance's map, where
# its draining flag would reach no answering program. That pin stays
# staged, and so does the stager, which tells the next try the way: the
# next detach completes the settle and drains.
case_settle_rename_fails() {
	local stop=$PF_WORK/killed.stop rc=0
	pf_case_cleanup
	start "$CUR"
	rm -f "$stop"
	spliced_traffic "$PF_WORK/killed.out" 90 "$stop"
	usr2
	killed_run "at its rename 1" -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=SIGKILL:when=1
	strace -f -o "$PF_WORK/settle.strace" -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:error=EBUSY:when=2 \
		"$CUR" detach --iface "$PF_IF_HOST" --drain-timeout 30 >"$PF_WORK/settle.log" 2>&1 ||
		rc=$?
	pf_detail "$(tr '\n' ' ' <"$PF_WORK/settle.log")"
	pf_expect_eq "a detach whose settle cannot rename a staged pin fails" "$rc" 1
	pf_expect_match "... saying so" "$(cat "$PF_WORK/settle.log")" \
		'settle the pins a stopped run staged in .*kept staged'
	pf_expect_match "... that pin kept staged" "$(pins)" ' config_next '
	pf_expect_match "... and the stager" "$(pins)" ' tc_ingress_next '
	answered_by kernel "... having drained nothing: the killed run's programs still answer"
	detach_drains "the killed run and a failed settle" "$stop" "$PF_WORK/killed.out" \
		killed_settled 'its programs answer, its pins put in place'
	pf_case_result
}

# An adopting run whose commit cannot rename one of its staged pins (EBUSY
# injected by strace at its second rename: config) fails, leaving its
# programs attached in place of the dead instance's, with that pin kept
# staged and the stager with it; `detach` then settles them (the commit
# completed) and drains byte-exact. Removed instead (before the fix), the
# dead instance's config stayed under that name: the drain's flag reached
# no answering program, and its timeout reset the spliced connections.
case_commit_rename_fails() {
	local stop=$PF_WORK/killed.stop rc=0 before
	pf_case_cleanup
	start "$CUR"
	rm -f "$stop"
	spliced_traffic "$PF_WORK/killed.out" 90 "$stop"
	usr2
	before=$(answering_prog)
	timeout -k 2 "$PF_READY_SECS" strace -f -o "$PF_WORK/commit.strace" \
		-e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:error=EBUSY:when=2 \
		"$CUR" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$MODE" \
		>"$PF_WORK/commit.log" 2>&1 || rc=$?
	pf_detail "$(tr '\n' ' ' <"$PF_WORK/commit.log")"
	pf_expect_eq "an adopting run whose commit cannot rename a staged pin fails" "$rc" 1
	pf_expect_match "... leaving its programs attached" "$(cat "$PF_WORK/commit.log")" \
		'failed after adopting: leaving the programs attached'
	pf_expect_not "... in place of the dead instance's (was $before)" \
		test "$(answering_prog)" = "$before"
	pf_expect_match "... that pin kept staged" "$(pins)" ' config_next '
	pf_expect_match "... and the stager" "$(pins)" ' tc_ingress_next '
	answered_by kernel "... its programs answering"
	detach_drains "the failed commit" "$stop" "$PF_WORK/killed.out" killed_settled \
		'its programs answer, its pins put in place'
	pf_case_result
}

# XDP mode: the adopted XDP program replaced, then its pin cannot be
# written (a directory in its place): the program that replaced it stays
# attached (an empty hook would leave the adopted connections
# untranslated), the map pins are its maps', and nothing stays staged --
# a staged XDP pin kept for a later settle would fail every one while the
# obstacle stays --, so the next run adopts the program (by id). Root's
# capabilities: the failing run finds the dead instance's program by id,
# its pin moved aside.
case_failed_xdp_adopt() {
	local d=/sys/fs/bpf/preflightd/$PF_IF_HOST rc=0 out
	pf_case_cleanup
	[[ $MODE == xdp ]] || pf_case_skip "XDP mode only"
	start "$CUR"
	spliced_traffic "$PF_WORK/failed-xdp.out" 30
	usr2
	mv "$d/xdp" "$d/xdp_kept"
	mkdir "$d/xdp"
	out=$(timeout -k 2 "$PF_READY_SECS" "$CUR" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" \
		--mode "$MODE" 2>&1) || rc=$?
	pf_detail "$(grep -m1 'pin .*/xdp' <<<"$out" || true)"
	pf_expect_not "run fails at the XDP pin ($rc)" test "$rc" = 0
	pf_expect_match "... after replacing the adopted XDP program" "$out" \
		'replaced the previous instance.s XDP program atomically'
	pf_expect_match "... which stays attached" "$(pf_xdp_prog)" '^[0-9]+ pf_xdp_ingress xdp$'
	pins_of_answering "after the replace, the obstacle still there"
	pf_expect_eq "... nothing staged for a settle the obstacle would fail" "$(stats_warning)" ""
	rmdir "$d/xdp" || true
	rm -f "$d/xdp_kept"
	start "$CUR"
	pf_expect_match "the next run adopts it" "$(cat "$PF_PFD_LOG")" \
		'replaced the previous instance.s XDP program atomically'
	byte_exact "4 spliced connections byte-exact across the failed run and the restart" \
		"$PF_WORK/failed-xdp.out"
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

# A restart into a policy that drops a port: the connections spliced on
# it stay translated until they end. (Small GETs: transfers past 2^31
# bytes after a splice are hardening.sh's case_long_transfer.)
case_restart_drops_port() {
	local pol=$PF_WORK/two-ports.yaml
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	sed 's/^ports: \[8080\]$/ports: [8080, 8083]/' "$PF_POLICY" >"$pol"
	grep -q '^ports: \[8080, 8083\]$' "$pol"
	pf_start_app --listen "$PF_V4_HOST:8083"
	start "$CUR" --policy "$pol"
	pf_ns timeout --foreground -k 2 120 "$KACLIENT" --addr "$PF_V4_HOST" --port 8083 \
		--conns 4 --rounds 100000 --duration-s 30 --put-size 1000 --get-size 10000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/dropped.out" 2>&1 &
	KA=$!
	sleep 2
	usr2
	start "$CUR"
	pf_expect_match "this policy answers on 8080 only" "$(cat "$PF_PFD_LOG")" 'ports 8080\)'
	byte_exact "4 connections spliced on 8083 byte-exact after the restart dropped it" \
		"$PF_WORK/dropped.out"
	# (the case proves something only if they went on after the restart)
	pf_expect_match "... their preflights answered by the app after it" \
		"$(tail -1 "$PF_WORK/dropped.out")" ' app=[1-9]'
	answers_in_kernel
	pf_stop_preflightd || true
	pf_case_result
}

# handover FROM_BIN HOW(kill9|usr2) OUT -- FROM runs the connections, then
# this build (or NEW) starts: it must hand over, not adopt
handover() {
	local from=$1 how=$2 out=$3 new=${4:-$CUR} log=$PF_WORK/handover-$RANDOM.log pid xdp hold
	start "$from"
	# open until the checks that need them are done: the new instance
	# starts after the old one's exit and then loads, both seconds on a
	# busy machine (6 s of traffic had ended, and the drain with it, before
	# 'the old programs still translate them' in 2 of 13 runs under load)
	rm -f "$PF_WORK/handover.stop"
	spliced_traffic "$out" 90 "$PF_WORK/handover.stop"
	xdp=$(pf_xdp_prog)
	if [[ $how == usr2 ]]; then
		kill -USR2 "$PF_PFD_PID"
		pf_wait_gone "$PF_PFD_PID" 10 || true
		pf_bg_kill "$PF_PFD_PID" 5
	else
		kill9
	fi
	pf_exec_run "$new" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$MODE" >"$log" 2>&1 &
	pid=$!
	PF_BG_PIDS+=("$pid")
	pf_expect "it says the layout differs" pf_wait_for_line "$log" \
		'another flow table layout \([0-9]+-byte entries.*this one: [0-9]+ bytes\): not adopting it' 10 "$pid"
	pf_expect "... and drains the old programs" pf_wait_for_line "$log" \
		'draining the connections spliced by a dead instance' 10 "$pid"
	# a connection made while it drains, which the old programs only
	# follow (they answer nothing new): neither held for nor reset
	pf_expect "... of the entries it had then" pf_wait_for_line "$log" \
		'draining: [0-9]+ entries to wait for' 10 "$pid"
	rm -f "$PF_WORK/holdconn.stop"
	pf_ns python3 "$PF_ROOT/tests/e2e/tools/holdconn.py" "$PF_V4_HOST" 8080 \
		"$PF_WORK/holdconn.stop" 60 >"$PF_WORK/holdconn.out" 2>&1 &
	hold=$!
	PF_BG_PIDS+=("$hold")
	pf_expect "a new connection meanwhile (a GET)" \
		pf_wait_count "$PF_WORK/holdconn.out" '^first 200$' 1 5
	sleep 1
	pf_expect_not "not ready while the old connections are open" grep -q '^preflightd: ready on ' "$log"
	pf_expect_match "the old programs still translate them" "$(pf_tc_chain in)" 'pf_tc_ingress'
	touch "$PF_WORK/handover.stop"
	byte_exact "4 spliced connections byte-exact across the switch" "$out"
	pf_expect "ready once they have closed (the new one still open)" \
		pf_wait_for_line "$log" '^preflightd: ready on ' "$PF_READY_SECS" "$pid"
	touch "$PF_WORK/holdconn.stop"
	wait "$hold" || true
	pf_expect_eq "the new connection went on" "$(tail -1 "$PF_WORK/holdconn.out")" "second 200"
	pf_expect_match "... having removed the old programs and pins" "$(cat "$log")" \
		'handed over: the previous version.s programs and pins are gone; starting clean'
	pf_expect_eq "one ingress program: the new one" "$(pf_tc_chain in | grep -c pf_tc_ingress)" 1
	if [[ $MODE == xdp ]]; then
		pf_expect_match "one XDP program: the new one (was $xdp)" "$(pf_xdp_prog)" \
			"^[0-9]+ pf_xdp_ingress xdp\$"
		pf_expect_not "... not the old one" test "$(pf_xdp_prog)" = "$xdp"
	fi
	answers_in_kernel
	PF_PFD_PID=$pid
	PF_PFD_LOG=$log
}

case_handover_prev() {
	prev_runs
	pf_case_cleanup
	handover "$PREV_CHANGED" kill9 "$PF_WORK/handover-prev.out"
	pf_stop_preflightd || true
	pf_case_result
}

case_handover_record() {
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	handover "$CUR" usr2 "$PF_WORK/handover-cur.out" "$CUR_CHANGED"
	pf_stop_preflightd || true
	pf_case_result
}

# recreated BIN -- BIN with spliced connections, kill -9, the interface
# deleted and created again: this build starts clean, at once
recreated() {
	local out
	pf_case_cleanup
	PF_UNIT_SANDBOX=1
	start "$1"
	spliced_traffic "$PF_WORK/recreate.out" 30
	kill9
	kill "$KA" 2>/dev/null || true
	wait "$KA" 2>/dev/null || true
	ip link del "$PF_IF_HOST"
	pf_topo_up "${TOPO_ARGS[@]}" >/dev/null
	start "$CUR"
	pf_expect_match "it says the old state belongs to a gone interface and starts clean" \
		"$(cat "$PF_PFD_LOG")" 'belongs to an interface that is gone.*starting clean'
	pf_expect_not "it adopts nothing" grep -q adopting "$PF_PFD_LOG"
	answers_in_kernel
	pf_stop_preflightd || true
	out=$(pins)
	pf_expect_eq "nothing left after stop" "$out" ""
}
case_recreated_record() { recreated "$CUR"; pf_case_result; }
case_recreated_prev() { prev_runs; recreated "$PREV"; pf_case_result; }

main() {
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_ensure_bpffs
	TOPO_ARGS=()
	[[ $MODE == xdp ]] && TOPO_ARGS+=(--xdp-peer)
	pf_info "upgrade mode=$MODE from $(prev_ref) work=$PF_WORK"
	PREV=$(build prev "$(prev_ref)")
	PREV_CHANGED=$(build prev-changed "$(prev_ref)" changed)
	CUR_CHANGED=$(build cur-changed WORKTREE changed)
	pf_topo_up "${TOPO_ARGS[@]}"
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	pf_case "[$MODE] PREV -> kill -9 -> this build: adopted if the same layout, else handed over" \
		case_adopt_prev
	pf_case "[$MODE] SIGUSR2 -> this build: adopted by its layout record" case_restart_adopt
	pf_case "[$MODE] SIGUSR2, then runs that fail (bad --metrics/--cgroup, port in use): nothing touched" \
		case_failed_run_after_restart
	pf_case "[$MODE] SIGUSR2, then a tcx attach failing halfway: the replaced link stays" \
		case_failed_tcx_adopt
	pf_case "[$MODE] SIGUSR2, then the XDP pin failing after the replace: the new program stays" \
		case_failed_xdp_adopt
	pf_case "[$MODE] SIGUSR2 (tcx), then a run refused at the TC attach: the pins stay the attached programs'" \
		case_refused_attach_pins tcx
	pf_case "[$MODE] SIGUSR2 (clsact), then a run refused at the TC attach: the pins stay the attached programs'" \
		case_refused_attach_pins clsact
	pf_case "[$MODE] SIGUSR2, a run killed before it committed a pin, detach: commit completed" \
		case_killed_mid_commit 1
	pf_case "[$MODE] SIGUSR2, a run killed after committing two pins, detach: commit completed" \
		case_killed_mid_commit 3
	pf_case "[$MODE] SIGUSR2, a run killed between its TC and XDP replace, detach: rolled back" \
		case_killed_xdp_replace before
	pf_case "[$MODE] SIGUSR2 (clsact), a run killed before it committed a pin, detach: commit completed" \
		case_killed_mid_commit 1 clsact
	pf_case "[$MODE] SIGUSR2, a run killed renaming its XDP pin, detach: committed" \
		case_killed_xdp_replace after
	pf_case "[$MODE] SIGUSR2, a run killed before it committed a pin, a settle that cannot rename a pin: detach fails, the next one drains" \
		case_settle_rename_fails
	pf_case "[$MODE] SIGUSR2, an adopting run whose commit cannot rename a pin: fails attached, detach settles and drains" \
		case_commit_rename_fails
	pf_case "[$MODE] SIGUSR2 -> a policy without a spliced connection's port: still translated" \
		case_restart_drops_port
	pf_case "[$MODE] PREV with another pf_flow -> this build: handed over, not misread" \
		case_handover_prev
	pf_case "[$MODE] SIGUSR2 -> a build with another pf_flow: handed over by the record" \
		case_handover_record
	pf_case "[$MODE] kill -9, interface recreated: starts clean (layout record)" \
		case_recreated_record
	pf_case "[$MODE] kill -9, interface recreated: starts clean (PREV's pins)" \
		case_recreated_prev
	pf_summary
}
main "$@"

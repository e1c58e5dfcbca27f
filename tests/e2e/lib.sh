# shellcheck shell=bash
# tests/e2e/lib.sh -- helpers shared by the e2e scripts (sourced, not run).
#
#   start          pf_init (mode, root, work dir, trap, bpffs)
#   logging        pf_log, pf_info, pf_detail
#   results        pf_pass, pf_fail, pf_skip, pf_case, pf_summary
#   inside a case  pf_expect*, pf_case_skip, pf_case_result, pf_case_cleanup
#   waiting        pf_wait_gone, pf_wait_for_line, pf_wait_count
#   processes      pf_start_app, pf_start_preflightd, pf_stop_preflightd,
#                  pf_stop_app, pf_stop_all, pf_bg_kill, pf_stop_pidfile,
#                  pf_killed_gone
#   cgroups        pf_cgroup_up, pf_cgroup_down, pf_in_cgroup
#   topology       pf_topo_up, pf_topo_down, pf_ns (run a command in the netns)
#   counters       pf_stat NAME, pf_wait_stat NAME WANT SECONDS,
#                  pf_wait_stat_ge NAME MIN SECONDS, pf_stats_dump
#   TC hooks       pf_tc_chain in|out, pf_tc_prog in|out
#   XDP hook       pf_xdp_prog
#   systemd unit   pf_unit_key KEY, pf_unit_sandbox CMD..., pf_exec_run CMD...
#                  (PF_UNIT_SANDBOX=1: preflightd in the unit's sandbox)
#   cleanup        pf_install_trap: on any exit, run the script's own undo
#                  commands (pf_on_cleanup), kill every background process
#                  we started and remove the topology.
#
# Every wait is bounded. Every case runs in a subshell with `set -e`, so an
# unexpected error fails that case only, and the run goes on. Clients run
# under `timeout --foreground` so that they stay in our process group and a
# Ctrl-C reaches them (plain timeout moves them to a group of their own).

# ---------------------------------------------------------------- paths ----
PF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PF_BUILD=${PF_BUILD:-$PF_ROOT/build}
PF_E2E_BIN=${PF_E2E_BIN:-$PF_BUILD/tests/e2e}
PF_PREFLIGHTD=${PF_PREFLIGHTD:-$PF_BUILD/preflightd}
PF_APPSERVER=${PF_APPSERVER:-$PF_E2E_BIN/appserver}
PF_KACLIENT=${PF_KACLIENT:-$PF_E2E_BIN/kaclient}
PF_FAULTINJ=${PF_FAULTINJ:-$PF_E2E_BIN/faultinj}
PF_TOPO=${PF_TOPO:-$PF_ROOT/scripts/topo.sh}
PF_TCXTOOL=${PF_TCXTOOL:-$PF_E2E_BIN/tcxtool}

# --tc-attach of every `preflightd run` the scripts start: PF_TC_ATTACH=
# tcx|clsact (unset: preflightd's default, auto).
PF_TC_ARGS=(${PF_TC_ATTACH:+--tc-attach "$PF_TC_ATTACH"})

# pf_run_args MODE -- PF_RUN_ARGS: the options every `preflightd run` of
# mode MODE takes from the environment: PF_TC_ARGS, and with
# PF_XDP_GENERIC=1 in XDP mode --xdp-generic (skb mode: generic XDP, which
# also runs on frames handed to the receive path, as the slow path's
# replays are).
pf_run_args() {
	PF_RUN_ARGS=("${PF_TC_ARGS[@]}")
	if [[ $1 == xdp && -n ${PF_XDP_GENERIC:-} ]]; then
		PF_RUN_ARGS+=(--xdp-generic)
	fi
}

# The bound on every wait for "preflightd: ready on": a bound against a hang,
# not a timing -- loading the programs is the verifier's work, which on a
# loaded 2-CPU VM with a return-thunk mitigation took more than 10 s.
PF_READY_SECS=${PF_READY_SECS:-30}

# Topology names/addresses (same defaults as scripts/topo.sh, which reads
# them from the environment).
export PF_NS=${PF_NS:-pfc}
export PF_IF_HOST=${PF_IF_HOST:-pfs0}
export PF_IF_CLIENT=${PF_IF_CLIENT:-pfc0}
export PF_V4_HOST=${PF_V4_HOST:-198.18.0.1}
export PF_V4_CLIENT=${PF_V4_CLIENT:-198.18.0.2}
export PF_V6_HOST=${PF_V6_HOST:-2001:db8::1}
export PF_V6_CLIENT=${PF_V6_CLIENT:-2001:db8::2}

# The e2e policy allows the host's own page origins (:8081) by address: a
# topology on other addresses (several runs side by side) gets a copy of it
# with its own addresses.
pf_policy_for_topo() {
	local src=$PF_ROOT/tests/e2e/policy.yaml dst
	if [[ $PF_V4_HOST == 198.18.0.1 && $PF_V6_HOST == 2001:db8::1 ]]; then
		echo "$src"
		return
	fi
	dst=$PF_BUILD/tests/e2e/policy-$PF_NS.yaml
	mkdir -p "${dst%/*}"
	sed -e "s/198\.18\.0\.1:/$PF_V4_HOST:/g" -e "s/\[2001:db8::1\]/[$PF_V6_HOST]/g" \
		"$src" >"$dst"
	echo "$dst"
}
PF_POLICY=${PF_POLICY:-$(pf_policy_for_topo)}

# Where logs of this run go; kept on failure (or with PF_KEEP=1).
PF_WORK=${PF_WORK:-}
PF_KEEP=${PF_KEEP:-0}

# ------------------------------------------------------- command line ----
# pf_usage -- print the running script's header comment (from line 2 to
# `set -euo`) as its usage, and exit 2.
pf_usage() {
	sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

# pf_parse_mode ARGS... -- the "[--mode tc|xdp]" command line of most e2e
# scripts: sets MODE (default tc); anything else prints the usage.
pf_parse_mode() {
	MODE=tc
	while (($#)); do
		case $1 in
		--mode) (($# >= 2)) || pf_usage; MODE=$2; shift 2 ;;
		*) pf_usage ;;
		esac
	done
	[[ $MODE == tc || $MODE == xdp ]] || pf_usage
}

# pf_init ARGS... -- the start of most e2e scripts: pf_parse_mode ARGS,
# root, a work directory, the cleanup trap, bpffs.
pf_init() {
	pf_parse_mode "$@"
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_ensure_bpffs
}

# -------------------------------------------------------------- logging ----
pf_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
pf_info() { pf_log "-- $*"; }
pf_heading() { printf '\n=== %s ===\n' "$*"; }
# Indented detail line (inside a case).
pf_detail() { printf '      %s\n' "$*"; }
# Indent a file's contents (first N lines) under a case.
pf_detail_file() {
	local f=$1 n=${2:-40}
	[[ -s $f ]] || return 0
	head -n "$n" "$f" | tr -d '\r' | sed 's/^/      | /'
}

# --------------------------------------------------------------- results ----
PF_PASSED=0
PF_FAILED=0
PF_SKIPPED=0
PF_FAILED_NAMES=()

pf_pass() { PF_PASSED=$((PF_PASSED + 1)); pf_log "PASS $1"; }
pf_fail() {
	PF_FAILED=$((PF_FAILED + 1)); PF_FAILED_NAMES+=("$1")
	pf_log "FAIL $1${2:+ ($2)}"
}
pf_skip() { PF_SKIPPED=$((PF_SKIPPED + 1)); pf_log "SKIP $1${2:+ ($2)}"; }

PF_SKIP_RC=77   # a case function exits with this to be counted as skipped

# pf_case NAME FN [ARGS...] -- run one named case. FN runs in a subshell
# with `set -euo pipefail`: it passes if it returns 0, is skipped if it
# exits $PF_SKIP_RC (pf_case_skip), and fails otherwise, including when a
# command fails unexpectedly. The subshell keeps `set -e` live because it is
# not run in an `if`/`||` context.
# PF_CASES=ERE (environment) runs only the cases whose name matches.
pf_case() {
	local name=$1 rc had_e=0
	shift
	[[ -z ${PF_CASES:-} || $name =~ $PF_CASES ]] || return 0
	[[ $- == *e* ]] && had_e=1
	pf_log "---- $name"
	set +e
	(
		set -euo pipefail
		PF_CASE_BAD=0
		"$@"
	)
	rc=$?
	((had_e)) && set -e
	case $rc in
	0) pf_pass "$name" ;;
	"$PF_SKIP_RC") pf_skip "$name" ;;
	*) pf_fail "$name" "rc=$rc" ;;
	esac
	return 0
}

# ------------------------------------------------------- curl dumps ----
# hdr FILE NAME -- the value(s) of header NAME in a curl -D dump (joined by
# ", "), CR stripped; empty if absent.
hdr() {
	tr -d '\r' <"$1" | awk -v n="${2,,}" '
		BEGIN { FS = ":" }
		tolower($1) == n { v = substr($0, length($1) + 2); sub(/^[ \t]+/, "", v)
		                   out = out (out == "" ? "" : ", ") v }
		END { print out }'
}

# ----------------------------------------------------- inside a case ----
# Expectations record a failure and go on, so one run shows every broken
# property of a case; pf_case_result (last line of a case) turns them into
# the case's status.
PF_CASE_BAD=0
_pf_ok() { pf_detail "ok    $1"; }
_pf_bad() { pf_detail "FAIL  $1"; PF_CASE_BAD=1; }

# pf_expect DESC CMD... -- CMD must succeed.
pf_expect() {
	local desc=$1
	shift
	if "$@"; then _pf_ok "$desc"; else _pf_bad "$desc"; fi
}
# pf_expect_not DESC CMD... -- CMD must fail.
pf_expect_not() {
	local desc=$1
	shift
	if "$@"; then _pf_bad "$desc"; else _pf_ok "$desc"; fi
}
# pf_expect_eq DESC GOT WANT
pf_expect_eq() {
	if [[ $2 == "$3" ]]; then _pf_ok "$1 ($2)"; else _pf_bad "$1: got '$2', want '$3'"; fi
}
# pf_expect_match DESC STRING ERE (case-insensitive)
pf_expect_match() {
	if grep -qiE -- "$3" <<<"$2"; then _pf_ok "$1 ($2)"; else _pf_bad "$1: '$2' !~ /$3/"; fi
}
# pf_expect_ge DESC GOT MIN (integers; empty GOT fails)
pf_expect_ge() {
	if [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3)); then _pf_ok "$1 ($2 >= $3)"; else _pf_bad "$1: got '$2', want >= $3"; fi
}
pf_case_skip() { pf_detail "skip: $*"; exit "$PF_SKIP_RC"; }
# pf_case_cleanup -- first line of a case that starts processes itself:
# whatever it started (appended to PF_BG_PIDS in its subshell) is stopped
# when it ends, also when it fails midway; what was running before stays.
pf_case_cleanup() {
	_PF_CASE_FIRST=${#PF_BG_PIDS[@]}
	trap 'for _p in "${PF_BG_PIDS[@]:$_PF_CASE_FIRST}"; do pf_bg_kill "$_p" 3; done' EXIT
}
pf_case_result() { return "$PF_CASE_BAD"; }

# ----------------------------------------------------- summary / exit ----
# Prints exactly "N passed, M failed[, K skipped]" and exits non-zero if M>0.
pf_summary() {
	local line="$PF_PASSED passed, $PF_FAILED failed"
	((PF_SKIPPED == 0)) || line+=", $PF_SKIPPED skipped"
	echo
	if ((PF_FAILED)); then
		echo "failed cases:"
		printf '  %s\n' "${PF_FAILED_NAMES[@]}"
		[[ -z $PF_WORK ]] || echo "logs kept in $PF_WORK"
		PF_KEEP=1
	fi
	PF_SUMMARY_DONE=1
	echo "$line"
	((PF_FAILED == 0))
}

# --------------------------------------------------- environment checks ----
pf_require_root() {
	[[ $EUID -eq 0 ]] || { echo "e2e: must run as root" >&2; exit 1; }
}

# preflightd pins/looks up its maps under bpffs.
pf_ensure_bpffs() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

pf_make_workdir() {
	[[ -n $PF_WORK ]] || PF_WORK=$(mktemp -d /tmp/pf-e2e.XXXXXX)
	mkdir -p "$PF_WORK"
}

# ---------------------------------------------------------- topology ----
pf_topo_up() { bash "$PF_TOPO" up "$@"; }
pf_topo_down() { bash "$PF_TOPO" down >/dev/null 2>&1 || true; }

# pf_ns CMD... -- run CMD in the client netns.
pf_ns() { ip netns exec "$PF_NS" "$@"; }

# pf_curl ARGS... -- curl from the client netns, never through a proxy,
# bounded to 10 s per transfer (15 s overall).
# pf_cookie_line N -- a "Cookie: c=kkk..." header of N bytes after "c="
# (2798: a 2,800-byte line, as a browser with many cookies sends it).
pf_cookie_line() { printf 'Cookie: c=%s' "$(head -c "$1" /dev/zero | tr '\0' k)"; }

pf_curl() {
	pf_ns env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		timeout --foreground -k 2 15 curl --noproxy '*' --max-time 10 "$@"
}

# ---------------------------------------------------- background jobs ----
PF_BG_PIDS=()        # every background process we started
PF_APP_PID=
PF_APP_LOG=
PF_PFD_PID=
PF_PFD_LOG=
PF_SEQ=0             # numbers the log files of successive starts

_pf_alive() {
	local pid=$1 st
	kill -0 "$pid" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

# pf_until SECONDS CMD... -- run CMD now and every 0.1 s after, for at
# most SECONDS; 0 as soon as it succeeds, 1 if it never did. The one
# polling loop of the tier (pf_wait_for_line adds an early exit to it).
pf_until() {
	local i n=$(($1 * 10))
	shift
	"$@" && return 0
	for ((i = 0; i < n; i++)); do
		sleep 0.1
		"$@" && return 0
	done
	return 1
}

# pf_wait_gone PID SECONDS -- wait (bounded) for PID to exit; 0 if it did.
pf_wait_gone() { pf_until "$2" _pf_dead "$1"; }
_pf_dead() { ! _pf_alive "$1"; }

# pf_wait_count FILE ERE N [SECONDS] -- wait (bounded, default 10 s) until
# FILE has at least N lines matching ERE.
pf_wait_count() { pf_until "${4:-10}" _pf_count_ge "$1" "$2" "$3"; }
_pf_count_ge() { (($(grep -cE -- "$2" "$1" 2>/dev/null || true) >= $3)); }

# pf_killed_gone PID SECONDS -- PID and every thread of it have exited. After
# kill -9 the leader of a multi-threaded process is a zombie while its other
# threads still exit, holding its files (the interface lock among them).
pf_killed_gone() { pf_until "$2" _pf_all_threads_gone "$1"; }
_pf_all_threads_gone() {
	_pf_dead "$1" && (($(ls "/proc/$1/task" 2>/dev/null | wc -l) <= 1))
}

# pf_wait_for_line FILE ERE SECONDS PID -- wait until FILE has a line
# matching ERE; fail early if PID dies, or after SECONDS.
pf_wait_for_line() {
	local file=$1 re=$2 n=$(($3 * 10)) pid=$4 i
	for ((i = 0; i < n; i++)); do
		grep -qE -- "$re" "$file" 2>/dev/null && return 0
		_pf_alive "$pid" || { grep -qE -- "$re" "$file" 2>/dev/null; return; }
		sleep 0.1
	done
	return 1
}

# _pf_forget PID -- drop PID from PF_BG_PIDS once reaped, so that cleanup
# never signals a recycled pid.
_pf_forget() {
	local p keep=()
	for p in "${PF_BG_PIDS[@]+"${PF_BG_PIDS[@]}"}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PF_BG_PIDS=("${keep[@]+"${keep[@]}"}")
}

# pf_bg_kill PID [SECONDS] -- TERM, wait, then KILL; reaps it.
pf_bg_kill() {
	local pid=$1 secs=${2:-5}
	[[ -n $pid ]] || return 0
	_pf_forget "$pid"
	if _pf_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		pf_wait_gone "$pid" "$secs" || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# pf_start_app ARGS... -- start the appserver in the host netns with
# --log $PF_WORK/app-N.log plus ARGS; waits <=10 s for "listening".
# With PF_APP_CGROUP set it runs in that cgroup (pf_in_cgroup).
pf_start_app() {
	PF_SEQ=$((PF_SEQ + 1))
	PF_APP_LOG=$PF_WORK/app-$PF_SEQ.log
	local out=$PF_WORK/app-$PF_SEQ.out
	: >"$PF_APP_LOG"
	if [[ ! -x $PF_APPSERVER ]]; then
		echo "e2e: $PF_APPSERVER missing (make e2e-tools)" >&2
		return 1
	fi
	if [[ -n ${PF_APP_CGROUP:-} ]]; then
		pf_in_cgroup "$PF_APP_CGROUP" "$PF_APPSERVER" --log "$PF_APP_LOG" "$@" >"$out" 2>&1 &
	else
		"$PF_APPSERVER" --log "$PF_APP_LOG" "$@" >"$out" 2>&1 &
	fi
	PF_APP_PID=$!
	PF_BG_PIDS+=("$PF_APP_PID")
	if ! pf_wait_for_line "$out" 'listening' 10 "$PF_APP_PID"; then
		echo "e2e: appserver not listening after 10 s:" >&2
		pf_detail_file "$out" >&2
		pf_bg_kill "$PF_APP_PID"
		PF_APP_PID=
		return 1
	fi
	pf_info "appserver pid $PF_APP_PID: $(grep -m1 listening "$out")"
}

pf_stop_app() {
	[[ -n $PF_APP_PID ]] || return 0
	pf_bg_kill "$PF_APP_PID" 5
	PF_APP_PID=
}

# pf_start_preflightd MODE -- `preflightd run` on the host end in the
# background (pf_exec_run: in the unit's sandbox with PF_UNIT_SANDBOX=1);
# waits <=10 s for its "preflightd: ready on" line, and it must still be
# running then. Fails (and kills it) otherwise -- a refused start ("another
# preflightd is already running", "... is already there") is never taken
# for ready.
pf_start_preflightd() {
	local mode=${1:-tc}
	PF_SEQ=$((PF_SEQ + 1))
	PF_PFD_LOG=$PF_WORK/preflightd-$PF_SEQ.log
	: >"$PF_PFD_LOG"
	if [[ ! -x $PF_PREFLIGHTD ]]; then
		echo "e2e: $PF_PREFLIGHTD missing (make all)" >&2
		return 1
	fi
	pf_run_args "$mode"
	pf_exec_run "$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --mode "$mode" \
		"${PF_RUN_ARGS[@]}" "${@:2}" >"$PF_PFD_LOG" 2>&1 &
	PF_PFD_PID=$!
	PF_BG_PIDS+=("$PF_PFD_PID")
	if ! pf_wait_for_line "$PF_PFD_LOG" '^preflightd: ready on ' "$PF_READY_SECS" "$PF_PFD_PID" ||
		! _pf_alive "$PF_PFD_PID"; then
		echo "e2e: preflightd not ready after $PF_READY_SECS s:" >&2
		pf_detail_file "$PF_PFD_LOG" >&2
		pf_bg_kill "$PF_PFD_PID"
		PF_PFD_PID=
		return 1
	fi
	pf_info "preflightd pid $PF_PFD_PID ($mode): $(grep -m1 '^preflightd: ready on ' "$PF_PFD_LOG")"
}

# pf_stop_pidfile FILE -- a process a case started outside our process list
# (its pid in FILE, e.g. a restarted preflightd): SIGTERM it if it still
# runs, wait <=20 s, then KILL.
pf_stop_pidfile() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	rm -f "$1"
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	pf_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
}

# pf_stop_preflightd -- SIGTERM, wait <=15 s. Returns preflightd's exit
# status, or 124 if it had to be killed. 0 if it was not running.
pf_stop_preflightd() {
	local pid=$PF_PFD_PID rc=0
	[[ -n $pid ]] || return 0
	PF_PFD_PID=
	_pf_forget "$pid"
	kill -TERM "$pid" 2>/dev/null || true
	if ! pf_wait_gone "$pid" 15; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 124
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# pf_stop_all -- preflightd (SIGTERM, <=15 s) then the app.
pf_stop_all() {
	pf_stop_preflightd || true
	pf_stop_app
}

# ----------------------------------------------------------- cgroups ----
# The response offload attaches a sockops program to a cgroup: a test runs
# its servers in a cgroup of its own and passes it as --cgroup -- never the
# root, whose sockets belong to everyone on the machine.

# pf_cgroup_up NAME -- create cgroup v2 NAME under the root; prints its path.
pf_cgroup_up() {
	local root
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[[ -n $root ]] || { echo "e2e: no cgroup v2 mount" >&2; return 1; }
	mkdir -p "$root/$1" && echo "$root/$1"
}

# pf_cgroup_down PATH -- remove a cgroup of pf_cgroup_up; processes still in
# it (ours) go back to the root first.
pf_cgroup_down() {
	local cg=$1 pid pids root i
	[[ -d $cg ]] || return 0
	root=$(dirname "$cg")
	# a process may be gone by the time it is moved: never an error here
	# (this runs from EXIT traps, where set -e would cut the cleanup short).
	# The list is read whole before moving: read while moving, the file
	# skipped every other process and the rmdir failed.
	for ((i = 0; i < 20; i++)); do
		pids=$(cat "$cg/cgroup.procs" 2>/dev/null) || break
		[[ -n $pids ]] || break
		for pid in $pids; do
			echo "$pid" >"$root/cgroup.procs" 2>/dev/null || true
		done
		sleep 0.05
	done
	rmdir "$cg" 2>/dev/null || true
}

# pf_in_cgroup PATH CMD... -- become CMD inside cgroup PATH, keeping the
# pid: it execs, so call it only in the background (pf_in_cgroup ... &,
# then $! is CMD's pid) or in a subshell.
pf_in_cgroup() {
	# shellcheck disable=SC2016
	exec bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$@"
}

# ---------------------------------------------------------- counters ----
# pf_stat NAME -- value of one preflightd counter (empty if unknown).
pf_stat() {
	"$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" 2>/dev/null | _pf_field "$1" || true
}
# _pf_field NAME -- NAME's value in `preflightd stats` text on stdin.
_pf_field() { awk -v n="$1" '$1 == n { print $2; exit }'; }
# pf_wait_stat_ge NAME WANT SECONDS -- poll a counter until it is >= WANT.
pf_wait_stat_ge() { pf_until "$3" _pf_stat_ge "$1" "$2"; }
_pf_stat_ge() {
	local v
	v=$(pf_stat "$1")
	[[ $v =~ ^[0-9]+$ ]] && ((v >= $2))
}
# pf_wait_stat NAME WANT SECONDS -- poll a counter until it equals WANT.
pf_wait_stat() { pf_until "$3" _pf_stat_is "$1" "$2"; }
_pf_stat_is() { [[ $(pf_stat "$1") == "$2" ]]; }
# pf_wait_flows WANT SECONDS -- poll active_flows until it equals WANT as
# counted after this call. While a daemon runs, active_flows is its GC's
# count, up to a pass old: it counts only from the second pass that ends
# after the call (the first may have read the table before). With no
# daemon, stats counts the table itself, always current.
pf_wait_flows() { pf_until "$2" _pf_flows_are "$1" "$(pf_stat gc_passes)"; }
# _pf_flows_are WANT P0 -- one stats snapshot: active_flows is WANT, counted
# by a walk or by a GC pass at least two after pass P0.
_pf_flows_are() {
	local out p
	out=$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" 2>/dev/null || true)
	p=$(_pf_field gc_passes <<<"$out")
	[[ $(_pf_field active_flows <<<"$out") == "$1" ]] &&
		{ [[ $out == *"counted: no daemon runs"* ]] || ((${p:-0} >= ${2:-0} + 2)); }
}
pf_stats_dump() {
	"$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" 2>&1 | sed 's/^/      | /' || true
}

# ---------------------------------------------------------- TC hooks ----
# pf_tc_chain in|out -- what runs on a TC hook of the host end, in the
# kernel's order (tcx links, then clsact filters): "tcx ID NAME" and
# "clsact PRIO HANDLE ID NAME" lines (tcxtool chain; bpftool 7.1 and
# iproute2 6.1 do not show tcx).
pf_tc_chain() { "$PF_TCXTOOL" chain --iface "$PF_IF_HOST" --dir "$1"; }
# pf_tc_prog in|out -- id of preflightd's program on that hook, empty if none
pf_tc_prog() {
	pf_tc_chain "$1" | awk '$NF ~ /^pf_tc_(ingress|egress)$/ { print ($1 == "tcx") ? $2 : $4; exit }'
}

# ---------------------------------------------------------- XDP hook ----
# pf_xdp_prog -- "ID NAME MODE" of the XDP program on the host end (MODE:
# xdp for native, xdpgeneric), empty if none
pf_xdp_prog() {
	ip -d link show dev "$PF_IF_HOST" | awk '
		NR == 1 { for (i = 1; i < NF; i++) if ($i ~ /^xdp/) m = $i }
		/prog\/xdp/ { for (i = 1; i < NF; i++) { if ($i == "id") id = $(i + 1)
		                                          if ($i == "name") n = $(i + 1) } }
		END { if (id != "") print id, n, m }'
}

# ------------------------------------------------------ systemd unit ----
PF_UNIT_IN=$PF_ROOT/dist/preflightd@.service.in
# PF_UNIT_SANDBOX=1: every preflightd a script starts through
# pf_start_preflightd or pf_exec_run runs in the unit's sandbox
PF_UNIT_SANDBOX=${PF_UNIT_SANDBOX:-0}

# pf_unit_key KEY -- the values of KEY= in the unit (all lines, joined)
pf_unit_key() { sed -n "s/^$1=//p" "$PF_UNIT_IN" | tr '\n' ' '; }

# pf_unit_sandbox CMD... -- exec CMD in the unit's sandbox, as far as it
# is rebuilt without systemd: its CapabilityBoundingSet (setpriv: nothing
# else, no ambient or inheritable capabilities, no_new_privs),
# ProtectSystem=strict with ProtectKernelTunables (a mount namespace where
# every mount is read-only but the unit's ReadWritePaths and
# RuntimeDirectory), PrivateDevices (a tmpfs /dev with null, zero, full,
# random, urandom), ProcSubset=pid and ProtectProc=invisible (a procfs
# mounted so). Not rebuilt: the seccomp parts (SystemCallFilter,
# MemoryDenyWriteExecute, RestrictAddressFamilies, RestrictNamespaces,
# LockPersonality, RestrictRealtime, RestrictSUIDSGID,
# SystemCallArchitectures), ProtectClock, ProtectHome, PrivateTmp, UMask.
# The caller's pid becomes CMD's (unshare, bash and setpriv exec): call it
# in the background or in $(...). Needs PF_WORK.
pf_unit_sandbox() {
	local caps rw p
	caps=$(pf_unit_key CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ *$//; s/ /,/g')
	rw=/run/$(pf_unit_key RuntimeDirectory)
	for p in $(pf_unit_key ReadWritePaths); do rw+=" ${p#-}"; done
	exec unshare --mount --propagation private -- bash -c '
		set -e
		caps=$1 rw=$2 olddev=$3
		shift 3
		for p in $rw; do mkdir -p "$p"; mount --bind "$p" "$p"; done
		# PrivateDevices: a tmpfs /dev with the pseudo devices only
		mkdir -p "$olddev"
		mount --rbind /dev "$olddev"
		mount -t tmpfs -o mode=0755,nosuid,noexec tmpfs /dev
		for d in null zero full random urandom; do
			touch "/dev/$d"
			mount --bind "$olddev/$d" "/dev/$d"
		done
		umount -l "$olddev"
		# ProtectSystem=strict + ProtectKernelTunables: all read-only but rw
		findmnt -rn -o TARGET | while read -r m; do
			case " $rw " in *" $m "*) continue ;; esac
			case $m in /dev|/dev/*|/proc|/proc/*) continue ;; esac
			mount -o remount,bind,ro "$m" 2>/dev/null || echo "sandbox: $m stays writable" >&2
		done
		# ProcSubset=pid, ProtectProc=invisible
		mount -t proc -o subset=pid,hidepid=invisible proc /proc
		exec setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all \
			--bounding-set=-all,"$caps" -- "$@"
	' _ "$caps" "$rw" "$PF_WORK/olddev.$BASHPID" "$@"
}

# pf_exec_run CMD... -- exec CMD (preflightd, or a wrapper of it such as
# timeout): in the unit's sandbox if PF_UNIT_SANDBOX=1. Call it in the
# background or in $(...).
pf_exec_run() {
	[[ $PF_UNIT_SANDBOX != 1 ]] || pf_unit_sandbox "$@"
	exec "$@"
}

# ----------------------------------------------------------- cleanup ----
PF_CLEANUP_CMDS=()   # pf_on_cleanup's commands, in the order given

# pf_on_cleanup CMD -- one more command (a string, eval'd) for the cleanup
# to run first, before it stops our processes and removes the topology: to
# undo what the script made outside both (a cgroup, a firewall table of the
# host). Call it in the script's own shell, not in a case's subshell (whose
# additions would vanish with it); CMD must cope with nothing to undo. The
# script's exit status is kept whatever CMD returns.
pf_on_cleanup() { PF_CLEANUP_CMDS+=("$1"); }

_pf_cleanup() {
	local rc=$? pid cmd
	trap - EXIT INT TERM
	set +e
	for cmd in "${PF_CLEANUP_CMDS[@]+"${PF_CLEANUP_CMDS[@]}"}"; do
		eval "$cmd"
	done
	for pid in "${PF_BG_PIDS[@]+"${PF_BG_PIDS[@]}"}"; do
		pf_bg_kill "$pid" 3
	done
	pf_topo_down
	if [[ -n $PF_WORK && -d $PF_WORK ]]; then
		if ((PF_KEEP)); then
			# after the summary its line must stay the last one printed
			[[ -n ${PF_SUMMARY_DONE:-} ]] || echo "e2e: logs in $PF_WORK"
		else
			rm -rf "$PF_WORK"
		fi
	fi
	exit "$rc"
}

# pf_install_trap -- always tear down, whatever way the script ends.
pf_install_trap() {
	trap _pf_cleanup EXIT
	trap 'echo "e2e: interrupted" >&2; PF_KEEP=1; exit 130' INT TERM
}

#!/usr/bin/env bash
# bench/run.sh (`make bench`) -- preflightd against nginx, the app and a bare
# XDP floor, side by side in one run, with the same load generator; then
# bench/report.sh turns the numbers into the report.
#
#   bench/run.sh [--kernel-only]
#
# Builds a throw-away topology (scripts/topo.sh through tests/e2e/lib.sh:
# netns "pfb", veth pfb0 <-> pfb1, 198.18.1.1 host / 198.18.1.2 client, a
# native XDP pass program on the client end so XDP_TX frames are delivered;
# PF_NS, PF_IF_HOST, PF_IF_CLIENT, PF_V4_HOST, PF_V4_CLIENT, PF_V6_HOST,
# PF_V6_CLIENT from the environment replace them) and measures, one after
# the other under the same clients running in the client netns
# (bench/measure.sh), each sending the Chromium-like preflight of
# bench/preflight.txt: build/bench/rrlat (bench/rrlat.c) for the latency,
# wrk (bench/preflight.lua) for the throughput and CPU:
#   nginx   Debian's nginx answering preflights (bench/nginx.conf.in: map +
#           add_header ... always; validated with curl first)
#   app     the e2e app server answering its own preflights
#   tc      preflightd --mode tc in front of the app
#   xdp     preflightd --mode xdp in front of the app
#   floor   bench/floor.bpf.c: a fixed 204 bounced with XDP_TX, no parsing
# For each: p50/p99 latency over 1 connection (rrlat: every round trip
# timed in ns; wrk records whole microseconds, too coarse for preflightd's
# 4-5 us), requests/s and machine CPU-us per preflight (/proc/stat busy
# time over the window / completed requests, client included) over 64
# connections. For tc/xdp/floor also the
# in-kernel time (BPF run-time statistics, held on by bench/statsfd.c:
# run_time_ns/run_cnt of the ingress program, and its total run time /
# answered preflights). Before
# that, without traffic (bench/kernel.sh): BPF_PROG_TEST_RUN cost of one
# answer (build/bench/kcost: policies of 10, 1,000 and 100,000 exact
# origins + 50 wildcards + 20 headers, bench/policy.sh; the stages of the
# answer path; requests of ~300 B to 2 KiB, bench/preflight-*.txt; what
# every other segment of a connection on the policy port costs, spliced
# or not), the
# time to check and to load a 100,000-origin policy, the maps' memory, the
# flow table's memory at --max-flows 1048576 and the daemon's GC pass over
# 65,536 and 1,048,576 entries (make bench-gc). --kernel-only measures
# just those (no topology, no traffic; the live rows stay empty). Last,
# the response offload's cost (bench/offload.sh, issue 13: nginx with and
# without the SK_MSG program, in a topology of its own) as the "offload"
# rows (BENCH_OFFLOAD=0 leaves them out: their topology, netns pfbo,
# 198.18.3.0/24, is fixed).
#
# Every run is checked: wrk socket errors, rrlat errors (a stalled or
# unframeable answer ends its run), non-2xx answers, OPTIONS the app
# saw (must be 0 behind preflightd and the floor), answers preflightd or the
# floor counted (must cover every completed request). Problems go to stderr
# and into the CSV and the report, loudly; the exit status is then 1.
#
# Every variant is measured BENCH_ROUNDS times (default 3, even rounds in
# reverse order); a figure is the best of the rounds (other tenants only
# ever make it worse), counts are summed, problems of any round reported.
# Each round is in the CSV too: bench/report.sh computes the ratios to the
# floor and to nginx per round (each round's figure over the reference's in
# that round) and reports their median and range.
#
# Output: BENCH_OUT/latest.csv (every number, "group,variant,metric,value"),
# then bench/report.sh writes BENCH_OUT/latest.md and latest.png from it;
# raw logs in build/bench/run/. Everything created (netns, veth, nginx,
# app, preflightd, floor, XDP programs, the statistics holder) is removed
# or stopped on exit. The kernel.bpf_stats_enabled sysctl is not touched
# (bench/statsfd.c holds the statistics on instead).
#
# Environment: BENCH_DURATION (s, 64-connection runs, default 6),
# BENCH_LAT_DURATION (s, 1-connection runs, default 5), BENCH_CONNS (64),
# BENCH_THREADS (wrk threads, 1), BENCH_KCOST_RUNS (20000), BENCH_ROUNDS (3),
# BENCH_LOAD_TRIES (100k-policy loads timed, best taken; 3), BENCH_OUT
# (bench/results), BENCH_OFFLOAD (1), BENCH_LAT_CHECK (0; 1: wrk at 1
# connection too, right after rrlat, as wrk_p50_us/wrk_p99_us in the CSV and
# a line of the report: the cross-check of the two clients), the
# topology's PF_* (above; PF_METRICS is not used). Everything else it
# creates is named after them (preflightd's pins under
# /sys/fs/bpf/preflightd/$PF_IF_HOST) or lives in build/bench/run/.
# Needs root and `make all e2e-tools bench-tools`.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
WORK=$BUILD/bench/run
OUT=${BENCH_OUT:-$BENCH/results}

# The topology (scripts/topo.sh reads these): the benchmark's own names and
# subnet unless the environment names others (a run on another topology;
# one run at a time per build directory: build/bench/run.lock).
export PF_NS=${PF_NS:-pfb} PF_IF_HOST=${PF_IF_HOST:-pfb0} PF_IF_CLIENT=${PF_IF_CLIENT:-pfb1}
export PF_V4_HOST=${PF_V4_HOST:-198.18.1.1} PF_V4_CLIENT=${PF_V4_CLIENT:-198.18.1.2} PF_V4_PLEN=24
export PF_V6_HOST=${PF_V6_HOST:-2001:db8:1::1} PF_V6_CLIENT=${PF_V6_CLIENT:-2001:db8:1::2} PF_V6_PLEN=64
export PF_XDP_OBJ=$BUILD/tests/e2e/xdp_pass.bpf.o
export PF_BUILD=$BUILD PF_WORK=$WORK PF_KEEP=1
# shellcheck disable=SC2034  # lib.sh's; not the e2e policy: every start names its own
PF_POLICY=-
# shellcheck source=../tests/e2e/lib.sh
source "$ROOT/tests/e2e/lib.sh"
# shellcheck source=policy.sh
source "$BENCH/policy.sh"
# shellcheck source=cpu.sh
source "$BENCH/cpu.sh"
# shellcheck source=measure.sh
source "$BENCH/measure.sh"
# shellcheck source=kernel.sh
source "$BENCH/kernel.sh"

PFD=$PF_PREFLIGHTD
FLOORCTL=$BUILD/bench/floorctl
KCOST=$BUILD/bench/kcost
STATSFD=$BUILD/bench/statsfd
RRLAT=$BUILD/bench/rrlat
VERIFSTATS=$BUILD/bench/verifstats
TCXTOOL=$PF_E2E_BIN/tcxtool

# shellcheck disable=SC2034  # settings, used by the sourced parts
{
	DURATION=${BENCH_DURATION:-6}
	LAT_DURATION=${BENCH_LAT_DURATION:-5}
	CONNS=${BENCH_CONNS:-64}
	THREADS=${BENCH_THREADS:-1}
	KCOST_RUNS=${BENCH_KCOST_RUNS:-20000}
	ROUNDS=${BENCH_ROUNDS:-3}
	OFFLOAD=${BENCH_OFFLOAD:-1}
	LAT_CHECK=${BENCH_LAT_CHECK:-0}
	LOAD_TRIES=${BENCH_LOAD_TRIES:-3}
	ROUND=1
	KERNEL_ONLY=0

	PORT=8080
	URL=http://$PF_V4_HOST:$PORT/
	ORIGIN_OK=https://app.example.com
	ORIGIN_BAD=https://evil.example
	VARIANTS=(nginx app tc xdp floor)
}

T0=$(date +%s)
PROBLEMS=()          # loud problems of this run (also on stderr)
OUT_FD=1 ERR_FD=2    # the script's own stdout/stderr (see bench_cleanup)
declare -A R         # R[variant.metric] = value (kc.*, pol.*: no traffic)

# ------------------------------------------------------------- logging ----
log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# problem VARIANT TEXT -- a loud, recorded problem with a run.
problem() {
	PROBLEMS+=("$1: $2")
	printf '\n!!!!! bench: PROBLEM in %s: %s !!!!!\n\n' "$1" "$2" >&2
}

# calc EXPR [FMT] -- awk arithmetic, printed with %.6g unless FMT given.
calc() { awk "BEGIN { v = $1; printf \"${2:-%.6g}\", v }"; }

# ratio A B -- A/B with 2 decimals ("-" if either is missing/zero).
ratio() {
	[[ -n ${1:-} && -n ${2:-} && $1 != - && $2 != - ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# On any exit: our processes (lib.sh's list), whatever a killed preflightd
# left (filters, pins), then lib.sh's cleanup (topology; the
# work directory is kept: PF_KEEP=1).
bench_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	set +e
	# a signal's trap runs inside whatever redirection was active (wrk_run's
	# log file): back to the script's own stdout/stderr
	exec 1>&"$OUT_FD" 2>&"$ERR_FD"
	for pid in "${PF_BG_PIDS[@]+"${PF_BG_PIDS[@]}"}"; do
		pf_bg_kill "$pid" 15
	done
	if ip link show dev "$PF_IF_HOST" >/dev/null 2>&1; then
		"$PFD" detach --iface "$PF_IF_HOST" >/dev/null 2>&1
	fi
	((rc == 0)) || echo "bench: failed (rc=$rc); logs in $WORK" >&2
	# shellcheck disable=SC2034  # lib.sh's: no "logs in" line of its own
	PF_SUMMARY_DONE=1
	(exit "$rc")
	_pf_cleanup
}

# ------------------------------------------------------------- rounds ----
# How the figures of several rounds combine: the best of the rounds for
# times and costs (other tenants only ever add to them), the sum for counts.
AGG_MIN=(p50_us p90_us p99_us mean_us wrk_p50_us wrk_p99_us cpu_us own_cpu_us others_cpu_pct
	k_ns_per_run k_ns_per_answer k_all_ns_per_answer)
AGG_MAX=(rps)
AGG_SUM=(requests lat_requests errors non2xx app_options answered)
AGG_LAST=(cpu_util_pct k_runs_per_req)
declare -A RR         # RR[round.variant.metric]

# save_round -- move this round's R[variant.metric] into RR.
save_round() {
	local v k
	for v in "${VARIANTS[@]}"; do
		for k in "${AGG_MIN[@]}" "${AGG_MAX[@]}" "${AGG_SUM[@]}" "${AGG_LAST[@]}"; do
			if [[ -n ${R[$v.$k]:-} ]]; then
				RR[$ROUND.$v.$k]=${R[$v.$k]}
				unset "R[$v.$k]"
			fi
		done
	done
}

# aggregate -- R[variant.metric] from the rounds in RR.
aggregate() {
	local v k r vals
	for v in "${VARIANTS[@]}"; do
		for k in "${AGG_MIN[@]}" "${AGG_MAX[@]}" "${AGG_SUM[@]}" "${AGG_LAST[@]}"; do
			vals=()
			for ((r = 1; r <= ROUNDS; r++)); do
				[[ -n ${RR[$r.$v.$k]:-} && ${RR[$r.$v.$k]} != - ]] && vals+=("${RR[$r.$v.$k]}")
			done
			((${#vals[@]})) || continue
			if [[ " ${AGG_MIN[*]} " == *" $k "* ]]; then
				R[$v.$k]=$(printf '%s\n' "${vals[@]}" | sort -g | head -n1)
			elif [[ " ${AGG_MAX[*]} " == *" $k "* ]]; then
				R[$v.$k]=$(printf '%s\n' "${vals[@]}" | sort -g | tail -n1)
			elif [[ " ${AGG_SUM[*]} " == *" $k "* ]]; then
				R[$v.$k]=$(printf '%s\n' "${vals[@]}" | awk '{ s += $1 } END { print s + 0 }')
			else
				R[$v.$k]=${vals[-1]}
			fi
		done
	done
	[[ -z ${R[nginx.requests]:-} ]] || R[nginx.app_options]=-
}

# ---------------------------------------------------------------- CSV ----
# csv_q TEXT -- TEXT as one CSV field (quoted, inner quotes doubled).
csv_q() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }

# write_csv FILE -- every number of the run; bench/report.sh reads it.
write_csv() {
	local f=$1 v k p
	{
		echo "group,variant,metric,value"
		echo "meta,-,date_utc,$(csv_q "$(date -u '+%Y-%m-%d %H:%M UTC')")"
		echo "meta,-,machine,$(csv_q "$MACHINE")"
		echo "meta,-,seconds,$(($(date +%s) - T0))"
		echo "meta,-,kernel_only,$KERNEL_ONLY"
		echo "meta,-,lat_client,rrlat"
		for k in DURATION LAT_DURATION CONNS THREADS KCOST_RUNS ROUNDS LOAD_TRIES; do
			echo "meta,-,${k,,},${!k}"
		done
		for p in "${PROBLEMS[@]+"${PROBLEMS[@]}"}"; do
			echo "problem,${p%%: *},text,$(csv_q "${p#*: }")"
		done
		for v in "${VARIANTS[@]}"; do
			for k in p50_us p90_us p99_us mean_us wrk_p50_us wrk_p99_us rps cpu_us own_cpu_us cpu_util_pct \
				others_cpu_pct requests lat_requests errors non2xx app_options answered \
				k_ns_per_run k_runs_per_req k_ns_per_answer k_all_ns_per_answer; do
				[[ -n ${R[$v.$k]:-} ]] && echo "live,$v,$k,${R[$v.$k]}"
			done
		done
		for k in $(printf '%s\n' "${!RR[@]}" | sort -t. -k1,1n -k2,2 -k3,3); do
			echo "round${k%%.*},$(cut -d. -f2 <<<"$k"),$(cut -d. -f3- <<<"$k"),${RR[$k]}"
		done
		for k in $(printf '%s\n' "${!R[@]}" | sed -n 's/^kc\.//p' | sort); do
			echo "testrun,$k,p50_ns,${R[kc.$k]}"
		done
		for k in $(printf '%s\n' "${!R[@]}" | sed -n 's/^pol\.//p' | sort); do
			echo "policy,100k,$k,${R[pol.$k]}"
		done
		for k in $(printf '%s\n' "${!R[@]}" | sed -n 's/^gc\.//p' | sort); do
			echo "gc,$k,value,${R[gc.$k]}"
		done
		for k in $(printf '%s\n' "${!R[@]}" | sed -n 's/^vf\.//p' | sort); do
			echo "verifier,$k,value,${R[vf.$k]}"
		done
		[[ ! -r $WORK/offload.csv ]] || tail -n +2 "$WORK/offload.csv" # its header
	} >"$f"
}

# bench_offload -- bench/offload.sh in its own topology and work directory;
# its figures (medians over its rounds, with the per-round paired ratios)
# become the CSV's "offload" lines.
bench_offload() {
	log "offload: nginx without and with the SK_MSG response offload (bench/offload.sh)"
	PF_NS=pfbo PF_IF_HOST=pfbo0 PF_IF_CLIENT=pfbo1 \
		PF_V4_HOST=198.18.3.1 PF_V4_CLIENT=198.18.3.2 \
		PF_V6_HOST=2001:db8:3::1 PF_V6_CLIENT=2001:db8:3::2 PF_WORK=$WORK/offload \
		timeout -k 10 900 bash "$BENCH/offload.sh" --bench-csv "$WORK/offload.csv" \
		>"$WORK/offload.log" 2>&1 ||
		problem offload "bench/offload.sh failed: $(tail -n 3 "$WORK/offload.log")"
}

# --------------------------------------------------------------- main ----
main() {
	local t order
	case ${1:-} in
	--kernel-only) KERNEL_ONLY=1 ;;
	'') ;;
	*) pf_usage ;;
	esac
	pf_require_root
	for t in wrk nginx gnuplot jq bpftool curl; do
		command -v "$t" >/dev/null || die "$t missing (bash scripts/deps.sh bench)"
	done
	for t in "$PFD" "$PF_APPSERVER" "$FLOORCTL" "$KCOST" "$STATSFD" "$RRLAT" "$VERIFSTATS" "$TCXTOOL" \
		"$PF_XDP_OBJ"; do
		[[ -e $t ]] || die "$t missing (make all e2e-tools bench-tools)"
	done
	# one run per build directory: a second would wipe this one's $WORK (before the
	# trap: its cleanup would tear down the running one's topology)
	mkdir -p "$BUILD/bench"
	exec {LOCK_FD}>"$BUILD/bench/run.lock"
	flock -n "$LOCK_FD" || die "another make bench is running in $BUILD (build/bench/run.lock)"
	pf_ensure_bpffs
	exec {OUT_FD}>&1 {ERR_FD}>&2
	trap bench_cleanup EXIT
	trap 'echo "bench: interrupted" >&"$ERR_FD"; exit 130' INT TERM

	rm -rf "$WORK"
	mkdir -p "$WORK" "$OUT"
	MACHINE="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, Linux $(uname -r)"
	grep -qw hypervisor /proc/cpuinfo && MACHINE+=" (virtual machine)"
	# A return-thunk mitigation (AMD's SRSO "Safe RET") makes every return --
	# each BPF helper, BPF-to-BPF call and bpf_loop callback -- several times
	# dearer: in-kernel figures of machines with and without it differ ~2-3x.
	srso=$(cat /sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow 2>/dev/null || true)
	[[ $srso == Mitigation:* ]] && MACHINE+=", SRSO ${srso#Mitigation: }"
	log "$MACHINE; logs in $WORK"

	POL10=$WORK/pol-10.yaml POL1000=$WORK/pol-1000.yaml POL100K=$WORK/pol-100000.yaml
	bench_gen_policy 10 "$POL10"
	bench_gen_policy 1000 "$POL1000"
	bench_gen_policy 100000 "$POL100K"

	# test runs first, before run-time statistics are on (they would time
	# every run twice)
	bench_kcost
	bench_gc
	bench_verif

	if ((!KERNEL_ONLY)); then
		log "topology: netns $PF_NS, $PF_IF_HOST ($PF_V4_HOST) <-> $PF_IF_CLIENT ($PF_V4_CLIENT), XDP pass on $PF_IF_CLIENT"
		pf_topo_up --xdp-peer >"$WORK/topo.log" 2>&1 ||
			die "topology: $(tail -n 3 "$WORK/topo.log")"
		bench_policy_load

		bench_stats_on
		for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
			# odd rounds in table order, even rounds reversed (drift cancels)
			order=("${VARIANTS[@]}")
			((ROUND % 2)) || order=(floor xdp tc app nginx)
			log "round $ROUND of $ROUNDS: ${order[*]}"
			for t in "${order[@]}"; do
				case $t in
				tc | xdp) bench_run_pfd "$t" ;;
				*) "bench_run_$t" ;;
				esac
			done
			save_round
		done
		aggregate
		bench_stats_off
		((!OFFLOAD)) || bench_offload
	fi

	write_csv "$WORK/latest.csv"
	cp "$WORK/latest.csv" "$OUT/"
	bash "$BENCH/report.sh" "$OUT/latest.csv" || problem report "bench/report.sh failed"
	log "results: $OUT/latest.{csv,md,png}; $(($(date +%s) - T0)) s"
	if ((${#PROBLEMS[@]})); then
		printf '\nbench: %d PROBLEM(S):\n' "${#PROBLEMS[@]}" >&2
		printf '  !! %s\n' "${PROBLEMS[@]}" >&2
		exit 1
	fi
}

main "$@"

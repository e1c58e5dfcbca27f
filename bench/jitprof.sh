#!/usr/bin/env bash
# bench/jitprof.sh -- where the answer's in-kernel time goes, by source
# line (issue 11: the stage table of `make bench` says which stage, this
# says which lines). `kcost` answers the bench request with the bench
# policy (1,000 origins) in TC and XDP under `perf record -g` (cpu-clock,
# every CPU: this VM has no PMU counters); each sample that kcost spent in
# a preflightd program is charged to the source line whose JIT code ran
# it, or that called the helper or kernel function it was in
# (bench/jitlines.c: the programs' jited_line_info; bench/jitprof.py).
#
#   bash bench/jitprof.sh [--runs N] [--top N] [--request FILE] [--out FILE]
#   bash bench/jitprof.sh --offload [--seconds S] [--top N] [--out FILE]
#
# --runs: answers per series (default 1000000: about 1 s of program time
# each, 10,000 samples), --top: lines
# per program (25), --request (bench/preflight.txt), --out
# (bench/results/profile.md, with --offload profile-offload.md; "-":
# stdout). --offload (issue 13): the response offload live instead, no
# test run can drive an SK_MSG program -- bench/offload.sh's small JSON
# at 8 connections (its "offload" variant, one round, on the e2e topology
# the environment names: tests/e2e/lib.sh), sampled for S seconds
# (default 6) once it runs; every process's samples are charged (the
# programs run in nginx's sends and in softirq), to the SK_MSG program
# and to TC ingress (with the request recorder it tail-calls, a program
# of its own: not charged). Root; needs `make bench-tools` and perf
# (--offload: also `make all e2e-tools`, wrk and nginx). Sampling skews what it measures a little (the interrupt lands
# on the instruction after a slow one; with interrupts off -- the flow
# entry's bpf_spin_lock, on kernels before 6.15 (include/pf_structs.h) --
# on the unlock, which re-enables them): read shares, not exact costs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUNS=1000000 TOP=25 REQ=$ROOT/bench/preflight.txt OUT='' OFFLOAD=0 SECONDS_=6
while (($#)); do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--top) TOP=$2; shift 2 ;;
	--request) REQ=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--offload) OFFLOAD=1; shift ;;
	--seconds) SECONDS_=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--top N] [--request FILE] [--out FILE]" \
		"| --offload [--seconds S] [--top N] [--out FILE]" >&2; exit 2 ;;
	esac
done
if [[ -z $OUT ]]; then
	OUT=$ROOT/bench/results/profile.md
	((OFFLOAD)) && OUT=$ROOT/bench/results/profile-offload.md
fi
command -v perf >/dev/null || { echo "jitprof: perf not found (apt-get install linux-perf)" >&2; exit 1; }
[[ -x $BUILD/bench/kcost && -x $BUILD/bench/jitlines ]] ||
	{ echo "jitprof: build the tools first: make bench-tools" >&2; exit 1; }

WORK=$(mktemp -d /tmp/pf-jitprof.XXXXXX)
KALLSYMS=$(sysctl -n net.core.bpf_jit_kallsyms)
cleanup() {
	sysctl -qw net.core.bpf_jit_kallsyms="$KALLSYMS" || true
	rm -rf "$WORK"
}
trap cleanup EXIT
# (the JIT images' symbols, for perf to tell which program a sample is in)
sysctl -qw net.core.bpf_jit_kallsyms=1

# newest_prog NAME -- id of the newest loaded program named NAME
newest_prog() {
	bpftool -j prog show | jq -r --arg n "$1" '[.[] | select(.name == $n) | .id] | max // empty'
}

# perf_record CMD... -- sample every CPU while CMD runs
perf_record() {
	perf record -q -g -e cpu-clock -F 10000 -a -o "$WORK/perf.data" -- "$@"
}

# charge ARG... -- the samples by source line (bench/jitprof.py ARG...)
charge() {
	perf script -i "$WORK/perf.data" -F comm,ip,sym 2>/dev/null |
		python3 "$ROOT/bench/jitprof.py" --top "$TOP" "$@"
}

# --offload: the live profile (see the top); else kcost's
if ((OFFLOAD)); then
	before=$(newest_prog pf_ofl_msg)
	bash "$ROOT/bench/offload.sh" --variants offload --targets "json8:$((SECONDS_ + 8))" \
		--rounds 1 >"$WORK/offload.out" 2>&1 &
	OB=$!
	msg=
	for ((i = 0; i < 600; i++)); do
		msg=$(newest_prog pf_ofl_msg)
		[[ -n $msg && $msg != "$before" ]] && break
		msg=
		kill -0 "$OB" 2>/dev/null || break
		sleep 0.05
	done
	if [[ -z $msg ]]; then
		wait "$OB" || true
		cat "$WORK/offload.out" >&2
		echo "jitprof: the offload's programs did not load" >&2
		exit 1
	fi
	tc=$(newest_prog pf_tc_ingress)
	"$BUILD/bench/jitlines" "$msg" >"$WORK/msg.lines"
	"$BUILD/bench/jitlines" "$tc" >"$WORK/tc.lines"
	# past the start's checks and wrk's warm-up: in the 8-connection run
	sleep 5
	perf_record sleep "$SECONDS_"
	wait "$OB" || { cat "$WORK/offload.out" >&2; echo "jitprof: bench/offload.sh failed" >&2; exit 1; }
	round=$(grep -m1 'bench: round' "$WORK/offload.out" || true)
	{
		echo "# Where the response offload's in-kernel time goes, by source line"
		echo
		echo "_Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r); \`bench/jitprof.sh --offload\`._"
		echo
		echo "\`bench/offload.sh\`'s small JSON at 8 connections (the offload variant: nginx" \
			"without CORS configuration, \`--cgroup\` with \`responses: true\`), sampled live for" \
			"$SECONDS_ s by \`perf record -g -e cpu-clock -F 10000 -a\`, every process's samples;" \
			"charged as in [profile.md](profile.md). The request recorder TC ingress tail-calls" \
			"is a program of its own, not charged to TC ingress. bpf_stats per response in this" \
			"run: SK_MSG $(sed -n 's/.*msg_ns=\([0-9]*\).*/\1/p' <<<"$round") ns, TC ingress" \
			"$(sed -n 's/.*tc_in_ns=\([0-9]*\).*/\1/p' <<<"$round") ns (its figure includes the recorder)."
		echo
		charge pf_ofl_msg="$WORK/msg.lines" pf_tc_ingress="$WORK/tc.lines"
	} >"$WORK/profile.md"
else
	PORT=8080
	# shellcheck source=bench/policy.sh
	source "$ROOT/bench/policy.sh"
	bench_gen_policy 1000 "$WORK/pol-1000.yaml"
	before_tc=$(newest_prog pf_tc_ingress) before_xdp=$(newest_prog pf_xdp_ingress)
	perf_record "$BUILD/bench/kcost" --request "$REQ" --runs "$RUNS" "$WORK/pol-1000.yaml" \
		>"$WORK/kcost.out" 2>&1 &
	PERF=$!
	# kcost's programs, once loaded (both stay loaded while the series run):
	# their JIT layout while they exist
	for ((i = 0; i < 300; i++)); do
		tc=$(newest_prog pf_tc_ingress) xdp=$(newest_prog pf_xdp_ingress)
		[[ -n $tc && $tc != "$before_tc" && -n $xdp && $xdp != "$before_xdp" ]] && break
		sleep 0.05
	done
	"$BUILD/bench/jitlines" "$tc" >"$WORK/tc.lines"
	"$BUILD/bench/jitlines" "$xdp" >"$WORK/xdp.lines"
	wait "$PERF"
	sed -n 's/^KCOST \({"what":"\(tc\|xdp\)"\)/\1/p' "$WORK/kcost.out" >"$WORK/kcost.jsonl"

	{
		echo "# Where the answer's in-kernel time goes, by source line"
		echo
		echo "_Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -r); \`bench/jitprof.sh\` (\`make bench-profile\`)._"
		echo
		echo "\`kcost\` ($RUNS answers per series, BPF_PROG_TEST_RUN) answering \`${REQ#"$ROOT"/}\`" \
			"with the bench policy (1,000 exact origins + 50 wildcards + 20 headers), sampled by" \
			"\`perf record -g -e cpu-clock -F 10000 -a\`. Each sample kcost spent in a preflightd" \
			"program is charged to the source line whose JIT code it was in (\"JIT code\"), or" \
			"whose call it was under (\"in calls\": helpers, map look-ups and what they run)." \
			"Shares of the program's samples; the line is that of the innermost inlined code" \
			"(\`static inline\` helpers of include/ and bpf/ show as themselves). The timer" \
			"interrupt cannot land while interrupts are off: on a kernel before 6.15, what runs" \
			"under the flow entry's \`bpf_spin_lock\` is charged to \`bpf_spin_unlock\`, which" \
			"turns them on again (6.15+: \`bpf_res_spin_lock\`, interrupts left on)." \
			"p50 per answer in this run: $(jq -r '"\(.what) \(.p50_ns) ns"' "$WORK/kcost.jsonl" |
				paste -sd, - | sed 's/,/, /g')."
		echo
		charge --comm kcost pf_tc_ingress="$WORK/tc.lines" pf_xdp_ingress="$WORK/xdp.lines"
	} >"$WORK/profile.md"
fi
if [[ $OUT == - ]]; then cat "$WORK/profile.md"; else cp "$WORK/profile.md" "$OUT"; echo "jitprof: $OUT"; fi

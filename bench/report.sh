#!/usr/bin/env bash
# bench/report.sh (`make bench-report`) -- the benchmark's report from its
# numbers: reads the CSV bench/run.sh wrote and writes, next to it,
# latest.md (tables, the stage profile, every target as MET/MISSED) and
# latest.png (gnuplot). No root, no traffic: a change to the report is
# checked in a second on the last run's numbers.
#
#   bench/report.sh [CSV]        (default bench/results/latest.csv)
#   bench/report.sh --offload CSV   only the response offload's table and
#                                   target, to stdout (bench/offload.sh)
#
# The CSV: "group,variant,metric,value" lines; groups meta (how the run was
# made), problem (variant, text), live (the best of the rounds), round<N>
# (each round), testrun (kcost p50 ns, variant = series key), policy (the
# 100,000-origin policy's times and memory), gc (the GC pass, gccost),
# verifier (verifstats: processed insns and ms per program),
# offload (bench/offload.sh: variant.target, metric). A missing figure is reported
# as "-" / NOT MEASURED, never guessed. The live ratios to the floor and to
# nginx (columns and targets) are the median of the per-round ratios, from
# the round<N> lines (a CSV without them: the ratio of the best figures);
# meta lat_client says which client measured the latency (rrlat: all its
# ns, shown with 2 decimals; absent: wrk, whole µs).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OFFLOAD_ONLY=0
[[ ${1:-} == --offload ]] && { OFFLOAD_ONLY=1; shift; }
CSV=${1:-$BENCH/results/latest.csv}
[[ -r $CSV ]] || { echo "report: cannot read $CSV" >&2; exit 1; }
DIR=$(cd "$(dirname "$CSV")" && pwd)
VARIANTS=(nginx app tc xdp floor)

declare -A R RR M    # live/testrun/policy figures; per round; meta
PROBLEMS=()

# load_csv -- fill R, RR, M and PROBLEMS from $CSV (a quoted value may hold
# commas; "" inside it is a quote).
load_csv() {
	local g v k val
	while IFS=$'\t' read -r g v k val; do
		case $g in
		meta) M[$k]=$val ;;
		problem) PROBLEMS+=("$v: $val") ;;
		live) R[$v.$k]=$val ;;
		round*) RR[${g#round}.$v.$k]=$val ;;
		testrun) R[kc.$v]=$val ;;
		policy) R[pol.$k]=$val ;;
		gc) R[gc.$v]=$val ;;
		verifier) R[vf.$v]=$val ;;
		offload) R[ofl.${v/#floor./skpass.}.$k]=$val ;;  # floor: its old name
		esac
	done < <(awk 'NR > 1 {
		line = $0
		for (i = 1; i <= 3; i++) { p = index(line, ","); f[i] = substr(line, 1, p - 1); line = substr(line, p + 1) }
		if (line ~ /^".*"$/) { line = substr(line, 2, length(line) - 2); gsub(/""/, "\"", line) }
		printf "%s\t%s\t%s\t%s\n", f[1], f[2], f[3], line
	}' "$CSV")
}

# ratio A B -- A/B with 2 decimals ("-" if either is missing/zero).
ratio() {
	[[ -n ${1:-} && -n ${2:-} && $1 != - && $2 != - ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# minus A B -- A-B, or "-".
minus() {
	[[ -n ${1:-} && -n ${2:-} && $1 != - && $2 != - ]] || { echo -; return; }
	echo $(($1 - $2))
}

# target NAME VALUE OP LIMIT UNIT [NOTE] -- one MET/MISSED line: VALUE OP
# LIMIT with OP "<=" or ">="; NOTE appended.
target() {
	local name=$1 val=$2 op=$3 lim=$4 unit=${5:-} note=${6:-}
	if [[ -z $val || $val == - ]]; then
		printf -- '- %s: **NOT MEASURED**\n' "$name"
		return
	fi
	awk -v n="$name" -v v="$val" -v op="$op" -v l="$lim" -v u="$unit" -v note="$note" 'BEGIN {
		met = op == "<=" ? v <= l : v >= l
		sym = op == "<=" ? "≤" : "≥"
		if (met) printf "- %s: **MET** (%s%s; limit %s %s%s)%s\n", n, v, u, sym, l, u, note
		else printf "- %s: **MISSED** (%s%s; limit %s %s%s; %.2f× the limit)%s\n", n, v, u, sym, l, u, v / l, note
	}'
}

# own_verdict RATIO OP LIMIT -- "; by own CPU: 0.52× (MET)".
own_verdict() {
	[[ -n $1 && $1 != - ]] || return 0
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		met = op == "<=" ? v <= l : v >= l
		printf "; by own CPU: %s× (%s)", v, met ? "MET" : "MISSED"
	}'
}

short() {
	case $1 in
	tc | xdp) echo "${1^^}" ;;
	*) echo "$1" ;;
	esac
}

label() {
	case $1 in
	nginx) echo "nginx (map + add_header always)" ;;
	app) echo "app answers its own" ;;
	tc) echo "preflightd TC" ;;
	xdp) echo "preflightd XDP" ;;
	floor) echo "floor (bare XDP bounce)" ;;
	esac
}

status_of() {
	local v=$1 p s=
	[[ -n ${R[$v.requests]:-} ]] || { echo -; return; }
	for p in "${PROBLEMS[@]+"${PROBLEMS[@]}"}"; do
		[[ $p == "$v: "* ]] && s+="**${p#"$v: "}**; "
	done
	[[ -n $s ]] && echo "${s%; }" || echo ok
}

# per_round METRIC [FMT] -- "nginx a/b, app c/d, ..." from the rounds
# (each figure printed with FMT if given).
per_round() {
	local v r out=() vals
	for v in "${VARIANTS[@]}"; do
		vals=()
		for ((r = 1; r <= ${M[rounds]:-0}; r++)); do
			vals+=("$(num "${RR[$r.$v.$1]:-}" "${2:-}")")
		done
		out+=("$(short "$v") $(IFS=/; echo "${vals[*]}")")
	done
	list "${out[@]}"
}

# list ITEMS... -- "a, b, c".
list() {
	local IFS=, joined
	joined="$*"
	echo "${joined//,/, }"
}

# flat MODE -- max/min of the 10 / 1,000 / 100,000-origin test runs.
flat() {
	local a=${R[kc.${1}10]:-} b=${R[kc.${1}1000]:-} c=${R[kc.${1}100000]:-}
	[[ -n $a && -n $b && -n $c ]] || { echo -; return; }
	ratio "$(printf '%s\n' "$a" "$b" "$c" | sort -n | tail -n1)" \
		"$(printf '%s\n' "$a" "$b" "$c" | sort -n | head -n1)"
}

# num VALUE [FMT] -- VALUE printed with FMT (as it is without one), "-" if
# missing.
num() {
	[[ -n ${1:-} && $1 != - ]] || { echo -; return; }
	[[ -n ${2:-} ]] || { echo "$1"; return; }
	awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'
}

# lat_fmt -- the latency columns' format: rrlat's figures have all their
# ns (µs with 2 decimals shown), wrk's (a CSV before rrlat) whole µs.
lat_fmt() { if [[ ${M[lat_client]:-wrk} == rrlat ]]; then echo %.2f; fi; }

# paired VARIANT REF METRIC -- "median lo hi n" of the per-round ratios of
# METRIC, VARIANT's over REF's in the same round (other tenants move whole
# rounds: a ratio within a round is steadier than one of two bests);
# nothing without a round that has both.
paired() {
	local r a b
	for ((r = 1; r <= ${M[rounds]:-0}; r++)); do
		a=${RR[$r.$1.$3]:-} b=${RR[$r.$2.$3]:-}
		if [[ -n $a && -n $b && $a != - && $b != - ]]; then echo "$a $b"; fi
	done | awk '$1 + 0 > 0 && $2 + 0 > 0 { q[n++] = $1 / $2 }  # a failed run (0): no ratio
		END {
			if (!n) exit
			for (i = 1; i < n; i++)  # insertion sort: a few rounds
				for (j = i; j > 0 && q[j - 1] > q[j]; j--) { t = q[j]; q[j] = q[j - 1]; q[j - 1] = t }
			m = n % 2 ? q[(n - 1) / 2] : (q[n / 2 - 1] + q[n / 2]) / 2
			printf "%.4f %.4f %.4f %d\n", m, q[0], q[n - 1], n
		}'
}

# xratio VARIANT REF METRIC -- the median of the paired per-round ratios
# with 2 decimals; a CSV without rounds: the ratio of the best figures.
xratio() { xratio_of "$(paired "$@")" "$@"; }

# xratio_of PAIRED VARIANT REF METRIC -- xratio with paired's output given.
xratio_of() {
	[[ -n $1 ]] || { ratio "${R[$2.$4]:-}" "${R[$3.$4]:-}"; return; }
	awk -v m="${1%% *}" 'BEGIN { printf "%.2f", m }'
}

# range_note LO HI N OP LIMIT -- "; median of N per-round ratios, range
# LO-HI: " and whether every round, none or some met VALUE OP LIMIT, on
# LO and HI rounded to 2 decimals as the verdict's median is.
range_note() {
	awk -v lo="$1" -v hi="$2" -v n="$3" -v op="$4" -v l="$5" 'BEGIN {
		lo = sprintf("%.2f", lo) + 0; hi = sprintf("%.2f", hi) + 0
		all = op == "<=" ? hi <= l : lo >= l
		none = op == "<=" ? lo > l : hi < l
		printf "; median of %s per-round ratios, range %.2f-%.2f: %s", n, lo, hi,
			all ? "every round met it" : none ? "no round met it" : "rounds on both sides of the limit"
	}'
}

# xtarget NAME VARIANT REF METRIC OP LIMIT [NOTE] -- target() on the paired
# ratio VARIANT/REF of METRIC, with the rounds' range and the ratio of the
# best figures (what the verdict was on before the paired ratios).
xtarget() {
	local p lo hi n note=
	p=$(paired "$2" "$3" "$4")
	if [[ -n $p ]]; then
		read -r _ lo hi n <<<"$p"
		((n < 2)) || note=$(range_note "$lo" "$hi" "$n" "$5" "$6")
		note+="; best figures' ratio $(ratio "${R[$2.$4]:-}" "${R[$3.$4]:-}")×"
	fi
	target "$1" "$(xratio_of "$p" "$2" "$3" "$4")" "$5" "$6" "×" "$note${7:-}"
}

mib() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# lat_check -- with BENCH_LAT_CHECK=1's figures: wrk's 1-connection p50
# and p99 beside rrlat's, per variant (the two clients' cross-check).
lat_check() {
	local v lf p50=() p99=()
	[[ -n ${R[floor.wrk_p50_us]:-} ]] || return 0
	lf=$(lat_fmt)
	for v in "${VARIANTS[@]}"; do
		p50+=("$(short "$v") ${R[$v.wrk_p50_us]:--} / $(num "${R[$v.p50_us]:-}" "$lf")")
		p99+=("$(short "$v") ${R[$v.wrk_p99_us]:--} / $(num "${R[$v.p99_us]:-}" "$lf")")
	done
	echo "Cross-check of the latency clients (BENCH_LAT_CHECK=1: wrk at 1 connection for as long, right after rrlat, on the same target; wrk records whole µs), best of the rounds, wrk / rrlat: p50 µs $(list "${p50[@]}"); p99 µs $(list "${p99[@]}")."
	echo
}

write_live() {
	local v lf lat
	lf=$(lat_fmt)
	if [[ ${M[lat_client]:-wrk} == rrlat ]]; then
		lat="\`build/bench/rrlat\` (\`bench/rrlat.c\`: one keep-alive connection, closed loop, each round trip timed in ns with CLOCK_MONOTONIC, percentiles over all of them; wrk records whole µs)"
	else
		lat="wrk (whole µs)"
	fi
	echo "Same clients for every row, run in a client netns over a veth, both sending the Chromium-like preflight of \`bench/preflight.txt\` (${R[kc.req_len]:-?} bytes). Latency: 1 connection, ${M[lat_duration]:-?} s, measured by $lat. Throughput and CPU: wrk (\`bench/preflight.lua\`), ${M[conns]:-?} connections, ${M[duration]:-?} s, ${M[threads]:-?} wrk thread. ${M[rounds]:-?} rounds (even ones in reverse order); each figure is the best of the rounds, counts are summed (every round is in the CSV); each × floor and × nginx column is the median of the per-round ratios (a round's figure over the floor's or nginx's in the same round). Policy: 1,000 exact origins + 50 wildcards + 20 headers (nginx: the same origins in a \`map\`)."
	echo
	echo "| variant | p50 µs | p99 µs | req/s | CPU µs/preflight | own CPU µs | p50 × floor | req/s × floor | req/s × nginx | CPU × floor | CPU × nginx | in-kernel ns/answer | checks |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for v in "${VARIANTS[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$v")" \
			"$(num "${R[$v.p50_us]:-}" "$lf")" "$(num "${R[$v.p99_us]:-}" "$lf")" "${R[$v.rps]:--}" \
			"${R[$v.cpu_us]:--}" "${R[$v.own_cpu_us]:--}" "$(xratio "$v" floor p50_us)" \
			"$(xratio "$v" floor rps)" "$(xratio "$v" nginx rps)" \
			"$(xratio "$v" floor cpu_us)" "$(xratio "$v" nginx cpu_us)" \
			"${R[$v.k_ns_per_answer]:--}" "$(status_of "$v")"
	done
	echo
	echo "Checks per row: curl preflight headers (nginx also with a disallowed origin: no CORS headers), zero wrk socket errors, no rrlat error (a stalled or unframeable answer ends its run) and zero non-2xx answers, OPTIONS seen by the app (app: ${R[app.app_options]:-?}; behind preflightd TC/XDP and the floor: ${R[tc.app_options]:-?}/${R[xdp.app_options]:-?}/${R[floor.app_options]:-?}, must be 0), answers counted by preflightd (TC ${R[tc.answered]:-?}, XDP ${R[xdp.answered]:-?}) and the floor (${R[floor.answered]:-?})."
	echo
	echo "CPU µs/preflight: the machine's busy time (user + nice + system + irq + softirq of all CPUs, /proc/stat) during the ${M[conns]:-?}-connection window divided by the completed requests; it includes the client and whatever else ran on the machine. Own CPU µs: the run time (/proc/PID/stat, getrusage) of this benchmark's own processes -- wrk, the server, ksoftirqd -- per request, which other tenants cannot move. Other tenants' processes used at least $(for v in "${VARIANTS[@]}"; do printf '%s %s %%, ' "$(short "$v")" "${R[$v.others_cpu_pct]:-?}"; done | sed 's/, $//') of the machine in the least busy of those windows (their CPU inflates the machine-wide column, not the own column)."
	echo
	echo "Spread over the rounds (round 1 / round 2 ...): p50 µs $(per_round p50_us "$lf"); p99 µs $(per_round p99_us "$lf"); CPU µs/preflight $(per_round cpu_us); own CPU µs $(per_round own_cpu_us); req/s $(per_round rps)."
	echo
	lat_check
	echo "![preflight latency, CPU and throughput](latest.png)"
	echo
}

write_kernel() {
	local m k
	echo "**In-kernel cost per answered preflight**"
	echo
	echo "| | preflightd TC | preflightd XDP | floor |"
	echo "|---|---:|---:|---:|"
	echo "| live, ingress program ns per run (bpf_stats run_time_ns / run_cnt) | ${R[tc.k_ns_per_run]:--} | ${R[xdp.k_ns_per_run]:--} | ${R[floor.k_ns_per_run]:--} |"
	echo "| live, ingress run time / answered preflights (ns) | ${R[tc.k_ns_per_answer]:--} | ${R[xdp.k_ns_per_answer]:--} | ${R[floor.k_ns_per_answer]:--} |"
	echo "| live, all programs on the interface / answered (ns) | ${R[tc.k_all_ns_per_answer]:--} | ${R[xdp.k_all_ns_per_answer]:--} | ${R[floor.k_all_ns_per_answer]:--} |"
	echo "| BPF_PROG_TEST_RUN p50, 10 origins (ns) | ${R[kc.tc10]:--} | ${R[kc.xdp10]:--} | ${R[kc.floor]:--} |"
	echo "| BPF_PROG_TEST_RUN p50, 1,000 origins (ns) | ${R[kc.tc1000]:--} | ${R[kc.xdp1000]:--} | |"
	echo "| BPF_PROG_TEST_RUN p50, 100,000 origins (ns) | ${R[kc.tc100000]:--} | ${R[kc.xdp100000]:--} | |"
	echo "| flatness: max/min over 10 / 1,000 / 100,000 origins | $(flat tc) | $(flat xdp) | |"
	echo
	echo "Test runs: the socket-mocked test object (\`build/tests/bpf/preflightd_test.bpf.o\`), a steady keep-alive conversation of ${M[kcost_runs]:-?} answers per series (each request acks the previous response), one \`BPF_PROG_TEST_RUN\` per answer timed by the kernel — \`repeat\` cannot be used because the program rewrites the frame in place (a repeat of 1,000 answers ${R[kc.repeat_answered]:-?} time). All series are interleaved. A timed run of a program that returns at once costs ${R[kc.empty]:-?} ns (included in every figure). The mock replaces the socket look-up (\`bpf_skc_lookup_tcp\` + \`tcp_sock\` reads), which the live numbers include. Live runs also pay for what a test run never has: at TC the request skb of a local TCP sender over a veth is a clone with its payload in page fragments, made private and linear before its request is copied (about 0.5 µs on the AMD EPYC VM, about 0.1 µs on the Intel one); per-connection state (flow entry, socket) that is cold when 64 connections take turns; caches shared with the whole stack between two answers. Measured split: tests/README.md, \"Live versus test run\"."
	echo
	echo "**Where the answer's time goes** (BPF_PROG_TEST_RUN p50 ns, 1,000 origins; each stage is timed by stopping the conversation there: \`kcost --stages\`)"
	echo
	echo "| stage | TC total | TC stage | XDP total | XDP stage |"
	echo "|---|---:|---:|---:|---:|"
	echo "| entry, packet parse, flow look-up, \"OPTIONS \" prefix check | ${R[kc.s_not_options]:--} | $(minus "${R[kc.s_not_options]:-}" "${R[kc.empty]:-}") | ${R[kc.x_not_options]:--} | $(minus "${R[kc.x_not_options]:-}" "${R[kc.empty]:-}") |"
	echo "| + request copy and HTTP parse (no Origin: passed) | ${R[kc.s_plain]:--} | $(minus "${R[kc.s_plain]:-}" "${R[kc.s_not_options]:-}") | ${R[kc.x_plain]:--} | $(minus "${R[kc.x_plain]:-}" "${R[kc.x_not_options]:-}") |"
	echo "| + policy match and response build (socket mock invalid: passed) | ${R[kc.s_no_socket]:--} | $(minus "${R[kc.s_no_socket]:-}" "${R[kc.s_plain]:-}") | ${R[kc.x_no_socket]:--} | $(minus "${R[kc.x_no_socket]:-}" "${R[kc.x_plain]:-}") |"
	echo "| + socket guards, checksum check, flow update, rewrite (answered) | ${R[kc.tc1000]:--} | $(minus "${R[kc.tc1000]:-}" "${R[kc.s_no_socket]:-}") | ${R[kc.xdp1000]:--} | $(minus "${R[kc.xdp1000]:-}" "${R[kc.x_no_socket]:-}") |"
	echo
	echo "The stage requests differ from the answered one only where they must (\"XPTIONS\"; no Origin line, so ${R[kc.req_len]:-?} - ~33 bytes); the timer's own ${R[kc.empty]:-?} ns are in the first stage. Within the stages, by source line (JIT code, and the helpers each line calls): [profile.md](profile.md), \`make bench-profile\` (perf samples of the same answers; its own run)."
	echo
	write_other
	echo "**Cost growth with the request** (BPF_PROG_TEST_RUN p50 ns, 1,000 origins; \`bench/preflight*.txt\`: more header lines, the larger ones with a 16-name request-header list that the answer echoes)"
	echo
	echo "| request | bytes | TC ns | TC × 522 B | XDP ns | XDP × 522 B |"
	echo "|---|---:|---:|---:|---:|---:|"
	for k in 300 522 1k 2k; do
		if [[ $k == 522 ]]; then
			m=("bench/preflight.txt" "${R[kc.req_len]:--}" "${R[kc.tc1000]:-}" "${R[kc.xdp1000]:-}")
		else
			m=("bench/preflight-$k.txt" "${R[kc.req${k}_len]:--}" "${R[kc.tc_req$k]:-}" "${R[kc.xdp_req$k]:-}")
		fi
		echo "| \`${m[0]}\` | ${m[1]} | ${m[2]:--} | $(ratio "${m[2]}" "${R[kc.tc1000]:-}") | ${m[3]:--} | $(ratio "${m[3]}" "${R[kc.xdp1000]:-}") |"
	done
	echo
}

# write_other -- what every other segment of a connection on the policy
# port costs (kcost --other): the app's request at ingress, its response at
# egress, on a spliced connection (translated) and on one never spliced.
write_other() {
	echo "**Cost on the connection's other traffic** (BPF_PROG_TEST_RUN p50 ns, 1,000 origins, \`kcost --other\`: a keep-alive conversation of the app's own requests, ${R[kc.o_req_len]:-?} B, and responses, ${R[kc.o_resp_len]:-?} B; egress is \`pf_tc_egress\` in both modes)"
	echo
	echo "| connection | TC ingress (request) | XDP ingress (request) | TC egress (response) |"
	echo "|---|---:|---:|---:|"
	echo "| spliced (one preflight answered): seq and ack translated | ${R[kc.o_xlate_tc]:--} | ${R[kc.o_xlate_xdp]:--} | ${R[kc.o_xlate_out]:--} |"
	echo "| never spliced, followed from its first request: passed unchanged | ${R[kc.o_tracked_tc]:--} | ${R[kc.o_tracked_xdp]:--} | ${R[kc.o_tracked_out]:--} |"
	echo "| the translation's own share (difference) | $(minus "${R[kc.o_xlate_tc]:-}" "${R[kc.o_tracked_tc]:-}") | $(minus "${R[kc.o_xlate_xdp]:-}" "${R[kc.o_tracked_xdp]:-}") | $(minus "${R[kc.o_xlate_out]:-}" "${R[kc.o_tracked_out]:-}") |"
	echo
	echo "Every connection on a policy port pays the second row on each segment (its flow entry is looked up, the request framing followed, the entry updated under its lock); a spliced one pays the first. Each figure includes the timer's ${R[kc.empty]:-?} ns."
	echo
}

write_policy() {
	echo "Policy of 100,000 exact origins (best of ${M[load_tries]:-?}): \`preflightd check\` ${R[pol.check_ms]:-?} ms (${R[pol.check_all_ms]:-?}); \`preflightd run\` start to \"ready\" (parse, compile, load the programs, fill the maps, attach) ${R[pol.ready_ms]:-?} ms (${R[pol.ready_all_ms]:-?}), in XDP mode as root ${R[pol.ready_xdp_ms]:-?} ms (${R[pol.ready_xdp_all_ms]:-?}; libxdp verifies its program when it attaches it, after the TC programs) and as the systemd unit runs it ${R[pol.ready_xdp_unit_ms]:--} ms (${R[pol.ready_xdp_unit_all_ms]:--}; its capabilities, no CAP_SYS_ADMIN: the program verified beside the TC ones, user/progs.h), with \`--shadow\` (the response offload's programs too, verified beside the TC ones: user/progs.h) ${R[pol.ready_shadow_ms]:--} ms (${R[pol.ready_shadow_all_ms]:--}); maps $(mib "${R[pol.maps_bytes]:-}") MiB memlock (pf_tokens $(mib "${R[pol.tokens_bytes]:-}") MiB, default 65,536-entry flow table $(mib "${R[pol.flows_bytes_default]:-}") MiB). Flow table for 1M connections (\`--max-flows 1048576\`): $(mib "${R[pol.flows_1m_bytes]:-}") MiB memlock (start to ready ${R[pol.ready_1m_ms]:-?} ms)."
	echo
}

# The verifier's walk per program (most of start to ready).
write_verif() {
	local p line=
	for p in pf_tc_ingress pf_tc_egress pf_xdp_ingress; do
		line+="${line:+; }\`$p\` ${R[vf.${p}_insns]:-?} insns, ${R[vf.${p}_ms]:-?} ms"
	done
	echo "Verifier (\`build/bench/verifstats\`, each program loaded alone; processed instructions, median verification time): $line."
	echo
}

write_gc() {
	echo "Flow-table GC pass (the daemon's \`pf_gc_pass\`, \`make bench-gc\`: one sock_diag dump, the table read in batches; median of 3): 65,536 entries of ended connections ${R[gc.ended_65536_ms]:-?} ms (${R[gc.ended_65536_ns]:-?} ns/entry, all freed), all active ${R[gc.active_65536_ms]:-?} ms; 1,048,576 entries ${R[gc.ended_1048576_ms]:-?} ms (${R[gc.ended_1048576_ns]:-?} ns/entry), all active ${R[gc.active_1048576_ms]:-?} ms."
	echo
}

# pct A B -- (A/B - 1) * 100 with one decimal and a sign, or "-".
pct() {
	[[ -n ${1:-} && -n ${2:-} && $1 != - && $2 != - ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%+.1f", (a / b - 1) * 100 }'
}

OFL_VARIANTS=(base preflightd skpass offload)

# ofl_target_name TARGET -- 1m, json, or either with a connection count
# (json8: small JSON at 8 connections, bench/offload.sh --targets).
ofl_target_name() {
	local n=${1#1m} what="1 MiB download"
	[[ $1 == json* ]] && n=${1#json} what="small JSON"
	echo "$what${n:+, $n connections}"
}

# ofl_targets -- the targets the CSV has, 1m and json first.
ofl_targets() {
	local k t=()
	for k in "${!R[@]}"; do
		[[ $k =~ ^ofl\.preflightd\.([a-z0-9]+)\.rs$ ]] && t+=("${BASH_REMATCH[1]}")
	done
	((${#t[@]})) || return 0
	printf '%s\n' "${t[@]}" | awk '{ k = $0 == "1m" ? 0 : $0 == "json" ? 1 : 2; print k "\t" $0 }' |
		sort -k1,1n -k2,2V | cut -f2
}

# ofl_json_verdict -- the JSON target the verdict is on: the one at the
# most connections (json8: the CPU is the bottleneck, bench/offload.sh),
# json in a CSV without others.
ofl_json_verdict() {
	local t best=json n most=0
	for t in $(ofl_targets); do
		[[ $t =~ ^json([0-9]+)$ ]] || continue
		n=${BASH_REMATCH[1]}
		((n > most)) && { most=$n; best=$t; }
	done
	echo "$best"
}

# ofl_ratio VARIANT.TARGET METRIC -- "0.98× (0.91-1.07)": the median of the
# per-round ratios to preflightd and their range; "-" without them.
ofl_ratio() {
	local k=ofl.$1.$2_ratio
	[[ -n ${R[$k]:-} ]] || { echo -; return; }
	awk -v m="${R[$k]}" -v lo="${R[${k}_lo]:-0}" -v hi="${R[${k}_hi]:-0}" 'BEGIN { printf "%.2f× (%.2f-%.2f)\n", m, lo, hi }'
}

# write_offload -- the response offload's cost (issue 13, bench/offload.sh):
# nginx behind preflightd, without and with the SK_MSG program. A CSV
# without "offload,meta,stat,median" (before the paired ratios) has the
# best of the rounds and no CPU figures: shown as such.
write_offload() {
	local t v vs cpu_vs how
	[[ -n ${R[ofl.preflightd.json.rs]:-} ]] || return 0
	if [[ ${R[ofl.meta.stat]:-} == median ]]; then
		how="each figure the median over ${R[ofl.meta.rounds]:-?} alternating rounds, \"vs preflightd\" the median (and range) of the per-round ratio to preflightd measured in the same round; CPU: the run time of the benchmark's own processes (nginx, wrk, ksoftirqd) per request"
	else
		how="best of ${R[ofl.meta.rounds]:-?} rounds"
	fi
	local runs=
	for t in $(ofl_targets); do
		[[ -n ${R[ofl.meta.${t}_conns]:-} ]] || continue
		runs+="${runs:+, }$(ofl_target_name "$t") wrk -c ${R[ofl.meta.${t}_conns]} for ${R[ofl.meta.${t}_duration_s]:-?} s"
	done
	[[ -n $runs ]] || runs="wrk -c ${R[ofl.meta.conns]:-?} for ${R[ofl.meta.duration_s]:-?} s"
	echo "Response offload (issue 13, \`bench/offload.sh\`: nginx with sendfile and no CORS configuration, $runs per run, $how. base: no preflightd; preflightd: answering preflights, no offload; skpass: plus a bare SK_PASS SK_MSG program on every byte of the app's sockets -- the kernel's SK_MSG send path alone, a lower bound of the offload only for small JSON (the offload takes 1 MiB bodies out of that path); offload: \`--cgroup\` with \`responses: true\`):"
	echo
	echo "| target | variant | req/s | req/s vs preflightd | p50 µs | p99 µs | CPU µs/request | CPU vs preflightd | SK_MSG program ns/response | its runs/response | TC ingress ns/response |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for t in $(ofl_targets); do
		for v in "${OFL_VARIANTS[@]}"; do
			vs=$(ofl_ratio "$v.$t" rs)
			cpu_vs=$(ofl_ratio "$v.$t" cpu)
			if [[ $v == preflightd ]]; then
				vs=1×
				[[ -z ${R[ofl.$v.$t.cpu_us]:-} ]] || cpu_vs=1×
			elif [[ $vs == - ]]; then
				vs="$(pct "${R[ofl.$v.$t.rs]:-}" "${R[ofl.preflightd.$t.rs]:-}") %"
			fi
			echo "| $(ofl_target_name "$t") | $v | ${R[ofl.$v.$t.rs]:--} | $vs | ${R[ofl.$v.$t.p50]:--} |" \
			     "${R[ofl.$v.$t.p99]:--} | ${R[ofl.$v.$t.cpu_us]:--} | $cpu_vs |" \
			     "${R[ofl.$v.$t.msg_ns]:--} | ${R[ofl.$v.$t.runs]:--} | ${R[ofl.$v.$t.in_ns]:--} |"
		done
	done
	echo
	ofl_derived
}

# ofl_derived -- computed, not measured: the offload's in-kernel time per
# response (its SK_MSG program plus what TC ingress costs more than in
# preflightd's runs: the recorder; bpf_stats medians) as a share of
# preflightd's CPU per request. It leaves out the kernel's SK_MSG path
# itself (skpass's row) and the sockops program.
ofl_derived() {
	local t line=
	for t in $(ofl_targets); do
		[[ -n ${R[ofl.offload.$t.msg_ns]:-} && -n ${R[ofl.offload.$t.in_ns]:-} &&
			-n ${R[ofl.preflightd.$t.in_ns]:-} && -n ${R[ofl.preflightd.$t.cpu_us]:-} ]] || continue
		line+="${line:+; }$(awk -v n="$(ofl_target_name "$t")" -v m="${R[ofl.offload.$t.msg_ns]}" \
			-v a="${R[ofl.offload.$t.in_ns]}" -v b="${R[ofl.preflightd.$t.in_ns]}" -v c="${R[ofl.preflightd.$t.cpu_us]}" 'BEGIN {
			k = m + a - b
			printf "%s %.1f µs (SK_MSG %d ns + TC ingress %+d ns) = %.1f %% of %.1f µs", n, k / 1000, m, a - b, (c > 0 ? k / c / 10 : 0), c
		}')"
	done
	[[ -z $line ]] || { echo "Derived, not measured (bpf_stats medians; the verdict below is on the measured CPU): the offload's programs per response, as a share of preflightd's CPU per request: $line."; echo; }
}

# ofl_range_note VARIANT.TARGET METRIC OP LIMIT -- range_note of its
# per-round ratios to preflightd (bench/offload.sh's _lo/_hi).
ofl_range_note() {
	local k=ofl.$1.$2_ratio
	[[ -n ${R[${k}_lo]:-} && -n ${R[${k}_hi]:-} ]] || return 0
	range_note "${R[${k}_lo]}" "${R[${k}_hi]}" "${R[ofl.meta.rounds]:-?}" "$3" "$4"
}

# offload_targets -- issue 13's "≤ 5 % overhead": throughput and CPU per
# request against preflightd without the offload, as the median of the
# per-round paired ratios (a CSV without them: the best of the rounds).
offload_targets() {
	local t T v
	v=$(ofl_json_verdict)
	for t in $(ofl_targets); do
		T=$(ofl_target_name "$t")
		if [[ $t == json* && $t != "$v" ]]; then
			# not the verdict: at one connection the CPU per request is
			# mostly wake-ups, and which CPU each side sleeps on (docs/offload.md)
			[[ -z ${R[ofl.offload.$t.rs_ratio]:-} ]] ||
				echo "- response offload: $T (not the verdict, see $(ofl_target_name "$v")): throughput $(ofl_ratio "offload.$t" rs), CPU per request $(ofl_ratio "offload.$t" cpu) of preflightd's"
			continue
		fi
		if [[ -n ${R[ofl.offload.$t.rs_ratio]:-} ]]; then
			target "response offload: $T throughput ≥ 0.95× preflightd without it (issue 13)" \
				"$(ratio "${R[ofl.offload.$t.rs_ratio]}" 1)" ">=" 0.95 "×" "$(ofl_range_note "offload.$t" rs ">=" 0.95)"
			target "response offload: $T CPU per request ≤ 1.05× preflightd without it (issue 13; own processes)" \
				"$(ratio "${R[ofl.offload.$t.cpu_ratio]:-}" 1)" "<=" 1.05 "×" \
				"$(ofl_range_note "offload.$t" cpu "<=" 1.05)${R[ofl.offload.$t.cpu_min_ratio]:+; least-disturbed runs (the least CPU per request of each variant) $(ratio "${R[ofl.offload.$t.cpu_min_ratio]}" 1)×}"
		else
			target "response offload: $T throughput ≥ 0.95× preflightd without it (issue 13; best of rounds)" \
				"$(ratio "${R[ofl.offload.$t.rs]:-}" "${R[ofl.preflightd.$t.rs]:-}")" ">=" 0.95 "×"
		fi
	done
}

write_targets() {
	local m M_
	echo "**Targets** (issue 11, computed from the numbers above; against the floor and nginx: the median of the per-round ratios, with their range):"
	echo
	target "in-kernel ≤ 1 µs per answered preflight, TC (live, ingress run time / answered)" "${R[tc.k_ns_per_answer]:-}" "<=" 1000 " ns"
	target "in-kernel ≤ 1 µs per answered preflight, TC (test run p50)" "${R[kc.tc1000]:-}" "<=" 1000 " ns"
	target "in-kernel ≤ 600 ns per answered preflight, XDP (live, ingress run time / answered)" "${R[xdp.k_ns_per_answer]:-}" "<=" 600 " ns"
	target "in-kernel ≤ 600 ns per answered preflight, XDP (test run p50)" "${R[kc.xdp1000]:-}" "<=" 600 " ns"
	for m in tc xdp; do
		M_=$(short "$m")
		target "flat cost: 10 / 1,000 / 100,000 origins within 10 %, $M_ (max/min)" "$(flat "$m")" "<=" 1.10 "×"
		target "2 KiB request ≤ 2× the 522 B one, $M_ (test run p50)" "$(ratio "${R[kc.${m}_req2k]:-}" "${R[kc.${m}1000]:-}")" "<=" 2 "×"
	done
	for m in tc xdp; do
		M_=$(short "$m")
		xtarget "throughput at ${M[conns]:-64} connections ≥ 0.9× the floor ($M_)" "$m" floor rps ">=" 0.9
		xtarget "throughput at ${M[conns]:-64} connections ≥ 1.3× nginx ($M_)" "$m" nginx rps ">=" 1.3
		xtarget "p50 latency at 1 connection ≤ 1.15× the floor ($M_; ${M[lat_client]:-wrk})" "$m" floor p50_us "<=" 1.15
		xtarget "CPU/preflight ≤ 1.1× the floor ($M_)" "$m" floor cpu_us "<=" 1.1 \
			"$(own_verdict "$(xratio "$m" floor own_cpu_us)" "<=" 1.1)"
		xtarget "CPU/preflight ≤ 0.5× nginx ($M_)" "$m" nginx cpu_us "<=" 0.5 \
			"$(own_verdict "$(xratio "$m" nginx own_cpu_us)" "<=" 0.5)"
	done
	target "100,000-origin policy: \`run\` start to ready ≤ 400 ms" "${R[pol.ready_ms]:-}" "<=" 400 " ms"
	target "100,000-origin policy: \`check\` ≤ 150 ms" "${R[pol.check_ms]:-}" "<=" 150 " ms"
	((${M[kernel_only]:-0})) || offload_targets
	echo
}

write_md() {
	echo "_Measured ${M[date_utc]:-?} on ${M[machine]:-?}; \`make bench\`$( ((${M[kernel_only]:-0})) && echo " (kernel figures only: \`bench/run.sh --kernel-only\`)"), ${M[seconds]:-?} s._"
	echo
	((${M[kernel_only]:-0})) || write_live
	write_kernel
	((${M[kernel_only]:-0})) || write_policy
	write_verif
	write_gc
	((${M[kernel_only]:-0})) || write_offload
	write_targets
	if ((${#PROBLEMS[@]})); then
		echo "**PROBLEMS in this run:**"
		echo
		printf -- '- **%s**\n' "${PROBLEMS[@]}"
		echo
	fi
	echo "Reproduce: \`make bench\` (root, about $(( (${M[seconds]:-0} + 59) / 60 )) min; raw logs in \`build/bench/run/\`; BENCH_DURATION, BENCH_LAT_DURATION, BENCH_CONNS change the runs); \`make bench-report\` rewrites this file and the plot from \`latest.csv\`."
}

write_plot() {
	local png=$1 dat v
	dat=$(mktemp)
	# short name, p50 us, CPU us/preflight, k req/s, in-kernel ns/answer,
	# own CPU us/preflight
	for v in "${VARIANTS[@]}"; do
		printf '"%s" %s %s %s %s %s\n' "$(short "$v")" "${R[$v.p50_us]:-0}" "${R[$v.cpu_us]:-0}" \
			"$(awk -v r="${R[$v.rps]:-0}" 'BEGIN { printf "%.1f", r / 1000 }')" \
			"${R[$v.k_ns_per_answer]:-0}" "${R[$v.own_cpu_us]:-0}"
	done >"$dat"
	gnuplot <<-EOF
		set terminal pngcairo size 1800,520 font "DejaVu Sans,12"
		set output "$png"
		set multiplot layout 1,4 title "CORS preflights, ${M[date_utc]:-?}, make bench: ${M[machine]:-?} (TC, XDP: preflightd)" font ",13"
		set style fill solid 0.85 border -1
		set boxwidth 0.65
		set grid ytics
		set xtics scale 0 font ",11"
		set xrange [-0.6:4.6]
		set yrange [0:*]
		set offsets 0, 0, graph 0.12, 0
		unset key
		set title "p50 latency, 1 connection, ${M[lat_client]:-wrk} (µs, lower is better)"
		plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa", "" using 0:2:(sprintf("%.3g", \$2)) with labels offset 0,0.8 notitle
		set title "CPU per preflight, ${M[conns]:-?} conns (µs, lower is better)"
		set key top right font ",10"
		set boxwidth 0.38
		plot "$dat" using (\$0 - 0.2):3:xtic(1) with boxes lc rgb "#cc6677" title "machine", \\
			"" using (\$0 + 0.2):6 with boxes lc rgb "#ddaa33" title "own processes", \\
			"" using (\$0 - 0.2):3:(sprintf("%.0f", \$3)) with labels offset 0,0.8 font ",10" notitle, \\
			"" using (\$0 + 0.2):6:(sprintf("%.0f", \$6)) with labels offset 0,0.8 font ",10" notitle
		unset key
		set boxwidth 0.65
		set title "throughput, ${M[conns]:-?} connections (k req/s)"
		plot "$dat" using 0:4:xtic(1) with boxes lc rgb "#228833", "" using 0:4:(sprintf("%g", \$4)) with labels offset 0,0.8 notitle
		set title "in-kernel per answer, live (ns, lower is better)"
		set xrange [-0.6:2.6]
		plot "$dat" every ::2 using 0:5:xtic(1) with boxes lc rgb "#aa7733", "" every ::2 using 0:5:(sprintf("%g", \$5)) with labels offset 0,0.8 notitle
		unset multiplot
	EOF
	rm -f "$dat"
}

load_csv
if ((OFFLOAD_ONLY)); then
	write_offload
	offload_targets
	exit 0
fi
write_md >"$DIR/latest.md.tmp"
mv "$DIR/latest.md.tmp" "$DIR/latest.md"
if ((!${M[kernel_only]:-0})); then
	command -v gnuplot >/dev/null || { echo "report: gnuplot missing (bash scripts/deps.sh bench)" >&2; exit 1; }
	write_plot "$DIR/latest.png.tmp" && mv "$DIR/latest.png.tmp" "$DIR/latest.png"
fi
cat "$DIR/latest.md"

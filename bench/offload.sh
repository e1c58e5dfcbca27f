#!/usr/bin/env bash
# bench/offload.sh -- what the response offload (issue 13) costs the app:
# nginx (no CORS configuration, sendfile) in a cgroup, wrk in the client
# netns, the same load four ways in each round:
#   base       no preflightd
#   preflightd preflightd on the interface, no response offload
#   skpass     preflightd, plus a bare SK_MSG program (SK_PASS, nothing
#              else) on every byte of the app's sockets
#              (build/bench/ofl_floorctl): the kernel's SK_MSG send path
#              by itself. A lower bound of the offload only where the
#              offload keeps the socket in that path (small JSON): it
#              takes a socket out for bodies >= PF_OFL_DETACH_MIN (the
#              1 MiB downloads, docs/offload.md), so there skpass is the
#              cost it avoids, not a floor. (Called "floor" before.)
#   offload    preflightd --cgroup with responses: true (sockops, the
#              request recorder at TC and the SK_MSG program)
# for 1 MiB downloads and small JSON responses (wrk, closed loop): targets
# 1m and json at --conns (1) for --duration (1 s), json8 at 8 connections
# for 3 s -- the CPU the bottleneck, the JSON verdict (docs/offload.md,
# Measurement: at one connection the CPU per request is mostly wake-ups);
#   req/s, latency p50/p99 (wrk --latency);
#   CPU per request: the run time of the benchmark's own processes over
#     the wrk run -- nginx (its cgroup's cpu.stat usage_usec), wrk (this
#     shell's reaped-children rusage) and the ksoftirqd threads
#     (/proc/PID/schedstat) -- per completed request; softirq work done
#     in their context (veth, TCP, the BPF programs) is in it. Other
#     tenants of the machine slow these processes down far less than
#     they take their CPU away, so this moves much less than req/s;
#   in-kernel time per response (BPF run-time statistics, held on by
#     bench/statsfd.c): the SK_MSG program, and TC ingress -- which
#     includes the tail-called request recorder.
#
#   bash bench/offload.sh [--duration S] [--conns N] [--rounds R] [--csv FILE]
#                         [--bench-csv FILE] [--alt NAME=BINARY]...
#                         [--variants V,V...] [--targets T[:S],T[:S]...]
#                         [--json-conns N]
#
# --variants: a subset (and order) of base,skpass,preflightd,offload;
# --targets: 1m, json, 1mN or jsonN (N connections), ":S" runs it S s
# (default 1m,json,json8:3); --json-conns: json's connections.
#
# --alt adds a variant offload-NAME: the offload with another preflightd
# binary (e.g. one built with other EXTRA_BPF_CFLAGS into another BUILD
# directory), measured in the same rounds for an A/B side by side; its
# figures are in --csv, the "bench: round" lines and its paired ratios
# (offload-NAME/offload) in --bench-csv (not in the table).
#
# Rounds alternate the variants' order (preflightd next to offload), and
# every other variant takes the targets in reverse, so the same target's
# runs of preflightd and the offload are back to back. Each variant's figure is the
# median over the rounds; the verdict is on paired ratios: per round, a
# variant's figure over preflightd's in the same round, and their median
# and range over the rounds (other tenants move whole rounds; a ratio
# within one round cancels much of that). --csv keeps every round's
# figures; --bench-csv writes the medians and ratios as `make bench` CSV
# lines (group "offload"), which `make bench` (bench/run.sh) adds to its
# results. The table and the target are bench/report.sh's (its --offload
# section), the same in both. Topology names come from the environment
# like the e2e tier's (PF_NS, PF_IF_HOST, ..., see tests/e2e/lib.sh): pass
# your own. Needs root, `make all e2e-tools bench-tools`, wrk and nginx.
# Prints a Markdown table and the overheads against the target (offload
# within 5 % of preflightd, by throughput and by CPU per request).
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"
# shellcheck source=tests/e2e/ofl_lib.sh
source "$PF_ROOT/tests/e2e/ofl_lib.sh"
# shellcheck source=bench/cpu.sh
source "$PF_ROOT/bench/cpu.sh"

DURATION=1
CONNS=1
JSON_CONNS=
ROUNDS=7
VARIANTS=base,skpass,preflightd,offload
TARGETS=1m,json,json8:3
CSV=
BENCH_CSV=
PORT=8080
ORIGIN=https://app.example.com
STATSFD=$PF_BUILD/bench/statsfd
CG=
FLOORCTL=$PF_BUILD/bench/ofl_floorctl
FLOOR_PID=
ROUNDS_CSV=
KSOFTIRQD=()
declare -A ALT
ALTS=()

while (($#)); do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--conns) CONNS=$2; shift 2 ;;
	--json-conns) JSON_CONNS=$2; shift 2 ;;
	--variants) VARIANTS=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--csv) CSV=$2; shift 2 ;;
	--bench-csv) BENCH_CSV=$2; shift 2 ;;
	--alt) [[ $2 == ?*=?* ]] || pf_usage
		ALT[offload-${2%%=*}]=${2#*=}; ALTS+=("offload-${2%%=*}"); shift 2 ;;
	*) pf_usage ;;
	esac
done

# write_policy FILE RESPONSES -- every path of the API, the one origin.
write_policy() {
	cat >"$1" <<YAML
ports: [$PORT]
rules:
  - origins: [$ORIGIN]
    methods: [GET]
    credentials: true
    responses: $2
    expose_headers: [x-request-id]
YAML
}

# prog_ns -- "msg_ns msg_cnt in_ns in_cnt": run time and count of this
# instance's pf_ofl_msg and pf_tc_ingress, the programs using this
# instance's pinned pf_stats map (other instances on the machine run
# programs of the same names); zeros without preflightd. One bpftool and
# one jq per call: python's start-up (~0.3 s on the loaded VM, four per
# run) was most of a run's wall time.
prog_ns() {
	local stats
	stats=$(bpftool map show pinned "/sys/fs/bpf/preflightd/$PF_IF_HOST/stats" 2>/dev/null |
		awk -F: 'NR == 1 { print $1 + 0 }') || stats=
	if [[ -z $stats || $stats == 0 ]]; then echo "0 0 0 0"; return; fi
	bpftool prog show --json 2>/dev/null | jq -r --argjson m "$stats" '
		def sum(n): [.[] | select(.name == n and ((.map_ids // []) | index($m)))] |
			"\(map(.run_time_ns // 0) | add // 0) \(map(.run_cnt // 0) | add // 0)";
		"\(sum("pf_ofl_msg")) \(sum("pf_tc_ingress"))"' 2>/dev/null || echo "0 0 0 0"
}

# own_cpu_us -- "nginx_us ksoftirqd_us": nginx's cgroup's run time and the
# ksoftirqd threads' (exact run times, µs).
own_cpu_us() {
	local k=0 p ns
	for p in "${KSOFTIRQD[@]}"; do
		read -r ns _ <"/proc/$p/schedstat" || ns=0
		k=$((k + ns))
	done
	echo "$(awk '$1 == "usage_usec" { print $2 }' "$CG/cpu.stat") $((k / 1000))"
}

# child_us FILE -- the run time (µs) of every child this shell has reaped,
# from a `times` output (bench/cpu.sh).
child_us() {
	local ns
	ns=$(times_ns "$1")
	echo $(((ns + 500) / 1000))
}

# wrk_run PATH OUT [CONNS [SECONDS]] -- wrk from the netns, in this shell (not in $(...): its
# run time is this shell's children's); sets WRK_LINE to "req_s p50_us
# p99_us requests ok|err cpu_us nginx_us wrk_us ksoftirqd_us others_pct
# steal_pct" (cpu_us: the three per request; others_pct: the machine's busy
# time that is not theirs, % of all CPUs -- other tenants, rough: /proc/stat
# is tick-sampled, their run times exact; steal_pct: the hypervisor's).
wrk_run() {
	local n0 k0 n1 k1 w0 w1 s0 s1
	read -r n0 k0 <<<"$(own_cpu_us)"
	s0=$(head -1 /proc/stat)
	times >"$PF_WORK/times0"
	pf_ns timeout --foreground -k 5 $((${4:-$DURATION} + 30)) wrk -t1 -c "${3:-$CONNS}" -d "${4:-$DURATION}s" \
		--latency -H "Origin: $ORIGIN" "http://$PF_V4_HOST:$PORT$1" >"$2" 2>&1 || true
	times >"$PF_WORK/times1"
	s1=$(head -1 /proc/stat)
	read -r n1 k1 <<<"$(own_cpu_us)"
	w0=$(child_us "$PF_WORK/times0")
	w1=$(child_us "$PF_WORK/times1")
	WRK_LINE=$(python3 - "$2" $((n1 - n0)) $((w1 - w0)) $((k1 - k0)) "$s0" "$s1" <<'PY'
import re, sys, os
t = open(sys.argv[1]).read()
ngx, wrk, ksi = (int(x) for x in sys.argv[2:5])
# the machine over the run: busy % of all CPUs (user nice system irq
# softirq) and the part not ours (other tenants), and steal %
c0, c1 = ([int(x) for x in a.split()[1:9]] for a in sys.argv[5:7])
d = [b - a for a, b in zip(c0, c1)]
tot = sum(d) or 1
hz = os.sysconf("SC_CLK_TCK")
busy = d[0] + d[1] + d[2] + d[5] + d[6]
others = max(0.0, 100.0 * (busy - (ngx + wrk + ksi) * hz / 1e6) / tot)
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else 0
rs = re.search(r"Requests/sec:\s+([\d.]+)", t)
p50 = re.search(r"\s50%\s+(\S+)", t)
p99 = re.search(r"\s99%\s+(\S+)", t)
n = re.search(r"(\d+) requests in", t)
err = re.search(r"Non-2xx|Socket errors", t)
req = int(n.group(1)) if n else 0
print("%s %.0f %.0f %d %s %.1f %.1f %.1f %.1f %.0f %.0f" % (
    rs.group(1) if rs else 0, us(p50.group(1)) if p50 else 0,
    us(p99.group(1)) if p99 else 0, req, "err" if err else "ok",
    (ngx + wrk + ksi) / req if req else 0, ngx / req if req else 0,
    wrk / req if req else 0, ksi / req if req else 0, others, 100.0 * d[7] / tot))
PY
)
}

# record ROUND VARIANT TARGET "$WRK_LINE" IN MSG RUNS -- one round's
# figures, to $ROUNDS_CSV.
record() {
	local rs p50 p99 n ok cpu ngx wrk ksi oth st
	read -r rs p50 p99 n ok cpu ngx wrk ksi oth st <<<"$4"
	[[ $ok == ok ]] || echo "bench: $2 $3: wrk reported errors" >&2
	echo "$1,$2,$3,$rs,$p50,$p99,$n,$cpu,$ngx,$wrk,$ksi,$oth,$st,$5,$6,$7" >>"$ROUNDS_CSV"
}

# run_variant ROUND NAME KEEP TARGET... -- start what NAME needs, measure
# the targets in that order, stop (preflightd stays for the next variant
# if NAME is KEEP).
run_variant() {
	local r=$1 v=$2 KEEP=$3 before after t0 c0 t1 c1 tok target path conns secs n in_ns msg_ns runs
	# preflightd and skpass are next to each other in either order: one
	# preflightd for both (loading it is most of a round's overhead)
	case $v in
	preflightd | skpass) if [[ -z ${PF_PFD_PID:-} ]]; then
		write_policy "$PF_WORK/p.yaml" false
		PF_POLICY=$PF_WORK/p.yaml pf_start_preflightd tc >/dev/null
	fi ;;
	esac
	if [[ $v == skpass ]]; then
		"$FLOORCTL" "$CG" "$PORT" >"$PF_WORK/floor.out" 2>&1 &
		FLOOR_PID=$!
		PF_BG_PIDS+=("$FLOOR_PID")
		pf_wait_for_line "$PF_WORK/floor.out" ready 10 "$FLOOR_PID" ||
			{ echo "bench: ofl_floorctl: $(cat "$PF_WORK/floor.out")" >&2; exit 1; }
	fi
	case $v in
	offload | offload-*) write_policy "$PF_WORK/p.yaml" true
		PF_PREFLIGHTD=${ALT[$v]:-$PF_PREFLIGHTD} PF_POLICY=$PF_WORK/p.yaml \
			pf_start_preflightd tc --cgroup "$CG" >/dev/null
		pf_curl -sS -D - -o /dev/null -H "Origin: $ORIGIN" "http://$PF_V4_HOST:$PORT/small.json" |
			grep -qi '^access-control-allow-origin' ||
			echo "bench: offload: no ACAO on a response" >&2 ;;
	esac
	for tok in "${@:4}"; do
		# 1m, json: --conns (json: --json-conns if given); 1mN, jsonN: N
		# connections; ":S" runs it S s instead of --duration
		target=${tok%%:*} secs=$DURATION
		[[ $tok == *:* ]] && secs=${tok#*:}
		path=/blob.bin conns=$CONNS
		[[ $target == json* ]] && path=/small.json conns=${JSON_CONNS:-$CONNS}
		[[ $target =~ [0-9]+$ ]] && conns=${BASH_REMATCH[0]}
		read -r t0 c0 before _ <<<"$(prog_ns)"
		wrk_run "$path" "$PF_WORK/wrk-$v-$target.out" "$conns" "$secs"
		read -r t1 c1 after _ <<<"$(prog_ns)"
		n=$(awk '{ print $4 }' <<<"$WRK_LINE")
		in_ns='' msg_ns='' runs=''
		if ((n > 0)) && [[ $v != base ]]; then
			# TC ingress ns per response (with the recorder in offload)
			in_ns=$(((after - before) / n))
			if [[ $v == offload* ]]; then
				msg_ns=$(((t1 - t0) / n))
				runs=$(awk -v a=$((c1 - c0)) -v n="$n" 'BEGIN { printf "%.2f", a / n }')
			fi
		fi
		record "$r" "$v" "$target" "$WRK_LINE" "$in_ns" "$msg_ns" "$runs"
		echo "bench: round $r $v $target (${SECONDS}s): $WRK_LINE${in_ns:+ tc_in_ns=$in_ns}${msg_ns:+ msg_ns=$msg_ns}" >&2
	done
	if [[ -n ${FLOOR_PID:-} ]]; then
		pf_bg_kill "$FLOOR_PID"
		FLOOR_PID=
	fi
	if [[ $v != "$KEEP" ]]; then pf_stop_preflightd >/dev/null 2>&1 || true; fi
}

main() {
	pf_require_root
	pf_make_workdir
	pf_install_trap
	trap 'rc=$?; set +e; pf_cgroup_down "$CG"; (exit $rc); _pf_cleanup' EXIT
	pf_ensure_bpffs
	command -v wrk >/dev/null || { echo "bench: wrk not installed" >&2; exit 1; }
	[[ -x $FLOORCTL && -x $STATSFD ]] ||
		{ echo "bench: $FLOORCTL or $STATSFD missing (make bench-tools)" >&2; exit 1; }
	CG=$(pf_cgroup_up "pf-ofl-bench-$PF_NS-$$")
	mapfile -t KSOFTIRQD < <(pgrep -x 'ksoftirqd/[0-9]+')
	pf_topo_up >/dev/null
	pf_nginx_start "$CG" "$PORT"
	[[ -n $PF_NGINX_PID ]] || { echo "bench: $PF_NGINX_WHY" >&2; exit 1; }
	ROUNDS_CSV=${CSV:-$PF_WORK/rounds.csv}
	echo "round,variant,target,req_s,p50_us,p99_us,requests,cpu_us,nginx_us,wrk_us,ksoftirqd_us,others_pct,steal_pct,tc_in_ns,msg_ns,msg_runs" >"$ROUNDS_CSV"
	# reference-counted, unlike the kernel.bpf_stats_enabled sysctl another
	# tenant may switch off mid-run; stopped with the background jobs
	"$STATSFD" >"$PF_WORK/statsfd.log" 2>&1 &
	local spid=$!
	PF_BG_PIDS+=("$spid")
	pf_wait_for_line "$PF_WORK/statsfd.log" ready 10 "$spid" ||
		{ echo "bench: statsfd: $(cat "$PF_WORK/statsfd.log")" >&2; exit 1; }
	# a first, unrecorded pass: nginx's page cache and the first sockets
	wrk_run /blob.bin "$PF_WORK/wrk-warm.out"
	local order rev i r v keep tlist trev=()
	IFS=, read -r -a order <<<"$VARIANTS"
	IFS=, read -r -a tlist <<<"$TARGETS"
	order+=("${ALTS[@]}")
	for ((i = ${#tlist[@]} - 1; i >= 0; i--)); do trev+=("${tlist[i]}"); done
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((i = 0; i < ${#order[@]}; i++)); do
			v=${order[i]}
			keep=
			case $v:${order[i + 1]:-} in
			preflightd:skpass | skpass:preflightd) keep=$v ;;
			esac
			# every other variant takes the targets in reverse: a target's
			# runs of neighbouring variants (preflightd and offload) are
			# back to back, only the reload between them
			if ((i % 2)); then run_variant "$r" "$v" "$keep" "${trev[@]}"
			else run_variant "$r" "$v" "$keep" "${tlist[@]}"; fi
		done
		rev=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
		order=("${rev[@]}")
	done
	report
}

# write_bench_csv FILE -- `make bench` CSV lines after its header, from the
# rounds: "offload,<variant>.<target>,<metric>,<median over the rounds>";
# the paired ratios against preflightd in the same round as
# "offload,<variant>.<target>,{rs,cpu,p50}_ratio[_lo|_hi],<median|min|max>"
# (an --alt variant also against the offload: {rs,cpu}_vs_offload), the
# least CPU per request of the rounds (cpu_min, and cpu_min_ratio: over
# preflightd's least); the
# run's settings as "offload,meta,<key>,<value>" (stat: median -- a CSV
# without it has the best of the rounds, bench/report.sh tells them apart).
write_bench_csv() {
	python3 - "$ROUNDS_CSV" "$CONNS" "$DURATION" "$ROUNDS" "$TARGETS" "${JSON_CONNS:-$CONNS}" >"$1" <<'PY'
import csv, re, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
conns, duration, rounds, targets, json_conns = sys.argv[2:7]
fig = {}  # (variant, target, metric) -> {round: value}
for r in rows:
    for m in ("req_s", "p50_us", "p99_us", "cpu_us", "nginx_us", "wrk_us",
              "ksoftirqd_us", "others_pct", "tc_in_ns", "msg_ns", "msg_runs"):
        if r[m] != "" and float(r["requests"]) > 0:
            fig.setdefault((r["variant"], r["target"], m), {})[r["round"]] = float(r[m])
name = {"req_s": "rs", "p50_us": "p50", "p99_us": "p99", "tc_in_ns": "in_ns",
        "msg_runs": "runs"}
fmt = {"rs": "%.0f", "p50": "%.0f", "p99": "%.0f", "in_ns": "%.0f", "msg_ns": "%.0f",
       "runs": "%.2f"}
out = ["group,variant,metric,value", "offload,meta,conns," + conns,
       "offload,meta,duration_s," + duration, "offload,meta,rounds," + rounds,
       "offload,meta,stat,median"]
# per target: its connections and seconds per run (a target "jsonN" has N)
for tok in targets.split(","):
    t, _, secs = tok.partition(":")
    m = re.search(r"\d+$", t)
    out.append("offload,meta,%s_conns,%s" % (t, m.group(0) if m else
               json_conns if t.startswith("json") else conns))
    out.append("offload,meta,%s_duration_s,%s" % (t, secs or duration))
for (v, t, m), byr in sorted(fig.items()):
    k = name.get(m, m)
    out.append("offload,%s.%s,%s,%s" % (v, t, k, fmt.get(k, "%.1f") % statistics.median(byr.values())))
def paired(v, ref, t, m):
    a = fig.get((v, t, m), {})
    b = fig.get((ref, t, m), {})
    return [a[r] / b[r] for r in a if r in b and b[r] > 0]
for (v, t) in sorted({(v, t) for (v, t, _) in fig}):
    # the least-disturbed runs: other tenants add CPU time per request
    # (caches, wake-ups on a busy CPU) far more often than they save any
    a = fig.get((v, t, "cpu_us"), {})
    b = fig.get(("preflightd", t, "cpu_us"), {})
    if a and b and min(b.values()) > 0:
        out.append("offload,%s.%s,cpu_min,%.1f" % (v, t, min(a.values())))
        out.append("offload,%s.%s,cpu_min_ratio,%.3f" % (v, t, min(a.values()) / min(b.values())))
    refs = [("preflightd", "_ratio")] if v != "preflightd" else []
    if v.startswith("offload-"):
        refs.append(("offload", "_vs_offload"))
    for ref, suffix in refs:
        for m, k in (("req_s", "rs"), ("cpu_us", "cpu"), ("p50_us", "p50")):
            q = paired(v, ref, t, m)
            if not q:
                continue
            out.append("offload,%s.%s,%s%s,%.3f" % (v, t, k, suffix, statistics.median(q)))
            if suffix == "_ratio":
                out.append("offload,%s.%s,%s%s_lo,%.3f" % (v, t, k, suffix, min(q)))
                out.append("offload,%s.%s,%s%s_hi,%.3f" % (v, t, k, suffix, max(q)))
            print("bench: %s/%s %s %s per round: %s" % (v, ref, t, k,
                  " ".join("%.2f" % x for x in q)), file=sys.stderr)
print("\n".join(out))
PY
}

# report -- the table and the targets, by bench/report.sh from the CSV.
report() {
	local f=${BENCH_CSV:-$PF_WORK/offload-bench.csv}
	write_bench_csv "$f"
	echo
	bash "$PF_ROOT/bench/report.sh" --offload "$f"
}

main "$@"

#!/usr/bin/env bash
# bench/offload.sh -- what the response offload (issue 13) costs the app:
# nginx (no CORS configuration, sendfile) in a cgroup, wrk in the client
# netns, the same load four ways in one run:
#   base       no preflightd
#   preflightd preflightd on the interface, no response offload
#   floor      preflightd, plus a bare SK_MSG program (SK_PASS, nothing
#              else) on the app's sockets (build/bench/ofl_floorctl): the
#              kernel's SK_MSG send path by itself
#   offload    preflightd --cgroup with responses: true (sockops, the
#              request recorder at TC and the SK_MSG program)
# for 1 MiB downloads and small JSON responses: requests/s, latency
# p50/p99 (wrk --latency), and the in-kernel cost per response (BPF
# run-time statistics, held on by bench/statsfd.c: run_time_ns of the
# SK_MSG program, and of TC ingress -- which includes the tail-called
# request recorder -- over the same without the offload).
#
#   bash bench/offload.sh [--duration S] [--conns N] [--rounds R] [--csv FILE]
#                         [--bench-csv FILE] [--alt NAME=BINARY]...
#
# --alt adds a variant offload-NAME: the offload with another preflightd
# binary (e.g. one built with other EXTRA_BPF_CFLAGS into another BUILD
# directory), measured in the same rounds for an A/B side by side; its
# figures are in --csv and the "bench: round" lines (not in the table).
#
# Rounds alternate the variants' order; each figure is the best of the
# rounds. --csv keeps every round's figures; --bench-csv writes the best
# ones as `make bench` CSV lines (group "offload"), which `make bench`
# (bench/run.sh) adds to its results. The table and the target are
# bench/report.sh's (its --offload section), the same in both. Topology names come from the environment like the e2e tier's
# (PF_NS, PF_IF_HOST, ..., see tests/e2e/lib.sh): pass your own. Needs
# root, `make all e2e-tools bench-tools`, wrk and nginx. Prints a Markdown
# table and the overheads against the target (offload within 5 % of
# preflightd).
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"
# shellcheck source=tests/e2e/ofl_lib.sh
source "$PF_ROOT/tests/e2e/ofl_lib.sh"

DURATION=5
CONNS=8
ROUNDS=2
CSV=
BENCH_CSV=
PORT=8080
ORIGIN=https://app.example.com
STATSFD=$PF_BUILD/bench/statsfd
CG=
FLOORCTL=$PF_BUILD/bench/ofl_floorctl
FLOOR_PID=
declare -A ALT
ALTS=()

while (($#)); do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--conns) CONNS=$2; shift 2 ;;
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

# prog_ns NAME -- "run_time_ns run_cnt" of this instance's program NAME:
# the one using this instance's pinned pf_stats map (other instances on
# the machine run programs of the same names).
prog_ns() {
	local stats
	stats=$(bpftool map show pinned "/sys/fs/bpf/preflightd/$PF_IF_HOST/stats" --json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' 2>/dev/null) ||
		{ echo "0 0"; return; }
	bpftool prog show --json 2>/dev/null | python3 -c '
import json, sys
t = c = 0
for p in json.load(sys.stdin):
    if p.get("name") == sys.argv[1] and int(sys.argv[2]) in p.get("map_ids", []):
        t += p.get("run_time_ns", 0); c += p.get("run_cnt", 0)
print(t, c)' "$1" "$stats"
}

# wrk_run PATH OUT -- wrk from the netns; prints "req_s p50_us p99_us requests".
wrk_run() {
	pf_ns timeout --foreground -k 5 $((DURATION + 30)) wrk -t1 -c "$CONNS" -d "${DURATION}s" \
		--latency -H "Origin: $ORIGIN" "http://$PF_V4_HOST:$PORT$1" >"$2" 2>&1 || true
	python3 - "$2" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else 0
rs = re.search(r"Requests/sec:\s+([\d.]+)", t)
p50 = re.search(r"\s50%\s+(\S+)", t)
p99 = re.search(r"\s99%\s+(\S+)", t)
n = re.search(r"(\d+) requests in", t)
err = re.search(r"Non-2xx|Socket errors", t)
print("%s %.0f %.0f %s %s" % (rs.group(1) if rs else 0, us(p50.group(1)) if p50 else 0,
                              us(p99.group(1)) if p99 else 0, n.group(1) if n else 0,
                              "err" if err else "ok"))
PY
}

declare -A BEST
# record VARIANT TARGET "req_s p50 p99 n ok" -- keep the best of the rounds.
record() {
	local k="$1.$2" rs p50 p99 n ok
	read -r rs p50 p99 n ok <<<"$3"
	[[ $ok == ok ]] || echo "bench: $1 $2: wrk reported errors" >&2
	[[ -n $CSV ]] && echo "$1,$2,$rs,$p50,$p99,$n" >>"$CSV"
	if [[ -z ${BEST[$k.rs]:-} ]] || python3 -c "import sys; sys.exit(not float('$rs') > float('${BEST[$k.rs]}'))"; then
		BEST[$k.rs]=$rs
	fi
	if [[ -z ${BEST[$k.p50]:-} ]] || ((p50 < BEST[$k.p50])); then BEST[$k.p50]=$p50; fi
	if [[ -z ${BEST[$k.p99]:-} ]] || ((p99 < BEST[$k.p99])); then BEST[$k.p99]=$p99; fi
}

# run_variant NAME -- start what NAME needs, measure both targets, stop.
run_variant() {
	local v=$1 before after t0 c0 t1 c1 line target path
	case $v in
	preflightd | floor) write_policy "$PF_WORK/p.yaml" false
		PF_POLICY=$PF_WORK/p.yaml pf_start_preflightd tc >/dev/null ;;
	esac
	if [[ $v == floor ]]; then
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
	for target in 1m json; do
		path=/blob.bin
		[[ $target == json ]] && path=/small.json
		read -r t0 c0 <<<"$(prog_ns pf_ofl_msg)"
		read -r before _ <<<"$(prog_ns pf_tc_ingress)"
		line=$(wrk_run "$path" "$PF_WORK/wrk-$v-$target.out")
		read -r t1 c1 <<<"$(prog_ns pf_ofl_msg)"
		read -r after _ <<<"$(prog_ns pf_tc_ingress)"
		record "$v" "$target" "$line"
		local n
		n=$(awk '{ print $4 }' <<<"$line")
		if ((n > 0)) && [[ $v != base ]]; then
			# TC ingress ns per response (with the recorder in offload)
			BEST[$v.$target.in_ns]=$(((after - before) / n))
			if [[ $v == offload* ]]; then
				BEST[$v.$target.msg_ns]=$(((t1 - t0) / n))
				BEST[$v.$target.runs]=$(((c1 - c0) / n))
			fi
		fi
		echo "bench: round $r $v $target: $line${BEST[$v.$target.in_ns]:+ tc_in_ns=${BEST[$v.$target.in_ns]}}${BEST[$v.$target.msg_ns]:+ msg_ns=${BEST[$v.$target.msg_ns]}}" >&2
	done
	if [[ -n ${FLOOR_PID:-} ]]; then
		pf_bg_kill "$FLOOR_PID"
		FLOOR_PID=
	fi
	pf_stop_preflightd >/dev/null 2>&1 || true
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
	pf_topo_up >/dev/null
	pf_nginx_start "$CG" "$PORT"
	[[ -n $PF_NGINX_PID ]] || { echo "bench: $PF_NGINX_WHY" >&2; exit 1; }
	[[ -z $CSV ]] || echo "variant,target,req_s,p50_us,p99_us,requests" >"$CSV"
	# reference-counted, unlike the kernel.bpf_stats_enabled sysctl another
	# tenant may switch off mid-run; stopped with the background jobs
	"$STATSFD" >"$PF_WORK/statsfd.log" 2>&1 &
	local spid=$!
	PF_BG_PIDS+=("$spid")
	pf_wait_for_line "$PF_WORK/statsfd.log" ready 10 "$spid" ||
		{ echo "bench: statsfd: $(cat "$PF_WORK/statsfd.log")" >&2; exit 1; }
	local order=(base preflightd floor offload "${ALTS[@]}") rev i
	for ((r = 1; r <= ROUNDS; r++)); do
		for v in "${order[@]}"; do
			run_variant "$v"
		done
		rev=()
		for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
		order=("${rev[@]}")
	done
	report
}

# write_bench_csv FILE -- the best figures as `make bench` CSV lines after
# its header: "offload,<variant>.<target>,<metric>,<value>" and the run's
# settings as "offload,meta,<key>,<value>".
write_bench_csv() {
	local k
	{
		echo "group,variant,metric,value"
		echo "offload,meta,conns,$CONNS"
		echo "offload,meta,duration_s,$DURATION"
		echo "offload,meta,rounds,$ROUNDS"
		for k in $(printf '%s\n' "${!BEST[@]}" | sort); do
			echo "offload,${k%.*},${k##*.},${BEST[$k]}"
		done
	} >"$1"
}

# report -- the table and the targets, by bench/report.sh from the CSV.
report() {
	local f=${BENCH_CSV:-$PF_WORK/offload-bench.csv}
	write_bench_csv "$f"
	echo
	bash "$PF_ROOT/bench/report.sh" --offload "$f"
}

main "$@"

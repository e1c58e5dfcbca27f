#!/usr/bin/env bash
# bench.sh (`make bench`) -- preflightd against nginx, the app and a bare XDP
# floor, side by side in one run, with the same load generator.
#
# Builds a throw-away topology (netns "pfb", veth pfb0 <-> pfb1,
# 198.18.1.1 host / 198.18.1.2 client, a native XDP pass program on the
# client end so XDP_TX frames are delivered) and measures, one after the
# other under the same wrk client (bench/preflight.lua: a Chromium-like
# preflight, bench/preflight.txt) running in the client netns:
#   nginx   Debian's nginx answering preflights (bench/nginx.conf.in: map +
#           add_header ... always; validated with curl first)
#   app     the e2e app server answering its own preflights
#   tc      preflightd --mode tc in front of the app
#   xdp     preflightd --mode xdp in front of the app
#   floor   bench/floor.bpf.c: a fixed 204 bounced with XDP_TX, no parsing
# For each: p50/p99 latency over 1 connection, requests/s and machine
# CPU-us per preflight (/proc/stat busy time over the window / completed
# requests, client included) over 64 connections. For tc/xdp/floor also the
# in-kernel time (kernel.bpf_stats_enabled=1: run_time_ns/run_cnt of the
# ingress program, and its total run time / answered preflights). Then,
# without traffic: BPF_PROG_TEST_RUN cost of one answer (build/bench/kcost,
# policies of 10, 1,000 and 100,000 exact origins + 50 wildcards + 20
# headers), the time to compile+load a 100,000-origin policy, the maps'
# memory, and the flow table's memory at --max-flows 1048576.
#
# Every run is checked: wrk socket errors, non-2xx answers, OPTIONS the app
# saw (must be 0 behind preflightd and the floor), answers preflightd or the
# floor counted (must cover every completed request). Problems go to stderr
# and into the table, loudly; the exit status is then 1.
#
# Output: bench/results/latest.{md,csv,png} and the README section between
# <!-- bench:begin --> and <!-- bench:end -->; raw logs in build/bench/run/.
# Everything created (netns, veth, nginx, app, preflightd, floor, XDP
# programs, the bpf_stats sysctl) is removed or restored by a trap.
#
# CPU per preflight is the machine's busy time per request (/proc/stat);
# next to it, "own CPU" is the run time of our own processes (wrk, the
# server, ksoftirqd) per request, which other tenants cannot inflate.
#
# Every variant is measured BENCH_ROUNDS times (default 2, the second round
# in reverse order); a figure is the best of the rounds (other tenants only
# ever make it worse), counts are summed, problems of any round reported.
#
# Environment: BENCH_DURATION (s, 64-connection runs, default 6),
# BENCH_LAT_DURATION (s, 1-connection runs, default 5), BENCH_CONNS (64),
# BENCH_THREADS (wrk threads, 1), BENCH_KCOST_RUNS (20000), BENCH_ROUNDS (2),
# BENCH_LOAD_TRIES (100k-policy loads timed, best taken; 3),
# BENCH_README (README.md; "none" leaves it alone), BENCH_OUT
# (bench/results). Needs root and `make all e2e-tools bench-tools`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PFD=$BUILD/preflightd
APP=$BUILD/tests/e2e/appserver
FLOORCTL=$BUILD/bench/floorctl
KCOST=$BUILD/bench/kcost
XDP_PASS_OBJ=$BUILD/tests/e2e/xdp_pass.bpf.o
TCXTOOL=$BUILD/tests/e2e/tcxtool
LUA=$ROOT/bench/preflight.lua
REQ_TXT=$ROOT/bench/preflight.txt
NGINX_IN=$ROOT/bench/nginx.conf.in

DURATION=${BENCH_DURATION:-6}
LAT_DURATION=${BENCH_LAT_DURATION:-5}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-1}
KCOST_RUNS=${BENCH_KCOST_RUNS:-20000}
ROUNDS=${BENCH_ROUNDS:-2}
LOAD_TRIES=${BENCH_LOAD_TRIES:-3}
ROUND=1
OUT=${BENCH_OUT:-$ROOT/bench/results}
README=${BENCH_README:-$ROOT/README.md}
WORK=$BUILD/bench/run

# The topology (scripts/topo.sh reads these). Our names and subnet only.
export PF_NS=pfb PF_IF_HOST=pfb0 PF_IF_CLIENT=pfb1
export PF_V4_HOST=198.18.1.1 PF_V4_CLIENT=198.18.1.2 PF_V4_PLEN=24
export PF_V6_HOST=2001:db8:1::1 PF_V6_CLIENT=2001:db8:1::2 PF_V6_PLEN=64
export PF_XDP_OBJ=$XDP_PASS_OBJ
PORT=8080
URL=http://$PF_V4_HOST:$PORT/
ORIGIN_OK=https://app.example.com
ORIGIN_BAD=https://evil.example
HEADERS=(content-type x-request-id authorization accept-language x-csrf-token x-api-key
	x-trace-id x-correlation-id x-client-version x-device-id x-session-id x-tenant-id
	if-match if-none-match x-requested-with cache-control x-b3-traceid traceparent
	tracestate x-amz-date)
VARIANTS=(nginx app tc xdp floor)

T0=$(date +%s)
PROBLEMS=()          # loud problems of this run (also on stderr)
PIDS=()              # background processes we started
STATS_OLD=           # kernel.bpf_stats_enabled before we touched it
OUT_FD=1 ERR_FD=2    # the script's own stdout/stderr (see cleanup)

# ------------------------------------------------------------- logging ----
log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
# problem VARIANT TEXT -- a loud, recorded problem with a run.
problem() {
	PROBLEMS+=("$1: $2")
	printf '\n!!!!! bench: PROBLEM in %s: %s !!!!!\n\n' "$1" "$2" >&2
}

# ------------------------------------------------------ process control ----
alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

# wait_gone PID SECONDS -- 0 once PID has exited.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}

forget() {
	local p keep=()
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# stop PID [SECONDS] -- SIGTERM, then (preflightd drains) a second SIGTERM
# after SECONDS, then SIGKILL; reaps it.
stop() {
	local pid=$1 secs=${2:-5}
	[[ -n $pid ]] || return 0
	forget "$pid"
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_gone "$pid" "$secs"; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid" 3 || kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
}

# wait_line FILE ERE SECONDS PID -- until FILE has a line matching ERE;
# fails early if PID dies.
wait_line() {
	local i
	for ((i = 0; i < $3 * 100; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		alive "$4" || { grep -qE -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.01
	done
	return 1
}

ns() { ip netns exec "$PF_NS" "$@"; }

# nsec -- monotonic-enough wall clock in ns.
nsec() { date +%s%N; }

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	set +e
	# a signal's trap runs inside whatever redirection was active (wrk_run's
	# log file): back to the script's own stdout/stderr
	exec 1>&"$OUT_FD" 2>&"$ERR_FD"
	for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
		stop "$pid" 15
	done
	# anything a killed preflightd left (filters, pins); refuses if one runs
	if ip link show dev "$PF_IF_HOST" >/dev/null 2>&1; then
		"$PFD" detach --iface "$PF_IF_HOST" >/dev/null 2>&1
	fi
	bash "$ROOT/scripts/topo.sh" down >/dev/null 2>&1
	if [[ -n $STATS_OLD ]]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD" >/dev/null 2>&1
	fi
	if ((rc != 0)); then
		echo "bench: failed (rc=$rc); logs in $WORK" >&2
	fi
	exit "$rc"
}

# ------------------------------------------------------------ numbers ----
# calc EXPR -- awk arithmetic, printed with %.6g unless FMT given.
calc() { awk "BEGIN { v = $1; printf \"${2:-%.6g}\", v }"; }

# cpu_ticks -- "busy total" ticks of all CPUs from /proc/stat: busy is
# user + nice + system + irq + softirq; total adds idle, iowait and steal
# (time the hypervisor gave to others is not ours).
cpu_ticks() {
	awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 + $9; exit }' /proc/stat
}

# proc_snap FILE -- one line per process: "pid ppid kthread self all
# start comm". self: utime + stime of all its threads, dead ones included
# (/proc/PID/stat; the kernel scales these tick samples to the exact run
# time, shown in clock ticks); all: self + its reaped children (cutime +
# cstime, whole lifetimes: not used for windows); start: its start time
# (a reused pid is another process).
proc_snap() {
	# a process may exit between the glob and the read: not an error
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{
		comm = $0
		sub(/^[^(]*\(/, "", comm)
		sub(/\) [^)]*$/, "", comm)
		gsub(/[^A-Za-z0-9_.\/:-]/, "_", comm)
		line = $0
		sub(/^.*\) /, "", line)  # after "(comm) ": state is field 1
		split(line, f, " ")
		# PF_KTHREAD is flag 0x200000
		printf "%s %s %d %.0f %.0f %s %s\n", $1, f[2], int(f[7] / 2097152) % 2,
			f[12] + f[13], f[12] + f[13] + f[14] + f[15], f[20], comm
	}' >"$1"
}

# cpu_split SNAP0 SNAP1 -- "others own" clock ticks between two snapshots.
# others: user processes that are not ours (not descendants of this
# script: other tenants of the machine) -- a lower bound, as processes
# that start and end between the snapshots are not seen. own:
# our long-lived processes (the servers) and the ksoftirqd threads
# (network softirq work deferred off the task that raised it); wrk itself
# is added from the shell's child rusage.
cpu_split() {
	awk -v me=$$ '
		FNR == NR { self0[$1] = $4; st0[$1] = $6; next }
		{ seen[$1] = 1; pp[$1] = $2; kt[$1] = $3; self[$1] = $4; st[$1] = $6; cm[$1] = $7 }
		END {
			ours[me] = 1
			do {
				grew = 0
				for (p in seen)
					if (!(p in ours) && (pp[p] in ours)) { ours[p] = 1; grew = 1 }
			} while (grew)
			for (p in seen) {
				same = (p in st0) && st0[p] == st[p]
				ds = self[p] - (same ? self0[p] : 0)
				if (!kt[p] && !(p in ours)) others += ds
				if ((!kt[p] && (p in ours) && p != me) || (kt[p] && cm[p] ~ /^ksoftirqd/))
					own += ds
			}
			printf "%.0f %.0f\n", others, own
		}' "$1" "$2"
}

# child_ns -- CHILD_NS = CPU time (ns) of every child this shell has
# reaped (bash `times`, second line; getrusage: exact run time). Must run
# in the main shell (not in $(...)): a subshell has children of its own.
CHILD_NS=0
child_ns() {
	times >"$WORK/times.txt"
	CHILD_NS=$(awk 'NR == 2 {
		t = 0
		for (i = 1; i <= 2; i++) {
			split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2]
		}
		printf "%.0f\n", t * 1e9
	}' "$WORK/times.txt")
}

# prog_stat ID -- "run_time_ns run_cnt" of BPF program ID.
prog_stat() {
	bpftool -j prog show id "$1" 2>/dev/null |
		jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"' || echo "0 0"
}

# net_progs -- preflightd's BPF programs on $PF_IF_HOST: "xdp ID", "tc_in
# ID", "tc_out ID" lines. TC through tcxtool's chain (tcx links or clsact
# filters: bpftool 7.1 does not show tcx).
net_progs() {
	local d
	bpftool -j net show dev "$PF_IF_HOST" 2>/dev/null | jq -r '
		.[0] as $n |
		(($n.xdp // [])[] | (.multi_attachments // [.])[] | "xdp \(.id)")' 2>/dev/null || true
	for d in in out; do
		"$TCXTOOL" chain --iface "$PF_IF_HOST" --dir "$d" 2>/dev/null |
			awk -v d="$d" '$NF ~ /^pf_tc_(ingress|egress)$/ { print "tc_" d, ($1 == "tcx") ? $2 : $4 }'
	done
}

# pfd_stat JSONFILE NAME -- one counter from a `preflightd stats --json` dump.
pfd_stat() { jq -r --arg n "$2" '.[$n] // 0' "$1" 2>/dev/null || echo 0; }

# ------------------------------------------------------------ policies ----
# header_list -- the allowed headers as "a, b, c".
header_list() {
	local IFS=,
	local l="${HEADERS[*]}"
	echo "${l//,/, }"
}

# gen_policy N FILE -- N exact origins (https://app.example.com among them),
# 50 wildcards, 20 headers; also FILE.origins (exact) and FILE.wild.
gen_policy() {
	local n=$1 f=$2
	awk -v n="$n" 'BEGIN {
		for (i = 1; i < n; i++) {
			printf "https://app%d.customer%d.example.net\n", i, i % 97
			if (i == int(n / 2)) print "https://app.example.com"
		}
		if (n == 1) print "https://app.example.com"
	}' >"$f.origins"
	awk 'BEGIN { for (i = 1; i <= 50; i++) printf "tenant%d.example.org\n", i }' >"$f.wild"
	{
		echo "# generated by scripts/bench.sh: $n exact origins, 50 wildcards, 20 headers"
		echo "ports: [$PORT]"
		echo "rules:"
		echo "  - origins:"
		sed 's/^/      - /' "$f.origins"
		sed 's/^/      - "https:\/\/*./; s/$/"/' "$f.wild"
		echo "    methods: [GET, POST, PUT, PATCH, DELETE]"
		echo "    headers: [$(header_list)]"
		echo "    credentials: true"
		echo "    max_age: 600"
	} >"$f"
}

# nginx_conf POLICY -- nginx.conf for the same origins into $WORK.
nginx_conf() {
	local f=$1
	mkdir -p "$WORK/nginx-tmp"
	# shellcheck disable=SC2016  # $http_origin is nginx's, not ours
	{
		sed 's/.*/"&" $http_origin;/' "$f.origins"
		sed 's/\./\\./g; s/.*/"~^https:\/\/[a-z0-9-]+(\\.[a-z0-9-]+)*\\.&$" $http_origin;/' "$f.wild"
	} >"$WORK/nginx-origins.map"
	sed -e "s|@WORK@|$WORK|g" -e "s|@LISTEN@|$PF_V4_HOST:$PORT|g" \
		-e "s|@HEADERS@|$(header_list)|g" \
		"$NGINX_IN" >"$WORK/nginx.conf"
}

# ------------------------------------------------------------ services ----
APP_PID='' APP_LOG='' SRV_PID='' SRV_LOG=''

start_app() {
	APP_LOG=$WORK/app-$1-r$ROUND.log
	: >"$APP_LOG"
	"$APP" --listen "$PF_V4_HOST:$PORT" --log "$APP_LOG" --cors-origin "$ORIGIN_OK" \
		>"$WORK/app-$1-r$ROUND.out" 2>&1 &
	APP_PID=$!
	PIDS+=("$APP_PID")
	wait_line "$WORK/app-$1-r$ROUND.out" listening 10 "$APP_PID" || die "appserver did not start"
}

start_nginx() {
	nginx -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" ||
		die "nginx -t refused $WORK/nginx.conf"
	nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" \
		>"$WORK/nginx.out" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		ns timeout 2 bash -c "exec 3<>/dev/tcp/$PF_V4_HOST/$PORT" 2>/dev/null && return 0
		alive "$SRV_PID" || break
		sleep 0.05
	done
	die "nginx not accepting on $PF_V4_HOST:$PORT (see $WORK/nginx-error.log)"
}

# start_pfd MODE POLICY [ARGS...] -- preflightd in the background; sets
# SRV_PID, SRV_LOG and READY_MS (start to "ready").
READY_MS=
start_pfd() {
	local mode=$1 pol=$2 t0
	shift 2
	SRV_LOG=$WORK/preflightd-$mode-$(basename "$pol" .yaml)$(printf '%s' "$@" | tr -c 'a-z0-9' '_')-r$ROUND.log
	t0=$(nsec)
	"$PFD" run --iface "$PF_IF_HOST" --policy "$pol" --mode "$mode" --drain-timeout 5 "$@" \
		>"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_line "$SRV_LOG" ready 30 "$SRV_PID" ||
		die "preflightd ($mode) not ready: $(tail -n 5 "$SRV_LOG")"
	READY_MS=$(calc "($(nsec) - $t0) / 1e6" %.1f)
}

start_floor() {
	SRV_LOG=$WORK/floorctl-r$ROUND.log
	"$FLOORCTL" --iface "$PF_IF_HOST" --port "$PORT" --timeout 600 >"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_line "$SRV_LOG" ready 10 "$SRV_PID" || die "floorctl not ready: $(cat "$SRV_LOG")"
}

stop_srv() { stop "$SRV_PID" 10; SRV_PID=; }
stop_app() { stop "$APP_PID" 5; APP_PID=; }

# ------------------------------------------------------------- checks ----
# curl_preflight ORIGIN OUT -- the benchmark's preflight (the headers of
# bench/preflight.txt, Origin replaced by ORIGIN) with curl from the client
# netns on a new connection; headers to OUT, status printed. Same size as
# wrk's request: the floor cannot answer a request shorter than its
# response (the frame cannot grow on a veth) and passes it to the app.
curl_preflight() {
	local origin=$1 out=$2 line path=/ args=()
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		'' | '#'*) ;;
		'OPTIONS '*) path=${line#OPTIONS }; path=${path% HTTP/1.1} ;;
		Origin:*) args+=(-H "Origin: $origin") ;;
		*) args+=(-H "$line") ;;
		esac
	done <"$REQ_TXT"
	ns env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u all_proxy \
		timeout -k 2 10 curl --noproxy '*' --max-time 5 -s -o /dev/null -D "$out" \
		-w '%{http_code}' -X OPTIONS "${args[@]}" "http://$PF_V4_HOST:$PORT$path" || true
}

# hdr FILE NAME -- header value from a curl -D dump (CR stripped).
hdr() { tr -d '\r' <"$1" | awk -v n="$2" 'BEGIN { n = tolower(n) ":" }
	tolower($1) == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'; }

# check_cors VARIANT -- an allowed-origin preflight must get a 204 with the
# CORS headers (checked for presence and value); nginx also gets a
# disallowed origin, which must get no Access-Control-Allow-Origin.
check_cors() {
	local v=$1 f=$WORK/curl-$1-r$ROUND.txt code bad=() h
	code=$(curl_preflight "$ORIGIN_OK" "$f")
	[[ $code == 204 ]] || bad+=("status $code, want 204")
	[[ $(hdr "$f" Access-Control-Allow-Origin) == "$ORIGIN_OK" ]] ||
		bad+=("Access-Control-Allow-Origin '$(hdr "$f" Access-Control-Allow-Origin)'")
	for h in Access-Control-Allow-Methods Access-Control-Allow-Headers Vary; do
		[[ -n $(hdr "$f" "$h") ]] || bad+=("no $h")
	done
	[[ $(hdr "$f" Access-Control-Allow-Methods) == *PUT* ]] || bad+=("PUT not allowed")
	[[ $(hdr "$f" Access-Control-Allow-Headers) == *x-request-id* ]] ||
		bad+=("x-request-id not allowed")
	if [[ $v != app ]]; then  # the app's own answer has no credentials/max-age
		[[ $(hdr "$f" Access-Control-Allow-Credentials) == true ]] ||
			bad+=("Access-Control-Allow-Credentials '$(hdr "$f" Access-Control-Allow-Credentials)'")
		[[ $(hdr "$f" Access-Control-Max-Age) == 600 ]] ||
			bad+=("Access-Control-Max-Age '$(hdr "$f" Access-Control-Max-Age)'")
		[[ $(hdr "$f" Vary) == *Origin* && $(hdr "$f" Vary) == *Access-Control-Request-Headers* ]] ||
			bad+=("Vary '$(hdr "$f" Vary)'")
	fi
	if [[ $v == nginx ]]; then
		code=$(curl_preflight "$ORIGIN_BAD" "$WORK/curl-nginx-bad.txt")
		[[ -z $(hdr "$WORK/curl-nginx-bad.txt" Access-Control-Allow-Origin) ]] ||
			bad+=("disallowed origin got Access-Control-Allow-Origin")
		[[ -z $(hdr "$WORK/curl-nginx-bad.txt" Access-Control-Allow-Credentials) ]] ||
			bad+=("disallowed origin got Access-Control-Allow-Credentials")
		[[ -n $(hdr "$WORK/curl-nginx-bad.txt" Vary) ]] || bad+=("disallowed origin: no Vary")
	fi
	if ((${#bad[@]})); then
		problem "$v" "curl preflight check: $(IFS=';'; echo "${bad[*]}") (see $f)"
	else
		log "$v: curl preflight ok ($(grep -c . "$f") header lines)"
	fi
}

# --------------------------------------------------------------- load ----
# wrk_run CONNS SECONDS OUT -- wrk from the client netns; the BENCH JSON
# line goes to OUT.json, everything to OUT.txt.
wrk_run() {
	local c=$1 d=$2 out=$3 t=$THREADS
	((t <= c)) || t=$c
	ns timeout -k 5 $((d + 20)) wrk -t"$t" -c"$c" -d"${d}s" --timeout 2s -s "$LUA" "$URL" \
		>"$out.txt" 2>&1 || true
	grep -m1 '^BENCH ' "$out.txt" | cut -d' ' -f2- >"$out.json" || true
	[[ -s $out.json ]] || { echo '{}' >"$out.json"; return 1; }
}

# j FILE KEY -- a number from a JSON file (0 if absent).
j() { jq -r --arg k "$2" '.[$k] // 0' "$1"; }

declare -A R          # R[variant.metric] = value

# measure VARIANT -- the runs of one variant; services already up.
measure() {
	local v=$1 b0 b1 t0 t1 c0 c1 others own hz r=$1-r$ROUND
	local lat=$WORK/$r-c1 tp=$WORK/$r-c$CONNS
	local req errs non2xx kind id f
	declare -A k0 k1 kid

	log "$v: warm-up 1 s, then $LAT_DURATION s at 1 connection"
	wrk_run "$CONNS" 1 "$WORK/$r-warm" || problem "$v" "warm-up run printed no result"
	wrk_run 1 "$LAT_DURATION" "$lat" || problem "$v" "1-connection run printed no result"

	# in-kernel program stats and preflightd counters around the 64-conn run
	while read -r kind id; do
		[[ -n $kind ]] || continue
		kid[$kind]=$id
		k0[$kind]=$(prog_stat "$id")
	done <<<"$(net_progs)"
	if [[ $v == tc || $v == xdp ]]; then
		"$PFD" stats --iface "$PF_IF_HOST" --json >"$WORK/$r-stats0.json" 2>/dev/null || echo '{}' >"$WORK/$r-stats0.json"
	fi
	log "$v: $DURATION s at $CONNS connections"
	proc_snap "$WORK/$r-procs0.txt"
	read -r b0 t0 <<<"$(cpu_ticks)"
	child_ns
	c0=$CHILD_NS
	wrk_run "$CONNS" "$DURATION" "$tp" || problem "$v" "$CONNS-connection run printed no result"
	child_ns
	c1=$CHILD_NS
	read -r b1 t1 <<<"$(cpu_ticks)"
	proc_snap "$WORK/$r-procs1.txt"
	read -r others own <<<"$(cpu_split "$WORK/$r-procs0.txt" "$WORK/$r-procs1.txt")"
	for kind in "${!kid[@]}"; do
		k1[$kind]=$(prog_stat "${kid[$kind]}")
	done
	if [[ $v == tc || $v == xdp ]]; then
		"$PFD" stats --iface "$PF_IF_HOST" --json >"$WORK/$r-stats1.json" 2>/dev/null || echo '{}' >"$WORK/$r-stats1.json"
	fi

	R[$v.p50_us]=$(j "$lat.json" p50_us)
	R[$v.p90_us]=$(j "$lat.json" p90_us)
	R[$v.p99_us]=$(j "$lat.json" p99_us)
	R[$v.mean_us]=$(j "$lat.json" mean_us)
	R[$v.lat_requests]=$(j "$lat.json" requests)
	req=$(j "$tp.json" requests)
	R[$v.requests]=$req
	R[$v.rps]=$(calc "$req / ($(j "$tp.json" duration_us) / 1e6 + 1e-9)" %.0f)
	# CPU: the machine's busy time per request (other tenants included),
	# and our own processes' exact run time per request (wrk + servers +
	# ksoftirqd) as a cross-check that other tenants cannot move
	hz=$(getconf CLK_TCK)
	R[$v.cpu_us]=$(calc "($b1 - $b0) * (1e6 / $hz) / ($req + 1e-9)" %.1f)
	R[$v.own_cpu_us]=$(calc "(($c1 - $c0) / 1e3 + $own * 1e6 / $hz) / ($req + 1e-9)" %.1f)
	R[$v.cpu_util_pct]=$(calc "100 * ($b1 - $b0) / ($t1 - $t0)" %.0f)
	R[$v.others_cpu_pct]=$(calc "100 * $others / ($t1 - $t0)" %.0f)
	R[$v.errors]=0
	R[$v.non2xx]=0
	for f in "$WORK/$r-warm.json" "$lat.json" "$tp.json"; do
		errs=$(jq -r '(.connect // 0) + (.read // 0) + (.write // 0) + (.timeout // 0)' "$f")
		non2xx=$(j "$f" status)
		R[$v.errors]=$((${R[$v.errors]} + errs))
		R[$v.non2xx]=$((${R[$v.non2xx]} + non2xx))
	done
	((${R[$v.errors]} == 0)) || problem "$v" "${R[$v.errors]} socket errors (connect/read/write/timeout) in wrk runs"
	((${R[$v.non2xx]} == 0)) || problem "$v" "${R[$v.non2xx]} non-2xx answers in wrk runs"
	((req > 0)) || problem "$v" "no request completed at $CONNS connections"
	((${R[$v.lat_requests]} > 0)) || problem "$v" "no request completed at 1 connection"

	# in-kernel time: the program answering at ingress, and all of them
	local ingress=
	case $v in
	tc) ingress=tc_in ;;
	xdp | floor) ingress=xdp ;;
	esac
	if [[ -n $ingress && -n ${kid[$ingress]:-} ]]; then
		local rt cnt art=0 r0 c0 r1 c1 answered
		read -r r0 c0 <<<"${k0[$ingress]}"
		read -r r1 c1 <<<"${k1[$ingress]}"
		rt=$((r1 - r0)) cnt=$((c1 - c0))
		for kind in "${!kid[@]}"; do
			read -r r0 c0 <<<"${k0[$kind]}"
			read -r r1 c1 <<<"${k1[$kind]}"
			art=$((art + r1 - r0))
		done
		if [[ $v == floor ]]; then
			answered=$req  # the floor's own count is only read at exit
		else
			answered=$(($(pfd_stat "$WORK/$r-stats1.json" answered) - $(pfd_stat "$WORK/$r-stats0.json" answered)))
		fi
		R[$v.answered_window]=$answered
		R[$v.k_ns_per_run]=$(calc "$rt / ($cnt + 1e-9)" %.0f)
		R[$v.k_runs_per_req]=$(calc "$cnt / ($req + 1e-9)" %.2f)
		R[$v.k_ns_per_answer]=$(calc "$rt / ($answered + 1e-9)" %.0f)
		R[$v.k_all_ns_per_answer]=$(calc "$art / ($answered + 1e-9)" %.0f)
		((cnt > 0)) || problem "$v" "bpf_stats: ingress program ran 0 times (stats not enabled?)"
		if [[ $v != floor ]] && ((answered < req)); then
			problem "$v" "preflightd answered $answered in the window, wrk completed $req"
		fi
	fi
	log "$v: p50 ${R[$v.p50_us]} us, p99 ${R[$v.p99_us]} us (1 conn); ${R[$v.rps]} req/s, ${R[$v.cpu_us]} CPU-us/preflight (own processes ${R[$v.own_cpu_us]}; other tenants ${R[$v.others_cpu_pct]} % of the machine) ($CONNS conns)"
}

# app_options VARIANT -- OPTIONS requests the app logged.
app_options() {
	local n
	n=$(grep -c ' OPTIONS ' "$APP_LOG" 2>/dev/null) || true
	R[$1.app_options]=${n:-0}
}

# ------------------------------------------------------------ variants ----
run_nginx() {
	nginx_conf "$POL1000"
	start_nginx
	check_cors nginx
	measure nginx
	stop_srv
	R[nginx.app_options]=-
}

run_app() {
	start_app app
	check_cors app
	measure app
	app_options app
	stop_app
	local want
	want=$((${R[app.requests]} + ${R[app.lat_requests]}))
	((${R[app.app_options]} >= want)) ||
		problem app "the app logged ${R[app.app_options]} OPTIONS, wrk completed at least $want"
}

run_pfd() {
	local mode=$1
	start_app "$mode"
	start_pfd "$mode" "$POL1000"
	check_cors "$mode"
	measure "$mode"
	local sf=$WORK/$mode-r$ROUND-stats-final.txt
	"$PFD" stats --iface "$PF_IF_HOST" >"$sf" 2>&1 || true
	R[$mode.answered]=$(awk '$1 == "answered" { print $2 }' "$sf")
	R[$mode.passed]=$(awk '$1 ~ /^(pass_|fwd_)/ { s += $2 } END { print s + 0 }' "$sf")
	stop_srv
	app_options "$mode"
	stop_app
	((${R[$mode.app_options]} == 0)) ||
		problem "$mode" "the app saw ${R[$mode.app_options]} OPTIONS behind preflightd (must be 0; pass counters: $(awk '$1 ~ /^(pass_|fwd_|retx)/ && $2 > 0 { printf "%s=%s ", $1, $2 }' "$sf"))"
	[[ ${R[$mode.answered]:-0} -gt 0 ]] || problem "$mode" "preflightd stats show no answer"
}

run_floor() {
	start_app floor
	start_floor
	check_cors floor
	measure floor
	stop_srv
	R[floor.answered]=$(awk '/bounced/ { print $3 }' "$SRV_LOG")
	app_options floor
	stop_app
	((${R[floor.app_options]} == 0)) ||
		problem floor "the app saw ${R[floor.app_options]} OPTIONS behind the floor (must be 0)"
	local want
	want=$((${R[floor.requests]} + ${R[floor.lat_requests]}))
	((${R[floor.answered]:-0} >= want)) ||
		problem floor "floor bounced ${R[floor.answered]:-0}, wrk completed at least $want"
}

# ------------------------------------------------------ kernel figures ----
run_kcost() {
	log "kcost: BPF_PROG_TEST_RUN, $KCOST_RUNS answers per policy and mode"
	timeout -k 5 300 "$KCOST" --request "$REQ_TXT" --runs "$KCOST_RUNS" --stages --floor \
		"$POL1000" "$POL10" "$POL100K" >"$WORK/kcost.txt" 2>"$WORK/kcost.err" ||
		problem kcost "kcost failed: $(tail -n 3 "$WORK/kcost.err")"
	sed -n 's/^KCOST //p' "$WORK/kcost.txt" >"$WORK/kcost.jsonl"
	local what pol key
	while read -r what pol key; do
		R[kc.$key]=$(jq -r --arg w "$what" --arg p "$pol" \
			'select(.what == $w and (.policy | endswith($p))) | .p50_ns' "$WORK/kcost.jsonl" | head -n1)
	done <<-EOF
		tc pol-10.yaml tc10
		tc pol-1000.yaml tc1000
		tc pol-100000.yaml tc100000
		xdp pol-10.yaml xdp10
		xdp pol-1000.yaml xdp1000
		xdp pol-100000.yaml xdp100000
		tc.not_options pol-1000.yaml s_not_options
		tc.plain_options pol-1000.yaml s_plain
		tc.no_socket pol-1000.yaml s_no_socket
		xdp.not_options pol-1000.yaml x_not_options
		xdp.plain_options pol-1000.yaml x_plain
		xdp.no_socket pol-1000.yaml x_no_socket
		floor - floor
		empty - empty
	EOF
	R[kc.repeat_answered]=$(jq -r 'select(.what == "repeat_check") | .answered' "$WORK/kcost.jsonl")
}

# policy compile/load time, map memory, 1M-flow table memory. Load times
# are the best of LOAD_TRIES (all of them are in the CSV and the log).
run_policy_load() {
	local t0 t1 id m i checks=() readies=()
	for ((i = 1; i <= LOAD_TRIES; i++)); do
		t0=$(nsec)
		timeout -k 5 60 "$PFD" check "$POL100K" >"$WORK/check-100k.txt" 2>&1 ||
			problem policy "preflightd check refused the 100k policy"
		t1=$(nsec)
		checks+=("$(calc "($t1 - $t0) / 1e6" %.0f)")
		start_pfd tc "$POL100K"
		readies+=("$READY_MS")
		if ((i == 1)); then
			id=$(net_progs | awk '$1 == "tc_in" { print $2; exit }')
			for m in $(bpftool -j prog show id "$id" | jq -r '.map_ids[]'); do
				bpftool -j map show id "$m" |
					jq -r '"\(.name) \(.bytes_memlock // 0) \(.max_entries)"'
			done >"$WORK/maps-100k.txt"
		fi
		stop_srv
	done
	R[pol.check_ms]=$(printf '%s\n' "${checks[@]}" | sort -g | head -n1)
	R[pol.ready_ms]=$(printf '%s\n' "${readies[@]}" | sort -g | head -n1)
	R[pol.check_all_ms]=$(IFS=/; echo "${checks[*]}")
	R[pol.ready_all_ms]=$(IFS=/; echo "${readies[*]}")
	R[pol.maps_bytes]=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/maps-100k.txt")
	R[pol.tokens_bytes]=$(awk '$1 == "pf_tokens" { print $2 }' "$WORK/maps-100k.txt")
	R[pol.flows_bytes_default]=$(awk '$1 == "pf_flows" { print $2 }' "$WORK/maps-100k.txt")
	log "100k-origin policy: check ${R[pol.check_all_ms]} ms, start to ready ${R[pol.ready_all_ms]} ms, maps $(calc "${R[pol.maps_bytes]} / 1048576" %.1f) MiB"
	start_pfd tc "$POL10" --max-flows 1048576
	R[pol.ready_1m_ms]=$READY_MS
	id=$(net_progs | awk '$1 == "tc_in" { print $2; exit }')
	for m in $(bpftool -j prog show id "$id" | jq -r '.map_ids[]'); do
		bpftool -j map show id "$m" | jq -r '"\(.name) \(.bytes_memlock // 0) \(.max_entries)"'
	done >"$WORK/maps-1m.txt"
	R[pol.flows_1m_bytes]=$(awk '$1 == "pf_flows" { print $2 }' "$WORK/maps-1m.txt")
	stop_srv
	log "flow table for 1M connections: $(calc "${R[pol.flows_1m_bytes]:-0} / 1048576" %.1f) MiB"
}

# ------------------------------------------------------------- rounds ----
# How the figures of several rounds combine: the best of the rounds for
# times and costs (other tenants only ever add to them), the sum for counts.
AGG_MIN=(p50_us p90_us p99_us mean_us cpu_us own_cpu_us others_cpu_pct k_ns_per_run
	k_ns_per_answer k_all_ns_per_answer)
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
	R[nginx.app_options]=-
}

# ------------------------------------------------------------- report ----
# ratio A B -- A/B with 2 decimals ("-" if either is missing/zero).
ratio() {
	[[ -n ${1:-} && -n ${2:-} && $1 != - && $2 != - ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# target NAME VALUE LIMIT UNIT [NOTE] -- one "MET/MISSED" line (VALUE <=
# LIMIT), NOTE appended.
target() {
	local name=$1 val=$2 lim=$3 unit=${4:-} note=${5:-}
	if [[ -z $val || $val == - ]]; then
		printf -- '- %s: **NOT MEASURED**\n' "$name"
		return
	fi
	awk -v n="$name" -v v="$val" -v l="$lim" -v u="$unit" -v note="$note" 'BEGIN {
		if (v <= l) printf "- %s: **MET** (%s%s, %.0f %% under the limit of %s%s)%s\n", n, v, u, 100 * (l - v) / l, l, u, note
		else printf "- %s: **MISSED** (%s%s, %.0f %% over the limit of %s%s, %.2fx)%s\n", n, v, u, 100 * (v - l) / l, l, u, v / l, note
	}'
}

short() {
	case $1 in
	tc | xdp) echo "${1^^}" ;;
	*) echo "$1" ;;
	esac
}

# own_verdict RATIO LIMIT -- "; own CPU: 0.52× (MET)" for a target line.
own_verdict() {
	[[ -n $1 && $1 != - ]] || return 0
	awk -v v="$1" -v l="$2" 'BEGIN {
		printf "; by own CPU: %s× (%s)", v, v <= l ? "MET" : "MISSED"
	}'
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
	for p in "${PROBLEMS[@]+"${PROBLEMS[@]}"}"; do
		[[ $p == "$v: "* ]] && s+="**${p#"$v: "}**; "
	done
	[[ -n $s ]] && echo "${s%; }" || echo ok
}

write_csv() {
	local f=$1 v k
	{
		echo "group,variant,metric,value"
		for v in "${VARIANTS[@]}"; do
			for k in p50_us p90_us p99_us mean_us rps cpu_us own_cpu_us cpu_util_pct \
				others_cpu_pct requests lat_requests errors non2xx app_options answered \
				k_ns_per_run k_runs_per_req k_ns_per_answer k_all_ns_per_answer; do
				[[ -n ${R[$v.$k]:-} ]] && echo "live,$v,$k,${R[$v.$k]}"
			done
			echo "live,$v,status,\"$(status_of "$v" | tr -d '*' | tr '"' "'")\""
		done
		for k in $(printf '%s\n' "${!RR[@]}" | sort -t. -k1,1n -k2,2 -k3,3); do
			echo "round${k%%.*},$(cut -d. -f2 <<<"$k"),$(cut -d. -f3- <<<"$k"),${RR[$k]}"
		done
		for k in tc10 tc1000 tc100000 xdp10 xdp1000 xdp100000 s_not_options s_plain \
			s_no_socket x_not_options x_plain x_no_socket floor empty; do
			echo "testrun,$k,p50_ns,${R[kc.$k]:-}"
		done
		echo "testrun,repeat_check,answered_of_1000,${R[kc.repeat_answered]:-}"
		for k in check_ms ready_ms check_all_ms ready_all_ms maps_bytes tokens_bytes \
			flows_bytes_default ready_1m_ms flows_1m_bytes; do
			echo "policy,100k,$k,${R[pol.$k]:-}"
		done
	} >"$f"
}

write_plot() {
	local png=$1 dat=$WORK/plot.dat v
	# short name, p50 us, CPU us/preflight, k req/s, in-kernel ns/answer,
	# own CPU us/preflight
	for v in "${VARIANTS[@]}"; do
		printf '"%s" %s %s %s %s %s\n' "$(short "$v")" "${R[$v.p50_us]:-0}" "${R[$v.cpu_us]:-0}" \
			"$(calc "${R[$v.rps]:-0} / 1000" %.1f)" "${R[$v.k_ns_per_answer]:-0}" \
			"${R[$v.own_cpu_us]:-0}"
	done >"$dat"
	gnuplot <<-EOF
		set terminal pngcairo size 1800,520 font "DejaVu Sans,12"
		set output "$png"
		set multiplot layout 1,4 title "CORS preflights, $(date -u +%Y-%m-%d), make bench: $MACHINE (TC, XDP: preflightd)" font ",13"
		set style fill solid 0.85 border -1
		set boxwidth 0.65
		set grid ytics
		set xtics scale 0 font ",11"
		set xrange [-0.6:4.6]
		set yrange [0:*]
		set offsets 0, 0, graph 0.12, 0
		unset key
		set title "p50 latency, 1 connection (µs, lower is better)"
		plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa", "" using 0:2:(sprintf("%g", \$2)) with labels offset 0,0.8 notitle
		set title "CPU per preflight, $CONNS conns (µs, lower is better)"
		set key top right font ",10"
		set boxwidth 0.38
		plot "$dat" using (\$0 - 0.2):3:xtic(1) with boxes lc rgb "#cc6677" title "machine", \\
			"" using (\$0 + 0.2):6 with boxes lc rgb "#ddaa33" title "own processes", \\
			"" using (\$0 - 0.2):3:(sprintf("%.0f", \$3)) with labels offset 0,0.8 font ",10" notitle, \\
			"" using (\$0 + 0.2):6:(sprintf("%.0f", \$6)) with labels offset 0,0.8 font ",10" notitle
		unset key
		set boxwidth 0.65
		set title "throughput, $CONNS connections (k req/s)"
		plot "$dat" using 0:4:xtic(1) with boxes lc rgb "#228833", "" using 0:4:(sprintf("%g", \$4)) with labels offset 0,0.8 notitle
		set title "in-kernel per answer, live (ns, lower is better)"
		set xrange [-0.6:2.6]
		plot "$dat" every ::2 using 0:5:xtic(1) with boxes lc rgb "#aa7733", "" every ::2 using 0:5:(sprintf("%g", \$5)) with labels offset 0,0.8 notitle
		unset multiplot
	EOF
}

# per_round METRIC -- "nginx a/b, app c/d, ..." from the rounds.
per_round() {
	local v r out=() vals
	for v in "${VARIANTS[@]}"; do
		vals=()
		for ((r = 1; r <= ROUNDS; r++)); do
			vals+=("${RR[$r.$v.$1]:--}")
		done
		out+=("$(short "$v") $(IFS=/; echo "${vals[*]}")")
	done
	local IFS=, joined
	joined="${out[*]}"
	echo "${joined//,/, }"
}

# The markdown report (also the README section).
write_md() {
	local v n_p50=${R[nginx.p50_us]:-} f_p50=${R[floor.p50_us]:-}
	local n_cpu=${R[nginx.cpu_us]:-} f_cpu=${R[floor.cpu_us]:-}
	echo "_Measured $(date -u '+%Y-%m-%d %H:%M UTC') on ${MACHINE}; \`make bench\`, $(($(date +%s) - T0)) s._"
	echo
	echo "Same wrk client (\`bench/preflight.lua\`: a Chromium-like preflight of ${R[kc.req_len]:-?} bytes) for every row, run in a client netns over a veth. Latency: 1 connection, ${LAT_DURATION} s. Throughput and CPU: $CONNS connections, ${DURATION} s, $THREADS wrk thread. $ROUNDS rounds (the second in reverse order); each figure is the best of the rounds, counts are summed (every round is in the CSV). Policy: 1,000 exact origins + 50 wildcards + 20 headers (nginx: the same origins in a \`map\`)."
	echo
	echo "| variant | p50 µs | p99 µs | req/s | CPU µs/preflight | own CPU µs | p50 × nginx | p50 × floor | CPU × nginx | CPU × floor | in-kernel ns/answer | checks |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for v in "${VARIANTS[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$v")" \
			"${R[$v.p50_us]:--}" "${R[$v.p99_us]:--}" "${R[$v.rps]:--}" "${R[$v.cpu_us]:--}" \
			"${R[$v.own_cpu_us]:--}" \
			"$(ratio "${R[$v.p50_us]:-}" "$n_p50")" "$(ratio "${R[$v.p50_us]:-}" "$f_p50")" \
			"$(ratio "${R[$v.cpu_us]:-}" "$n_cpu")" "$(ratio "${R[$v.cpu_us]:-}" "$f_cpu")" \
			"${R[$v.k_ns_per_answer]:--}" "$(status_of "$v")"
	done
	echo
	echo "Checks per row: curl preflight headers (nginx also with a disallowed origin: no CORS headers), zero wrk socket errors and non-2xx answers, OPTIONS seen by the app (app: ${R[app.app_options]:-?}; behind preflightd TC/XDP and the floor: ${R[tc.app_options]:-?}/${R[xdp.app_options]:-?}/${R[floor.app_options]:-?}, must be 0), answers counted by preflightd (TC ${R[tc.answered]:-?}, XDP ${R[xdp.answered]:-?}) and the floor (${R[floor.answered]:-?})."
	echo
	echo "CPU µs/preflight: the machine's busy time (user + nice + system + irq + softirq of all CPUs, /proc/stat) during the $CONNS-connection window divided by the completed requests; it includes the client and whatever else ran on the machine. Own CPU µs: the run time (/proc/PID/stat, getrusage) of this benchmark's own processes -- wrk, the server, ksoftirqd -- per request, which other tenants cannot move. Other tenants' processes used at least $(for v in "${VARIANTS[@]}"; do printf '%s %s %%, ' "$(short "$v")" "${R[$v.others_cpu_pct]:-?}"; done | sed 's/, $//') of the machine in the least busy of those windows (their CPU inflates the machine-wide column, not the own column)."
	echo
	echo "Spread over the rounds (round 1 / round 2 ...): p50 µs $(per_round p50_us); CPU µs/preflight $(per_round cpu_us); own CPU µs $(per_round own_cpu_us); req/s $(per_round rps)."
	echo
	echo "![preflight latency, CPU and throughput](bench/results/latest.png)"
	echo
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
	echo "| flatness: max/min over 10 / 1,000 / 100,000 origins | ${R[kc.tc_flat]:--} | ${R[kc.xdp_flat]:--} | |"
	echo
	echo "Test runs: the socket-mocked test object (\`build/tests/bpf/preflightd_test.bpf.o\`), a steady keep-alive conversation of ${KCOST_RUNS} answers (each request acks the previous response), one \`BPF_PROG_TEST_RUN\` per answer timed by the kernel — \`repeat\` cannot be used because the program rewrites the frame in place (a repeat of 1,000 answers ${R[kc.repeat_answered]:-?} time). A timed run of a program that returns at once costs ${R[kc.empty]:-?} ns (included above). The mock replaces the socket look-up (\`bpf_skc_lookup_tcp\` + \`tcp_sock\` reads), which the live numbers include. Where the TC answer's time goes (p50 ns, each stage includes the previous): up to the \"OPTIONS \" prefix check ${R[kc.s_not_options]:-?}; + request copy and HTTP parse (no Origin) ${R[kc.s_plain]:-?}; + policy match and response build (socket mock invalid) ${R[kc.s_no_socket]:-?}; + socket guards, checksum check, flow update and rewrite ${R[kc.tc1000]:-?} (XDP: ${R[kc.x_not_options]:-?} / ${R[kc.x_plain]:-?} / ${R[kc.x_no_socket]:-?} / ${R[kc.xdp1000]:-?})."
	echo
	echo "Policy of 100,000 exact origins (best of $LOAD_TRIES): \`preflightd check\` ${R[pol.check_ms]:-?} ms (${R[pol.check_all_ms]:-?}); \`preflightd run\` start to \"ready\" (parse, compile, load the programs, fill the maps, attach) ${R[pol.ready_ms]:-?} ms (${R[pol.ready_all_ms]:-?}); maps $(calc "${R[pol.maps_bytes]:-0} / 1048576" %.1f) MiB memlock (pf_tokens $(calc "${R[pol.tokens_bytes]:-0} / 1048576" %.1f) MiB, default 65,536-entry flow table $(calc "${R[pol.flows_bytes_default]:-0} / 1048576" %.1f) MiB). Flow table for 1M connections (\`--max-flows 1048576\`): $(calc "${R[pol.flows_1m_bytes]:-0} / 1048576" %.1f) MiB memlock (start to ready ${R[pol.ready_1m_ms]:-?} ms)."
	echo
	echo "**Targets** (computed from the numbers above):"
	echo
	target "p50 latency ≤ 0.2× nginx (TC)" "$(ratio "${R[tc.p50_us]:-}" "$n_p50")" 0.2 "×"
	target "p50 latency ≤ 0.2× nginx (XDP)" "$(ratio "${R[xdp.p50_us]:-}" "$n_p50")" 0.2 "×"
	target "p50 latency ≤ 1.3× floor (TC)" "$(ratio "${R[tc.p50_us]:-}" "$f_p50")" 1.3 "×"
	target "p50 latency ≤ 1.3× floor (XDP)" "$(ratio "${R[xdp.p50_us]:-}" "$f_p50")" 1.3 "×"
	local own_n=${R[nginx.own_cpu_us]:-} own_f=${R[floor.own_cpu_us]:-}
	target "CPU/preflight ≤ 0.7× nginx (TC)" "$(ratio "${R[tc.cpu_us]:-}" "$n_cpu")" 0.7 "×" \
		"$(own_verdict "$(ratio "${R[tc.own_cpu_us]:-}" "$own_n")" 0.7)"
	target "CPU/preflight ≤ 0.7× nginx (XDP)" "$(ratio "${R[xdp.cpu_us]:-}" "$n_cpu")" 0.7 "×" \
		"$(own_verdict "$(ratio "${R[xdp.own_cpu_us]:-}" "$own_n")" 0.7)"
	target "CPU/preflight ≤ 1.15× floor (TC)" "$(ratio "${R[tc.cpu_us]:-}" "$f_cpu")" 1.15 "×" \
		"$(own_verdict "$(ratio "${R[tc.own_cpu_us]:-}" "$own_f")" 1.15)"
	target "CPU/preflight ≤ 1.15× floor (XDP)" "$(ratio "${R[xdp.cpu_us]:-}" "$f_cpu")" 1.15 "×" \
		"$(own_verdict "$(ratio "${R[xdp.own_cpu_us]:-}" "$own_f")" 1.15)"
	target "in-kernel ≤ 1 µs per answered preflight, TC (live, ingress run time / answered)" "${R[tc.k_ns_per_answer]:-}" 1000 " ns"
	target "in-kernel ≤ 1 µs per answered preflight, TC (test run p50)" "${R[kc.tc1000]:-}" 1000 " ns"
	target "in-kernel ≤ 600 ns per answered preflight, XDP (live, ingress run time / answered)" "${R[xdp.k_ns_per_answer]:-}" 600 " ns"
	target "in-kernel ≤ 600 ns per answered preflight, XDP (test run p50)" "${R[kc.xdp1000]:-}" 600 " ns"
	target "flat cost: 10 / 1,000 / 100,000 origins within 10 %, TC (max/min)" "${R[kc.tc_flat]:-}" 1.10 "×"
	target "flat cost: 10 / 1,000 / 100,000 origins within 10 %, XDP (max/min)" "${R[kc.xdp_flat]:-}" 1.10 "×"
	target "100,000-origin policy compiled and loaded < 1 s (start to ready)" "${R[pol.ready_ms]:-}" 1000 " ms"
	echo
	if ((${#PROBLEMS[@]})); then
		echo "**PROBLEMS in this run:**"
		echo
		printf -- '- **%s**\n' "${PROBLEMS[@]}"
		echo
	fi
	echo "Reproduce: \`make bench\` (root, about $(( ($(date +%s) - T0 + 59) / 60 )) min; raw logs in \`build/bench/run/\`; BENCH_DURATION, BENCH_LAT_DURATION, BENCH_CONNS change the runs)."
}

# Replace the README section between the markers with file $1.
update_readme() {
	local md=$1 tmp
	[[ $README != none ]] || return 0
	if ! grep -q '<!-- bench:begin -->' "$README" || ! grep -q '<!-- bench:end -->' "$README"; then
		problem readme "markers not found in $README"
		return 0
	fi
	tmp=$(mktemp)
	awk -v md="$md" '
		/<!-- bench:begin -->/ { print; while ((getline l < md) > 0) print l; skip = 1; next }
		/<!-- bench:end -->/ { skip = 0 }
		!skip { print }' "$README" >"$tmp"
	cat "$tmp" >"$README"
	rm -f "$tmp"
}

# --------------------------------------------------------------- main ----
main() {
	[[ $EUID -eq 0 ]] || die "must run as root"
	local t
	for t in wrk nginx gnuplot jq bpftool curl; do
		command -v "$t" >/dev/null || die "$t missing (bash scripts/deps.sh bench)"
	done
	for t in "$PFD" "$APP" "$FLOORCTL" "$KCOST" "$XDP_PASS_OBJ"; do
		[[ -e $t ]] || die "$t missing (make all e2e-tools bench-tools)"
	done
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	exec {OUT_FD}>&1 {ERR_FD}>&2
	trap cleanup EXIT
	trap 'echo "bench: interrupted" >&"$ERR_FD"; exit 130' INT TERM

	rm -rf "$WORK"
	mkdir -p "$WORK" "$OUT"
	MACHINE="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, Linux $(uname -r)"
	grep -qw hypervisor /proc/cpuinfo && MACHINE+=" (virtual machine)"
	log "$MACHINE; logs in $WORK"

	POL10=$WORK/pol-10.yaml POL1000=$WORK/pol-1000.yaml POL100K=$WORK/pol-100000.yaml
	gen_policy 10 "$POL10"
	gen_policy 1000 "$POL1000"
	gen_policy 100000 "$POL100K"

	# test runs first, while bpf_stats is off (it would time every run twice)
	STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q -w kernel.bpf_stats_enabled=0
	run_kcost
	R[kc.req_len]=$(jq -r 'select(.what == "tc") | .req_len' "$WORK/kcost.jsonl" | head -n1)
	R[kc.tc_flat]=$(ratio "$(printf '%s\n' "${R[kc.tc10]:-}" "${R[kc.tc1000]:-}" "${R[kc.tc100000]:-}" | sort -n | tail -n1)" \
		"$(printf '%s\n' "${R[kc.tc10]:-}" "${R[kc.tc1000]:-}" "${R[kc.tc100000]:-}" | sort -n | head -n1)")
	R[kc.xdp_flat]=$(ratio "$(printf '%s\n' "${R[kc.xdp10]:-}" "${R[kc.xdp1000]:-}" "${R[kc.xdp100000]:-}" | sort -n | tail -n1)" \
		"$(printf '%s\n' "${R[kc.xdp10]:-}" "${R[kc.xdp1000]:-}" "${R[kc.xdp100000]:-}" | sort -n | head -n1)")

	log "topology: netns $PF_NS, $PF_IF_HOST ($PF_V4_HOST) <-> $PF_IF_CLIENT ($PF_V4_CLIENT), XDP pass on $PF_IF_CLIENT"
	bash "$ROOT/scripts/topo.sh" up --xdp-peer >"$WORK/topo.log" 2>&1 ||
		die "topology: $(tail -n 3 "$WORK/topo.log")"

	run_policy_load

	sysctl -q -w kernel.bpf_stats_enabled=1
	local order
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		# odd rounds in table order, even rounds reversed (drift cancels)
		order=("${VARIANTS[@]}")
		((ROUND % 2)) || order=(floor xdp tc app nginx)
		log "round $ROUND of $ROUNDS: ${order[*]}"
		for t in "${order[@]}"; do
			case $t in
			nginx) run_nginx ;;
			app) run_app ;;
			tc | xdp) run_pfd "$t" ;;
			floor) run_floor ;;
			esac
		done
		save_round
	done
	aggregate
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_OLD"

	write_md >"$WORK/latest.md"
	write_csv "$WORK/latest.csv"
	write_plot "$WORK/latest.png" || problem plot "gnuplot failed"
	if ((${#PROBLEMS[@]})); then  # the report must show them: rewrite
		write_md >"$WORK/latest.md"
	fi
	cp "$WORK/latest.md" "$WORK/latest.csv" "$OUT/"
	[[ -s $WORK/latest.png ]] && cp "$WORK/latest.png" "$OUT/"
	update_readme "$OUT/latest.md"
	cat "$OUT/latest.md"
	echo
	log "results: $OUT/latest.{md,csv,png}; README section updated; $(($(date +%s) - T0)) s"
	if ((${#PROBLEMS[@]})); then
		printf '\nbench: %d PROBLEM(S):\n' "${#PROBLEMS[@]}" >&2
		printf '  !! %s\n' "${PROBLEMS[@]}" >&2
		exit 1
	fi
}

main "$@"

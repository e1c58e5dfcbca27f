# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # R[] (associative), READY_MS: bench/run.sh's
# bench/measure.sh -- the live runs (sourced by bench/run.sh): the servers,
# the clients in the client netns (build/bench/rrlat for the latency at 1
# connection, wrk for the warm-up and the 64-connection runs), CPU
# accounting and the in-kernel time of the ingress program. Each
# bench_run_<variant> starts its servers, checks one curl preflight,
# measures (R[variant.metric]) and stops them. Processes are started and
# stopped with tests/e2e/lib.sh (PF_BG_PIDS).

# ------------------------------------------------------------ numbers ----
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
# reaped (bench/cpu.sh). Must run in the main shell (not in $(...)): a
# subshell has children of its own.
CHILD_NS=0
child_ns() {
	times >"$WORK/times.txt"
	CHILD_NS=$(times_ns "$WORK/times.txt")
}

# prog_stat ID -- "run_time_ns run_cnt" of BPF program ID.
prog_stat() {
	bpftool -j prog show id "$1" 2>/dev/null |
		jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"' || echo "0 0"
}

# bench_net_progs -- the BPF programs on $PF_IF_HOST: "xdp ID", "tc_in ID",
# "tc_out ID" lines. TC through tcxtool's chain (tcx links or clsact
# filters: bpftool 7.1 does not show tcx); the floor's programs are plain
# clsact filters, which the chain lists too.
bench_net_progs() {
	local d
	bpftool -j net show dev "$PF_IF_HOST" 2>/dev/null | jq -r '
		.[0] as $n |
		(($n.xdp // [])[] | (.multi_attachments // [.])[] | "xdp \(.id)")' 2>/dev/null || true
	for d in in out; do
		"$TCXTOOL" chain --iface "$PF_IF_HOST" --dir "$d" 2>/dev/null |
			awk -v d="$d" '{ print "tc_" d, ($1 == "tcx") ? $2 : $4 }'
	done
}

# bench_stats_on / bench_stats_off -- BPF run-time statistics for the live
# runs, held by bench/statsfd.c (reference-counted: another tenant's
# sysctl writes cannot switch them off under us).
STATS_PID=''
bench_stats_on() {
	"$STATSFD" >"$WORK/statsfd.log" 2>&1 &
	STATS_PID=$!
	PF_BG_PIDS+=("$STATS_PID")
	pf_wait_for_line "$WORK/statsfd.log" ready 10 "$STATS_PID" ||
		die "statsfd: $(cat "$WORK/statsfd.log")"
}
bench_stats_off() { pf_bg_kill "$STATS_PID" 5; STATS_PID=; }

# pfd_stat JSONFILE NAME -- one counter from a `preflightd stats --json` dump.
pfd_stat() { jq -r --arg n "$2" '.[$n] // 0' "$1" 2>/dev/null || echo 0; }

# j FILE KEY -- a number from a JSON file (0 if absent).
j() { jq -r --arg k "$2" '.[$k] // 0' "$1"; }

# ------------------------------------------------------------ services ----
SRV_PID='' SRV_LOG='' READY_MS=''

bench_start_app() {
	pf_start_app --listen "$PF_V4_HOST:$PORT" --cors-origin "$ORIGIN_OK" >/dev/null ||
		die "appserver did not start"
}

bench_start_nginx() {
	local i
	nginx -t -q -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" ||
		die "nginx -t refused $WORK/nginx.conf"
	nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" \
		>"$WORK/nginx.out" 2>&1 &
	SRV_PID=$!
	PF_BG_PIDS+=("$SRV_PID")
	for ((i = 0; i < 100; i++)); do
		pf_ns timeout 2 bash -c "exec 3<>/dev/tcp/$PF_V4_HOST/$PORT" 2>/dev/null && return 0
		_pf_alive "$SRV_PID" || break
		sleep 0.05
	done
	die "nginx not accepting on $PF_V4_HOST:$PORT (see $WORK/nginx-error.log)"
}

# bench_stamp -- copy stdin to stdout, each line prefixed by the time it
# was read ($EPOCHREALTIME): when the writer flushed it.
bench_stamp() {
	local l
	while IFS= read -r l; do
		printf '%s %s\n' "$EPOCHREALTIME" "$l"
	done
}

# bench_start_pfd MODE POLICY [ARGS...] -- preflightd in the background;
# sets SRV_PID, SRV_LOG (its output, each line time-stamped as it was
# written) and READY_MS (exec to its "ready" line; the wait itself polls).
# BENCH_SANDBOX=1: in the systemd unit's sandbox (lib.sh's
# pf_unit_sandbox: its capabilities, no CAP_SYS_ADMIN).
PFD_SEQ=0
bench_start_pfd() {
	local mode=$1 pol=$2 t0 tr pre=()
	shift 2
	[[ ${BENCH_SANDBOX:-0} != 1 ]] || pre=(pf_unit_sandbox)
	PFD_SEQ=$((PFD_SEQ + 1))
	SRV_LOG=$WORK/preflightd-$PFD_SEQ-$mode-$(basename "$pol" .yaml)$(printf '%s' "$@" | tr -c 'a-z0-9' '_').log
	# created here, appended to by the stamper: it may start after the wait
	: >"$SRV_LOG"
	t0=$EPOCHREALTIME
	"${pre[@]}" "$PFD" run --iface "$PF_IF_HOST" --policy "$pol" --mode "$mode" \
		--drain-timeout 5 "$@" > >(bench_stamp >>"$SRV_LOG") 2>&1 &
	SRV_PID=$!
	PF_BG_PIDS+=("$SRV_PID")
	pf_wait_for_line "$SRV_LOG" 'preflightd: ready' 30 "$SRV_PID" ||
		die "preflightd ($mode) not ready: $(tail -n 5 "$SRV_LOG")"
	tr=$(awk '/preflightd: ready/ { print $1; exit }' "$SRV_LOG")
	READY_MS=$(calc "($tr - $t0) * 1e3" %.1f)
}

bench_start_floor() {
	SRV_LOG=$WORK/floorctl-r$ROUND.log
	"$FLOORCTL" --iface "$PF_IF_HOST" --port "$PORT" --timeout 600 >"$SRV_LOG" 2>&1 &
	SRV_PID=$!
	PF_BG_PIDS+=("$SRV_PID")
	pf_wait_for_line "$SRV_LOG" ready 10 "$SRV_PID" || die "floorctl not ready: $(cat "$SRV_LOG")"
}

# preflightd drains for up to --drain-timeout (5 s) after SIGTERM
bench_stop_srv() { pf_bg_kill "$SRV_PID" 10; SRV_PID=; }

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
	done <"$BENCH/preflight.txt"
	pf_curl -s -o /dev/null -D "$out" -w '%{http_code}' -X OPTIONS "${args[@]}" \
		"http://$PF_V4_HOST:$PORT$path" || true
}

# check_cors VARIANT -- an allowed-origin preflight must get a 204 with the
# CORS headers (checked for presence and value, read with lib.sh's hdr);
# nginx also gets a disallowed origin, which must get no
# Access-Control-Allow-Origin.
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
	pf_ns timeout -k 5 $((d + 20)) wrk -t"$t" -c"$c" -d"${d}s" --timeout 2s \
		-s "$BENCH/preflight.lua" "$URL" >"$out.txt" 2>&1 || true
	grep -m1 '^BENCH ' "$out.txt" | cut -d' ' -f2- >"$out.json" || true
	[[ -s $out.json ]] || { echo '{}' >"$out.json"; return 1; }
}

# rrlat_run SECONDS OUT -- build/bench/rrlat from the client netns: one
# keep-alive connection, the same request bytes as wrk's in a closed loop,
# each round trip timed in ns. Its RRLAT JSON line goes to OUT.json,
# everything to OUT.txt; a stalled or unframeable answer ends it with an
# error (no line: returns 1).
rrlat_run() {
	local d=$1 out=$2
	pf_ns timeout -k 5 $((d + 20)) "$RRLAT" --request "$BENCH/preflight.txt" \
		--addr "$PF_V4_HOST" --port "$PORT" --duration "$d" --timeout-ms 2000 \
		>"$out.txt" 2>&1 || true
	grep -m1 '^RRLAT ' "$out.txt" | cut -d' ' -f2- >"$out.json" || true
	[[ -s $out.json ]] || { echo '{}' >"$out.json"; return 1; }
}

# ns_us FILE KEY -- a JSON figure in ns as µs with 3 decimals (all its ns).
ns_us() { jq -r --arg k "$2" '.[$k] // empty | round / 1000' "$1"; }

# measure VARIANT -- the runs of one variant; services already up.
measure() {
	local v=$1 b0 b1 t0 t1 c0 c1 others own hz r=$1-r$ROUND
	local lat=$WORK/$r-c1 tp=$WORK/$r-c$CONNS
	local req errs non2xx kind id f
	declare -A k0 k1 kid

	log "$v: warm-up 1 s, then $LAT_DURATION s at 1 connection"
	wrk_run "$CONNS" 1 "$WORK/$r-warm" || problem "$v" "warm-up run printed no result"
	rrlat_run "$LAT_DURATION" "$lat" ||
		problem "$v" "1-connection run (rrlat) printed no result: $(tail -n 2 "$lat.txt" | tr '\r\n' '  ')"
	if ((LAT_CHECK)); then
		# the cross-check: wrk at 1 connection right after, same target
		wrk_run 1 "$LAT_DURATION" "$lat-wrk" || problem "$v" "1-connection wrk run printed no result"
		R[$v.wrk_p50_us]=$(j "$lat-wrk.json" p50_us)
		R[$v.wrk_p99_us]=$(j "$lat-wrk.json" p99_us)
	fi

	# in-kernel program stats and preflightd counters around the 64-conn run
	while read -r kind id; do
		[[ -n $kind ]] || continue
		kid[$kind]=$id
		k0[$kind]=$(prog_stat "$id")
	done <<<"$(bench_net_progs)"
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

	R[$v.p50_us]=$(ns_us "$lat.json" p50_ns)
	R[$v.p90_us]=$(ns_us "$lat.json" p90_ns)
	R[$v.p99_us]=$(ns_us "$lat.json" p99_ns)
	R[$v.mean_us]=$(ns_us "$lat.json" mean_ns)
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
	for f in "$WORK/$r-warm.json" "$lat.json" "$tp.json" ${R[$v.wrk_p50_us]:+"$lat-wrk.json"}; do
		errs=$(jq -r '(.connect // 0) + (.read // 0) + (.write // 0) + (.timeout // 0)' "$f")
		non2xx=$(j "$f" status)
		R[$v.errors]=$((${R[$v.errors]} + errs))
		R[$v.non2xx]=$((${R[$v.non2xx]} + non2xx))
	done
	((${R[$v.errors]} == 0)) || problem "$v" "${R[$v.errors]} socket errors (connect/read/write/timeout) in wrk runs"
	((${R[$v.non2xx]} == 0)) || problem "$v" "${R[$v.non2xx]} non-2xx answers in the wrk and rrlat runs"
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
	n=$(grep -c ' OPTIONS ' "$PF_APP_LOG" 2>/dev/null) || true
	R[$1.app_options]=${n:-0}
}

# ------------------------------------------------------------ variants ----
bench_run_nginx() {
	bench_nginx_conf "$POL1000"
	bench_start_nginx
	check_cors nginx
	measure nginx
	bench_stop_srv
	R[nginx.app_options]=-
}

bench_run_app() {
	local want
	bench_start_app
	check_cors app
	measure app
	app_options app
	pf_stop_app
	want=$((${R[app.requests]} + ${R[app.lat_requests]}))
	((${R[app.app_options]} >= want)) ||
		problem app "the app logged ${R[app.app_options]} OPTIONS, wrk completed at least $want"
}

bench_run_pfd() {
	local mode=$1 sf
	bench_start_app
	bench_start_pfd "$mode" "$POL1000"
	check_cors "$mode"
	measure "$mode"
	sf=$WORK/$mode-r$ROUND-stats-final.txt
	"$PFD" stats --iface "$PF_IF_HOST" >"$sf" 2>&1 || true
	R[$mode.answered]=$(awk '$1 == "answered" { print $2 }' "$sf")
	R[$mode.passed]=$(awk '$1 ~ /^(pass_|fwd_)/ { s += $2 } END { print s + 0 }' "$sf")
	bench_stop_srv
	app_options "$mode"
	pf_stop_app
	((${R[$mode.app_options]} == 0)) ||
		problem "$mode" "the app saw ${R[$mode.app_options]} OPTIONS behind preflightd (must be 0; pass counters: $(awk '$1 ~ /^(pass_|fwd_|retx)/ && $2 > 0 { printf "%s=%s ", $1, $2 }' "$sf"))"
	[[ ${R[$mode.answered]:-0} -gt 0 ]] || problem "$mode" "preflightd stats show no answer"
}

bench_run_floor() {
	local want
	bench_start_app
	bench_start_floor
	check_cors floor
	measure floor
	bench_stop_srv
	R[floor.answered]=$(awk '/bounced/ { print $3 }' "$SRV_LOG")
	app_options floor
	pf_stop_app
	((${R[floor.app_options]} == 0)) ||
		problem floor "the app saw ${R[floor.app_options]} OPTIONS behind the floor (must be 0)"
	want=$((${R[floor.requests]} + ${R[floor.lat_requests]}))
	((${R[floor.answered]:-0} >= want)) ||
		problem floor "floor bounced ${R[floor.answered]:-0}, wrk completed at least $want"
}

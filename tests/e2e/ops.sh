#!/usr/bin/env bash
# tests/e2e/ops.sh -- what operators and their tooling do to a running
# preflightd:
#
#   bash tests/e2e/ops.sh [--mode tc|xdp]
#
#   - a Kubernetes ConfigMap update: the policy is mounted the way kubelet
#     projects a ConfigMap volume (policy.yaml -> ..data/policy.yaml,
#     ..data -> ..<timestamp>), and updated the way kubelet's AtomicWriter
#     does it (pkg/volume/util/atomic_writer.go): a new timestamped
#     directory, a ..data_tmp symlink to it renamed over ..data, the old
#     directory removed. No inotify event names policy.yaml; preflightd
#     must reload all the same (reloads +1 per swap, the new policy
#     answering), and a broken policy swapped in is refused;
#   - /healthz next to /metrics (what the Helm chart's probes ask): 200
#     while attached with a fresh heartbeat; a stopped daemon (SIGSTOP)
#     fails the probe (no answer within its 2 s timeout), SIGCONT brings
#     200 back. The 503 cases (stale heartbeat, not attached) are in the
#     unit tier (test_healthz).
#   - a DaemonSet rolling update on one node: the container entrypoint
#     (dist/container/entrypoint.sh) finds the interface from the node's
#     address, and a second "pod" started next to the first takes the
#     interface over by restart adoption (the old pod's preflightd ends
#     with SIGUSR2) while four keep-alive clients run: byte-exact, the old
#     pod then stops without detaching, the new one drains and detaches on
#     SIGTERM; both pods with the chart's capabilities (no CAP_SYS_ADMIN);
#   - `preflightd trace` ends cleanly and switches the datapath's tracing
#     off again (the pinned trace_ctl's sample back to 0) however it ends:
#     its reader gone (`trace | head -n 1` under traffic; `trace | true`
#     with no record to write), SIGHUP, SIGTERM; a second trace on the same
#     interface is refused while one runs (exit 1, saying why), and the
#     first goes on tracing, the switch still on; tracing left on by a
#     trace killed with SIGKILL is switched off by the daemon;
#   - the numeric options of run, detach and trace refuse an empty value
#     (detach --drain-timeout '' was taken as 0, trace --count '' as no
#     limit), a sign or a space: exit 2, saying which option, the running
#     daemon untouched;
#   - scripts/bench-endpoint.sh (preflight p50/p99 of a user's endpoint by
#     build/bench/rrlat, throughput by wrk + bench/preflight.lua) against
#     the app behind preflightd: p50/p99 with their ns (3 decimals of µs),
#     0 < p50 <= p99, sane counts, no error, every preflight of both runs
#     answered in the kernel by its own count; a target that is not an
#     address of this host is refused (nothing sent), --allow-remote
#     --dry-run accepts it.
#
# Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=8080
METRICS=$PF_V4_HOST:9470      # the topology's own address: no clash with other runs
RELOAD_WAIT_S=10

# kubelet_write DIR FILE -- project FILE as DIR/policy.yaml exactly as
# kubelet's AtomicWriter.Write does (steps numbered as there).
kubelet_write() {
	local dir=$1 old ts
	old=$(readlink "$dir/..data" || true)                        # (2)
	ts=$(mktemp -d -p "$dir" "$(date -u +..%Y_%m_%d_%H_%M_%S.)XXXXXXXXX")  # (5)
	chmod 0755 "$ts"
	install -m 0644 "$2" "$ts/policy.yaml"                       # (6)
	[[ -L $dir/policy.yaml ]] || ln -s ..data/policy.yaml "$dir/policy.yaml"  # (7)
	ln -s "${ts##*/}" "$dir/..data_tmp"                          # (8)
	mv -T "$dir/..data_tmp" "$dir/..data"                        # (9) rename(2)
	[[ -z $old ]] || rm -rf "${dir:?}/$old"                      # (11)
}

# policy_for K OUT -- a policy allowing PUT from https://cm-K.example.org.
policy_for() {
	printf 'ports: [%s]\nrules:\n  - origins: [https://cm-%s.example.org]\n    methods: [PUT]\n' \
		"$PORT" "$1" >"$2"
}

# answered_by_pfd K -- a preflight from https://cm-K.example.org gets
# preflightd's 204 (the app would add X-Answered-By).
answered_by_pfd() {
	local o=https://cm-$1.example.org h
	h=$(pf_curl -sS -o /dev/null -D - -X OPTIONS -H "Origin: $o" \
		-H 'Access-Control-Request-Method: PUT' "http://$PF_V4_HOST:$PORT/x" | tr -d '\r') || return 1
	grep -q '^HTTP/1.1 204' <<<"$h" && grep -qix "access-control-allow-origin: $o" <<<"$h" &&
		! grep -qi '^x-answered-by:' <<<"$h"
}

case_configmap_swap() {
	local r0 f0 k
	r0=$(pf_stat reloads)
	f0=$(pf_stat reload_failures)
	pf_expect "policy 1 answers before any swap" answered_by_pfd 1
	pf_expect_not "cm-2 is not allowed yet" answered_by_pfd 2
	for k in 2 3; do
		policy_for "$k" "$PF_WORK/p$k.yaml"
		kubelet_write "$CM" "$PF_WORK/p$k.yaml"
		pf_expect "swap $k: reloads = $((r0 + k - 1))" pf_wait_stat reloads $((r0 + k - 1)) "$RELOAD_WAIT_S"
		pf_expect "swap $k: cm-$k answered by preflightd" answered_by_pfd "$k"
		pf_expect_not "swap $k: cm-$((k - 1)) no longer allowed" answered_by_pfd $((k - 1))
	done
	pf_expect_eq "one timestamped directory left, as kubelet leaves it" \
		"$(find "$CM" -maxdepth 1 -name '..20*' | wc -l)" 1
	printf 'ports: [%s]\nrules:\n  - origins: [cm-4.example.org]\n' "$PORT" >"$PF_WORK/bad.yaml"
	kubelet_write "$CM" "$PF_WORK/bad.yaml"
	pf_expect "broken policy swapped in: reload_failures + 1" pf_wait_stat reload_failures $((f0 + 1)) "$RELOAD_WAIT_S"
	pf_expect "the running policy is kept (cm-3 answered)" answered_by_pfd 3
	pf_expect_eq "no reload counted for the broken one" "$(pf_stat reloads)" $((r0 + 2))
	pf_case_result
}

# healthz -- HTTP status of GET /healthz (000: no answer in 2 s).
healthz() {
	curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 "http://$METRICS/healthz" || true
}

# wait_healthz CODE -- poll /healthz until it answers CODE (bounded).
wait_healthz() { pf_until 10 healthz_is "$1"; }
healthz_is() { [[ $(healthz) == "$1" ]]; }

# stopped PID -- wait (bounded) until every thread of PID is stopped.
stopped() { pf_until 5 all_stopped "$1"; }
all_stopped() { ! grep -qv '^T' < <(awk '{ print $3 }' /proc/"$1"/task/*/stat); }

case_healthz() {
	pf_expect_eq "attached, heartbeat fresh: 200" "$(healthz)" 200
	pf_detail "body: $(curl -s --noproxy '*' --max-time 2 "http://$METRICS/healthz" || true)"
	kill -STOP "$PF_PFD_PID"
	pf_expect "daemon stopped (state T)" stopped "$PF_PFD_PID"
	pf_expect_eq "stopped daemon: the probe gets no answer" "$(healthz)" 000
	kill -CONT "$PF_PFD_PID"
	pf_expect "running again: 200" wait_healthz 200
	pf_case_result
}

# trace_sample -- the datapath's trace switch: the sample rate in the pinned
# trace_ctl map (0: tracing off).
trace_sample() {
	bpftool -j map lookup pinned "/sys/fs/bpf/preflightd/$PF_IF_HOST/trace_ctl" key 0 0 0 0 |
		grep -oE '"sample":[0-9]+' | cut -d: -f2
}
trace_on() { [[ $(trace_sample) == "$1" ]]; }

# trace_bg OUT ARGS... -- `preflightd trace --iface IF ARGS` in the
# background (bounded), its output in OUT; its pid in TRACE_PID.
trace_bg() {
	local out=$1
	shift
	timeout --foreground -k 2 60 "$PF_PREFLIGHTD" trace --iface "$PF_IF_HOST" "$@" \
		>"$out" 2>"$out.err" &
	TRACE_PID=$!
	PF_BG_PIDS+=("$TRACE_PID")
}

# preflights -- preflights to the app in a loop (in the background; the
# case's cleanup stops it): decisions for trace to show.
preflights() {
	while :; do
		pf_curl -s -o /dev/null -X OPTIONS -H 'Origin: https://trace.example.org' \
			-H 'Access-Control-Request-Method: PUT' "http://$PF_V4_HOST:$PORT/x" || true
		sleep 0.05
	done
}

# One trace at a time, the switch back off however it ends (each end also
# with the switch's value before: a killed trace would leave it on).
case_trace_ends() {
	local rc a b
	pf_case_cleanup
	pf_expect_eq "tracing off before" "$(trace_sample)" 0
	# no traffic: no record to write, the reader's going is noticed
	set +e
	timeout --foreground -k 2 10 "$PF_PREFLIGHTD" trace --iface "$PF_IF_HOST" | true
	rc=${PIPESTATUS[0]}
	set -e
	pf_expect_eq "trace | true (nothing to write): ends, exit 0" "$rc" 0
	pf_expect_eq "... tracing off again" "$(trace_sample)" 0
	preflights &
	PF_BG_PIDS+=("$!")
	set +e
	timeout --foreground -k 2 20 "$PF_PREFLIGHTD" trace --iface "$PF_IF_HOST" 2>"$PF_WORK/head.err" |
		head -n 1 >"$PF_WORK/head.out"
	rc=${PIPESTATUS[0]}
	set -e
	pf_detail_file "$PF_WORK/head.out"
	pf_detail_file "$PF_WORK/head.err"
	pf_expect_eq "trace | head -n 1 under traffic: exit 0 (EPIPE is an end, not SIGPIPE's 141)" "$rc" 0
	pf_expect_match "... the line head read" "$(cat "$PF_WORK/head.out")" \
		' -> [0-9.]+:'"$PORT"' (tc|xdp) .* origin=https://trace\.example\.org$'
	pf_expect_eq "... tracing off again" "$(trace_sample)" 0
	trace_bg "$PF_WORK/a.trace" --sample 1
	a=$TRACE_PID
	pf_expect "trace a: tracing on (sample 1)" pf_until 10 trace_on 1
	pf_expect "trace a: lines" pf_wait_count "$PF_WORK/a.trace" 'origin=' 1 10
	set +e
	timeout --foreground -k 2 20 "$PF_PREFLIGHTD" trace --iface "$PF_IF_HOST" --count 1 \
		>"$PF_WORK/b.trace" 2>"$PF_WORK/b.err"
	rc=$?
	set -e
	pf_detail_file "$PF_WORK/b.err"
	pf_expect_eq "trace b while a runs: refused (exit 1)" "$rc" 1
	# shellcheck disable=SC2016 # the backquotes are the message's
	pf_expect "... saying why" grep -qF 'another `preflightd trace` is running on' "$PF_WORK/b.err"
	pf_expect_eq "... printed nothing" "$(wc -l <"$PF_WORK/b.trace")" 0
	pf_expect_eq "trace a: tracing still on" "$(trace_sample)" 1
	b=$(wc -l <"$PF_WORK/a.trace")
	pf_expect "trace a: still tracing" pf_wait_count "$PF_WORK/a.trace" 'origin=' $((b + 1)) 10
	kill -TERM "$a"
	pf_expect "trace a: ends on SIGTERM" pf_wait_gone "$a" 5
	rc=0
	wait "$a" || rc=$?
	pf_expect_eq "... exit 0" "$rc" 0
	pf_expect_eq "... tracing off again" "$(trace_sample)" 0
	trace_bg "$PF_WORK/c.trace" --sample 3
	pf_expect "trace c: tracing on (sample 3) -- the lock went with a" pf_until 10 trace_on 3
	kill -HUP "$TRACE_PID"
	pf_expect "trace c: ends on SIGHUP" pf_wait_gone "$TRACE_PID" 5
	rc=0
	wait "$TRACE_PID" || rc=$?
	pf_expect_eq "... exit 0" "$rc" 0
	pf_expect_eq "... tracing off again" "$(trace_sample)" 0
	trace_bg "$PF_WORK/d.trace" --sample 5
	pf_expect "trace d: tracing on (sample 5)" pf_until 10 trace_on 5
	kill -KILL "$(pgrep -P "$TRACE_PID" -x preflightd)"
	wait "$TRACE_PID" || true
	pf_expect "trace d killed (SIGKILL): the daemon switches tracing off (<= 5 s)" \
		pf_until 5 trace_on 0
	pf_case_result
}

# bad_number OPT CMD... -- CMD (a preflightd command line with a bad value
# of --OPT) exits 2 at once, saying so.
bad_number() {
	local opt=$1 rc=0 err
	shift
	err=$(timeout --foreground -k 2 10 "$PF_PREFLIGHTD" "$@" 2>&1 >/dev/null) || rc=$?
	pf_expect_eq "$(printf "%q " "$@")-> exit 2" "$rc" 2
	pf_expect_match "... saying why" "$err" "^preflightd: invalid --$opt '"
}

case_numeric_options() {
	local v rc err
	for v in '' ' 5' '+5' -1 5s; do
		bad_number drain-timeout detach --iface "$PF_IF_HOST" --drain-timeout "$v"
		bad_number count trace --iface "$PF_IF_HOST" --count "$v"
	done
	for v in '' +8 -1; do
		bad_number drain-timeout run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --drain-timeout "$v"
		bad_number max-flows run --iface "$PF_IF_HOST" --policy "$PF_POLICY" --max-flows "$v"
		bad_number sample trace --iface "$PF_IF_HOST" --sample "$v"
	done
	# an operand where the interface goes: refused, not the only
	# instance's counters (before: exit 0, another interface's report)
	for v in stats trace detach; do
		rc=0
		err=$(timeout --foreground -k 2 10 "$PF_PREFLIGHTD" "$v" eth9 2>&1 >/dev/null) || rc=$?
		pf_expect_eq "$v eth9 -> exit 2" "$rc" 2
		pf_expect_match "... saying why" "$err" "^preflightd: $v: unexpected argument 'eth9'"
	done
	pf_expect "the daemon still runs" _pf_alive "$PF_PFD_PID"
	pf_expect_eq "... attached, heartbeat fresh" "$(healthz)" 200
	pf_case_result
}

# pod NAME -- the container entrypoint as one pod of the chart would run it
# (in the background, output in NAME.log; its pid in POD_PID), with the
# chart's capabilities (CAP_BPF CAP_NET_ADMIN CAP_PERFMON, as the pkg tier
# checks): the systemd unit's, so in its sandbox (pf_unit_sandbox).
pod() {
	(
		export NODE_IP=$PF_V4_HOST PF_POLICY=$E2E_POLICY PF_HOOK=$MODE \
			PF_METRICS_PORT=${METRICS##*:} PREFLIGHTD=$PF_PREFLIGHTD
		pf_unit_sandbox bash "$PF_ROOT/dist/container/entrypoint.sh"
	) >"$PF_WORK/$1.log" 2>&1 &
	POD_PID=$!
	PF_BG_PIDS+=("$POD_PID")
}

case_pod_handover() {
	local a b clients out
	pod a
	a=$POD_PID
	pf_expect "pod a ready" pf_wait_for_line "$PF_WORK/a.log" 'preflightd: ready on' 15 "$a"
	pf_expect_match "pod a chose the interface of the node's address" \
		"$(head -n1 "$PF_WORK/a.log")" "^entrypoint: $PF_IF_HOST holds the node's address $PF_V4_HOST\$"
	pf_ns timeout --foreground -k 2 60 "$PF_KACLIENT" --addr "$PF_V4_HOST" --port "$PORT" \
		--conns 4 --rounds 100000 --duration-s 10 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/ka.out" 2>&1 &
	clients=$!
	sleep 2
	pf_expect "four spliced connections (the GC's count)" pf_wait_flows 4 5
	pod b
	b=$POD_PID
	pf_expect "pod b ready" pf_wait_for_line "$PF_WORK/b.log" 'preflightd: ready on' 30 "$b"
	pf_expect "pod b asked for a hand-over" grep -q 'asking it to hand over' "$PF_WORK/b.log"
	pf_expect "pod a handed over" grep -q "handing $PF_IF_HOST over" "$PF_WORK/a.log"
	pf_expect "... by a restart (SIGUSR2): its preflightd left everything attached" \
		grep -q 'restart: leaving the programs attached and the state pinned' "$PF_WORK/a.log"
	pf_expect "pod b adopted the pinned state" grep -q 'adopting the flow table' "$PF_WORK/b.log"
	if [[ $MODE == xdp ]]; then
		pf_expect "... and the XDP program (without CAP_SYS_ADMIN: through its pin)" \
			grep -q 'replaced the previous instance.s XDP program atomically' "$PF_WORK/b.log"
	fi
	pf_expect_eq "/healthz (pod b's daemon)" "$(healthz)" 200
	kill -TERM "$a"
	pf_expect "pod a stops at once on SIGTERM" pf_wait_gone "$a" 5
	pf_expect_not "... without draining or detaching" grep -qE 'draining|detached' "$PF_WORK/a.log"
	pf_expect "pod b still serving" _pf_alive "$b"
	wait "$clients" || true
	out=$(tail -n1 "$PF_WORK/ka.out")
	pf_detail "$out"
	pf_expect_match "all four byte-exact through the hand-over" "$out" 'errors=0$'
	pf_expect_match "... every preflight answered in the kernel" "$out" ' app=0 '
	kill -TERM "$b"
	pf_expect "pod b drains and exits on SIGTERM" pf_wait_gone "$b" 20
	pf_expect "... detached" grep -q 'detached from' "$PF_WORK/b.log"
	pf_expect_eq "no TC program left (tcx or clsact)" "$(pf_tc_chain in; pf_tc_chain out)" ""
	pf_case_result
}

case_bench_endpoint() {
	local out rc=0 line req
	out=$(bash "$PF_ROOT/scripts/bench-endpoint.sh" "http://$PF_V4_HOST:$PORT/api/v1/items/42" \
		--origin https://app.example.com --netns "$PF_NS" --duration 2 --connections 8 \
		2>&1) || rc=$?
	sed 's/^/      | /' <<<"$out"
	pf_expect_eq "exit status" "$rc" 0
	line=$(grep -m1 '^BENCH-ENDPOINT ' <<<"$out" || true)
	req=$(grep -oE '"requests":[0-9]+' <<<"$line" | cut -d: -f2)
	pf_expect_ge "requests" "$req" 100
	# rrlat's figures: ns, shown as µs with 3 decimals (wrk's were whole µs)
	pf_expect_match "p50/p99 in ns (µs with 3 decimals)" "$line" \
		'"p50_us":[0-9]+\.[0-9]{3},"p99_us":[0-9]+\.[0-9]{3},'
	pf_expect "0 < p50 <= p99" awk -v l="$line" 'BEGIN {
		match(l, /"p50_us":[0-9.]+/); p50 = substr(l, RSTART + 9, RLENGTH - 9)
		match(l, /"p99_us":[0-9.]+/); p99 = substr(l, RSTART + 9, RLENGTH - 9)
		exit !(p50 + 0 > 0 && p99 + 0 >= p50 + 0) }'
	pf_expect_match "... the summary's with 2 decimals, from rrlat's round trips" \
		"$(grep -m1 '^latency:' <<<"$out" || true)" \
		'^latency: p50 [0-9]+\.[0-9]{2} us, p99 [0-9]+\.[0-9]{2} us \(1 connection, [1-9][0-9]* round trips\)$'
	pf_expect_match "... measured by rrlat" "$(grep -m1 '^runs:' <<<"$out" || true)" \
		'/rrlat, 1 connection'
	pf_expect "throughput > 0" grep -qE '"rps":[1-9]' <<<"$line"
	pf_expect "no socket error, no non-2xx" grep -q '"errors":0,"non2xx":0' <<<"$line"
	pf_expect "the instance found by the target's address" grep -q "\"iface\":\"$PF_IF_HOST\"" <<<"$line"
	pf_expect_ge "answered in the kernel: every request" \
		"$(grep -oE '"kernel_answered":[0-9]+' <<<"$line" | cut -d: -f2)" "$req"
	rc=0
	out=$(timeout 10 bash "$PF_ROOT/scripts/bench-endpoint.sh" http://192.0.2.10:8080/ \
		--origin https://app.example.com 2>&1) || rc=$?
	pf_expect_eq "a remote target is refused (exit 2)" "$rc" 2
	pf_expect_match "... saying why" "$out" 'not an address of this host; pass --allow-remote'
	pf_expect_not "... before any run" grep -q '^latency:' <<<"$out"
	pf_expect "--allow-remote --dry-run accepts it" bash "$PF_ROOT/scripts/bench-endpoint.sh" \
		http://192.0.2.10:8080/ --origin https://app.example.com --allow-remote --dry-run
	pf_case_result
}

main() {
	local topo=()
	pf_init "$@"
	pf_info "ops e2e mode=$MODE work=$PF_WORK"
	CM=$PF_WORK/configmap
	mkdir -p "$CM"
	policy_for 1 "$PF_WORK/p1.yaml"
	kubelet_write "$CM" "$PF_WORK/p1.yaml"
	E2E_POLICY=$PF_POLICY
	PF_POLICY=$CM/policy.yaml
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_topo_up "${topo[@]+"${topo[@]}"}"
	pf_start_app --listen "$PF_V4_HOST:$PORT"
	if pf_start_preflightd "$MODE" --metrics "$METRICS"; then
		pf_case "[$MODE] ConfigMap update (kubelet's ..data swap) reloads the policy" case_configmap_swap
		pf_case "[$MODE] /healthz follows the daemon's heartbeat" case_healthz
		pf_case "[$MODE] trace: one at a time, tracing off again however it ends" case_trace_ends
		pf_case "[$MODE] numeric options: empty, signed or spaced values refused" case_numeric_options
	else
		pf_fail "[$MODE] preflightd run: ready within 10 s"
	fi
	pf_stop_preflightd || true
	pf_case "[$MODE] pod hand-over (rolling update): adopted, byte-exact" case_pod_handover
	PF_POLICY=$E2E_POLICY
	if pf_start_preflightd "$MODE"; then
		pf_case "[$MODE] bench-endpoint: latency, throughput, kernel answers; remote refused" \
			case_bench_endpoint
	else
		pf_fail "[$MODE] preflightd run (e2e policy): ready within 10 s"
	fi
	pf_stop_all
	pf_topo_down
	pf_summary
}
main "$@"

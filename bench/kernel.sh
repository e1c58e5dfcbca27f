# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # R[] (associative), READY_MS: bench/run.sh's
# bench/kernel.sh -- the benchmark's figures taken without traffic (sourced
# by bench/run.sh): BPF_PROG_TEST_RUN cost of one answer (build/bench/kcost)
# and the 100,000-origin policy's check and load times and map memory.
# Results go to R[kc.*], R[pol.*], R[gc.*] and R[vf.*] (see bench/run.sh).
#
#   bench_kcost          kcost over POL10/POL1000/POL100K (+ stages, floor,
#                        request sizes, the connection's other traffic:
#                        --other); run while bpf_stats is off
#   bench_policy_load    `check` and `run` start-to-ready of POL100K (TC
#                        mode; XDP mode as root and in the unit's
#                        sandbox, --shadow too), best of LOAD_TRIES; maps
#                        memory; a 1M-flow table
#   bench_gc             the daemon's flow-table GC pass (`make bench-gc`,
#                        bench/gccost.c) at 65,536 and 1,048,576 entries
#   bench_verif          the verifier's processed instructions and time per
#                        datapath program (bench/verifstats.c; start-up)

# The request-size series: bench/preflight-<key>.txt (522 is the main
# request, bench/preflight.txt, timed with the 1,000-origin policy).
BENCH_SIZES=(300 1k 2k)

# kc_p50 WHAT POLICY -- the p50 ns of kcost series WHAT whose policy file
# name ends in POLICY ("-": none), from $WORK/kcost.jsonl.
kc_p50() {
	jq -r --arg w "$1" --arg p "$2" \
		'select(.what == $w and (.policy | endswith($p))) | .p50_ns' "$WORK/kcost.jsonl" | head -n1
}

bench_kcost() {
	local sizes=() k what pol key
	for k in "${BENCH_SIZES[@]}"; do
		sizes+=(--size "$BENCH/preflight-$k.txt")
	done
	log "kcost: BPF_PROG_TEST_RUN, $KCOST_RUNS answers per policy and mode"
	timeout -k 5 600 "$KCOST" --request "$BENCH/preflight.txt" "${sizes[@]}" \
		--runs "$KCOST_RUNS" --stages --other --floor "$POL1000" "$POL10" "$POL100K" \
		>"$WORK/kcost.txt" 2>"$WORK/kcost.err" ||
		problem kcost "kcost failed: $(tail -n 3 "$WORK/kcost.err")"
	sed -n 's/^KCOST //p' "$WORK/kcost.txt" >"$WORK/kcost.jsonl"
	while read -r what pol key; do
		R[kc.$key]=$(kc_p50 "$what" "$pol")
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
	# the connection's other traffic: spliced (xlate), never spliced (tracked)
	for k in xlate tracked; do
		R[kc.o_${k}_tc]=$(kc_p50 "tc.${k}_in" pol-1000.yaml)
		R[kc.o_${k}_xdp]=$(kc_p50 "xdp.${k}_in" pol-1000.yaml)
		R[kc.o_${k}_out]=$(kc_p50 "tc.${k}_out" pol-1000.yaml)
	done
	for k in "${BENCH_SIZES[@]}"; do
		for what in tc xdp; do
			R[kc.${what}_req$k]=$(jq -r --arg w "$what.size" --arg f "preflight-$k.txt" \
				'select(.what == $w and (.req_file | endswith($f))) | .p50_ns' "$WORK/kcost.jsonl")
			R[kc.req${k}_len]=$(jq -r --arg f "preflight-$k.txt" \
				'select(.what == "tc.size" and (.req_file | endswith($f))) | .req_len' "$WORK/kcost.jsonl")
		done
	done
	R[kc.repeat_answered]=$(jq -r 'select(.what == "repeat_check") | .answered' "$WORK/kcost.jsonl")
	R[kc.req_len]=$(jq -r 'select(.what == "tc") | .req_len' "$WORK/kcost.jsonl" | head -n1)
	R[kc.o_req_len]=$(jq -r 'select(.what == "tc.xlate_in") | .req_len' "$WORK/kcost.jsonl")
	R[kc.o_resp_len]=$(jq -r 'select(.what == "tc.xlate_out") | .req_len' "$WORK/kcost.jsonl")
}

# bench_maps_of_tc_prog OUT -- "name bytes_memlock max_entries" of the
# maps of the running preflightd's TC ingress program.
bench_maps_of_tc_prog() {
	local id m
	id=$(bench_net_progs | awk '$1 == "tc_in" { print $2; exit }')
	for m in $(bpftool -j prog show id "$id" | jq -r '.map_ids[]'); do
		bpftool -j map show id "$m" | jq -r '"\(.name) \(.bytes_memlock // 0) \(.max_entries)"'
	done >"$1"
}

# bench_best KEY MS... -- R[pol.KEY_ms], the least of the times given
# (other tenants only ever make them slower), and R[pol.KEY_all_ms], all
# of them ("a/b/c"); none given: neither set.
bench_best() {
	local key=$1
	shift
	(($#)) || return 0
	R[pol.${key}_ms]=$(printf '%s\n' "$@" | sort -g | head -n1)
	R[pol.${key}_all_ms]=$(IFS=/; echo "$*")
}

# Compile/load times are the best of LOAD_TRIES (all of them are in the
# CSV and the log): other tenants only ever make them slower.
bench_policy_load() {
	local t0 t1 i checks=() readies=() readies_xdp=() readies_unit=() readies_shd=() cg=
	# --shadow's sockets: a cgroup of its own, never the root's
	((!OFFLOAD)) || cg=$(pf_cgroup_up "pf-bench-load-$PF_NS-$$") ||
		problem policy "no cgroup v2 for the --shadow start"
	[[ -z $cg ]] || pf_on_cleanup "pf_cgroup_down '$cg'"
	for ((i = 1; i <= LOAD_TRIES; i++)); do
		t0=$EPOCHREALTIME
		timeout -k 5 60 "$PFD" check "$POL100K" >"$WORK/check-100k.txt" 2>&1 ||
			problem policy "preflightd check refused the 100k policy"
		t1=$EPOCHREALTIME
		checks+=("$(calc "($t1 - $t0) * 1e3" %.0f)")
		bench_start_pfd tc "$POL100K"
		readies+=("$READY_MS")
		((i > 1)) || bench_maps_of_tc_prog "$WORK/maps-100k.txt"
		bench_stop_srv
		# the other ways to run it: XDP mode as root (libxdp verifies
		# its program when attaching it) and as the systemd unit runs
		# it (no CAP_SYS_ADMIN: verified beside the TC programs,
		# user/progs.h), shadow mode (the response offload's programs
		# too; the offload's requirements: cgroup v2)
		bench_start_pfd xdp "$POL100K"
		readies_xdp+=("$READY_MS")
		bench_stop_srv
		BENCH_SANDBOX=1 bench_start_pfd xdp "$POL100K"
		readies_unit+=("$READY_MS")
		bench_stop_srv
		if [[ -n $cg ]]; then
			bench_start_pfd tc "$POL100K" --shadow --cgroup "$cg"
			readies_shd+=("$READY_MS")
			bench_stop_srv
		fi
	done
	[[ -z $cg ]] || pf_cgroup_down "$cg"
	bench_best check "${checks[@]}"
	bench_best ready "${readies[@]}"
	bench_best ready_xdp "${readies_xdp[@]}"
	bench_best ready_xdp_unit "${readies_unit[@]}"
	bench_best ready_shadow "${readies_shd[@]}"
	R[pol.maps_bytes]=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/maps-100k.txt")
	R[pol.tokens_bytes]=$(awk '$1 == "pf_tokens" { print $2 }' "$WORK/maps-100k.txt")
	R[pol.flows_bytes_default]=$(awk '$1 == "pf_flows" { print $2 }' "$WORK/maps-100k.txt")
	log "100k-origin policy: check ${R[pol.check_all_ms]} ms, start to ready ${R[pol.ready_all_ms]} ms (XDP mode ${R[pol.ready_xdp_all_ms]}, as the unit ${R[pol.ready_xdp_unit_all_ms]}, --shadow ${R[pol.ready_shadow_all_ms]:--}), maps $(calc "${R[pol.maps_bytes]} / 1048576" %.1f) MiB"
	bench_start_pfd tc "$POL10" --max-flows 1048576
	R[pol.ready_1m_ms]=$READY_MS
	bench_maps_of_tc_prog "$WORK/maps-1m.txt"
	R[pol.flows_1m_bytes]=$(awk '$1 == "pf_flows" { print $2 }' "$WORK/maps-1m.txt")
	bench_stop_srv
	log "flow table for 1M connections: $(calc "${R[pol.flows_1m_bytes]:-0} / 1048576" %.1f) MiB"
}

# The GC pass cost, through `make bench-gc` (its own network namespace);
# R[gc.<case>_<entries>_ms] and R[gc.<case>_<entries>_ns] (per entry).
bench_gc() {
	local c e
	log "gccost: the flow-table GC pass at 65,536 and 1,048,576 entries"
	timeout -k 5 600 make -s -C "$ROOT" -f Makefile -f bench/bench.mk BUILD="$BUILD" bench-gc \
		>"$WORK/gccost.txt" 2>"$WORK/gccost.err" ||
		problem gc "gccost failed: $(tail -n 3 "$WORK/gccost.err")"
	while read -r c e; do
		R[gc.${c}_${e}_ms]=$(sed -n 's/^GCCOST //p' "$WORK/gccost.txt" |
			jq -r --arg c "$c" --argjson e "$e" 'select(.case == $c and .entries == $e) | .median_ms')
		R[gc.${c}_${e}_ns]=$(sed -n 's/^GCCOST //p' "$WORK/gccost.txt" |
			jq -r --arg c "$c" --argjson e "$e" 'select(.case == $c and .entries == $e) | .ns_per_entry')
	done <<-EOF
		ended 65536
		active 65536
		ended 1048576
		active 1048576
	EOF
}

# The verifier's work of the programs `run` loads (start to ready is mostly
# it): R[vf.<prog>_insns] (processed instructions) and R[vf.<prog>_ms]
# (its verification time, median of VERIF_RUNS alternating loads).
VERIF_PROGS=(pf_tc_ingress pf_tc_egress pf_xdp_ingress)
bench_verif() {
	local p args=()
	for p in "${VERIF_PROGS[@]}"; do
		args+=(--prog "$p")
	done
	log "verifstats: the verifier's walk of ${VERIF_PROGS[*]}"
	timeout -k 5 300 "$VERIFSTATS" --runs "${VERIF_RUNS:-5}" "${args[@]}" \
		>"$WORK/verif.txt" 2>"$WORK/verif.err" ||
		problem verif "verifstats failed: $(tail -n 3 "$WORK/verif.err")"
	for p in "${VERIF_PROGS[@]}"; do
		R[vf.${p}_insns]=$(sed -n 's/^VERIF //p' "$WORK/verif.txt" |
			jq -r --arg p "$p" 'select(.prog == $p) | .insns')
		R[vf.${p}_ms]=$(sed -n 's/^VERIF //p' "$WORK/verif.txt" |
			jq -r --arg p "$p" 'select(.prog == $p) | .verif_ms')
	done
}

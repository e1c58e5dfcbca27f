#!/usr/bin/env bash
# tests/e2e/image.sh -- build the container image and run it as the Helm
# chart's pod spec runs it, on the e2e topology (not in `make test`: it needs
# podman, runc and mmdebstrap, and downloads from Debian's archive):
#
#   bash tests/e2e/image.sh [--mode tc|xdp]
#
# The base is made from Debian's archive (mmdebstrap --variant=minbase
# bookworm, podman import), then dist/container/Containerfile is built. The
# container runs with what the chart gives the pod: the host network, every
# capability dropped but BPF, NET_ADMIN and PERFMON, not privileged, a
# read-only root, /sys/fs/bpf and /run/preflightd from the host, the policy
# directory read-only, NODE_IP (the interface is found from it), the
# metrics port. Checked: preflights are answered in the kernel, /healthz is
# 200, `podman stop` (SIGTERM) drains and detaches (XDP mode: its XDP
# program too, without CAP_SYS_ADMIN). Also: with the runtime's
# default seccomp profile, preflightd cannot load (why the chart defaults to
# Unconfined). And a rolling update of such pods: a second container
# started next to the first takes the interface over while keep-alive
# clients run (the first one's preflightd ends with SIGUSR2, the second
# adopts its state -- in XDP mode its XDP program too, through its pin,
# without CAP_SYS_ADMIN): every byte right, every preflight answered in
# the kernel, the first pod then stops at once without detaching.
# PF_IMAGE_RUNTIME (default runc: crun refuses hybrid cgroups).
# Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=localhost/preflightd:test
BASE=localhost/debian:bookworm-minbase
PORT=8080
METRICS_PORT=9472
PODMAN=(podman --runtime "${PF_IMAGE_RUNTIME:-runc}")
# podman's default limits (nofile 1048576, ...) are over this sandbox's: set them
RUN=("${PODMAN[@]}" run --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
CTR=pf-image-$PF_NS

build_image() {
	if ! "${PODMAN[@]}" image exists "$BASE"; then
		mmdebstrap --variant=minbase --include=ca-certificates bookworm "$PF_WORK/base.tar" >"$PF_WORK/mmdebstrap.log" 2>&1
		"${PODMAN[@]}" import "$PF_WORK/base.tar" "$BASE" >/dev/null
	fi
	timeout 1500 "${PODMAN[@]}" build --network host -f "$PF_ROOT/dist/container/Containerfile" \
		--build-arg BASE="$BASE" -t "$IMAGE" "$PF_ROOT" >"$PF_WORK/build.log" 2>&1
}

# run_ctr [PODMAN RUN ARGS...] -- the container, detached, as the chart's pod
run_ctr() {
	mkdir -p /run/preflightd
	"${RUN[@]}" -d --name "$CTR" --network host --cap-drop ALL \
		--cap-add BPF,NET_ADMIN,PERFMON --read-only \
		-v /sys/fs/bpf:/sys/fs/bpf -v /run/preflightd:/run/preflightd \
		-v "$POLICY_DIR:/etc/preflightd:ro" \
		-e NODE_IP="$PF_V4_HOST" -e PF_HOOK="$MODE" -e PF_METRICS_PORT="$METRICS_PORT" \
		"$@" "$IMAGE" >/dev/null
}
ctr_logs() { "${PODMAN[@]}" logs "$CTR" 2>&1; }
ctr_rm() { "${PODMAN[@]}" rm -f -t 30 "$CTR" >/dev/null 2>&1 || true; }
# in_ctr NAME CMD... -- CMD with CTR=NAME (run_ctr, ctr_logs, wait_ready...)
in_ctr() {
	local CTR=$1
	shift
	"$@"
}

answered_in_kernel() {
	local h
	h=$(pf_curl -sS -o /dev/null -D - -X OPTIONS -H 'Origin: https://app.example.com' \
		-H 'Access-Control-Request-Method: PUT' "http://$PF_V4_HOST:$PORT/x" | tr -d '\r')
	grep -q '^HTTP/1.1 204' <<<"$h" && ! grep -qi '^x-answered-by:' <<<"$h"
}

wait_ready() { pf_until 15 ctr_ready; }
ctr_ready() { ctr_logs | grep -q 'preflightd: ready on'; }

case_image() {
	local t0 rc
	pf_expect "image built (mmdebstrap base, Containerfile)" build_image || { pf_detail_file "$PF_WORK/build.log"; return 1; }
	pf_detail "image: $("${PODMAN[@]}" image inspect -f '{{.Size}}' "$IMAGE") bytes"
	pf_expect_match "runtime stage: preflightd from the package" \
		"$("${RUN[@]}" --rm --entrypoint dpkg-query "$IMAGE" -W -f '${Version} ${Depends}' preflightd)" \
		'^0\.1 .*libbpf1'
	pf_expect_eq "... no compiler in it" "$("${RUN[@]}" --rm --entrypoint sh "$IMAGE" -c \
		'command -v gcc clang make || echo none')" none

	# the runtime's default seccomp profile: bpf() needs CAP_SYS_ADMIN there
	run_ctr
	"${PODMAN[@]}" wait "$CTR" >/dev/null 2>&1 || true
	pf_expect_match "default seccomp profile: bpf() refused (the chart's default is Unconfined)" \
		"$(ctr_logs | grep -m1 'Operation not permitted' || true)" \
		'the bpf\(\) system call is refused|load BPF programs: Operation not permitted'
	pf_expect_not "... and it never got ready" grep -q 'preflightd: ready on' <(ctr_logs)
	ctr_rm

	run_ctr --security-opt seccomp=unconfined
	pf_expect "ready (seccomp unconfined, as the chart)" wait_ready
	pf_detail "$(ctr_logs | head -n 2 | paste -sd'|')"
	pf_expect_match "interface found from NODE_IP" "$(ctr_logs)" "$PF_IF_HOST holds the node's address"
	pf_expect "a preflight answered in the kernel" answered_in_kernel
	pf_expect_eq "/healthz" "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 \
		"http://$PF_V4_HOST:$METRICS_PORT/healthz")" 200
	t0=$SECONDS
	rc=$("${PODMAN[@]}" stop -t 30 "$CTR" >/dev/null && "${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$CTR")
	pf_expect_eq "podman stop: exit status" "$rc" 0
	pf_expect "... drained and detached" grep -q 'detached from' <(ctr_logs)
	pf_detail "stopped in $((SECONDS - t0)) s"
	pf_expect_eq "no TC program left (tcx or clsact)" "$(pf_tc_chain in; pf_tc_chain out)" ""
	pf_expect_eq "no XDP program left" "$(pf_xdp_prog)" ""
	ctr_rm
	pf_case_result
}

case_handover() {
	local a=$CTR-a b=$CTR-b clients out
	in_ctr "$a" run_ctr --security-opt seccomp=unconfined
	pf_expect "pod a ready" in_ctr "$a" wait_ready
	pf_ns timeout --foreground -k 2 60 "$PF_KACLIENT" --addr "$PF_V4_HOST" --port "$PORT" \
		--conns 4 --rounds 100000 --duration-s 12 --put-size 10000 --get-size 100000 \
		--expect any --timeout-ms 10000 >"$PF_WORK/ka.out" 2>&1 &
	clients=$!
	sleep 2
	in_ctr "$b" run_ctr --security-opt seccomp=unconfined
	pf_expect "pod b ready" in_ctr "$b" wait_ready
	in_ctr "$a" ctr_logs >"$PF_WORK/a.log"
	in_ctr "$b" ctr_logs >"$PF_WORK/b.log"
	pf_expect "pod a handed over" grep -q "handing $PF_IF_HOST over" "$PF_WORK/a.log"
	pf_expect "... its preflightd ended by SIGUSR2, everything left attached" \
		grep -q 'restart: leaving the programs attached and the state pinned' "$PF_WORK/a.log"
	pf_expect "pod b asked for it" grep -q 'asking it to hand over' "$PF_WORK/b.log"
	pf_expect "... and adopted the pinned state" grep -q 'adopting the flow table' "$PF_WORK/b.log"
	if [[ $MODE == xdp ]]; then
		pf_expect "... and the XDP program (no CAP_SYS_ADMIN: through its pin)" \
			grep -q 'replaced the previous instance.s XDP program atomically' "$PF_WORK/b.log"
	fi
	pf_expect_eq "podman stop pod a: exit status" \
		"$("${PODMAN[@]}" stop -t 30 "$a" >/dev/null && "${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$a")" 0
	pf_expect_not "... without draining or detaching" grep -qE 'draining|detached' <(in_ctr "$a" ctr_logs)
	wait "$clients" || true
	out=$(tail -n1 "$PF_WORK/ka.out")
	pf_detail "$out"
	pf_expect_match "all four byte-exact through the hand-over" "$out" 'errors=0$'
	pf_expect_match "... every preflight answered in the kernel" "$out" ' app=0 '
	"${PODMAN[@]}" stop -t 30 "$b" >/dev/null || true
	pf_expect "pod b drains and detaches on stop" grep -q 'detached from' <(in_ctr "$b" ctr_logs)
	pf_expect_eq "no TC program left (tcx or clsact)" "$(pf_tc_chain in; pf_tc_chain out)" ""
	pf_expect_eq "no XDP program left" "$(pf_xdp_prog)" ""
	in_ctr "$a" ctr_rm
	in_ctr "$b" ctr_rm
	pf_case_result
}

main() {
	local topo=()
	pf_init "$@"
	pf_on_cleanup 'ctr_rm; in_ctr "$CTR-a" ctr_rm; in_ctr "$CTR-b" ctr_rm'
	for t in podman mmdebstrap "${PODMAN[2]}"; do
		command -v "$t" >/dev/null || { pf_skip "[$MODE] image" "$t not installed"; pf_summary; exit; }
	done
	POLICY_DIR=$PF_WORK/policy
	mkdir -p "$POLICY_DIR"
	cp "$PF_POLICY" "$POLICY_DIR/policy.yaml"
	[[ $MODE == xdp ]] && topo+=(--xdp-peer)
	pf_topo_up "${topo[@]+"${topo[@]}"}"
	pf_start_app --listen "$PF_V4_HOST:$PORT"
	pf_case "[$MODE] container image: built, run as the chart's pod, answers, drains" case_image
	pf_case "[$MODE] two pods: rolling update by hand-over, byte-exact" case_handover
	pf_stop_all
	pf_topo_down
	pf_summary
}
main "$@"

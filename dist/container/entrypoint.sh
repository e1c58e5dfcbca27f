#!/bin/bash
# entrypoint.sh -- PID 1 of the preflightd container image: choose the
# interface, run preflightd, and hand the interface over to a newer pod on
# the same node (a DaemonSet rolling update with maxSurge) by restart
# adoption.
#
#   entrypoint.sh [EXTRA RUN ARGS...]
#
# Environment (the Helm chart sets it):
#   PF_IFACE         the interface; empty: the one holding NODE_IP
#   NODE_IP          the node's address (status.hostIP)
#   PF_POLICY        the policy (default /etc/preflightd/policy.yaml)
#   PF_MODE          enforce (default) | shadow (run --shadow)
#   PF_HOOK          tc (default) | xdp
#   PF_METRICS_PORT  serve /metrics and /healthz on NODE_IP:PORT (empty: off)
#   PF_CGROUP        the node's cgroup v2 root as mounted in the pod: --cgroup
#                    in shadow mode, or when the policy has responses: true
#                    (the pod's own cgroup namespace holds no app socket)
#   PF_HANDOVER_WAIT seconds to wait for the older pod (default 60)
#   PREFLIGHTD       the binary (default preflightd)
#
# Hand-over: a new pod finds the interface locked by an older pod's
# preflightd (/run/preflightd/IFACE.lock: the chart mounts the node's
# /run/preflightd into every pod), writes /run/preflightd/IFACE.handover
# and waits for the lock. The
# older pod's entrypoint then ends its preflightd with SIGUSR2 (a restart:
# it exits at once, leaving the programs attached and translating and the
# state pinned in bpffs, and releases the lock), and the new preflightd
# adopts it all: spliced connections stay byte-exact. SIGTERM without a
# hand-over request drains and detaches (helm uninstall, node drain).
set -euo pipefail

log() { echo "entrypoint: $*" >&2; }
pfd=${PREFLIGHTD:-preflightd}
run=/run/preflightd     # preflightd's lock directory
iface=${PF_IFACE:-}
if [[ -z $iface ]]; then
	[[ -n ${NODE_IP:-} ]] || { log "set PF_IFACE or NODE_IP"; exit 2; }
	iface=$(ip -o addr show to "$NODE_IP" | awk '{ print $2; exit }')
	[[ -n $iface ]] || { log "no interface holds the node's address $NODE_IP"; exit 1; }
	log "$iface holds the node's address $NODE_IP"
fi
policy=${PF_POLICY:-/etc/preflightd/policy.yaml}
args=(run --iface "$iface" --policy "$policy" --mode "${PF_HOOK:-tc}")
case ${PF_MODE:-enforce} in
enforce) ;;
shadow) args+=(--shadow) ;;
*) log "PF_MODE '$PF_MODE': expected enforce or shadow"; exit 2 ;;
esac
if [[ -n ${PF_CGROUP:-} ]] &&
	{ [[ ${PF_MODE:-enforce} == shadow ]] || grep -Eq '^[[:space:]]*responses:[[:space:]]*true' "$policy"; }; then
	args+=(--cgroup "$PF_CGROUP")
fi
if [[ -n ${PF_METRICS_PORT:-} ]]; then
	addr=${NODE_IP:-127.0.0.1}
	[[ $addr == *:* ]] && addr="[$addr]"
	args+=(--metrics "$addr:$PF_METRICS_PORT")
fi

# a broken policy must not take the interface from a working pod
"$pfd" check --quiet "$policy" || { log "invalid policy: not starting"; exit 1; }
lock=$run/$iface.lock
handover=$run/$iface.handover
mkdir -p "$run"
if [[ -e $lock ]] && ! flock -n "$lock" true; then
	log "$iface is served by an older pod: asking it to hand over"
	: >"$handover"
	if ! flock -w "${PF_HANDOVER_WAIT:-60}" "$lock" true; then
		rm -f "$handover"
		log "no hand-over within ${PF_HANDOVER_WAIT:-60} s"
		exit 1
	fi
fi
rm -f "$handover"     # ours now; a request left by a pod that died is void

"$pfd" "${args[@]}" "$@" &
child=$!
handed=0
hand_over() {
	local i
	log "handing $iface over to the new pod (SIGUSR2: the programs stay attached)"
	kill -USR2 "$child" 2>/dev/null || true
	# it exits at once; should it not, SIGKILL leaves the same state
	for ((i = 0; i < 100; i++)); do
		kill -0 "$child" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$child" 2>/dev/null || true
	wait "$child" || true
	rm -f "$handover"
	handed=1
}
on_term() {
	if [[ -e $handover ]]; then hand_over; else kill -TERM "$child" 2>/dev/null || true; fi
}
trap on_term TERM INT
while kill -0 "$child" 2>/dev/null; do
	if [[ -e $handover ]]; then
		hand_over
		break
	fi
	sleep 1 &
	wait $! || true       # returns early on a signal
done
if ((handed)); then
	# the new pod serves the interface; stay until Kubernetes stops us
	trap 'exit 0' TERM INT
	while :; do
		sleep 3600 &
		wait $! || true
	done
fi
rc=0
wait "$child" || rc=$?
exit "$rc"

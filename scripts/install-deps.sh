#!/bin/sh
# Installs what berth needs on a fresh Debian 12 machine, only when missing:
# runc (the OCI runtime), busybox-static (the base image for demos and tests),
# iproute2 and nftables (networking), and staticcheck for `make lint`.
set -eu
need=""
command -v runc >/dev/null 2>&1 || need="$need runc"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v nft >/dev/null 2>&1 || need="$need nftables"
command -v git >/dev/null 2>&1 || need="$need git"
if [ -n "$need" ]; then
	echo "installing:$need" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $need >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi

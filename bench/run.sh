#!/bin/bash
# Runs issue #3's benchmarks (see bench/README.md): berth against Debian's
# docker.io (dockerd + containerd + runc) and, when installed, podman.
# Arguments go to the measuring program, e.g. `bench/run.sh -n 50`;
# BENCH_ARGS does the same from make: `make bench BENCH_ARGS='-n 50'`.
# Run from the repository root as root, after `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

if [ "$(id -u)" != 0 ]; then
	echo "bench: must run as root" >&2
	exit 1
fi

# Docker is only installed, never started as a service: the bench starts its
# own dockerd on a private socket, data root, exec root and network namespace.
# The package's systemd units are inert here (no systemd), and policy-rc.d
# keeps any init script from starting the daemon during the install.
if ! command -v dockerd >/dev/null 2>&1; then
	echo "bench: installing docker.io" >&2
	policy=/usr/sbin/policy-rc.d
	created_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -qq && apt-get install -y -qq docker.io >/dev/null; }; then
		echo "bench: docker.io could not be installed; measuring without Docker" >&2
	fi
	[ -z "$created_policy" ] || rm -f "$policy"
fi

bin=$(mktemp -d)
pid=
cleanup() {
	# The measuring program cleans up after itself, also on SIGINT/SIGTERM;
	# pass the signal on and wait for it to finish doing so.
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$bin/measure" ./bench/cmd/measure
# shellcheck disable=SC2086
"$bin/measure" ${BENCH_ARGS:-} "$@" &
pid=$!
wait "$pid"

#!/bin/sh
# Installs what the test suite needs beyond scripts/install-deps.sh: Debian's
# docker.io, whose dockerd the interop tests start (in a network namespace of
# their own, without iptables or a bridge) to exchange images with berthd.
# The package is only installed, never started as a service.
set -eu
"$(dirname "$0")/install-deps.sh"
need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v script >/dev/null 2>&1 || need="$need bsdutils"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
if [ -n "$need" ]; then
	echo "installing for tests:$need" >&2
	policy=/usr/sbin/policy-rc.d
	created=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $need >/dev/null
	[ -z "$created" ] || rm -f "$policy"
fi
# The OCI distribution-spec conformance suite that test/conformance runs
# against `berthd registry`, built from the Go module proxy into bin/tools
# (git-ignored); the version file makes a changed pin rebuild it.
conformance_version=v0.0.0-20260831232431-97274622c111
tools="$(cd "$(dirname "$0")/.." && pwd)/bin/tools"
if [ ! -x "$tools/conformance" ] || [ "$(cat "$tools/conformance.version" 2>/dev/null)" != "$conformance_version" ]; then
	echo "installing the OCI conformance suite $conformance_version" >&2
	mkdir -p "$tools"
	PATH="$PATH:/usr/local/go/bin" GOBIN="$tools" GOFLAGS= go install "github.com/opencontainers/distribution-spec/conformance@$conformance_version"
	echo "$conformance_version" >"$tools/conformance.version"
fi

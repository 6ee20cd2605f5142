#!/usr/bin/env bash
# deps.sh - install what vmctr's build, demo and tests need on Debian 12.
# Idempotent and non-interactive: installs only the packages that are missing.
set -euo pipefail

PKGS=(
	gcc make pkg-config libseccomp-dev git    # build (cgo + libseccomp)
	busybox-static                            # test and demo images
	runc crun                                 # side-by-side comparisons
	podman conmon containerd skopeo umoci     # client compatibility tests
	hyperfine strace                          # benchmarks and profiling
	iproute2 util-linux procps psmisc ca-certificates
)

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		echo "deps.sh: Go is at /usr/local/go/bin; add it to PATH" >&2
	else
		echo "deps.sh: Go (>= 1.24) is required: install it at /usr/local/go" >&2
		exit 1
	fi
fi

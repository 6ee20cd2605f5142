#!/usr/bin/env bash
# deps.sh - install the Debian packages vmctr's build, demo and tests need.
# The one package list of the project: .ci/run, `make test` and hack/demo.sh
# all call this. Idempotent and non-interactive: installs only what is
# missing, and a second run installs nothing. Must run as root.
set -euo pipefail

PKGS=(
	build-essential gcc make pkg-config git libseccomp-dev  # cgo build with libseccomp; static vmctr-init
	linux-libc-dev                                          # syscall list for the seccomp tests
	busybox-static                                          # test and demo images
	runc crun                                               # side-by-side runtimes
	podman conmon containerd skopeo umoci                   # client compatibility
	hyperfine strace                                        # benchmarks, profiling, build --trace
	iproute2 util-linux procps psmisc ca-certificates      # ip, unshare/script, ps
	bats jq gawk                                            # runc's bats suite (hack/runc-compat.sh)
	nginx redis-server python3 debootstrap                  # `vmctr build` builds containers from these
)

log() { printf 'deps.sh: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "run as root (it installs Debian packages)"; exit 1; }

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Packages install services (nginx, redis, containerd): do not start
	# them; the tests start what they need privately. Only if no policy is in
	# place already; removed again right after.
	policy=/usr/sbin/policy-rc.d
	own_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -q
	apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
	if [ -n "$own_policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
fi
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { log "Go (>= $(awk '/^go /{print $2}' "$(dirname "$0")/../go.mod")) is required at /usr/local/go or on PATH"; exit 1; }

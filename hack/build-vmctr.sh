#!/usr/bin/env bash
# hack/build-vmctr.sh - build the vmctr binary: the one way every part of the
# tree does it (the Makefile, the end-to-end tests, the benchmarks and the
# compatibility scripts), so that what is tested and measured is what ships.
#
# Usage: hack/build-vmctr.sh OUTPUT
#
# Environment:
#   TAGS     build tags (default "seccomp urfave_cli_no_docs": libseccomp, and
#            no man-page generator, whose package init costs every vmctr
#            process about 0.3 ms)
#   STATIC   1 (default): a static binary (glibc, libseccomp.a), with the
#            netgo and osusergo tags; 0: dynamically linked. Static saves
#            0.3-0.5 ms per vmctr process (no dynamic loader, fewer page
#            faults); `run` starts two of them (docs/performance.md).
#   VERSION  the version `vmctr --version` prints (default: git describe)
#   COMMIT   the commit it prints (default: git rev-parse HEAD)
#   GO       the go command (default go)
#
# Needs Go, gcc and libseccomp-dev (hack/deps.sh installs them).
set -euo pipefail

[ $# = 1 ] || { echo "usage: $0 OUTPUT" >&2; exit 2; }
out=$1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

tags=${TAGS:-seccomp urfave_cli_no_docs}
version=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)}
ldflags="-X main.version=$version -X main.commit=$commit"
if [ "${STATIC:-1}" = 1 ]; then
	tags="$tags netgo osusergo"
	ldflags="$ldflags -extldflags -static"
fi
cd "$repo"
command -v "${GO:-go}" >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
exec "${GO:-go}" build -tags "$tags" -ldflags "$ldflags" -o "$out" ./cmd/vmctr

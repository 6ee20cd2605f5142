#!/usr/bin/env bash
# hack/conformance.sh - run the OCI runtime-tools v0.9.0 validation suite
# against vmctr and fail if fewer programs pass than expected.
#
# Usage: hack/conformance.sh [VMCTR_BINARY]
#
#   VMCTR_BINARY  the vmctr to test. Without it, vmctr is built from this tree
#                 (hack/build-vmctr.sh) into a temporary directory that is
#                 removed afterwards.
#
# Environment:
#   VMCTR_CONFORMANCE_MIN  programs that must pass all their assertions
#                          (default 35: 37 reached on the reference machine,
#                          minus 2 for the suite's racy poststart test and
#                          host differences; see docs/conformance.md)
#   VMCTR_CONFORMANCE_OUT  results directory (default
#                          /var/tmp/oci-validation-results/vmctr-conformance-<time>);
#                          kept: per-program TAP, stderr, summary.txt
#   OCI_VALIDATION_SH      the suite runner (default ../shared/tools/oci-validation.sh
#                          beside this repository); its own knobs
#                          (OCI_VALIDATION_TESTS, OCI_VALIDATION_SKIP, ...) pass through
#
# Must run as root (the suite creates containers). Non-interactive. The runner
# deletes the containers, cgroups and bundles it made; this script removes
# the binary it built.
#
# Exit status: 0 if at least VMCTR_CONFORMANCE_MIN programs passed, 1 if
# fewer did, 2 on usage, build or suite errors.
set -euo pipefail

PROG=hack/conformance.sh
die() { echo "$PROG: $*" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIN=${VMCTR_CONFORMANCE_MIN:-35}
SUITE=${OCI_VALIDATION_SH:-$REPO/../shared/tools/oci-validation.sh}
OUT=${VMCTR_CONFORMANCE_OUT:-/var/tmp/oci-validation-results/vmctr-conformance-$(date +%Y%m%d-%H%M%S)-$$}

[ $# -le 1 ] || die "usage: $PROG [VMCTR_BINARY]"
[[ "$MIN" =~ ^[0-9]+$ ]] || die "VMCTR_CONFORMANCE_MIN must be a number, not \"$MIN\""
[ "$(id -u)" = 0 ] || die "must run as root (the suite creates containers)"
[ -x "$SUITE" ] || die "suite runner not found: $SUITE (set OCI_VALIDATION_SH)"

TMP=
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if [ $# = 1 ]; then
	VMCTR=$(realpath "$1")
	[ -x "$VMCTR" ] || die "not executable: $1"
else
	TMP=$(mktemp -d /tmp/vmctr-conformance.XXXXXX)
	echo "$PROG: building vmctr from $REPO" >&2
	bash "$REPO/hack/build-vmctr.sh" "$TMP/vmctr" || die "build failed"
	VMCTR=$TMP/vmctr
fi

# The runner exits 1 whenever any assertion fails (always, on any host we
# know); only its usage/build/interrupt statuses are errors here.
rc=0
"$SUITE" "$VMCTR" "$OUT" </dev/null || rc=$?
case $rc in
0 | 1) ;;
130) exit 130 ;;
*) die "suite runner failed (exit $rc); see $OUT" ;;
esac

SUMMARY=$OUT/summary.txt
[ -f "$SUMMARY" ] || die "no $SUMMARY"
read -r RUN PASSED < <(sed -n 's/^programs: \([0-9]*\) run, \([0-9]*\) passed all assertions.*/\1 \2/p' "$SUMMARY")
[ -n "${PASSED:-}" ] || die "cannot read the program count from $SUMMARY"

echo
echo "failing programs:"
awk -F'\t' 'NR > 1 && $4 + $6 > 0 { printf "  %-34s %s\n", $1, $2 }' "$OUT/results.tsv"
echo "results: $OUT"
if [ "$PASSED" -lt "$MIN" ]; then
	echo "$PROG: FAIL: $PASSED of $RUN programs passed, fewer than $MIN" >&2
	exit 1
fi
echo "$PROG: ok: $PASSED of $RUN programs passed (at least $MIN required)"

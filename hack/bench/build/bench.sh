#!/usr/bin/env bash
# Build time of a container for this host's nginx with `vmctr build`, side
# by side with a plain `cp -a` of the same file list (the sources the
# build's manifest names: regular files, symbolic links and hard links).
#
# The two are timed alternately, RUNS times each (the order flips every
# round, and each output is removed and the disk synced before each run,
# outside the timing), so that a machine whose load drifts treats both
# alike; the medians and their ratio are printed. The target is a ratio
# within 1.5.
#
#   hack/bench/build/bench.sh                 # builds vmctr and vmctr-init
#   VMCTR=./vmctr INIT=_output/vmctr-init RUNS=31 hack/bench/build/bench.sh
#   BENCH_DIR=/var/tmp  where outputs go (default: /var/tmp)
#   FORMAT=json         print the result as JSON
#
# Needs root, nginx, jq and a C compiler (for vmctr-init).
set -euo pipefail

cd "$(dirname "$0")/../../.."
RUNS=${RUNS:-21}
TARGET=1.5
BENCH_DIR=${BENCH_DIR:-/var/tmp}

[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "bench: nginx is not installed (apt-get install nginx)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench: jq is not installed" >&2; exit 1; }

work=$(mktemp -d "$BENCH_DIR/vmctr-bench-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -z "${VMCTR:-}" ]; then
	go build -tags seccomp -o "$work/vmctr" ./cmd/vmctr
	VMCTR=$work/vmctr
fi
if [ -z "${INIT:-}" ]; then
	cc -static -Os -s -Wall -Wextra -Werror -o "$work/vmctr-init" rootfs/init/vmctr-init.c
	INIT=$work/vmctr-init
fi

args=(build --init "$INIT" --app /usr/sbin/nginx --file /etc/nginx --file /var/www/html
	--cmd "/usr/sbin/nginx -g 'daemon off;'")

# One build names the files; cp copies exactly those sources.
"$VMCTR" "${args[@]}" -o "$work/ref" >/dev/null
manifest=$work/ref/rootfs/.vmctr/manifest.json
jq -r '.files[] | select((.source // "") != "" and (.type == "file" or .type == "symlink" or .type == "hardlink")) | .source | ltrimstr("/")' \
	"$manifest" >"$work/list"
nfiles=$(wc -l <"$work/list")
nbytes=$(jq '[.files[] | select((.source // "") != "" and .type == "file") | .size] | add' "$manifest")
entries=$(jq '.files | length' "$manifest")

now() { date +%s%N; }
run_vmctr() {
	rm -rf "$work/a"
	sync
	local t0 t1
	t0=$(now)
	"$VMCTR" "${args[@]}" -o "$work/a" >/dev/null
	t1=$(now)
	echo $(((t1 - t0) / 1000))
}
run_cp() {
	rm -rf "$work/b"
	mkdir "$work/b"
	sync
	local t0 t1
	t0=$(now)
	(cd / && xargs -a "$work/list" -d '\n' cp -a --parents -t "$work/b")
	t1=$(now)
	echo $(((t1 - t0) / 1000))
}

# warm the page cache and both programs
run_vmctr >/dev/null
run_cp >/dev/null

: >"$work/vmctr.us"
: >"$work/cp.us"
for i in $(seq 1 "$RUNS"); do
	if [ $((i % 2)) = 1 ]; then
		run_vmctr >>"$work/vmctr.us"
		run_cp >>"$work/cp.us"
	else
		run_cp >>"$work/cp.us"
		run_vmctr >>"$work/vmctr.us"
	fi
done

median() { sort -n "$1" | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
quart() { sort -n "$1" | awk -v q="$2" '{a[NR] = $1} END {i = int(NR * q + 0.5); if (i < 1) i = 1; print a[i]}'; }
mv=$(median "$work/vmctr.us")
mc=$(median "$work/cp.us")
ratio=$(awk -v a="$mv" -v b="$mc" 'BEGIN {printf "%.2f", a / b}')
ok=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN {print (r <= t) ? "yes" : "no"}')

if [ "${FORMAT:-}" = json ]; then
	jq -n --argjson runs "$RUNS" --argjson files "$nfiles" --argjson bytes "$nbytes" --argjson entries "$entries" \
		--argjson vmctr_us "$mv" --argjson cp_us "$mc" --argjson ratio "$ratio" --argjson target "$TARGET" \
		'{runs: $runs, sources: $files, bytes: $bytes, manifest_entries: $entries, vmctr_build_median_us: $vmctr_us,
		  cp_a_median_us: $cp_us, ratio: $ratio, target: $target}'
	exit 0
fi
printf 'nginx closure: %d source paths (%d bytes of regular files), %d manifest entries; %d runs each, alternating\n\n' \
	"$nfiles" "$nbytes" "$entries" "$RUNS"
printf '| %-28s | %12s | %12s | %12s |\n' "" "median (ms)" "p25 (ms)" "p75 (ms)"
printf '|%s|%s|%s|%s|\n' "------------------------------" "--------------" "--------------" "--------------"
for k in vmctr cp; do
	name="vmctr build"
	[ $k = cp ] && name="cp -a --parents (same list)"
	printf '| %-28s | %12.1f | %12.1f | %12.1f |\n' "$name" \
		"$(awk -v x="$(median "$work/$k.us")" 'BEGIN {print x / 1000}')" \
		"$(awk -v x="$(quart "$work/$k.us" 0.25)" 'BEGIN {print x / 1000}')" \
		"$(awk -v x="$(quart "$work/$k.us" 0.75)" 'BEGIN {print x / 1000}')"
done
printf '\nratio of medians: %s (target <= %s: %s)\n' "$ratio" "$TARGET" "$ok"

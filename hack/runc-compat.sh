#!/usr/bin/env bash
# hack/runc-compat.sh - run runc's own bats integration suite (runc v1.5.2,
# tests/integration) with RUNC pointing at vmctr, driven by a pattern file.
#
# Usage: hack/runc-compat.sh [VMCTR_BINARY]
#
#   VMCTR_BINARY  the vmctr to test. Without it, vmctr is built from this tree
#                 (hack/build-vmctr.sh) into the temp dir.
#
# Environment:
#   RUNC_COMPAT_PATTERNS  pattern file (default hack/runc-compat.patterns): one
#                         "<file>.bats: <test name>" per line, the tests that
#                         must pass; '#' starts a comment
#   RUNC_COMPAT_ALL=1     survey mode: run every test of every file (or of
#                         RUNC_COMPAT_FILES), print what passes that the
#                         pattern file does not list; exit 0 unless a listed
#                         test fails. About 2.5 minutes here, like the
#                         default run (the failing tests are quick).
#   RUNC_COMPAT_FILES     only these .bats files ("kill.bats exec.bats")
#   RUNC_COMPAT_NO_RETRY=1  a listed test that fails is not run again (by
#                         default it is, once, on its own, and counts as
#                         flaky rather than failed if it then passes)
#   RUNC_COMPAT_OUT       keep the TAP output and a results table here
#   RUNC_COMPAT_KEEP=1    keep the temp dir (bundles are removed by bats)
#   RUNC_COMPAT_FILE_TIMEOUT  seconds per .bats file (default 300); then bats
#                         is killed and the file's remaining tests count as
#                         failed. (Not BATS_TEST_TIMEOUT: bats 1.8 implements
#                         it with a background job, and the tests that `wait`
#                         for their own background jobs then wait for it too.)
#
# The suite comes from the Go module cache (go mod download fetches it if it
# is missing) and is copied into a temp dir; the suite's helper programs
# (tests/cmd/*) are built from the same module. Changes to the copy, each
# checked so that a newer suite fails loudly instead of silently:
#   - the busybox and debian images are made offline from /bin/busybox (and,
#     for debian, a few host programs), not downloaded;
#   - helpers.bash puts the cgroup parent the cgroup tests create under
#     /vmctr (vmctr's and its tests' only cgroup space), not at the top,
#     and only in controllers mounted here (not as plain directories in
#     the /sys/fs/cgroup tmpfs for hugetlb, net_cls, ... of a hybrid host);
#   - create.bats' fd-leak test also allows the sealed binary named vmctr.
# bats runs under script(1) (the tests need a terminal, as in runc's CI) and
# under hack/subreaper, which reaps the processes the tests leave behind at
# once. RUNC is a wrapper that records container IDs for the cleanup.
# Tests that change the host's network are never run (netdev.bats,
# checkpoint.bats, two userns.bats tests).
#
# Needs root, bats (>= 1.5), jq, gawk, script (util-linux), busybox-static
# and Go:  apt-get install bats jq gawk busybox-static
# Non-interactive. Everything it makes (temp dir, containers, cgroups under
# /vmctr, mounts, helper processes) is removed on exit, also on failure.
#
# Exit status: 0 if every listed test passed (a listed test the suite skips
# on this host is reported, not failed) or a tool is missing (SKIP), 1 if any
# listed test failed or did not run, 2 on usage or set-up errors.
# docs/runc-compat.md has the results and the reasons for the rest.
set -euo pipefail

# One compound command: bash reads all of it before running any, so the file
# can be edited while a run is under way.
{

PROG=hack/runc-compat.sh
RUNC_VERSION=v1.5.2
die() { echo "$PROG: $*" >&2; exit 2; }
say() { echo "$PROG: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATTERNS=${RUNC_COMPAT_PATTERNS:-$REPO/hack/runc-compat.patterns}
FILE_TIMEOUT=${RUNC_COMPAT_FILE_TIMEOUT:-300}

[ $# -le 1 ] || die "usage: $PROG [VMCTR_BINARY]"
[ "$(id -u)" = 0 ] || die "must run as root (the suite creates containers)"
# Like the other compatibility suites, skip (exit 0) when a tool is missing.
for p in bats jq gawk script; do
	command -v "$p" >/dev/null || { say "SKIP: $p is not installed (apt-get install bats jq gawk util-linux, or hack/deps.sh)"; exit 0; }
done
[ -x /bin/busybox ] || { say "SKIP: /bin/busybox is not installed (apt-get install busybox-static)"; exit 0; }
command -v go >/dev/null || die "go not found (the suite's helper programs are built with it)"
[ -f "$PATTERNS" ] || die "pattern file not found: $PATTERNS"

T=
CGPARENT_NAME=
cleanup() {
	local rc=$?
	set +eu
	if [ -n "$T" ] && [ -d "$T" ] && [ -n "${VMCTR:-}" ]; then
		# Containers a killed or timed-out test left: delete them through
		# vmctr, which removes their cgroups too.
		local st id
		while IFS= read -r st; do
			for id in $("$VMCTR" --root "$st" list -q 2>/dev/null); do
				"$VMCTR" --root "$st" delete -f "$id" >/dev/null 2>&1
			done
		done < <(find "$T" -maxdepth 4 -type d -name state 2>/dev/null)
		# recvtty/seccompagent helpers whose test did not get to teardown.
		local pf
		while IFS= read -r pf; do
			kill -9 "$(cat "$pf")" 2>/dev/null
		done < <(find "$T" -name '*pid' -path '*/tty/*' 2>/dev/null; find "$T" -name seccompagent.pid 2>/dev/null)
		# Mounts left under the temp dir, deepest first.
		awk -v t="$T" '$5 ~ "^"t {print $5}' /proc/self/mountinfo | sort -r | while IFS= read -r m; do
			umount -l "$m" 2>/dev/null
		done
	fi
	# cgroups the suite left: only those this run can name (the IDs it
	# created containers with, and its own parent), never others under
	# /vmctr, which other runs may be using. Empty ones only (rmdir).
	if [ -n "$T" ]; then
		local d left=()
		for id in $(sort -u "$T/ids" 2>/dev/null); do
			[[ "$id" =~ ^[A-Za-z0-9_+][A-Za-z0-9_+.-]*$ ]] || continue
			while IFS= read -r d; do left+=("$d"); done < <(find /sys/fs/cgroup/*/vmctr/"$id" -depth -type d 2>/dev/null)
		done
		if [ ${#left[@]} -gt 0 ]; then
			say "removing container cgroups the suite left: ${left[*]}"
			for d in "${left[@]}"; do rmdir "$d" 2>/dev/null || say "cannot remove $d (not empty)"; done
		fi
		# The suite's cgroup parent: its remove_parent misses the v2
		# hierarchy of a hybrid host, where libcontainer creates it too.
		if [ -n "$CGPARENT_NAME" ]; then
			find /sys/fs/cgroup/*/vmctr/"$CGPARENT_NAME" /sys/fs/cgroup/vmctr/"$CGPARENT_NAME" -depth -type d -exec rmdir {} \; 2>/dev/null
		fi
	fi
	if [ -n "$T" ] && [ -z "${RUNC_COMPAT_KEEP:-}" ]; then
		rm -rf "$T"
	elif [ -n "$T" ]; then
		say "kept $T"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

T=$(mktemp -d /tmp/vmctr-runc-compat.XXXXXX)
chmod 0755 "$T"
# The parent the suite's cgroup tests create (helpers.bash create_parent),
# under /vmctr and unique to this run.
CGPARENT_NAME=runc-cgroups-integration-test-$$
mkdir -p "$T/bin" "$T/tmp"

# --- vmctr --------------------------------------------------------------------
# The binary lives in its own directory, away from the state roots:
# libcontainer seals it with an overlay whose layers must not nest.
if [ $# = 1 ]; then
	[ -x "$1" ] && [ ! -d "$1" ] || die "not an executable: $1"
	cp "$1" "$T/bin/vmctr" # a fixed name: the suite's fd-leak test names the sealed binary
	VMCTR=$T/bin/vmctr
else
	say "building vmctr from $REPO"
	bash "$REPO/hack/build-vmctr.sh" "$T/bin/vmctr" || die "building vmctr failed"
	VMCTR=$T/bin/vmctr
fi

# A subreaper to run bats under (hack/subreaper).
(cd "$REPO" && go build -o "$T/bin/subreaper" ./hack/subreaper) || die "building hack/subreaper failed"

# --- runc's suite -------------------------------------------------------------
MODDIR=$(cd "$REPO" && go list -m -f '{{.Dir}}' github.com/opencontainers/runc 2>/dev/null || true)
if [ -z "$MODDIR" ] || [ ! -d "$MODDIR/tests/integration" ]; then
	MODDIR=$(cd "$REPO" && go mod download -json "github.com/opencontainers/runc@$RUNC_VERSION" | jq -r .Dir) ||
		die "cannot get github.com/opencontainers/runc@$RUNC_VERSION into the module cache"
fi
case $MODDIR in
*@"$RUNC_VERSION") ;;
*) say "warning: the suite is runc's $RUNC_VERSION but go.mod has $MODDIR" ;;
esac
SUITE=$T/runc/tests/integration
mkdir -p "$T/runc/tests"
cp -r "$MODDIR/tests/integration" "$SUITE"
chmod -R u+w "$T/runc"
chmod +x "$SUITE"/*.sh # module zips keep no exec bits

# The suite's helper programs (recvtty, seccompagent, ...), built in runc's
# own module (they need its go.mod, e.g. urfave/cli v1).
cp -r "$MODDIR/tests/cmd" "$T/runc/tests/cmd"
chmod -R u+w "$T/runc/tests/cmd"
find "$T/runc/tests/cmd" -name '*.sh' -exec chmod +x {} +
mkdir -p "$T/runc/tests/cmd/_bin"
for c in recvtty seccompagent pidfd-kill remap-rootfs fs-idmap sd-helper key_label; do
	(cd "$MODDIR" && GOFLAGS=-mod=mod go build -tags seccomp -o "$T/runc/tests/cmd/_bin/$c" "./tests/cmd/$c") >"$T/build-$c.log" 2>&1 ||
		say "warning: building the suite's $c failed (tests that need it fail): $(tail -1 "$T/build-$c.log")"
done

# Images, offline: a busybox root file system shaped like the docker-library
# busybox image the suite downloads (applet links in /bin, its passwd and
# group), from the host's static busybox, and a "debian" image: the same
# plus the few Debian programs its tests run, copied from the host.
make_busybox_image() {
	local r=$T/image-rootfs a
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
	chmod 1777 "$r/tmp"
	chmod 0700 "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	cat >"$r/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		daemon:x:1:1:daemon:/usr/sbin:/bin/false
		bin:x:2:2:bin:/bin:/bin/false
		sys:x:3:3:sys:/dev:/bin/false
		sync:x:4:100:sync:/bin:/bin/sync
		mail:x:8:8:mail:/var/spool/mail:/bin/false
		www-data:x:33:33:www-data:/var/www:/bin/false
		operator:x:37:37:Operator:/var:/bin/false
		nobody:x:65534:65534:nobody:/home:/bin/false
	EOF
	cat >"$r/etc/group" <<-'EOF'
		root:x:0:
		daemon:x:1:
		bin:x:2:
		sys:x:3:
		adm:x:4:
		tty:x:5:
		disk:x:6:
		lp:x:7:
		mail:x:8:
		kmem:x:9:
		wheel:x:10:root
		cdrom:x:11:
		dialout:x:18:
		floppy:x:19:
		video:x:28:
		audio:x:29:
		tape:x:32:
		www-data:x:33:
		operator:x:37:
		utmp:x:43:
		plugdev:x:46:
		staff:x:50:
		lock:x:54:
		netdev:x:82:
		users:x:100:
		nogroup:x:65534:
	EOF
	tar -C "$r" -cJf "$SUITE/testdata/busybox-amd64.tar.xz" .
	# The "debian" image adds the host's copies of the Debian programs the
	# tests that use it run (bash, findmnt, chrt, ionice), with their
	# libraries; the rest stays busybox.
	local p lib
	mkdir -p "$r/proc" "$r/sys" # as in Debian's image (busybox's has neither)
	for p in bash findmnt chrt ionice; do
		p=$(command -v "$p") || { say "warning: $p not found on the host: the debian image lacks it"; continue; }
		mkdir -p "$r/usr/bin"
		cp -L "$p" "$r/usr/bin/"
		for lib in $(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	done
	tar -C "$r" -cJf "$SUITE/testdata/debian-amd64.tar.xz" .
	rm -rf "$r"
}
[ "$(go env GOARCH)" = amd64 ] || die "the offline images are made for amd64 only"
make_busybox_image

# helpers.bash: the cgroup parent under /vmctr (house rule: nothing outside
# /vmctr). Fail loudly if the line changes in a future runc.
grep -q 'REL_PARENT_PATH="/runc-cgroups-integration-test' "$SUITE/helpers.bash" ||
	die "helpers.bash no longer sets REL_PARENT_PATH as expected; update $PROG"
sed -i "s|REL_PARENT_PATH=\"/runc-cgroups-integration-test|REL_PARENT_PATH=\"/vmctr/$CGPARENT_NAME|" "$SUITE/helpers.bash"
# create_parent/remove_parent make the parent for every controller in
# /proc/cgroups, also those this host does not mount as v1 hierarchies
# (hugetlb, net_cls, ... on a hybrid host): mkdir -p then makes plain
# directories in the /sys/fs/cgroup tmpfs that nothing removes. Only
# controllers mounted here.
grep -q 'mkdir -p "/sys/fs/cgroup/$subsys$REL_PARENT_PATH"' "$SUITE/helpers.bash" &&
	grep -q 'rmdir "/sys/fs/cgroup/$subsys/$REL_PARENT_PATH"' "$SUITE/helpers.bash" ||
	die "helpers.bash no longer makes the cgroup parent as expected; update $PROG"
sed -i -e 's|mkdir -p "/sys/fs/cgroup/$subsys$REL_PARENT_PATH"|{ [ "$(stat -f -c %T "/sys/fs/cgroup/$subsys/" 2>/dev/null)" = cgroupfs ] \|\| continue; mkdir -p "/sys/fs/cgroup/$subsys$REL_PARENT_PATH"; }|' \
	-e 's|rmdir "/sys/fs/cgroup/$subsys/$REL_PARENT_PATH"|{ [ "$(stat -f -c %T "/sys/fs/cgroup/$subsys/" 2>/dev/null)" = cgroupfs ] \|\| continue; rmdir "/sys/fs/cgroup/$subsys/$REL_PARENT_PATH"; }|' "$SUITE/helpers.bash"

# create.bats' fd-leak test allows an fd to the sealed runtime binary
# (libcontainer's overlay copy of /proc/self/exe) by name: "/runc".
grep -q 'grep -Ex "/runc" <<<"$target"' "$SUITE/create.bats" ||
	die "create.bats no longer allows the sealed binary as expected; update $PROG"
sed -i 's|grep -Ex "/runc" <<<"$target"|grep -Ex "/(runc\|vmctr)" <<<"$target"|' "$SUITE/create.bats"
mkfifo "$T/stdin"

# --- the pattern file -----------------------------------------------------------
# expected: "file<TAB>name" per listed test.
EXPECTED=$T/expected
# lines: strip comments and blanks; "file.bats: name" -> "file.bats<TAB>name"
gawk -v out="$EXPECTED" -v pf="$PATTERNS" '
	{ sub(/#.*/, ""); sub(/[[:space:]]+$/, "") }
	/^$/ { next }
	match($0, /^[A-Za-z0-9_.-]+\.bats:[[:space:]]*/) {
		f = substr($0, 1, index($0, ":") - 1); n = substr($0, RLENGTH + 1)
		if (n != "") { print f "\t" n > out; next }
	}
	{ printf "%s:%d: not of the form \"<file>.bats: <test name>\": %s\n", pf, FNR, $0 > "/dev/stderr"; bad++ }
	END { exit bad > 0 }
' "$PATTERNS" && bad=0 || bad=1
touch "$EXPECTED"
[ "$bad" = 0 ] || die "bad lines in $PATTERNS"

if [ -n "${RUNC_COMPAT_FILES:-}" ]; then
	FILES=$RUNC_COMPAT_FILES
elif [ -n "${RUNC_COMPAT_ALL:-}" ]; then
	FILES=$(cd "$SUITE" && ls -- *.bats)
else
	FILES=$(cut -f1 "$EXPECTED" | sort -u)
fi
# Never run: tests that add links to the host's network namespace (house
# rule: tests never touch the machine's own network). netdev.bats and
# checkpoint.bats (which also needs CRIU, which vmctr does not support) as a
# whole, and these tests of other files:
NEVER_FILES=" netdev.bats checkpoint.bats "
NEVER_TESTS=$'userns.bats\tuserns with network interface\nuserns.bats\tuserns with network interface renamed'
for f in $FILES; do
	if [[ "$NEVER_FILES" == *" $f "* ]]; then
		say "not running $f: it changes the host's network"
		! grep -q "^$f"$'\t' "$EXPECTED" || die "$PATTERNS lists tests of $f, which this script never runs"
	fi
done
if grep -qxFf <(printf '%s\n' "$NEVER_TESTS") "$EXPECTED"; then
	die "$PATTERNS lists a test this script never runs (it changes the host's network)"
fi
FILES=$(for f in $FILES; do [[ "$NEVER_FILES" == *" $f "* ]] || echo "$f"; done)

# bats_regex NAME: an anchored extended regexp matching exactly NAME (and
# trailing blanks: a few test names end in one, which the pattern file and
# the results table leave out).
bats_regex() { printf '^%s *$' "$(printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g')"; }

# run_bats FILE TAP [BATS ARGS...]: run one .bats file of the suite copy
# into the TAP file.
run_bats() {
	local f=$1 tap=$2 cmd
	shift 2
	# Under script(1): many tests run containers with a terminal attached,
	# as runc's CI does. Under a subreaper: the detached processes tests
	# kill must be reaped at once (a zombie still answers kill -0).
	cmd=$(printf '%q ' bats --tap "$@" "$f")
	# script's stdin is a FIFO opened read-write: it never sees EOF (at EOF
	# script writes an EOF character the tests would read as output).
	(cd "$SUITE" && timeout -k 10 "$FILE_TIMEOUT" "$T/bin/subreaper" script -qec "$cmd" /dev/null <>"$T/stdin") 2>&1 | tr -d '\r' >"$tap" || true
}

# retry_test FILE NAME: run one test again; true if it passes.
retry_test() {
	local tap=$T/retry.txt
	run_bats "$1" "$tap" -f "$(bats_regex "$2")"
	echo "--- retry of $1: $2" >>"$T/tap-${1%.bats}.txt"
	cat "$tap" >>"$T/tap-${1%.bats}.txt"
	grep -q '^ok 1 ' "$tap" && ! grep -q '^ok 1 .* # skip' "$tap"
}

# --- run ------------------------------------------------------------------------
RESULTS=$T/results # file<TAB>pass|fail|skip<TAB>name
: >"$RESULTS"
# RUNC is a wrapper that notes the ID of every container created, for the
# cleanup, and then execs vmctr.
cat >"$T/bin/runc" <<EOF
#!/bin/sh
for a; do last=\$a; done
case " \$* " in *" create "* | *" run "*) echo "\$last" >>"$T/ids" ;; esac
exec "$VMCTR" "\$@"
EOF
chmod 0755 "$T/bin/runc"
export RUNC=$T/bin/runc
export TMPDIR=$T/tmp # bats' BATS_RUN_TMPDIR, hence every bundle and state root
say "vmctr $VMCTR; suite $MODDIR/tests/integration (copy in $SUITE)"
start=$(date +%s)
for f in $FILES; do
	[ -f "$SUITE/$f" ] || { say "no such file in the suite: $f"; echo -e "$f\tfail\t(file missing)" >>"$RESULTS"; continue; }
	filter=()
	if [ -z "${RUNC_COMPAT_ALL:-}" ]; then
		re=
		while IFS=$'\t' read -r ef en; do
			[ "$ef" = "$f" ] || continue
			re+="${re:+|}$(bats_regex "$en")"
		done <"$EXPECTED"
		filter=(-f "$re")
	elif printf '%s\n' "$NEVER_TESTS" | grep -q "^$f"$'\t'; then
		# Every test of the file but the excluded ones.
		re=
		while IFS= read -r en; do
			printf '%s\n' "$NEVER_TESTS" | grep -qxF "$f"$'\t'"$en" && continue
			re+="${re:+|}$(bats_regex "$en")"
		done < <(sed -n 's/^@test "\(.*\)" {$/\1/p' "$SUITE/$f" | sed 's/ *$//')
		filter=(-f "$re")
	fi
	tap=$T/tap-${f%.bats}.txt
	run_bats "$f" "$tap" "${filter[@]}"
	# TAP: "ok N name", "ok N name # skip (reason)", "not ok N name [# ...]"
	gawk -v f="$f" '
		/^ok [0-9]+ / { sub(/^ok [0-9]+ /, ""); st = "pass"; if (match($0, / # skip/)) { $0 = substr($0, 1, RSTART - 1); st = "skip" } sub(/ +$/, ""); print f "\t" st "\t" $0; next }
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, ""); sub(/ # .*$/, ""); sub(/ +$/, ""); print f "\tfail\t" $0 }
	' "$tap" >>"$RESULTS"
	read -r p s x < <(gawk -F'\t' -v f="$f" '$1 == f { n[$2]++ } END { print n["pass"]+0, n["skip"]+0, n["fail"]+0 }' "$RESULTS")
	printf '%-32s pass %3d  skip %3d  fail %3d\n' "$f" "$p" "$s" "$x"
done
elapsed=$(($(date +%s) - start))

# --- verdict ---------------------------------------------------------------------
failed=0
flaky=0
while IFS=$'\t' read -r ef en; do
	st=$(gawk -F'\t' -v f="$ef" -v n="$en" '$1 == f && $3 == n { print $2; exit }' "$RESULTS")
	case $st in
	pass) ;;
	skip) say "listed test skipped on this host: $ef: $en" ;;
	"")
		if [ -z "${RUNC_COMPAT_FILES:-}" ] || [[ " $RUNC_COMPAT_FILES " == *" $ef "* ]]; then
			say "FAIL (did not run: its file timed out, or no such test): $ef: $en"
			failed=$((failed + 1))
		fi
		;;
	*)
		# runc's suite has timing-sensitive tests (sleeps, events, kill
		# races): a listed test that fails is run once more on its own, and
		# counts as flaky, not failed, if it passes then.
		if [ -z "${RUNC_COMPAT_NO_RETRY:-}" ] && retry_test "$ef" "$en"; then
			say "flaky (failed, passed when run again): $ef: $en"
			flaky=$((flaky + 1))
			continue
		fi
		say "FAIL: $ef: $en"
		# bats' report of the test, as in its TAP output (first 40 lines)
		gawk -v n="$en" '/^(not )?ok [0-9]+ / { name = $0; sub(/^(not )?ok [0-9]+ /, "", name); sub(/ # .*$/, "", name); sub(/ +$/, "", name); show = (name == n) } show' \
			"$T/tap-${ef%.bats}.txt" | head -40 | sed 's/^/    /' >&2
		failed=$((failed + 1))
		;;
	esac
done <"$EXPECTED"
if [ -n "${RUNC_COMPAT_ALL:-}" ]; then
	gawk -F'\t' 'NR == FNR { want[$1 "\t" $2] = 1; next } $2 == "pass" && !(($1 "\t" $3) in want) { print "passes but not listed: " $1 ": " $3 }' "$EXPECTED" "$RESULTS" >&2
fi
read -r tp ts tx < <(gawk -F'\t' '{ n[$2]++ } END { print n["pass"]+0, n["skip"]+0, n["fail"]+0 }' "$RESULTS")
echo "runc $RUNC_VERSION bats suite against vmctr: $tp passed, $ts skipped, $tx failed (of $((tp + ts + tx)) run) in ${elapsed}s; $failed listed test(s) failed, $flaky flaky"
if [ -n "${RUNC_COMPAT_OUT:-}" ]; then
	mkdir -p "$RUNC_COMPAT_OUT"
	cp "$RESULTS" "$RUNC_COMPAT_OUT/results.tsv"
	cp "$T"/tap-*.txt "$RUNC_COMPAT_OUT/" 2>/dev/null || true
fi
[ "$failed" = 0 ] || exit 1
exit 0
}

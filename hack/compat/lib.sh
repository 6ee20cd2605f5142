# lib.sh - shared helpers for hack/compat/*.sh; source it, don't run it.
#
# Each client script calls compat_init, which creates a private temp dir ($T),
# a busybox-static root file system ($T/rootfs), an argv-logging wrapper
# around the runtime under test ($T/bin/<runtime name>) and a cgroup parent
# name under /vmctr ($CGPARENT). compat_cleanup (run on EXIT) undoes all of
# that: it runs the script's own cleanup hooks first, then kills what is left
# in the cgroups it created, removes them, unmounts what is left under $T and
# removes $T. Nothing outside $T and /vmctr/compat-* is touched.

COMPAT_FAILS=0
COMPAT_PASSES=0
COMPAT_HOOKS=()

say() { printf '%s\n' "$*" >&2; }

# skip ends the script successfully with a message (a client is missing).
skip() {
	say "SKIP: $*"
	exit 0
}

# compat_init NAME RUNTIME. With RUNTIME_ROOT=NAME set, the wrapper gives the
# runtime --root $T/NAME (see make_wrapper).
compat_init() {
	local name=$1 rt=${2:-}
	if [ -z "$rt" ]; then
		say "usage: $0 /path/to/runtime   (e.g. $0 /usr/sbin/runc or $0 \$PWD/vmctr)"
		exit 2
	fi
	if [ "$(id -u)" != 0 ]; then
		say "$0: must run as root"
		exit 2
	fi
	case $rt in
	*/*) ;;
	*) rt=$(command -v "$rt" 2>/dev/null || echo "$rt") ;;
	esac
	if [ ! -x "$rt" ] || [ -d "$rt" ]; then
		say "$0: runtime $rt is not an executable file"
		exit 2
	fi
	# the wrapper runs it from other directories: make the path absolute
	rt=$(cd "$(dirname "$rt")" && pwd)/$(basename "$rt")
	[ -x /bin/busybox ] || skip "/bin/busybox (busybox-static) is not installed"
	RUNTIME=$rt
	RTNAME=$(basename "$rt")
	T=$(mktemp -d "/tmp/vmctr-compat-$name.XXXXXX")
	chmod 0755 "$T"
	CGPARENT=vmctr/compat-$name-$$
	# What /sys/fs/cgroup holds now: conmon (cgroupfs manager) makes
	# directories for controllers that are not mounted here as plain
	# directories in the /sys/fs/cgroup tmpfs, with a "tasks" file; the
	# cleanup removes what it made (see cleanup_cgroups).
	CG_BEFORE=$(cd /sys/fs/cgroup && for d in */ */vmctr/; do [ -d "$d" ] && echo "${d%/}"; done)
	ARGVLOG=$T/argv.log
	trap compat_cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$T/bin"
	make_wrapper "$T/bin/$RTNAME" ${RUNTIME_ROOT:+"$T/$RUNTIME_ROOT"}
	WRAPPER=$T/bin/$RTNAME
	make_rootfs "$T/rootfs"
	say "== $name compat: runtime $RUNTIME (wrapper $WRAPPER), temp dir $T, cgroups /$CGPARENT"
}

# make_wrapper PATH [ROOT]: a runtime wrapper that logs "caller rc=N argv..."
# to $ARGVLOG after the runtime returns, and passes stdio, the exit code and
# (being a plain parent) everything else through. The container's init is
# not its child: the runtime's create/exec --detach leave it to the caller's
# subreaper, as they must. With ROOT, the runtime also gets --root ROOT (not
# logged), for clients that pass none (podman), so that its state stays in
# the temp dir.
make_wrapper() {
	local root=${2:+--root \"$2\"}
	cat >"$1" <<EOF
#!/bin/sh
caller=\$(cat /proc/\$PPID/comm 2>/dev/null)
"$RUNTIME" $root "\$@"
rc=\$?
printf '%s rc=%s %s\n' "\$caller" "\$rc" "\$*" >>"$ARGVLOG"
exit \$rc
EOF
	chmod 0755 "$1"
}

# make_rootfs DIR: busybox-static with its applets, root and a few users.
make_rootfs() {
	local r=$1 a
	mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev,root,home/user}
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\nnobody:x:65534:\n' >"$r/etc/group"
	chown 1000:1000 "$r/home/user"
}

# on_cleanup CMD...: run CMD (eval'd) at exit, last registered first.
on_cleanup() { COMPAT_HOOKS=("$*" "${COMPAT_HOOKS[@]}"); }

compat_cleanup() {
	local rc=$? h
	trap - EXIT
	set +e
	for h in "${COMPAT_HOOKS[@]}"; do
		eval "$h" >/dev/null 2>&1
	done
	cleanup_cgroups
	cleanup_mounts
	[ -n "${KEEP:-}" ] && say "KEEP set: leaving $T" || rm -rf "$T"
	exit "$rc"
}

# cgroup_dirs: every directory of our cgroup parent, deepest first.
cgroup_dirs() {
	local h
	for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
		[ -d "$h/$CGPARENT" ] && find "$h/$CGPARENT" -depth -type d
	done 2>/dev/null
}

# cleanup_cgroups kills what still runs in our cgroups (processes the test
# started) and removes them, deepest first. Directories below our parent
# that are not cgroups (on the /sys/fs/cgroup tmpfs, where conmon makes
# them for controllers this host does not mount) lose the plain files conmon
# wrote there and are removed too, and so are the controller directories
# above them that did not exist before the test.
cleanup_cgroups() {
	local d p i h
	[ -n "${CGPARENT:-}" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		for d in $(cgroup_dirs); do
			if [ "$(stat -f -c %T "$d")" = tmpfs ]; then
				find "$d" -maxdepth 1 -type f -delete
				continue
			fi
			[ -f "$d/cgroup.procs" ] || continue
			if [ -f "$d/freezer.state" ]; then echo THAWED >"$d/freezer.state"; fi
			if [ -f "$d/cgroup.freeze" ]; then echo 0 >"$d/cgroup.freeze"; fi
			for p in $(cat "$d/cgroup.procs"); do kill -9 "$p"; done
		done 2>/dev/null
		for d in $(cgroup_dirs); do rmdir "$d"; done 2>/dev/null
		[ -z "$(cgroup_dirs)" ] && break
		sleep 0.2
	done
	for h in /sys/fs/cgroup/*/vmctr /sys/fs/cgroup/*; do
		[ -d "$h" ] && [ "$(stat -f -c %T "$h")" = tmpfs ] || continue
		mountpoint -q "$h" && continue
		printf '%s\n' "$CG_BEFORE" | grep -qxF "${h#/sys/fs/cgroup/}" && continue
		rmdir "$h" 2>/dev/null
	done
	[ -z "$(cgroup_dirs)" ] && return 0
	say "WARNING: could not remove cgroups: $(cgroup_dirs | tr '\n' ' ')"
}

# cleanup_mounts unmounts whatever is still mounted under $T, deepest first.
cleanup_mounts() {
	local m
	[ -n "${T:-}" ] || return 0
	for m in $(awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null
	done
}

# --- assertions -------------------------------------------------------------

pass() {
	COMPAT_PASSES=$((COMPAT_PASSES + 1))
	say "ok   $*"
}

fail() {
	COMPAT_FAILS=$((COMPAT_FAILS + 1))
	say "FAIL $*"
}

# expect_eq WHAT WANT GOT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}

# expect_rc WHAT WANT: checks $RC, showing $OUT if it differs
expect_rc() {
	if [ "$2" = "$RC" ]; then pass "$1"; else fail "$1: want exit status $2, got $RC; output: $(printf '%s' "$OUT" | head -c 600)"; fi
}

# expect_has WHAT NEEDLE HAYSTACK
expect_has() {
	case $3 in
	*"$2"*) pass "$1" ;;
	*) fail "$1: want output containing '$2', got '$(printf '%s' "$3" | head -c 600)'" ;;
	esac
}

# expect_match WHAT ERE HAYSTACK
expect_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then pass "$1"; else fail "$1: want output matching /$2/, got '$(printf '%s' "$3" | head -c 600)'"; fi
}

# capture CMD...: runs CMD with a timeout; sets OUT (stdout+stderr, CRs
# removed) and RC. Never fails the script.
capture() {
	set +e
	OUT=$(timeout -k 5 "${STEP_TIMEOUT:-60}" "$@" </dev/null 2>&1)
	RC=$?
	set -e
	OUT=${OUT//$'\r'/}
}

# capture_in INPUT CMD...: as capture, with INPUT on stdin.
capture_in() {
	local in=$1
	shift
	set +e
	OUT=$(printf '%s' "$in" | timeout -k 5 "${STEP_TIMEOUT:-60}" "$@" 2>&1)
	RC=$?
	set -e
	OUT=${OUT//$'\r'/}
}

# with_tty CMD-STRING: runs the shell command line under a fresh pty
# (script(1)), waits for READY on its output, then types "hello" and Enter.
# Sets OUT and RC (the command's exit code).
with_tty() {
	local cmd=$1 fifo=$T/tty.in out=$T/tty.out pid i
	rm -f "$fifo" "$out"
	mkfifo "$fifo"
	set +e
	timeout -k 5 "${STEP_TIMEOUT:-60}" script -qefc "$cmd" /dev/null <"$fifo" >"$out" 2>&1 &
	pid=$!
	exec 9>"$fifo"
	for i in $(seq 1 200); do
		grep -q READY "$out" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# a subshell: if the command is already gone, SIGPIPE ends only it
	(printf 'hello\r' >&9) 2>/dev/null || true
	wait "$pid"
	RC=$?
	exec 9>&-
	set -e
	OUT=$(tr -d '\r' <"$out")
}

# in_pty CMD-STRING: runs the shell command line under a fresh pty
# (script(1)) with nothing typed. Sets OUT and RC.
in_pty() {
	set +e
	OUT=$(timeout -k 5 "${STEP_TIMEOUT:-60}" script -qefc "$1" /dev/null </dev/null 2>&1)
	RC=$?
	set -e
	OUT=${OUT//$'\r'/}
}

# summary prints the argv log with $T abbreviated and the result; returns
# non-zero if anything failed.
summary() {
	say ""
	say "== argv passed to $RTNAME (caller rc=N argv; \$T is the temp dir, 64-hex IDs cut to 12):"
	sed -E "s|$T|\$T|g; s/([0-9a-f]{12})[0-9a-f]{52}/\1/g" "$ARGVLOG" >&2 || true
	# ARGV_OUT=FILE: also save the log with every varying part replaced, for
	# diffing the calls made to two runtimes.
	if [ -n "${ARGV_OUT:-}" ]; then
		sed -E "s|$T|\$T|g; s/[0-9a-f]{64}/<id>/g; s|/tmp/conmon-term\.[A-Za-z0-9]+|<conmon-term>|g;
			s/(pty|runc-process|podman|exec-process-)[0-9]+/\1N/g" "$ARGVLOG" >"$ARGV_OUT"
	fi
	say ""
	if [ "$COMPAT_FAILS" -gt 0 ]; then
		say "== $COMPAT_PASSES passed, $COMPAT_FAILS FAILED (runtime $RUNTIME)"
		return 1
	fi
	say "== all $COMPAT_PASSES checks passed (runtime $RUNTIME)"
}

# nocap_sys_resource is true when we cannot raise hard rlimits.
nocap_sys_resource() {
	local eff
	eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
	[ $((0x$eff >> 24 & 1)) = 0 ]
}

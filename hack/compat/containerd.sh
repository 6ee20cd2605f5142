#!/usr/bin/env bash
# containerd.sh RUNTIME - drive an OCI runtime through containerd's runc shim
# (io.containerd.runc.v2, `ctr run --runc-binary RUNTIME`), and check what
# comes out.
#
#   hack/compat/containerd.sh /usr/sbin/runc      # the reference
#   hack/compat/containerd.sh $PWD/vmctr          # the same flows through vmctr
#
# Self-contained and non-interactive: a private containerd (own config, root,
# state, temp dir and socket under a temp dir; the CRI plugin off; the native
# snapshotter), an OCI image archive built here from busybox-static and
# imported with `ctr image import` (no registry), cgroups under
# /vmctr/compat-*. An argv-logging wrapper around RUNTIME records every call
# the shim makes; the log is printed at the end. Terminals come from
# script(1). Everything is removed at exit, the private containerd is stopped
# by PID (KEEP=1 keeps the temp dir). The system's containerd, if any, is not
# touched; containerd 1.6 does put its shims' sockets in /run/containerd/s,
# and those are removed too.
# Skips (exit 0) if containerd, ctr or the shim is not installed; exit 1 if a
# check fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/compat/lib.sh
. "$HERE/lib.sh"

for b in containerd ctr containerd-shim-runc-v2 script sha256sum gzip; do
	command -v "$b" >/dev/null 2>&1 || skip "$b is not installed (apt-get install containerd)"
done
compat_init containerd "${1:-}"

NS=vmctr-compat
SOCK=$T/containerd.sock
RUNC_ROOT=$T/runc-root
mkdir -p "$T/root" "$T/state" "$T/tmp" "$T/fifo" "$T/logs" "$RUNC_ROOT"

# --- an OCI image archive: busybox-static, two tags -------------------------
# :latest is plain; :user has USER 1234:5678, WORKDIR /tmp and ENV FOO=bar.

case $(uname -m) in
x86_64) ARCH=amd64 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;;
esac
oci=$T/oci
mkdir -p "$oci/blobs/sha256"
blob() { # blob FILE -> prints "digest size" after storing FILE as a blob
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$oci/blobs/sha256/$d"
	echo "sha256:$d $s"
}
tar -C "$T/rootfs" --numeric-owner --sort=name -cf "$T/layer.tar" .
diffid=sha256:$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
gzip -n "$T/layer.tar"
read -r ldig lsize < <(blob "$T/layer.tar.gz")
manifests=""
for tag in latest user; do
	extra=""
	env='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
	[ $tag = user ] && extra='"User":"1234:5678","WorkingDir":"/tmp",' && env="$env,\"FOO=bar\""
	printf '{"architecture":"%s","os":"linux","config":{%s"Env":[%s],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
		"$ARCH" "$extra" "$env" "$diffid" >"$T/config.json"
	read -r cdig csize < <(blob "$T/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
		"$cdig" "$csize" "$ldig" "$lsize" >"$T/manifest.json"
	read -r mdig msize < <(blob "$T/manifest.json")
	manifests="$manifests${manifests:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$mdig\",\"size\":$msize,\"platform\":{\"architecture\":\"$ARCH\",\"os\":\"linux\"},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}"
done
printf '{"schemaVersion":2,"manifests":[%s]}' "$manifests" >"$oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
tar -C "$oci" -cf "$T/image.tar" .

# --- a private containerd ---------------------------------------------------

cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
temp = "$T/tmp"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "info"
EOF
shimsockdir=/run/containerd/s
shimsockdir_existed=$([ -d $shimsockdir ] && echo 1 || echo 0)
run_containerd_existed=$([ -d /run/containerd ] && echo 1 || echo 0)
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CTRD_PID=$!
on_cleanup stop_containerd
export CONTAINERD_SNAPSHOTTER=native
C=(ctr --address "$SOCK" --namespace "$NS")
for i in $(seq 1 100); do
	"${C[@]}" version >/dev/null 2>&1 && break
	kill -0 $CTRD_PID 2>/dev/null || { cat "$T/containerd.log" >&2; fail "containerd did not start"; exit 1; }
	sleep 0.1
done

# stop_containerd removes every task and container this containerd has,
# stops it by PID, then ends leftover shims of this containerd (found by the
# socket address in their command line) and removes their sockets.
stop_containerd() {
	local id pid f
	for id in $("${C[@]}" task ls -q 2>/dev/null); do
		"${C[@]}" task kill -a -s SIGKILL "$id"
		"${C[@]}" task rm -f "$id"
	done
	for id in $("${C[@]}" c ls -q 2>/dev/null); do "${C[@]}" c rm "$id"; done
	for id in $("${C[@]}" i ls -q 2>/dev/null); do "${C[@]}" i rm "$id"; done
	kill -TERM "$CTRD_PID"
	for i in $(seq 1 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$CTRD_PID" 2>/dev/null
	wait "$CTRD_PID" 2>/dev/null
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		case $(readlink "/proc/$pid/exe" 2>/dev/null) in
		*/containerd-shim-runc-v2) ;;
		*) continue ;;
		esac
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "-address $SOCK "; then
			kill -KILL "$pid"
		fi
	done
	for id in "${SHIM_IDS[@]}"; do
		rm -f "$shimsockdir/$(printf '%s' "$SOCK/$NS/$id" | sha256sum | cut -d' ' -f1)"
	done
	[ "$shimsockdir_existed" = 1 ] || rmdir "$shimsockdir"
	[ "$run_containerd_existed" = 1 ] || rmdir /run/containerd
}
SHIM_IDS=()

capture "${C[@]}" image import --base-name localhost/vmctr-compat-busybox "$T/image.tar"
expect_rc "image import of the OCI archive" 0
IMG=localhost/vmctr-compat-busybox:latest
IMGUSER=localhost/vmctr-compat-busybox:user

# run ID [ctr run options] IMAGE [cmd...]: ctr run with the runtime under test
RUNOPTS=(--runc-binary "$WRAPPER" --runc-root "$RUNC_ROOT" --fifo-dir "$T/fifo")
cg() { echo "/$CGPARENT/$1"; }
# ctr's spec has no cgroup mount: read a container's memory limit on the host.
hostmem() {
	cat "/sys/fs/cgroup/memory/$CGPARENT/$1/memory.limit_in_bytes" 2>/dev/null ||
		cat "/sys/fs/cgroup/$CGPARENT/$1/memory.max" 2>/dev/null || echo "no memory cgroup for $1"
}
cstr() { printf '%q ' "${C[@]}" "$@"; }
newid() { id=$1; SHIM_IDS+=("$1"); }

# --- attached, no terminal --------------------------------------------------

newid t1
capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sh -c 'echo out; echo err >&2; exit 3'
expect_rc "run attached: exit code passed through" 3
expect_has "run attached: stdout" out "$OUT"
expect_has "run attached: stderr" err "$OUT"

newid t2
# (ctr 1.6 does not close the container's stdin at EOF: read what is sent)
capture_in $'line1\nline2\n' "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sh -c 'head -n 2; tty || true'
expect_rc "run with stdin: exit 0" 0
expect_has "run with stdin: stdin reaches the container" $'line1\nline2' "$OUT"
expect_has "run with stdin: no terminal" "not a tty" "$OUT"

newid t3
capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" --env X=y "$IMGUSER" $id sh -c 'id; pwd; echo FOO=$FOO X=$X'
expect_rc "run of an image with USER/WORKDIR/ENV: exit 0" 0
expect_match "image USER 1234:5678" "uid=1234[( ].*gid=5678" "$OUT"
expect_has "image WORKDIR /tmp" "/tmp" "$OUT"
expect_has "image ENV and --env" "FOO=bar X=y" "$OUT"

newid t4
capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" --cwd /home --memory-limit 67108864 "$IMG" $id sh -c "pwd; cat /proc/self/cgroup"
expect_rc "run --memory-limit --cwd: exit 0" 0
expect_has "run --cwd /home" "/home" "$OUT"
expect_has "run --cgroup: the container is in its cgroup" ":/$CGPARENT/$id" "$OUT"

# --- what else ctr puts in config.json --------------------------------------

mkdir -p "$T/vol"
echo from-host >"$T/vol/f"
newid t6
capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" --read-only --seccomp --cap-add CAP_SYS_ADMIN \
	--mount "type=bind,src=$T/vol,dst=/data,options=rbind:rw" "$IMG" $id \
	sh -c 'cat /data/f; echo x >/data/g; touch /ro 2>&1 || true; grep -E "CapEff|Seccomp:" /proc/self/status'
expect_rc "run --read-only --seccomp --cap-add --mount: exit 0" 0
expect_has "run --mount: bind mount readable" from-host "$OUT"
expect_eq "run --mount: bind mount writable" x "$(cat "$T/vol/g" 2>/dev/null)"
expect_match "run --read-only: root is read-only" "Read-only file system" "$OUT"
expect_match "run --seccomp: containerd's profile is loaded" "Seccomp:[[:space:]]+2" "$OUT"
expect_match "run --cap-add CAP_SYS_ADMIN: in the effective set" "CapEff:[[:space:]]+0*[0-9a-f]*[2367abef][0-9a-f]{5}$" "$OUT"

newid t7
capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" --privileged "$IMG" $id sh -c 'grep -E "CapEff|Seccomp:" /proc/self/status'
expect_rc "run --privileged: exit 0" 0
expect_match "run --privileged: every capability we have" "CapEff:[[:space:]]+$(awk '/^CapEff:/ { print $2 }' /proc/self/status)" "$OUT"

# (No --uidmap here: ctr 1.6 then sends task options of its own, which
# replace the runtime options, so the shim runs the system's runc with
# /run/containerd/runc instead of --runc-binary. See docs/clients.md.)

# --- attached, with a terminal ----------------------------------------------

newid t5
with_tty "$(cstr run --rm -t "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sh -c 'tty; echo READY; read x; echo got:$x; exit 7')"
expect_rc "run -t: exit code back through the pty" 7
expect_match "run -t: tty is a /dev/pts" '/dev/pts/[0-9]+' "$OUT"
expect_has "run -t: typed input reaches the container" "got:hello" "$OUT"

# --- detached: exec, ps, pause, update, kill, delete ------------------------

handler='trap "echo got-USR1" USR1; trap "echo got-TERM; exit 0" TERM; echo started; while :; do sleep 0.2; done'
newid c1
capture "${C[@]}" run -d "${RUNOPTS[@]}" --cgroup "$(cg $id)" --memory-limit 67108864 --log-uri "file://$T/logs/c1.log" "$IMGUSER" $id sh -c "$handler"
expect_rc "run -d: exit 0" 0

capture "${C[@]}" task exec --fifo-dir "$T/fifo" --exec-id e1 c1 sh -c 'echo FOO=$FOO; id; exit 5'
expect_rc "exec: exit code passed through" 5
expect_has "exec: the container's env" "FOO=bar" "$OUT"
expect_match "exec: the container's user" "uid=1234[( ].*gid=5678" "$OUT"

capture "${C[@]}" task exec --fifo-dir "$T/fifo" --exec-id e2 --user 0 --cwd /home c1 sh -c 'id -u; pwd'
expect_eq "exec --user 0 --cwd /home" $'0\n/home' "$OUT"

capture_in $'abc\n' "${C[@]}" task exec --fifo-dir "$T/fifo" --exec-id e3 c1 head -n 1
expect_has "exec: stdin reaches the process" abc "$OUT"

with_tty "$(cstr task exec --fifo-dir "$T/fifo" -t --exec-id e4 c1 sh -c 'tty; echo READY; read x; echo got:$x; exit 9')"
expect_rc "exec -t: exit code back through the pty" 9
expect_match "exec -t: tty is a /dev/pts" '/dev/pts/[0-9]+' "$OUT"
expect_has "exec -t: typed input reaches the process" "got:hello" "$OUT"

capture "${C[@]}" task exec --fifo-dir "$T/fifo" --exec-id e-missing c1 /no/such/binary
if [ "$RC" != 0 ]; then pass "exec of a missing binary: fails ($RC)"; else fail "exec of a missing binary: exit 0"; fi
expect_match "exec of a missing binary: the shim reports the runtime's error" 'OCI runtime exec failed: .*/no/such/binary.*no such file' "$OUT"
say "     (ctr said: $(printf '%s' "$OUT" | tail -n 1))"

capture "${C[@]}" task exec --fifo-dir "$T/fifo" -d --exec-id e5 c1 sleep 300
expect_rc "exec -d: exit 0" 0

expect_eq "run -d --memory-limit 64M: the container's limit" 67108864 "$(hostmem c1)"

capture "${C[@]}" task ps c1
initpid=$("${C[@]}" task ls | awk '$1 == "c1" { print $2 }')
expect_match "task ps: lists the init PID" "(^|$'\n')$initpid " "$OUT"
nps=$(printf '%s\n' "$OUT" | grep -cE '^[0-9]+ ' || true)
if [ "$nps" -ge 3 ]; then pass "task ps: init, the sleep loop and the exec'd sleep ($nps)"; else fail "task ps: want >= 3 processes, got: $OUT"; fi

capture "${C[@]}" task pause c1
expect_rc "pause: exit 0" 0
capture "${C[@]}" task ls
expect_match "pause: PAUSED" "^c1 +[0-9]+ +PAUSED" "$OUT"
capture "${C[@]}" task resume c1
expect_rc "resume: exit 0" 0
capture "${C[@]}" task ls
expect_match "resume: RUNNING" "^c1 +[0-9]+ +RUNNING" "$OUT"

# ctr 1.6 has no "task update"; the shim's Update (as CRI's
# UpdateContainerResources calls it) runs `update --resources - ID` with the
# LinuxResources JSON on stdin. Make that call as the shim would.
capture_in '{"memory":{"limit":134217728}}' "$WRAPPER" --root "$RUNC_ROOT/$NS" --log "$T/logs/update.json" --log-format json update --resources - c1
expect_rc "update --resources - (JSON on stdin): exit 0" 0
expect_eq "update: the container's new limit" 134217728 "$(hostmem c1)"

capture "${C[@]}" task kill -s SIGUSR1 c1
expect_rc "kill -s SIGUSR1: exit 0" 0
sleep 0.5
capture "${C[@]}" task kill c1
expect_rc "kill (SIGTERM): exit 0" 0
for i in $(seq 1 50); do
	"${C[@]}" task ls | grep -qE '^c1 +[0-9]+ +STOPPED' && break
	sleep 0.1
done
capture "${C[@]}" task ls
expect_match "kill: SIGTERM reached PID 1's handler: STOPPED" "^c1 +[0-9]+ +STOPPED" "$OUT"
capture cat "$T/logs/c1.log"
expect_has "kill -s SIGUSR1: reached PID 1's handler" got-USR1 "$OUT"
expect_has "kill: PID 1's handler ran" got-TERM "$OUT"
capture "${C[@]}" task rm c1
expect_rc "task rm of a stopped task: exit 0 (PID 1's own status)" 0
capture "${C[@]}" c rm c1
expect_rc "container rm: exit 0" 0

# detached with a terminal: the shim keeps the pty master (ctr 1.6 wants a
# terminal of its own for -t and refuses --log-uri with it: look at PID 1's
# stdin from inside)
newid c5
in_pty "$(cstr run -d -t "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sleep 300)"
expect_rc "run -d -t: exit 0" 0
capture "${C[@]}" task exec --fifo-dir "$T/fifo" --exec-id e1 c5 sh -c 'readlink /proc/1/fd/0; readlink /proc/1/fd/1'
expect_match "run -d -t: PID 1 has a /dev/pts terminal" '^/dev/pts/[0-9]+'$'\n''/dev/pts/[0-9]+$' "$OUT"
capture "${C[@]}" task kill -s SIGKILL c5
capture "${C[@]}" task rm -f c5
expect_rc "task rm -f of a task with a terminal: exit 0" 0
"${C[@]}" c rm c5 >/dev/null 2>&1 || true

newid c2
capture "${C[@]}" run -d "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sh -c 'sleep 300 & sleep 300 & wait'
capture "${C[@]}" task kill -a -s SIGKILL c2
expect_rc "kill -a -s SIGKILL: exit 0" 0
for i in $(seq 1 50); do
	"${C[@]}" task ls | grep -qE '^c2 +[0-9]+ +STOPPED' && break
	sleep 0.1
done
capture "${C[@]}" task ls
expect_match "kill -a -s SIGKILL: STOPPED" "^c2 +[0-9]+ +STOPPED" "$OUT"
capture "${C[@]}" task rm c2
expect_rc "task rm after SIGKILL: exit 0" 0
"${C[@]}" c rm c2 >/dev/null 2>&1 || true

newid c3
capture "${C[@]}" run -d "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sleep 300
capture "${C[@]}" task pause c3
capture "${C[@]}" task rm -f c3
expect_rc "task rm -f of a paused task: exit 0" 0
capture "${C[@]}" c rm c3
expect_rc "container rm after rm -f: exit 0" 0

newid c4
capture "${C[@]}" run -d "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" $id sleep 300
capture "${C[@]}" task rm -f c4
expect_rc "task rm -f of a running task: exit 0" 0
"${C[@]}" c rm c4 >/dev/null 2>&1 || true

capture "${C[@]}" task ls -q
expect_eq "no tasks left" "" "$OUT"

# --- errors reach the user through log.json ----------------------------------

for bin in /no/such/binary /etc/passwd; do
	newid "e-${bin##*/}"
	capture "${C[@]}" run --rm "${RUNOPTS[@]}" --cgroup "$(cg $id)" "$IMG" "$id" "$bin"
	if [ "$RC" != 0 ]; then pass "run of $bin: fails ($RC)"; else fail "run of $bin: exit 0"; fi
	expect_has "run of $bin: the shim reports the runtime's error" "OCI runtime create failed:" "$OUT"
	expect_match "run of $bin: the message names the problem" "$bin.*(no such file|permission denied)" "$OUT"
	if printf '%s' "$OUT" | grep -q 'unable to retrieve OCI runtime error'; then
		fail "run of $bin: the shim found no log.json error"
	fi
	say "     (ctr said: $(printf '%s' "$OUT" | tail -n 1))"
	"${C[@]}" c rm "$id" >/dev/null 2>&1 || true
done

# (vmctr keeps its lock files in <root>/.locks; a container's is removed with it)
# Every container went through the runtime under test (ctr can silently
# fall back to the system's runc, see above).
missing=""
for i in "${SHIM_IDS[@]}"; do
	grep -qE " create --bundle .* $i\$" "$ARGVLOG" || missing="$missing $i"
done
expect_eq "every container was created by $RTNAME" "" "$missing"

capture ls -A "$RUNC_ROOT/$NS"
expect_eq "no runtime state left in --root" "" "$(printf '%s' "$OUT" | grep -vx .locks || true)"
capture ls -A "$RUNC_ROOT/$NS/.locks"
expect_eq "no lock file left in --root" "" "$(printf '%s' "$OUT" | grep -v 'No such file' || true)"
left=$(cgroup_dirs | grep -v "^.*/$CGPARENT\$" || true)
expect_eq "no container cgroup left under /$CGPARENT" "" "$left"

summary
